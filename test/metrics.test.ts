/**
 * Metric tests pinned to sacreBLEU 2.6.0.
 *
 * Every expected value below (tokenizer output, unrounded score, printed line, signature, BLEU
 * statistics) is a FACT MEASURED with the real sacreBLEU 2.6.0 (git tag v2.6.0 of mjpost/sacrebleu,
 * run with CPython 3.11 / glibc) on these self-written sentences; none of them was produced by our
 * own implementation. The unrounded scores are compared exactly: our exp/log are correctly
 * rounded like glibc's, and everything else is plain IEEE arithmetic in the same order.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  corpusBleu,
  corpusChrf,
  getBleuTokenizer,
  MetricInputError,
  pyFormatFixed,
  sentenceBleu,
  sentenceChrf,
  type BleuOptions,
  type ChrfOptions,
} from "../src/metrics/index.js";
import { pyRstrip, pySplit, pyStrip } from "../src/metrics/pystr.js";
import { isZhChineseCodePoint } from "../src/metrics/tokenizers.js";

/** [tokenizer, input, sacreBLEU 2.6.0 output] */
const TOKENIZER_CASES: ReadonlyArray<readonly [string, string, string]> = [
  ["13a", "It costs $3.50, not 4-5 dollars (really)!", "It costs $ 3.50 , not 4 - 5 dollars ( really ) !"], // 13a-basic
  ["13a", "He said &quot;yes&quot; &amp; left &lt;now&gt; <skipped>fine", "He said \" yes \" & left < now > fine"], // 13a-entities
  ["13a", "a &amp;lt; b &amp;amp; c &apos;x&apos;", "a < b & amp ; c & apos ; x & apos ;"], // 13a-double-entity
  ["13a", "a well-\nknown\nfact", "a wellknown fact"], // 13a-hyphen-newline
  ["13a", ".5 and 7. then 1,000.25 ok.", ". 5 and 7 . then 1,000.25 ok ."], // 13a-leading-period
  ["intl", "Das kostet 1.000,50 € – oder? «Ja», sagte sie ¿verdad? ¡Sí!", "Das kostet 1.000,50 € – oder ? « Ja » , sagte sie ¿ verdad ? ¡ Sí !"], // intl-basic
  ["intl", "Born in 1999. Moved in 2019.", "Born in 1999 . Moved in 2019."], // intl-year-dot
  ["intl", "a+b=c ©2024 ½ x² 5° ±3 @home #tag", "a + b = c © 2024 ½ x² 5 ° ± 3 @ home # tag"], // intl-symbols
  ["zh", "我们今天去北京，好吗？OK.", "我 们 今 天 去 北 京 ， 好 吗 ？ OK ."], // zh-basic
  ["zh", "“你好”—他说→a∑b ⁂x", "“ 你 好 ” — 他 说 → a ∑ b ⁂ x"], // zh-quirk-ranges
  ["zh", "𠀀𠀁字𪛖", "𠀀𠀁 字 𪛖"], // zh-astral-not-split
  ["zh", "a丽b 字", "a丽b 字"], // zh-astral-compat-not-split
  ["zh", "\u001c 中文 \u0085", "中 文"], // zh-strip
  ["char", "猫が 好き", "猫 が   好 き"], // char-basic
];

interface BleuCase {
  name: string;
  hyps?: string[];
  hyp?: string;
  refs: (string | null)[][] | string[];
  opts: BleuOptions;
  score: number;
  formatted: string;
  signature: string;
  counts: number[];
  totals: number[];
  bp: number;
  sysLen: number;
  refLen: number;
}

