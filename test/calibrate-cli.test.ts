/** `glossa calibrate` argument handling (no build): usage errors exit 2 with the usage line; pairsFor. */
import assert from "node:assert/strict";
import { test } from "node:test";

import { calibrateCommand, pairsFor } from "../src/cli/commands/calibrate.js";

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => err.push(s) } } };
}

test("usage errors exit 2 and name the problem", async () => {
  for (const [argv, re] of [
    [[], /--lang is required/],
    [["--lang", "de"], /--recipe is required/],
    [["--lang", "xx", "--recipe", "int8"], /not an ISO code/],
    [["--lang", "de", "--recipe", "int3"], /--recipe must be one of int8, awq-int4/],
    [["--lang", "de", "--recipe", "int8", "--tatoeba-limit", "0"], /positive integer/],
    [["--lang", "de", "--recipe", "int8", "--bogus"], /bogus/],
    [["--lang", "de", "--recipe", "int8", "--lm-head", "int4"], /--lm-head must be f16 or int8/],
    [["--lang", "de", "--recipe", "int8", "--w4a16"], /--w4a16 applies to --recipe awq-int4 only/],
  ] as const) {
    const c = io();
    assert.equal(await calibrateCommand([...argv], c.io), 2, argv.join(" "));
    assert.match(c.err.join(""), re);
    assert.match(c.err.join(""), /usage: glossa calibrate --lang L --recipe int8\|awq-int4/);
  }
  const h = io();
  assert.equal(await calibrateCommand(["--help"], h.io), 0);
  assert.match(h.out.join(""), /usage: glossa calibrate/);
});

test("the gated directions: L-en and en-L, all 18 English-pivot pairs for en", () => {
  assert.deepEqual(pairsFor("sw"), ["sw-en", "en-sw"]);
  const en = pairsFor("en");
  assert.equal(en.length, 18);
  assert.ok(en.includes("en-zh") && en.includes("zh-en"));
});
