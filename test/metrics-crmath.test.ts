/**
 * exp/log used by BLEU must round like glibc's (which CPython's math.exp/math.log call), not like
 * V8's Math.exp/Math.log. Expected values: correctly rounded results MEASURED with CPython's
 * `decimal` at 60 digits, each also equal to glibc's math.exp/math.log on CPython 3.11; for the
 * "V8 differs" arguments, V8's Math.exp/Math.log (Node 20) return the neighbouring double.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { exp, log } from "../src/metrics/crmath.js";

const EXP_CASES: ReadonlyArray<readonly [number, number]> = [
  [-0.11111111111111116, 0.8948393168143697], // BLEU brevity penalty exp(1 - 10/9)
  [-0.09523809523809534, 0.909156442876713], // exp(1 - 23/21)
  [-1.0, 0.36787944117144233],
  [-7.5, 0.0005530843701478336],
  [1e-10, 1.0000000001],
  [-700.0, 9.85967654375977e-305],
  [0.25, 1.2840254166877414],
  // arguments where V8's Math.exp is off by one ulp:
  [-3.6133020038778434, 0.02696266887715529],
  [-4.546040508219059, 0.010609128086263781],
  [-2.581459818212995, 0.07566346845225087],
  [-1.755076240168454, 0.17289406031694152],
];

const LOG_CASES: ReadonlyArray<readonly [number, number]> = [
  [77.77777777777777, 4.353855757707185],
  [42.857142857142854, 3.7578723256008875],
  [16.666666666666668, 2.8134107167600364],
  [3.3333333333333335, 1.2039728043259361],
  [100.0, 4.605170185988092],
  [1e-300, -690.7755278982137],
  [0.1, -2.3025850929940455],
  [2.0, 0.6931471805599453],
  // arguments where V8's Math.log is off by one ulp:
  [51.32737022420735, 3.938224142534412],
  [23.991080477829595, 3.177682114513074],
  [21.524838414753248, 3.069207543421657],
  [46.22449793211394, 3.833509915821319],
];

test("exp is correctly rounded", () => {
  for (const [x, expected] of EXP_CASES) assert.equal(exp(x), expected, `exp(${x})`);
  assert.equal(exp(0), 1);
  assert.equal(exp(-1e6), 0);
  assert.equal(exp(1e6), Infinity);
});

test("log is correctly rounded", () => {
  for (const [x, expected] of LOG_CASES) assert.equal(log(x), expected, `log(${x})`);
  assert.equal(log(1), 0);
  assert.equal(log(0), -Infinity);
  assert.ok(Number.isNaN(log(-1)));
});