/** Corpus cases use `hyps` + reference streams; sentence cases (sentenceBleu) use `hyp` + a list of references. */
const BLEU_CASES: readonly BleuCase[] = [
  {
    name: "13a-corpus",
    hyps: ["The quick brown fox jumps over the lazy dog.", "It costs $3.50, not 4-5 dollars!"],
    refs: [["The quick brown fox jumped over the lazy dog.", "It costs $3.50 , not 4 - 5 dollars!"]],
    opts: {},
    score: 84.69770456149485,
    formatted: "BLEU = 84.70 95.2/89.5/82.4/73.3 (BP = 1.000 ratio = 1.000 hyp_len = 21 ref_len = 21)",
    signature: "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0",
    counts: [20, 17, 14, 11], totals: [21, 19, 17, 15], bp: 1, sysLen: 21, refLen: 21,
  },
  {
    name: "13a-entities",
    hyps: ["He said &quot;yes&quot; &amp; left &lt;now&gt;."],
    refs: [["He said \"yes\" & left <now>."]],
    opts: {},
    score: 100.00000000000004,
    formatted: "BLEU = 100.00 100.0/100.0/100.0/100.0 (BP = 1.000 ratio = 1.000 hyp_len = 11 ref_len = 11)",
    signature: "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0",
    counts: [11, 10, 9, 8], totals: [11, 10, 9, 8], bp: 1, sysLen: 11, refLen: 11,
  },
  {
    name: "intl-corpus",
    hyps: ["Das kostet 1.000,50 € – oder?", "«Ja», sagte sie."],
    refs: [["Das kostet 1.000,50 € oder?", "„Ja“, sagte sie."]],
    opts: { tokenize: "intl" },
    score: 46.269559069048704,
    formatted: "BLEU = 46.27 78.6/58.3/40.0/25.0 (BP = 1.000 ratio = 1.077 hyp_len = 14 ref_len = 13)",
    signature: "nrefs:1|case:mixed|eff:no|tok:intl|smooth:exp|version:2.6.0",
    counts: [11, 7, 4, 2], totals: [14, 12, 10, 8], bp: 1, sysLen: 14, refLen: 13,
  },
  {
    name: "13a-vs-intl",
    hyps: ["Das kostet 1.000,50 € – oder?", "«Ja», sagte sie."],
    refs: [["Das kostet 1.000,50 € oder?", "„Ja“, sagte sie."]],
    opts: { tokenize: "13a" },
    score: 55.83948264724184,
    formatted: "BLEU = 55.84 83.3/70.0/50.0/33.3 (BP = 1.000 ratio = 1.091 hyp_len = 12 ref_len = 11)",
    signature: "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0",
    counts: [10, 7, 4, 2], totals: [12, 10, 8, 6], bp: 1, sysLen: 12, refLen: 11,
  },
  {
    name: "zh-corpus",
    hyps: ["我们今天去北京。", "他说：“你好”—然后走了。"],
    refs: [["我们明天去北京。", "他说：“您好”——然后离开了。"]],
    opts: { tokenize: "zh" },
    score: 42.62055883018784,
    formatted: "BLEU = 42.62 85.7/68.4/41.2/20.0 (BP = 0.909 ratio = 0.913 hyp_len = 21 ref_len = 23)",
    signature: "nrefs:1|case:mixed|eff:no|tok:zh|smooth:exp|version:2.6.0",
    counts: [18, 13, 7, 3], totals: [21, 19, 17, 15], bp: 0.909156442876713, sysLen: 21, refLen: 23,
  },
  {
    name: "char-corpus",
    hyps: ["猫が好きです", "今日は晴れ"],
    refs: [["猫は好きです", "今日は雨"]],
    opts: { tokenize: "char" },
    score: 43.13894320445206,
    formatted: "BLEU = 43.14 72.7/55.6/42.9/20.0 (BP = 1.000 ratio = 1.100 hyp_len = 11 ref_len = 10)",
    signature: "nrefs:1|case:mixed|eff:no|tok:char|smooth:exp|version:2.6.0",
    counts: [8, 5, 3, 1], totals: [11, 9, 7, 5], bp: 1, sysLen: 11, refLen: 10,
  },
  {
    name: "none-corpus",
    hyps: ["Hello , world !", "a b c d"],
    refs: [["Hello, world!", "a b c e"]],
    opts: { tokenize: "none" },
    score: 29.730177875068033,
    formatted: "BLEU = 29.73 37.5/33.3/25.0/25.0 (BP = 1.000 ratio = 1.333 hyp_len = 8 ref_len = 6)",
    signature: "nrefs:1|case:mixed|eff:no|tok:none|smooth:exp|version:2.6.0",
    counts: [3, 2, 1, 0], totals: [8, 6, 4, 2], bp: 1, sysLen: 8, refLen: 6,
  },
  {
    name: "lowercase",
    hyps: ["THE House IS Green"],
    refs: [["the house is green"]],
    opts: { lowercase: true },
    score: 100.00000000000004,
    formatted: "BLEU = 100.00 100.0/100.0/100.0/100.0 (BP = 1.000 ratio = 1.000 hyp_len = 4 ref_len = 4)",
    signature: "nrefs:1|case:lc|eff:no|tok:13a|smooth:exp|version:2.6.0",
    counts: [4, 3, 2, 1], totals: [4, 3, 2, 1], bp: 1, sysLen: 4, refLen: 4,
  },
  {
    name: "mixed-case",
    hyps: ["THE House IS Green"],
    refs: [["the house is green"]],
    opts: {},
    score: 0,
    formatted: "BLEU = 0.00 0.0/0.0/0.0/0.0 (BP = 1.000 ratio = 1.000 hyp_len = 4 ref_len = 4)",
    signature: "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0",
    counts: [0, 0, 0, 0], totals: [4, 3, 2, 1], bp: 1, sysLen: 4, refLen: 4,
  },
  {
    name: "smooth-exp",
    hyps: ["one two three four five", "six seven eight nine"],
    refs: [["one two three ten five", "six seven eleven nine"]],
    opts: {},
    score: 32.46679154750988,
    formatted: "BLEU = 32.47 77.8/42.9/20.0/16.7 (BP = 1.000 ratio = 1.000 hyp_len = 9 ref_len = 9)",
    signature: "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0",
    counts: [7, 3, 1, 0], totals: [9, 7, 5, 3], bp: 1, sysLen: 9, refLen: 9,
  },
  {
    name: "smooth-floor",
    hyps: ["one two three four five", "six seven eight nine"],
    refs: [["one two three ten five", "six seven eleven nine"]],
    opts: { smoothMethod: "floor" },
    score: 21.71185208108768,
    formatted: "BLEU = 21.71 77.8/42.9/20.0/3.3 (BP = 1.000 ratio = 1.000 hyp_len = 9 ref_len = 9)",
    signature: "nrefs:1|case:mixed|eff:no|tok:13a|smooth:floor[0.10]|version:2.6.0",
    counts: [7, 3, 1, 0], totals: [9, 7, 5, 3], bp: 1, sysLen: 9, refLen: 9,
  },
  {
    name: "smooth-floor-0.2",
    hyps: ["one two three four five", "six seven eight nine"],
    refs: [["one two three ten five", "six seven eleven nine"]],
    opts: { smoothMethod: "floor", smoothValue: 0.2 },
    score: 25.819888974716108,
    formatted: "BLEU = 25.82 77.8/42.9/20.0/6.7 (BP = 1.000 ratio = 1.000 hyp_len = 9 ref_len = 9)",
    signature: "nrefs:1|case:mixed|eff:no|tok:13a|smooth:floor[0.20]|version:2.6.0",
    counts: [7, 3, 1, 0], totals: [9, 7, 5, 3], bp: 1, sysLen: 9, refLen: 9,
  },
  {
    name: "smooth-floor-0.125",
    hyps: ["one two three four five", "six seven eight nine"],
    refs: [["one two three ten five", "six seven eleven nine"]],
    opts: { smoothMethod: "floor", smoothValue: 0.125 },
    score: 22.957488466614326,
    formatted: "BLEU = 22.96 77.8/42.9/20.0/4.2 (BP = 1.000 ratio = 1.000 hyp_len = 9 ref_len = 9)",
    signature: "nrefs:1|case:mixed|eff:no|tok:13a|smooth:floor[0.12]|version:2.6.0",
    counts: [7, 3, 1, 0], totals: [9, 7, 5, 3], bp: 1, sysLen: 9, refLen: 9,
  },
  {
    name: "smooth-add-k",
    hyps: ["one two three four five", "six seven eight nine"],
    refs: [["one two three ten five", "six seven eleven nine"]],
    opts: { smoothMethod: "add-k" },
    score: 42.428831583697175,
    formatted: "BLEU = 42.43 77.8/50.0/33.3/25.0 (BP = 1.000 ratio = 1.000 hyp_len = 9 ref_len = 9)",
    signature: "nrefs:1|case:mixed|eff:no|tok:13a|smooth:add-k[1.00]|version:2.6.0",
    counts: [7, 4, 2, 1], totals: [9, 8, 6, 4], bp: 1, sysLen: 9, refLen: 9,
  },
  {
    name: "smooth-add-k-2",
    hyps: ["one two three four five", "six seven eight nine"],
    refs: [["one two three ten five", "six seven eleven nine"]],
    opts: { smoothMethod: "add-k", smoothValue: 2 },
    score: 52.16948600244291,
    formatted: "BLEU = 52.17 77.8/55.6/42.9/40.0 (BP = 1.000 ratio = 1.000 hyp_len = 9 ref_len = 9)",
    signature: "nrefs:1|case:mixed|eff:no|tok:13a|smooth:add-k[2.00]|version:2.6.0",
    counts: [7, 5, 3, 2], totals: [9, 9, 7, 5], bp: 1, sysLen: 9, refLen: 9,
  },
  {
    name: "smooth-none",
    hyps: ["one two three four five", "six seven eight nine"],
    refs: [["one two three ten five", "six seven eleven nine"]],
    opts: { smoothMethod: "none" },
    score: 0,
    formatted: "BLEU = 0.00 77.8/42.9/20.0/0.0 (BP = 1.000 ratio = 1.000 hyp_len = 9 ref_len = 9)",
    signature: "nrefs:1|case:mixed|eff:no|tok:13a|smooth:none|version:2.6.0",
    counts: [7, 3, 1, 0], totals: [9, 7, 5, 3], bp: 1, sysLen: 9, refLen: 9,
  },
  {
    name: "zero-3gram-exp",
    hyps: ["one two three", "four five"],
    refs: [["one two four", "four six"]],
    opts: {},
    score: 0,
    formatted: "BLEU = 0.00 60.0/33.3/50.0/0.0 (BP = 1.000 ratio = 1.000 hyp_len = 5 ref_len = 5)",
    signature: "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0",
    counts: [3, 1, 0, 0], totals: [5, 3, 1, 0], bp: 1, sysLen: 5, refLen: 5,
  },
  {
    name: "zero-3gram-floor",
    hyps: ["one two three", "four five"],
    refs: [["one two four", "four six"]],
    opts: { smoothMethod: "floor" },
    score: 0,
    formatted: "BLEU = 0.00 60.0/33.3/10.0/0.0 (BP = 1.000 ratio = 1.000 hyp_len = 5 ref_len = 5)",
    signature: "nrefs:1|case:mixed|eff:no|tok:13a|smooth:floor[0.10]|version:2.6.0",
    counts: [3, 1, 0, 0], totals: [5, 3, 1, 0], bp: 1, sysLen: 5, refLen: 5,
  },
  {
    name: "zero-3gram-add-k",
    hyps: ["one two three", "four five"],
    refs: [["one two four", "four six"]],
    opts: { smoothMethod: "add-k" },
    score: 62.23329772884783,
    formatted: "BLEU = 62.23 60.0/50.0/50.0/100.0 (BP = 1.000 ratio = 1.000 hyp_len = 5 ref_len = 5)",
    signature: "nrefs:1|case:mixed|eff:no|tok:13a|smooth:add-k[1.00]|version:2.6.0",
    counts: [3, 2, 1, 1], totals: [5, 4, 2, 1], bp: 1, sysLen: 5, refLen: 5,
  },
  {
    name: "zero-3gram-none",
    hyps: ["one two three", "four five"],
    refs: [["one two four", "four six"]],
    opts: { smoothMethod: "none" },
    score: 0,
    formatted: "BLEU = 0.00 60.0/33.3/0.0/0.0 (BP = 1.000 ratio = 1.000 hyp_len = 5 ref_len = 5)",
    signature: "nrefs:1|case:mixed|eff:no|tok:13a|smooth:none|version:2.6.0",
    counts: [3, 1, 0, 0], totals: [5, 3, 1, 0], bp: 1, sysLen: 5, refLen: 5,
  },
  {
    name: "zero-3gram-none-eff",
    hyps: ["one two three", "four five"],
    refs: [["one two four", "four six"]],
    opts: { smoothMethod: "none", effectiveOrder: true },
    score: 0,
    formatted: "BLEU = 0.00 60.0/33.3/0.0/0.0 (BP = 1.000 ratio = 1.000 hyp_len = 5 ref_len = 5)",
    signature: "nrefs:1|case:mixed|eff:yes|tok:13a|smooth:none|version:2.6.0",
    counts: [3, 1, 0, 0], totals: [5, 3, 1, 0], bp: 1, sysLen: 5, refLen: 5,
  },
  {
    name: "short-eff-no",
    hyps: ["a b", "c"],
    refs: [["a b", "c"]],
    opts: {},
    score: 0,
    formatted: "BLEU = 0.00 100.0/100.0/0.0/0.0 (BP = 1.000 ratio = 1.000 hyp_len = 3 ref_len = 3)",
    signature: "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0",
    counts: [3, 1, 0, 0], totals: [3, 1, 0, 0], bp: 1, sysLen: 3, refLen: 3,
  },
  {
    name: "short-eff-yes",
    hyps: ["a b", "c"],
    refs: [["a b", "c"]],
    opts: { effectiveOrder: true },
    score: 100.00000000000004,
    formatted: "BLEU = 100.00 100.0/100.0/0.0/0.0 (BP = 1.000 ratio = 1.000 hyp_len = 3 ref_len = 3)",
    signature: "nrefs:1|case:mixed|eff:yes|tok:13a|smooth:exp|version:2.6.0",
    counts: [3, 1, 0, 0], totals: [3, 1, 0, 0], bp: 1, sysLen: 3, refLen: 3,
  },
  {
    name: "multi-ref",
    hyps: ["the cat is on the mat", "there is a dog here"],
    refs: [["the cat sat on the mat", "a dog is here"], ["there is a cat on the mat", "there is a dog in here"], ["a cat is on the mat", "here is the dog"]],
    opts: {},
    score: 78.56293018010261,
    formatted: "BLEU = 78.56 100.0/88.9/71.4/60.0 (BP = 1.000 ratio = 1.100 hyp_len = 11 ref_len = 10)",
    signature: "nrefs:3|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0",
    counts: [11, 8, 5, 3], totals: [11, 9, 7, 5], bp: 1, sysLen: 11, refLen: 10,
  },
  {
    name: "closest-ref-tie-shorter",
    hyps: ["w1 w2 w3 w4 w5"],
    refs: [["w1 w2 w3 w4"], ["w1 w2 w3 w4 w5 w6"]],
    opts: {},
    score: 100.00000000000004,
    formatted: "BLEU = 100.00 100.0/100.0/100.0/100.0 (BP = 1.000 ratio = 1.250 hyp_len = 5 ref_len = 4)",
    signature: "nrefs:2|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0",
    counts: [5, 4, 3, 2], totals: [5, 4, 3, 2], bp: 1, sysLen: 5, refLen: 4,
  },
  {
    name: "variable-refs",
    hyps: ["a small green house", "it rains"],
    refs: [["a small green house", "it rains today"], ["the small green house", null]],
    opts: {},
    score: 84.64817248906144,
    formatted: "BLEU = 84.65 100.0/100.0/100.0/100.0 (BP = 0.846 ratio = 0.857 hyp_len = 6 ref_len = 7)",
    signature: "nrefs:var|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0",
    counts: [6, 4, 2, 1], totals: [6, 4, 2, 1], bp: 0.846481724890614, sysLen: 6, refLen: 7,
  },
  {
    name: "empty-lines",
    hyps: ["the first line", "", "the third line"],
    refs: [["the first line", "", "a third line"]],
    opts: {},
    score: 0,
    formatted: "BLEU = 0.00 83.3/75.0/50.0/0.0 (BP = 1.000 ratio = 1.000 hyp_len = 6 ref_len = 6)",
    signature: "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0",
    counts: [5, 3, 1, 0], totals: [6, 4, 2, 0], bp: 1, sysLen: 6, refLen: 6,
  },
  {
    name: "empty-hyp-line-nonempty-ref",
    hyps: ["", "yes indeed"],
    refs: [["something here", "yes indeed"]],
    opts: {},
    score: 0,
    formatted: "BLEU = 0.00 100.0/100.0/0.0/0.0 (BP = 0.368 ratio = 0.500 hyp_len = 2 ref_len = 4)",
    signature: "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0",
    counts: [2, 1, 0, 0], totals: [2, 1, 0, 0], bp: 0.36787944117144233, sysLen: 2, refLen: 4,
  },
  {
    name: "all-empty-hyps",
    hyps: ["", ""],
    refs: [["a b", "c"]],
    opts: {},
    score: 0,
    formatted: "BLEU = 0.00 0.0/0.0/0.0/0.0 (BP = 0.000 ratio = 0.000 hyp_len = 0 ref_len = 3)",
    signature: "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0",
    counts: [0, 0, 0, 0], totals: [0, 0, 0, 0], bp: 0, sysLen: 0, refLen: 3,
  },
  {
    name: "python-whitespace",
    hyps: ["a\u001cb\u0085c d\ufeffe"],
    refs: [["a b c d e"]],
    opts: { tokenize: "none" },
    score: 46.30777161991026,
    formatted: "BLEU = 46.31 75.0/66.7/50.0/50.0 (BP = 0.779 ratio = 0.800 hyp_len = 4 ref_len = 5)",
    signature: "nrefs:1|case:mixed|eff:no|tok:none|smooth:exp|version:2.6.0",
    counts: [3, 2, 1, 0], totals: [4, 3, 2, 1], bp: 0.7788007830714049, sysLen: 4, refLen: 5,
  },
  {
    name: "sentence-default",
    hyp: "the cat sat on a mat",
    refs: ["the cat sat on the mat"],
    opts: {},
    score: 53.7284965911771,
    formatted: "BLEU = 53.73 83.3/60.0/50.0/33.3 (BP = 1.000 ratio = 1.000 hyp_len = 6 ref_len = 6)",
    signature: "nrefs:1|case:mixed|eff:yes|tok:13a|smooth:exp|version:2.6.0",
    counts: [5, 3, 2, 1], totals: [6, 5, 4, 3], bp: 1, sysLen: 6, refLen: 6,
  },
  {
    name: "sentence-multi-ref",
    hyp: "the cat is on the mat",
    refs: ["the cat sat on the mat", "a cat is on the mat"],
    opts: {},
    score: 84.08964152537145,
    formatted: "BLEU = 84.09 100.0/100.0/75.0/66.7 (BP = 1.000 ratio = 1.000 hyp_len = 6 ref_len = 6)",
    signature: "nrefs:2|case:mixed|eff:yes|tok:13a|smooth:exp|version:2.6.0",
    counts: [6, 5, 3, 2], totals: [6, 5, 4, 3], bp: 1, sysLen: 6, refLen: 6,
  },
  {
    name: "sentence-empty-hyp",
    hyp: "",
    refs: ["the cat sat on the mat"],
    opts: {},
    score: 0,
    formatted: "BLEU = 0.00 0.0/0.0/0.0/0.0 (BP = 0.000 ratio = 0.000 hyp_len = 0 ref_len = 6)",
    signature: "nrefs:1|case:mixed|eff:yes|tok:13a|smooth:exp|version:2.6.0",
    counts: [0, 0, 0, 0], totals: [0, 0, 0, 0], bp: 0, sysLen: 0, refLen: 6,
  },
  {
    name: "sentence-no-eff",
    hyp: "the cat sat",
    refs: ["the cat sat on the mat"],
    opts: { effectiveOrder: false },
    score: 0,
    formatted: "BLEU = 0.00 100.0/100.0/100.0/0.0 (BP = 0.368 ratio = 0.500 hyp_len = 3 ref_len = 6)",
    signature: "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0",
    counts: [3, 2, 1, 0], totals: [3, 2, 1, 0], bp: 0.36787944117144233, sysLen: 3, refLen: 6,
  },
  {
    name: "sentence-floor",
    hyp: "one two three",
    refs: ["one two four"],
    opts: { smoothMethod: "floor" },
    score: 32.182979486854336,
    formatted: "BLEU = 32.18 66.7/50.0/10.0/0.0 (BP = 1.000 ratio = 1.000 hyp_len = 3 ref_len = 3)",
    signature: "nrefs:1|case:mixed|eff:yes|tok:13a|smooth:floor[0.10]|version:2.6.0",
    counts: [2, 1, 0, 0], totals: [3, 2, 1, 0], bp: 1, sysLen: 3, refLen: 3,
  },
  {
    name: "sentence-zh",
    hyp: "我们今天去北京。",
    refs: ["我们明天去北京。"],
    opts: { tokenize: "zh" },
    score: 59.4603557501361,
    formatted: "BLEU = 59.46 87.5/71.4/50.0/40.0 (BP = 1.000 ratio = 1.000 hyp_len = 8 ref_len = 8)",
    signature: "nrefs:1|case:mixed|eff:yes|tok:zh|smooth:exp|version:2.6.0",
    counts: [7, 5, 3, 2], totals: [8, 7, 6, 5], bp: 1, sysLen: 8, refLen: 8,
  },
];

