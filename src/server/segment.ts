/**
 * Cutting texts into units the model can translate, and putting the translations back together.
 *
 * A text is split into lines ("\r\n" read as "\n"); blank lines are kept as they are, and each line's leading and
 * trailing whitespace is kept around its translation. A line whose tokens fit the segment limit is translated
 * whole; a longer line is split into sentences (script-aware: . ! ? … with abbreviation and lower-case checks
 * for Latin and Cyrillic, 。！？ for CJK, । ॥ for Devanagari, ؟ ۔ for Arabic), and a sentence still too long is
 * cut at clause punctuation, then between words, then between characters, packing the pieces greedily.
 */

/** A line of a text: kept verbatim (no segments) or translated from its segments and rejoined. */
export interface LinePlan {
  lead: string;
  trail: string;
  /** Source units to translate, in order; empty for a blank line. */
  segments: string[];
}

export interface TextPlan {
  lines: LinePlan[];
}

export type Fits = (text: string) => boolean;

/** Awaited between tokenizer calls: lets other requests run when cutting a long text takes a while. */
export type Pause = () => Promise<void>;

/** A Pause that yields to the event loop once `sliceMs` of work has passed since the last yield. */
export function timeSlicer(sliceMs = 10): Pause {
  let since = performance.now();
  return async () => {
    if (performance.now() - since < sliceMs) return;
    await new Promise<void>((r) => setImmediate(r));
    since = performance.now();
  };
}

const noPause: Pause = () => Promise.resolve();

/** Thrown when a text needs more segments than allowed: planning stops there instead of cutting the rest. */
export class SegmentLimitError extends Error {
  override readonly name = "SegmentLimitError";
  constructor(readonly limit: number) {
    super(`the text needs more than ${limit} segments`);
  }
}

/** Segments still allowed, shared by every text of a request; planText throws SegmentLimitError past it. */
export interface SegmentBudget {
  readonly limit: number;
  used: number;
}

function spend(budget: SegmentBudget | undefined, n: number): void {
  if (!budget) return;
  budget.used += n;
  if (budget.used > budget.limit) throw new SegmentLimitError(budget.limit);
}

export async function planText(text: string, fits: Fits, pause: Pause = noPause, budget?: SegmentBudget): Promise<TextPlan> {
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  const planned: LinePlan[] = [];
  for (const line of lines) {
    const m = /^(\s*)([\s\S]*?)(\s*)$/.exec(line)!;
    const [, lead = "", core = "", trail = ""] = m;
    if (core === "") {
      planned.push({ lead: line, trail: "", segments: [] });
      continue;
    }
    await pause();
    const segments = fits(core) ? [core] : await splitToFit(core, fits, pause, budget ? budget.limit - budget.used : undefined);
    spend(budget, segments.length);
    planned.push({ lead, trail, segments });
  }
  return { lines: planned };
}

export function segmentCount(plan: TextPlan): number {
  return plan.lines.reduce((n, l) => n + l.segments.length, 0);
}

/**
 * Rebuilds the text from its plan and the translations of its segments (in plan order); `joiner` goes between
 * the translations of one line's segments ("" for scripts written without spaces, " " otherwise).
 */
export function renderText(plan: TextPlan, translations: readonly string[], joiner: string): string {
  let k = 0;
  return plan.lines
    .map((l) => {
      if (l.segments.length === 0) return l.lead;
      const parts: string[] = [];
      for (let i = 0; i < l.segments.length; i++) {
        const t = (translations[k++] ?? "").trim();
        if (t !== "") parts.push(t);
      }
      return l.lead + parts.join(joiner) + l.trail;
    })
    .join("\n");
}

/** Splits a line that does not fit into sentences, and sentences that still do not fit into smaller pieces. */
export async function splitToFit(text: string, fits: Fits, pause: Pause = noPause, limit = Number.POSITIVE_INFINITY): Promise<string[]> {
  const out: string[] = [];
  for (const sentence of splitSentences(text)) {
    await pause();
    if (fits(sentence)) out.push(sentence);
    else out.push(...(await packPieces(sentence, fits, 0, pause)));
    // Counted as they are found, so that a text with thousands of sentences stops at the limit.
    if (out.length > limit) throw new SegmentLimitError(limit);
  }
  return out;
}

