/**
 * The quantizers on their own (native/src/quant/quantizers.cc through N-API): INT8 per-row symmetric
 * and INT4 asymmetric group-wise round trips on random matrices with their error bounds, and group
 * handling at sizes that are not multiples of the group size (odd included).
 */
import assert from "node:assert/strict";
import { test } from "node:test";

import { quantizers } from "../src/engine/calibration.js";

/** Deterministic pseudo-random floats (xorshift), roughly Gaussian (sum of uniforms), with a few outliers. */
function randomMatrix(rows: number, cols: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const u = (): number => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
  const w = new Float32Array(rows * cols);
  for (let i = 0; i < w.length; i++) {
    let g = 0;
    for (let k = 0; k < 4; k++) g += u() - 0.5;
    w[i] = g * 0.1 * (u() < 0.01 ? 20 : 1);
  }
  return w;
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 31) return m ? Number.NaN : sign * Infinity;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

test("INT8 per-row symmetric: scale = max|row|/127, |w - deq| <= scale/2, codes in [-127, 127]", () => {
  const { quantizeInt8 } = quantizers();
  for (const [rows, cols, seed] of [[64, 512, 1], [17, 129, 2], [3, 1, 3]] as const) {
    const w = randomMatrix(rows, cols, seed);
    const r = quantizeInt8(w, rows, cols);
    assert.equal(r.q.length, rows * cols);
    for (let i = 0; i < rows; i++) {
      let amax = 0;
      for (let k = 0; k < cols; k++) amax = Math.max(amax, Math.abs(w[i * cols + k]!));
      assert.ok(Math.abs(r.scale[i]! - amax / 127) <= 1e-6 * amax, `row ${i} scale`);
      let sawExtreme = false;
      for (let k = 0; k < cols; k++) {
        const q = r.q[i * cols + k]!;
        assert.ok(q >= -127 && q <= 127);
        if (Math.abs(q) === 127) sawExtreme = true;
        const err = Math.abs(w[i * cols + k]! - r.dequantized[i * cols + k]!);
        assert.ok(err <= r.scale[i]! / 2 + 1e-7, `row ${i} col ${k}: error ${err} > scale/2 ${r.scale[i]! / 2}`);
      }
      assert.ok(sawExtreme, `row ${i}: the largest magnitude maps to +-127`);
    }
  }
});

test("INT8: a zero row quantizes to zeros with a finite scale; bad shapes are refused", () => {
  const { quantizeInt8 } = quantizers();
  const r = quantizeInt8(new Float32Array(8), 2, 4);
  assert.deepEqual([...r.q], new Array(8).fill(0));
  assert.ok(r.scale.every((s) => Number.isFinite(s) && s > 0));
  assert.throws(() => quantizeInt8(new Float32Array(7), 2, 4), /rows \* cols/);
});

function checkInt4(rows: number, cols: number, g: number, seed: number): void {
  const { quantizeInt4 } = quantizers();
  const w = randomMatrix(rows, cols, seed);
  const r = quantizeInt4(w, rows, cols, g);
  const groups = Math.ceil(cols / g);
  assert.equal(r.groups, groups);
  assert.equal(r.packed.length, rows * Math.ceil(cols / 2), "two codes per byte, rows padded to whole bytes");
  assert.equal(r.scaleF16.length, rows * groups);
  assert.equal(r.zero.length, rows * groups);
  let sq = 0;
  let ref = 0; // sum of (step/2)^2
  for (let i = 0; i < rows; i++) {
    for (let gi = 0; gi < groups; gi++) {
      const k0 = gi * g;
      const k1 = Math.min(cols, k0 + g);
      let mx = -Infinity;
      let mn = Infinity;
      for (let k = k0; k < k1; k++) {
        mx = Math.max(mx, w[i * cols + k]!);
        mn = Math.min(mn, w[i * cols + k]!);
      }
      const s = halfToFloat(r.scaleF16[i * groups + gi]!);
      const z = r.zero[i * groups + gi]!;
      assert.ok(z >= 0 && z <= 15, "zero point in [0, 15]");
      // scale = (max - min) / 15 over the group's range extended to include 0, rounded to F16
      const range = Math.max(mx, 0) - Math.min(mn, 0);
      assert.ok(Math.abs(s - range / 15) <= 1e-3 * (range / 15) + 1e-7, `row ${i} group ${gi}: scale ${s}`);
      for (let k = k0; k < k1; k++) {
        const byte = r.packed[i * Math.ceil(cols / 2) + (k >> 1)]!;
        const code = k & 1 ? byte >> 4 : byte & 15;
        const deq = (code - z) * s;
        assert.ok(Math.abs(deq - r.dequantized[i * cols + k]!) <= 1e-6 * Math.abs(deq) + 1e-9, "packed code = dequantized value");
        const err = Math.abs(w[i * cols + k]! - deq);
        // half a step, plus the zero point's rounding (at most half a step) at the range ends
        assert.ok(err <= s + 1e-6, `row ${i} col ${k}: error ${err} > one step ${s}`);
        sq += err * err;
        ref += (s * s) / 4;
      }
    }
  }
  // Rounding to the grid: mean squared error below (step/2)^2 on average (uniform rounding gives step^2/12).
  assert.ok(sq < ref, `mean squared error ${sq} above the (step/2)^2 bound ${ref}`);
}

test("INT4 asymmetric, group 128: round trip within one step per element, packed layout consistent", () => {
  checkInt4(32, 512, 128, 11);
});

test("INT4 groups at sizes that are not multiples of 128 (odd sizes included)", () => {
  checkInt4(5, 300, 128, 12); // groups 128, 128, 44
  checkInt4(7, 129, 128, 13); // odd: one 128 group and a 1-wide group
  checkInt4(3, 77, 128, 14); // a single short odd group
  checkInt4(4, 64, 32, 15);
});

test("INT4: a constant group is exact; an odd group size is refused", () => {
  const { quantizeInt4 } = quantizers();
  const w = new Float32Array(130).fill(0.25);
  const r = quantizeInt4(w, 1, 130, 128);
  for (const v of r.dequantized) assert.ok(Math.abs(v - 0.25) < 1e-3, `constant group dequantized to ${v}`);
  assert.throws(() => quantizeInt4(w, 1, 130, 127), /even/);
});