interface ChrfCase {
  name: string;
  hyps?: string[];
  hyp?: string;
  refs: string[][] | string[];
  opts: ChrfOptions;
  score: number;
  formatted: string;
  signature: string;
}

const CHRF_CASES: readonly ChrfCase[] = [
  {
    name: "chrf-default",
    hyps: ["The quick brown fox jumps over the lazy dog.", "It costs 3.50 dollars, not more!"],
    refs: [["The quick brown fox jumped over the lazy dog.", "It costs 3.50 dollars (not more)."]],
    opts: {},
    score: 83.50914344208819,
    formatted: "chrF2 = 83.51",
    signature: "nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0",
  },
  {
    name: "chrf++",
    hyps: ["The quick brown fox jumps over the lazy dog.", "It costs 3.50 dollars, not more!"],
    refs: [["The quick brown fox jumped over the lazy dog.", "It costs 3.50 dollars (not more)."]],
    opts: { wordOrder: 2 },
    score: 80.16905281551789,
    formatted: "chrF2++ = 80.17",
    signature: "nrefs:1|case:mixed|eff:yes|nc:6|nw:2|space:no|version:2.6.0",
  },
  {
    name: "chrf-whitespace",
    hyps: ["The quick brown fox jumps over the lazy dog.", "It costs 3.50 dollars, not more!"],
    refs: [["The quick brown fox jumped over the lazy dog.", "It costs 3.50 dollars (not more)."]],
    opts: { whitespace: true },
    score: 85.35960774254153,
    formatted: "chrF2 = 85.36",
    signature: "nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:yes|version:2.6.0",
  },
  {
    name: "chrf-lowercase",
    hyps: ["THE Fox"],
    refs: [["the fox"]],
    opts: { lowercase: true },
    score: 100,
    formatted: "chrF2 = 100.00",
    signature: "nrefs:1|case:lc|eff:yes|nc:6|nw:0|space:no|version:2.6.0",
  },
  {
    name: "chrf-beta1",
    hyps: ["The quick brown fox jumps over the lazy dog.", "It costs 3.50 dollars, not more!"],
    refs: [["The quick brown fox jumped over the lazy dog.", "It costs 3.50 dollars (not more)."]],
    opts: { beta: 1 },
    score: 84.35730948068763,
    formatted: "chrF1 = 84.36",
    signature: "nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0",
  },
  {
    name: "chrf-eps",
    hyps: ["The quick brown fox jumps over the lazy dog.", "It costs 3.50 dollars, not more!"],
    refs: [["The quick brown fox jumped over the lazy dog.", "It costs 3.50 dollars (not more)."]],
    opts: { effectiveOrder: false },
    score: 83.50909313223049,
    formatted: "chrF2 = 83.51",
    signature: "nrefs:1|case:mixed|eff:no|nc:6|nw:0|space:no|version:2.6.0",
  },
  {
    name: "chrf++-eps",
    hyps: ["The quick brown fox jumps over the lazy dog.", "It costs 3.50 dollars, not more!"],
    refs: [["The quick brown fox jumped over the lazy dog.", "It costs 3.50 dollars (not more)."]],
    opts: { wordOrder: 2, effectiveOrder: false },
    score: 80.16654207139509,
    formatted: "chrF2++ = 80.17",
    signature: "nrefs:1|case:mixed|eff:no|nc:6|nw:2|space:no|version:2.6.0",
  },
  {
    name: "chrf-multi-ref",
    hyps: ["the cat is on the mat", "a dog is here"],
    refs: [["the cat sat on the mat", "there is a dog here"], ["a cat is on the mat", "the dog is here"]],
    opts: {},
    score: 80.42411292411292,
    formatted: "chrF2 = 80.42",
    signature: "nrefs:2|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0",
  },
  {
    name: "chrf++-multi-ref",
    hyps: ["the cat is on the mat", "a dog is here"],
    refs: [["the cat sat on the mat", "there is a dog here"], ["a cat is on the mat", "the dog is here"]],
    opts: { wordOrder: 2 },
    score: 79.6930846930847,
    formatted: "chrF2++ = 79.69",
    signature: "nrefs:2|case:mixed|eff:yes|nc:6|nw:2|space:no|version:2.6.0",
  },
  {
    name: "chrf-empty-lines",
    hyps: ["first line", "", "third"],
    refs: [["first line", "", "a third"]],
    opts: {},
    score: 90.60482997535478,
    formatted: "chrF2 = 90.60",
    signature: "nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0",
  },
  {
    name: "chrf++-empty-hyp",
    hyps: ["", "word"],
    refs: [["some words", "word"]],
    opts: { wordOrder: 2 },
    score: 30.04939984663616,
    formatted: "chrF2++ = 30.05",
    signature: "nrefs:1|case:mixed|eff:yes|nc:6|nw:2|space:no|version:2.6.0",
  },
  {
    name: "chrf-all-empty",
    hyps: [""],
    refs: [["reference"]],
    opts: {},
    score: 0,
    formatted: "chrF2 = 0.00",
    signature: "nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0",
  },
  {
    name: "chrf-python-whitespace",
    hyps: ["ab\u001ccd\ufeffe"],
    refs: [["abcd e"]],
    opts: {},
    score: 55.16921650440426,
    formatted: "chrF2 = 55.17",
    signature: "nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0",
  },
  {
    name: "chrf++-punct-split",
    hyps: ["(hi) there, friend."],
    refs: [["hi there friend"]],
    opts: { wordOrder: 2 },
    score: 47.11976295441019,
    formatted: "chrF2++ = 47.12",
    signature: "nrefs:1|case:mixed|eff:yes|nc:6|nw:2|space:no|version:2.6.0",
  },
  {
    name: "chrf-zh",
    hyps: ["我们今天去北京。"],
    refs: [["我们明天去北京。"]],
    opts: {},
    score: 45.654761904761905,
    formatted: "chrF2 = 45.65",
    signature: "nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0",
  },
  {
    name: "schrf-default",
    hyp: "the cat sat on a mat",
    refs: ["the cat sat on the mat"],
    opts: {},
    score: 65.97965990995549,
    formatted: "chrF2 = 65.98",
    signature: "nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0",
  },
  {
    name: "schrf++",
    hyp: "the cat sat on a mat",
    refs: ["the cat sat on the mat"],
    opts: { wordOrder: 2 },
    score: 67.4443505016402,
    formatted: "chrF2++ = 67.44",
    signature: "nrefs:1|case:mixed|eff:yes|nc:6|nw:2|space:no|version:2.6.0",
  },
  {
    name: "schrf-multi",
    hyp: "the cat is on the mat",
    refs: ["the cat sat on the mat", "a cat is on the mat"],
    opts: { wordOrder: 2 },
    score: 86.48186242979817,
    formatted: "chrF2++ = 86.48",
    signature: "nrefs:2|case:mixed|eff:yes|nc:6|nw:2|space:no|version:2.6.0",
  },
  {
    name: "schrf-empty-hyp",
    hyp: "",
    refs: ["the cat"],
    opts: {},
    score: 0,
    formatted: "chrF2 = 0.00",
    signature: "nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0",
  },
];