const CLOSERS = new Set([..."\"'”’»)]}」』）】〉》"]);
const LATIN_END = new Set([..."!?…"]);
const WIDE_END = new Set([..."。！？｡"]);
const INDIC_END = new Set([..."।॥"]);
const ARABIC_END = new Set([..."؟۔"]);
/** Words before "." that do not end a sentence (lower case, without the dot). */
const ABBREVIATIONS = new Set([
  "mr", "mrs", "ms", "dr", "prof", "st", "sr", "jr", "vs", "etc", "e.g", "i.e", "cf", "no", "nr", "vol", "fig",
  "approx", "dept", "inc", "ltd", "co", "z.b", "usw", "bzw", "ca", "sra", "srta", "mme", "mlle", "av", "ст", "г", "т.е", "т.д",
]);

/** Script-aware sentence splitting; returns trimmed, non-empty sentences whose concatenation covers the text. */
export function splitSentences(text: string): string[] {
  const chars = [...text];
  const sentences: string[] = [];
  let current = "";
  let i = 0;
  const flush = () => {
    const s = current.trim();
    if (s !== "") sentences.push(s);
    current = "";
  };
  while (i < chars.length) {
    const c = chars[i]!;
    current += c;
    i++;
    const wide = WIDE_END.has(c) || INDIC_END.has(c);
    const latin = c === "." || LATIN_END.has(c) || ARABIC_END.has(c);
    if (!wide && !latin) continue;
    // Absorb a run of terminators and closing quotes/brackets: "?!", "...", "。」".
    while (i < chars.length) {
      const n = chars[i]!;
      if (n === "." || LATIN_END.has(n) || WIDE_END.has(n) || INDIC_END.has(n) || ARABIC_END.has(n) || CLOSERS.has(n)) {
        current += n;
        i++;
      } else break;
    }
    if (i >= chars.length) break;
    const next = chars[i]!;
    if (wide) {
      flush();
      continue;
    }
    // Latin-like terminators end a sentence only before whitespace.
    if (!/\s/u.test(next)) continue;
    if (c === "." && !endsSentenceAtPeriod(current, chars, i)) continue;
    flush();
  }
  flush();
  return sentences;
}

function endsSentenceAtPeriod(current: string, chars: string[], afterIndex: number): boolean {
  const m = /([\p{L}.]+)\.+["'”’»)\]]*$/u.exec(current);
  const word = m?.[1]?.toLowerCase() ?? "";
  if (word.length === 1 && /\p{Lu}/u.test(m![1]!)) return false; // an initial: "J. Smith"
  if (ABBREVIATIONS.has(word)) return false;
  let j = afterIndex;
  while (j < chars.length && /\s/u.test(chars[j]!)) j++;
  const next = chars[j];
  if (next !== undefined && /\p{Ll}/u.test(next)) return false; // "... approx. three" continues
  return true;
}

/** Splitters from coarse to fine: clauses, words, characters. Each piece keeps its trailing separator. */
const SPLITTERS: Array<(s: string) => string[]> = [
  (s) => s.split(/(?<=[,;:，；、،؛])/u),
  (s) => s.split(/(?<=\s)/u),
  (s) => [...s],
];

/**
 * Packs consecutive units (from the splitter of this level) into pieces that fit, each as long as possible; a unit
 * that does not fit alone goes to the next, finer splitter. The longest fitting run is found by galloping then
 * bisecting, so a long text costs O(pieces * log n) tokenizer calls of bounded length (not one per unit).
 */
async function packPieces(text: string, fits: Fits, level: number, pause: Pause): Promise<string[]> {
  const split = SPLITTERS[level];
  if (!split) return [text.trim()].filter((s) => s !== ""); // a single character that does not fit: give up here
  const units = split(text).filter((u) => u !== "");
  const out: string[] = [];
  const run = (from: number, count: number) => units.slice(from, from + count).join("");
  let i = 0;
  let previous = 1; // units in the previous piece: the first guess for the next one
  while (i < units.length) {
    await pause();
    if (!fits(units[i]!)) {
      out.push(...(await packPieces(units[i]!, fits, level + 1, pause)));
      i++;
      continue;
    }
    const remaining = units.length - i;
    let good = 1; // run(i, good) fits
    let bad = remaining + 1; // smallest count known not to fit (or past the end)
    const guess = Math.min(previous, remaining);
    if (guess > 1) {
      if (fits(run(i, guess))) good = guess;
      else bad = guess;
    }
    for (let step = Math.max(1, guess >> 3); good < remaining && bad > good + 1; step *= 2) {
      const n = Math.min(good + step, remaining);
      await pause();
      if (fits(run(i, n))) good = n;
      else {
        bad = n;
        break;
      }
    }
    while (bad - good > 1 && good < remaining) {
      const mid = (good + bad) >> 1;
      await pause();
      if (fits(run(i, mid))) good = mid;
      else bad = mid;
    }
    out.push(run(i, good));
    previous = good;
    i += good;
  }
  return out.map((s) => s.trim()).filter((s) => s !== "");
}
