/**
 * Correctly rounded exp and log for doubles.
 *
 * sacreBLEU's BLEU calls CPython's math.exp / math.log, i.e. the C library's exp/log, which on
 * glibc are correctly rounded in all but extremely rare cases. V8's Math.exp / Math.log (fdlibm
 * ports) are only faithful (< 1 ulp) and differ from glibc in the last bit for a few percent of
 * BLEU's arguments. To reproduce sacreBLEU's unrounded scores bit for bit we evaluate both in
 * double-double arithmetic (about 100 bits) and round once to the nearest double.
 */

interface DD {
  hi: number;
  lo: number;
}

/** ln 2 as a double-double: the nearest double and the remainder. */
const LN2: DD = { hi: 0.6931471805599453, lo: 2.3190468138462996e-17 };
/** Veltkamp splitter for 53-bit doubles: 2^27 + 1. */
const SPLITTER = 134217729;

function twoSum(a: number, b: number): DD {
  const s = a + b;
  const bb = s - a;
  return { hi: s, lo: a - (s - bb) + (b - bb) };
}

function quickTwoSum(a: number, b: number): DD {
  const s = a + b;
  return { hi: s, lo: b - (s - a) };
}

function split(a: number): [number, number] {
  const c = SPLITTER * a;
  const hi = c - (c - a);
  return [hi, a - hi];
}

function twoProd(a: number, b: number): DD {
  const p = a * b;
  const [ah, al] = split(a);
  const [bh, bl] = split(b);
  return { hi: p, lo: ah * bh - p + ah * bl + al * bh + al * bl };
}

function add(a: DD, b: DD): DD {
  const s = twoSum(a.hi, b.hi);
  const t = twoSum(a.lo, b.lo);
  let r = quickTwoSum(s.hi, s.lo + t.hi);
  r = quickTwoSum(r.hi, r.lo + t.lo);
  return r;
}

function mul(a: DD, b: DD): DD {
  const p = twoProd(a.hi, b.hi);
  return quickTwoSum(p.hi, p.lo + (a.hi * b.lo + a.lo * b.hi));
}

function mulNumber(a: DD, b: number): DD {
  const p = twoProd(a.hi, b);
  return quickTwoSum(p.hi, p.lo + a.lo * b);
}

function divNumber(a: DD, b: number): DD {
  const q1 = a.hi / b;
  const p = twoProd(q1, b);
  const r = twoSum(a.hi, -p.hi);
  const q2 = (r.hi + (r.lo - p.lo + a.lo)) / b;
  return quickTwoSum(q1, q2);
}

function div(a: DD, b: DD): DD {
  const q1 = a.hi / b.hi;
  const r1 = add(a, mulNumber(b, -q1));
  const q2 = r1.hi / b.hi;
  const r2 = add(r1, mulNumber(b, -q2));
  const q3 = r2.hi / b.hi;
  return add(quickTwoSum(q1, q2), { hi: q3, lo: 0 });
}

/** 2^k for integer k in the normal range of doubles. */
function pow2(k: number): number {
  return 2 ** k;
}

/** exp(x), correctly rounded (barring results within ~2^-90 ulp of a rounding midpoint). */
export function exp(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x === 0) return 1;
  if (x > 709.8) return Infinity;
  if (x < -745.2) return 0;
  // x = k ln2 + r, |r| <= ln2 / 2, with r in double-double.
  const k = Math.round(x / LN2.hi);
  const r = add({ hi: x, lo: 0 }, mulNumber(LN2, -k));
  // exp(r) = (exp(r / 2^10))^(2^10); Taylor series of expm1 on the small argument, then squarings
  // in the expm1 form E -> E (E + 2) to keep the precision of values near 1.
  const squarings = 10;
  const s = { hi: r.hi / 2 ** squarings, lo: r.lo / 2 ** squarings };
  let series: DD = { hi: 1, lo: 0 };
  for (let n = 14; n >= 2; n--) series = add({ hi: 1, lo: 0 }, divNumber(mul(s, series), n));
  let em1 = mul(s, series);
  for (let i = 0; i < squarings; i++) em1 = mul(em1, add(em1, { hi: 2, lo: 0 }));
  const e = add(em1, { hi: 1, lo: 0 });
  if (k >= -1021 && k <= 1023) {
    const scale = pow2(k);
    return e.hi * scale + e.lo * scale;
  }
  // Near the ends of the double range scale in two steps (subnormal results may round twice).
  const k1 = Math.trunc(k / 2);
  return (e.hi + e.lo) * pow2(k1) * pow2(k - k1);
}

/** Natural log, correctly rounded (barring results within ~2^-90 ulp of a rounding midpoint). */
export function log(x: number): number {
  if (Number.isNaN(x) || x < 0) return NaN;
  if (x === 0) return -Infinity;
  if (x === Infinity) return Infinity;
  if (x === 1) return 0;
  // x = m * 2^e with m in [sqrt(1/2), sqrt(2)).
  let scaled = x;
  let e = 0;
  if (scaled < 2 ** -1000) {
    scaled *= 2 ** 100;
    e -= 100;
  }
  const bits = new DataView(new ArrayBuffer(8));
  bits.setFloat64(0, scaled);
  const exponent = ((bits.getUint32(0) >>> 20) & 0x7ff) - 1023;
  e += exponent;
  let m = scaled / pow2(exponent);
  if (m > Math.SQRT2) {
    m /= 2;
    e += 1;
  }
  // log(m) = 2 atanh(t), t = (m - 1) / (m + 1), |t| <= 0.1716: series t + t^3/3 + t^5/5 + ...
  const t = div({ hi: m - 1, lo: 0 }, twoSum(m, 1));
  const t2 = mul(t, t);
  let series: DD = divNumber({ hi: 1, lo: 0 }, 45);
  for (let n = 43; n >= 1; n -= 2) series = add(divNumber({ hi: 1, lo: 0 }, n), mul(t2, series));
  const logM = mulNumber(mul(t, series), 2);
  const result = add(mulNumber(LN2, e), logM);
  return result.hi + result.lo;
}