for (const [tokenizer, input, expected] of TOKENIZER_CASES) {
  test(`tokenizer ${tokenizer}: ${JSON.stringify(input)}`, () => {
    assert.equal(getBleuTokenizer(tokenizer).tokenize(input), expected);
  });
}

for (const c of BLEU_CASES) {
  test(`BLEU ${c.name}`, () => {
    const s =
      c.hyp !== undefined
        ? sentenceBleu(c.hyp, c.refs as string[], c.opts)
        : corpusBleu(c.hyps ?? [], c.refs as (string | null)[][], c.opts);
    assert.equal(s.name, "BLEU");
    assert.equal(s.signature, c.signature);
    assert.deepEqual(s.counts, c.counts);
    assert.deepEqual(s.totals, c.totals);
    assert.equal(s.sysLen, c.sysLen);
    assert.equal(s.refLen, c.refLen);
    assert.equal(s.bp, c.bp);
    assert.equal(s.formatted, c.formatted);
    assert.equal(s.score, c.score);
  });
}

for (const c of CHRF_CASES) {
  test(`chrF ${c.name}`, () => {
    const s =
      c.hyp !== undefined
        ? sentenceChrf(c.hyp, c.refs as string[], c.opts)
        : corpusChrf(c.hyps ?? [], c.refs as string[][], c.opts);
    assert.equal(s.signature, c.signature);
    assert.equal(s.formatted, c.formatted);
    assert.equal(s.score, c.score);
  });
}

test("sentence BLEU defaults to effective order and corpus BLEU does not (as sacreBLEU's API)", () => {
  // sacreBLEU 2.6.0: corpus_bleu(["the cat sat"], [["the cat sat on the mat"]]) -> 0.0 (4-gram total 0),
  // sentence_bleu("the cat sat", ["the cat sat on the mat"]) -> 36.78794411714425 (eff:yes).
  assert.equal(corpusBleu(["the cat sat"], [["the cat sat on the mat"]]).score, 0);
  const sentence = sentenceBleu("the cat sat", ["the cat sat on the mat"]);
  assert.equal(sentence.score, 36.78794411714425);
  assert.match(sentence.signature, /\|eff:yes\|/);
});

test("Python whitespace: split() separates on U+001C..U+001F and U+0085 but not U+FEFF", () => {
  assert.deepEqual(pySplit("a\u001cb\u001fc\u0085d\ufeffe\u3000f\u200bg"), ["a", "b", "c", "d\ufeffe", "f\u200bg"]);
  assert.deepEqual(pySplit(" \t\n "), []);
  assert.equal(pyRstrip("x \r\u0085\u2028"), "x");
  assert.equal(pyRstrip("x\ufeff"), "x\ufeff");
  assert.equal(pyStrip("\u001c x \u00a0"), "x");
});

test("zh ranges are the ones Python actually compares ('\\u20000' is U+2000 then '0')", () => {
  assert.equal(isZhChineseCodePoint(0x2000), false); // '\u20000' > '\u2000'
  assert.equal(isZhChineseCodePoint(0x2001), true);
  assert.equal(isZhChineseCodePoint(0x2014), true); // em dash
  assert.equal(isZhChineseCodePoint(0x2a6d), true);
  assert.equal(isZhChineseCodePoint(0x2a6e), false);
  assert.equal(isZhChineseCodePoint(0x20000), false); // CJK Extension B is NOT split by sacreBLEU
  assert.equal(isZhChineseCodePoint(0x2f800), false);
  assert.equal(isZhChineseCodePoint(0x4e2d), true);
});

test("printed numbers round like Python's format(), half to even on exact ties", () => {
  assert.equal(pyFormatFixed(0.125, 2), "0.12");
  assert.equal(pyFormatFixed(0.375, 2), "0.38");
  assert.equal(pyFormatFixed(2.5, 0), "2");
  assert.equal(pyFormatFixed(3.5, 0), "4");
  assert.equal(pyFormatFixed(0.1, 2), "0.10");
  assert.equal(pyFormatFixed(2.675, 2), "2.67"); // 2.675 is below the tie in binary
  assert.equal(pyFormatFixed(100.00000000000004, 2), "100.00");
});

test("bad input is a MetricInputError, not a crash", () => {
  assert.throws(() => corpusBleu([], [[]]), MetricInputError);
  assert.throws(() => corpusBleu(["a"], []), MetricInputError);
  assert.throws(() => corpusBleu(["a", "b"], [["a"]]), MetricInputError);
  assert.throws(() => corpusBleu(["a"], [[null]]), MetricInputError);
  assert.throws(() => corpusBleu(["a"], [["a"]], { tokenize: "moses" as never }), MetricInputError);
  assert.throws(() => corpusBleu(["a"], [["a"]], { smoothMethod: "lin" as never }), MetricInputError);
  assert.throws(() => sentenceBleu("a", []), MetricInputError);
  assert.throws(() => corpusChrf(["a"], [["a", "b"]]), MetricInputError);
  assert.throws(() => corpusChrf(["a"], [["a"]], { charOrder: 0, wordOrder: 0 }), MetricInputError);
  assert.throws(() => sentenceChrf("a", []), MetricInputError);
});
