/**
 * Translating HTML (format "html"): the input is read with parse5's HTML5 tokenizer (through parse5-sax-parser,
 * which follows the tree builder's tokenizer switches: script/style raw text, RCDATA title/textarea, foreign
 * content), so Glossa sees markup exactly where a browser does.
 *
 * - Markup comes back byte for byte: every tag, comment, doctype, and every byte the tokenizer did not report as
 *   text is copied from the input. Only text is replaced, escaped exactly once (& < >). Attributes are copied too,
 *   except those declared translatable (title, alt, placeholder...: off by default), whose value is translated
 *   and re-escaped inside its original quotes.
 * - Translation units are runs of text between block boundaries; inline elements (a, b, em, span...) do not cut a
 *   run, so a sentence with a link is translated as one sentence. The run's translation is then distributed over
 *   its text nodes: each inline element's own text is also translated alone, and where that translation is
 *   found in the run's translation the element's tags are placed around it; otherwise positions are interpolated
 *   by length and snapped to word starts. The tags are always emitted in input order, so the tag structure of the
 *   output is the input's.
 * - Verbatim: script, style, code, pre, textarea, kbd, samp, var, svg, math, template, and any element with
 *   translate="no" or class "notranslate" (with everything inside). Text without letters stays as it is.
 */
import { SAXParser, type EndTag, type StartTag, type Text } from "parse5-sax-parser";

/** Attributes whose value is plain text; the only ones that may be declared translatable. */
export const TRANSLATABLE_ATTRIBUTES: ReadonlySet<string> = new Set([
  "title",
  "alt",
  "placeholder",
  "aria-label",
  "aria-description",
  "aria-placeholder",
  "aria-roledescription",
  "label",
]);

export interface HtmlOptions {
  /** Attribute names (from TRANSLATABLE_ATTRIBUTES) whose values are translated. */
  attributes?: ReadonlySet<string>;
  /** Target written without spaces between words (Chinese): positions are not snapped to spaces. */
  unspaced?: boolean;
}

/** An HTML text cut into translation units, and how to put the translated units back. */
export interface HtmlDocument {
  /** Texts to translate (plain text, entities decoded). */
  readonly sources: string[];
  /** The HTML with every unit replaced by its translation (same order as sources). */
  compose(translations: readonly string[]): string;
}

const VERBATIM = new Set(["script", "style", "code", "pre", "textarea", "kbd", "samp", "var", "svg", "math", "template", "noscript", "xmp", "plaintext", "iframe", "noembed", "noframes"]);
const INLINE = new Set([
  "a", "abbr", "b", "bdi", "bdo", "big", "cite", "data", "del", "dfn", "em", "font", "i", "ins", "label", "mark", "q",
  "s", "small", "span", "strike", "strong", "sub", "sup", "time", "tt", "u",
]);
/** Void inline elements: kept in place inside a run (no text of their own). */
const INLINE_VOID = new Set(["img", "wbr"]);
const VOID = new Set(["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"]);

type Piece =
  | { kind: "raw"; start: number; end: number }
  | { kind: "text"; start: number; end: number; text: string }
  | { kind: "tag"; start: number; end: number; open?: string; close?: string; attrs?: AttrSlot[] };

interface AttrSlot {
  start: number;
  end: number;
  unit: number;
}

/** A tag inside a run, at a character position of the run's text. */
interface RunTag {
  piece: number;
  pos: number;
}

interface RunElement {
  /** [start, end) of the element's text in the run's text. */
  span: [number, number];
  /** Unit holding this element's own text (translated alone, to place its tags). */
  unit: number | undefined;
}

interface Run {
  /** Pieces (text and inline tags) of the run, in order. */
  pieces: number[];
  text: string;
  unit: number | undefined;
  elements: RunElement[];
}

function tokenize(html: string): Array<{ type: "start"; t: StartTag } | { type: "end"; t: EndTag } | { type: "text"; t: Text } | { type: "other"; start: number; end: number }> {
  const out: ReturnType<typeof tokenize> = [];
  const parser = new SAXParser({ sourceCodeLocationInfo: true });
  parser.on("startTag", (t) => out.push({ type: "start", t }));
  parser.on("endTag", (t) => out.push({ type: "end", t }));
  parser.on("text", (t) => out.push({ type: "text", t }));
  const other = (t: { sourceCodeLocation?: { startOffset: number; endOffset: number } | null }) => {
    if (t.sourceCodeLocation) out.push({ type: "other", start: t.sourceCodeLocation.startOffset, end: t.sourceCodeLocation.endOffset });
  };
  parser.on("comment", other);
  parser.on("doctype", other);
  parser.end(html); // parse5-sax-parser emits synchronously while the input is written
  return out;
}

function isHidden(t: StartTag): boolean {
  return t.attrs.some(
    (a) => (a.name === "translate" && a.value.trim().toLowerCase() === "no") || (a.name === "class" && /(^|\s)notranslate(\s|$)/.test(a.value)),
  );
}

export function prepareHtml(html: string, opts: HtmlOptions = {}): HtmlDocument {
  const attributes = opts.attributes ?? new Set<string>();
  const pieces: Piece[] = [];
  const sources: string[] = [];
  const addUnit = (text: string): number => sources.push(text) - 1;
  let covered = 0;
  /** Appends a piece (bytes the tokenizer skipped go before it as raw); false when it overlaps what is already
   * covered (never seen: parse5 reports increasing offsets), in which case only the new bytes are kept, raw. */
  const push = (p: Piece): boolean => {
    if (p.start > covered) pieces.push({ kind: "raw", start: covered, end: p.start });
    if (p.start < covered) {
      if (p.end > covered) pieces.push({ kind: "raw", start: covered, end: p.end });
      covered = Math.max(covered, p.end);
      return false;
    }
    pieces.push(p);
    covered = p.end;
    return true;
  };
  // Elements whose content is verbatim: the names still open (a stack, so nested same-name tags balance).
  const verbatim: string[] = [];
  const runs: Run[] = [];
  let run: Run | undefined;
  const openInline: Array<{ name: string; pos: number }> = [];
  const endRun = () => {
    if (run) runs.push(run);
    run = undefined;
    openInline.length = 0;
  };
  const runOf = (): Run => (run ??= { pieces: [], text: "", unit: undefined, elements: [] });

  for (const tok of tokenize(html)) {
    if (tok.type === "other") {
      push({ kind: "raw", start: tok.start, end: tok.end }); // a comment inside a sentence does not cut it
      continue;
    }
    const loc = tok.t.sourceCodeLocation;
    if (!loc) continue;
    if (tok.type === "text") {
      if (verbatim.length > 0) {
        push({ kind: "raw", start: loc.startOffset, end: loc.endOffset });
        continue;
      }
      if (!push({ kind: "text", start: loc.startOffset, end: loc.endOffset, text: tok.t.text })) continue;
      const r = runOf();
      r.pieces.push(pieces.length - 1);
      r.text += tok.t.text;
      continue;
    }
    if (tok.type === "start") {
      const name = tok.t.tagName;
      // HTML ignores "/>" on non-void elements: <b/> opens a <b>.
      const selfClosing = VOID.has(name);
      const inVerbatim = verbatim.length > 0;
      const attrSlots: AttrSlot[] = [];
      const attrLocs = (loc as { attrs?: Record<string, { startOffset: number; endOffset: number }> }).attrs;
      if (!inVerbatim && attributes.size > 0 && attrLocs) {
        for (const a of tok.t.attrs) {
          const where = attrLocs[a.name];
          if (!attributes.has(a.name) || !where || !/\p{L}/u.test(a.value)) continue;
          attrSlots.push({ start: where.startOffset, end: where.endOffset, unit: addUnit(a.value.replace(/\s+/g, " ").trim()) });
        }
      }
      if (!push({ kind: "tag", start: loc.startOffset, end: loc.endOffset, open: name, ...(attrSlots.length ? { attrs: attrSlots } : {}) })) {
        endRun();
        continue;
      }
      const index = pieces.length - 1;
      if (inVerbatim) {
        if (!selfClosing && verbatim.includes(name)) verbatim.push(name);
        continue;
      }
      if (VERBATIM.has(name) || isHidden(tok.t)) {
        endRun();
        if (!selfClosing) verbatim.push(name);
        continue;
      }
      if (INLINE.has(name) && !selfClosing) {
        const r = runOf();
        r.pieces.push(index);
        openInline.push({ name, pos: r.text.length });
      } else if (INLINE_VOID.has(name)) {
        runOf().pieces.push(index);
      } else endRun();
      continue;
    }
    // end tag
    const name = tok.t.tagName;
    if (!push({ kind: "tag", start: loc.startOffset, end: loc.endOffset, close: name })) {
      endRun();
      continue;
    }
    const index = pieces.length - 1;
    if (verbatim.length > 0) {
      if (verbatim[verbatim.length - 1] === name) verbatim.pop();
      if (verbatim.length === 0) endRun();
      continue;
    }
    if (INLINE.has(name) && run) {
      run.pieces.push(index);
      // Pair with the innermost open element of that name; unpaired or crossing tags just stay in place.
      const k = openInline.map((o) => o.name).lastIndexOf(name);
      if (k >= 0) {
        const o = openInline[k]!;
        openInline.splice(k);
        run.elements.push({ span: [o.pos, run.text.length], unit: undefined });
      }
    } else endRun();
  }
  endRun();
  if (covered < html.length) pieces.push({ kind: "raw", start: covered, end: html.length });

  // Units: each run with letters, and each paired inline element with letters that is not the whole run.
  for (const r of runs) {
    if (!/\p{L}/u.test(r.text)) continue;
    r.unit = addUnit(collapse(r.text));
    const core = coreRange(r.text);
    // Outer elements first (earlier start, then longer), in reading order.
    r.elements.sort((x, y) => x.span[0] - y.span[0] || y.span[1] - x.span[1]);
    for (const e of r.elements) {
      const [a, b] = e.span;
      const inner = r.text.slice(a, b);
      const innerCore = coreRange(inner);
      const covers = a + innerCore[0] <= core[0] && a + innerCore[1] >= core[1];
      if (/\p{L}/u.test(inner) && !covers) e.unit = addUnit(collapse(inner));
    }
  }

  return {
    sources,
    compose(translations: readonly string[]): string {
      const textOut = new Map<number, string>();
      for (const r of runs) if (r.unit !== undefined) distribute(pieces, r, translations, textOut, opts.unspaced ?? false);
      let out = "";
      pieces.forEach((p, i) => {
        if (p.kind === "text") {
          const t = textOut.get(i);
          out += t === undefined ? html.slice(p.start, p.end) : escapeText(t);
        } else if (p.kind === "tag" && p.attrs) {
          let cursor = p.start;
          for (const a of p.attrs) {
            out += html.slice(cursor, a.start) + rewriteAttribute(html.slice(a.start, a.end), translations[a.unit]);
            cursor = a.end;
          }
          out += html.slice(cursor, p.end);
        } else out += html.slice(p.start, p.end);
      });
      return out;
    },
  };
}

/** Whitespace runs read as one space (HTML collapses them; a newline in the source is not a line break). */
function collapse(s: string): string {
  return s.replace(/\s+/g, " ").trim();
}

/** [start, end) of s without leading and trailing whitespace. */
function coreRange(s: string): [number, number] {
  const start = s.length - s.trimStart().length;
  return [start, Math.max(start, s.trimEnd().length)];
}

/**
 * Gives every text node of the run its part of the run's translation. Positions in the run's source text (where
 * its tags sit) are mapped to positions in the translation: an inline element whose own translation occurs in
 * the run's translation is anchored there; other positions are interpolated by length between anchors and
 * snapped to the nearest word start.
 */
function distribute(
  pieces: readonly Piece[],
  run: Run,
  translations: readonly string[],
  out: Map<number, string>,
  unspaced: boolean,
): void {
  const src = run.text;
  const [c0, c1] = coreRange(src);
  const lead = src.slice(0, c0);
  const trail = src.slice(c1);
  const T = (translations[run.unit!] ?? collapse(src)).trim();
  const coreLen = c1 - c0;
  // Anchors: source position (in core coordinates) -> translation position.
  const anchors = new Map<number, number>([[0, 0], [coreLen, T.length]]);
  const lower = T.toLowerCase();
  const window = (pos: number): [number, number] => {
    let lo = 0;
    let hi = T.length;
    for (const [s, t] of anchors) {
      if (s <= pos && t > lo) lo = t;
      if (s >= pos && t < hi) hi = t;
    }
    return [lo, hi];
  };
  // Outer elements first (sorted so in prepareHtml), so that nested ones are searched inside their parent.
  for (const e of run.elements) {
    if (e.unit === undefined) continue;
    const [a, b] = e.span;
    const inner = src.slice(a, b);
    const [i0, i1] = coreRange(inner);
    const sa = Math.min(coreLen, Math.max(0, a + i0 - c0));
    const sb = Math.min(coreLen, Math.max(0, a + i1 - c0));
    const needle = (translations[e.unit] ?? "").trim().replace(/[.!?。！？…]+$/u, "").trim().toLowerCase();
    if (needle === "") continue;
    const [lo] = window(sa);
    const [, hi] = window(sb);
    const at = lower.indexOf(needle, lo);
    if (at < 0 || at + needle.length > hi) continue;
    anchors.set(sa, at);
    anchors.set(sb, at + needle.length);
  }
  const map = (pos: number): number => {
    const exact = anchors.get(pos);
    if (exact !== undefined) return exact;
    let below: [number, number] = [0, 0];
    let above: [number, number] = [coreLen, T.length];
    for (const [s, t] of anchors) {
      if (s < pos && s >= below[0]) below = [s, t];
      if (s > pos && s <= above[0]) above = [s, t];
    }
    const ratio = above[0] > below[0] ? (pos - below[0]) / (above[0] - below[0]) : 0;
    const guess = below[1] + ratio * (above[1] - below[1]);
    // A tag at a word start in the source goes to a word start in the translation; at a word end, to a word end.
    const core = src.slice(c0, c1);
    const want = /\s/u.test(core[pos - 1] ?? " ") ? "start" : /\s/u.test(core[pos] ?? " ") ? "end" : "any";
    return snap(T, guess, below[1], above[1], unspaced, want);
  };

  // Walk the run: each text node covers [start, end) of the source; map both ends.
  let pos = 0;
  let lastOut = 0;
  for (const index of run.pieces) {
    const p = pieces[index]!;
    if (p.kind !== "text") continue;
    const start = pos;
    const end = pos + p.text.length;
    pos = end;
    const toT = (s: number): number => {
      if (s <= c0) return -1; // inside the lead
      if (s >= c1) return T.length + 1; // inside the trail
      return map(s - c0);
    };
    // Output for this node: the lead/trail whitespace it holds, and its slice of the translation.
    const a = Math.max(lastOut, Math.min(T.length, Math.max(0, toT(start))));
    const b = Math.max(a, Math.min(T.length, Math.max(0, toT(end))));
    lastOut = b;
    let text = "";
    if (start < c0) text += lead.slice(start, Math.min(end, c0));
    text += T.slice(a, b);
    if (end > c1) text += trail.slice(Math.max(0, start - c1), end - c1);
    out.set(index, text);
  }
}

/**
 * The position nearest to `guess` within [lo, hi] at a word start (after a space), a word end (before a space),
 * or either; any position for unspaced scripts or when no such position exists.
 */
function snap(T: string, guess: number, lo: number, hi: number, unspaced: boolean, want: "start" | "end" | "any"): number {
  const g = Math.round(Math.min(hi, Math.max(lo, guess)));
  if (unspaced) return g;
  const space = (i: number) => i < 0 || i >= T.length || /\s/u.test(T[i]!);
  const ok = (q: number) => (want === "start" ? space(q - 1) : want === "end" ? space(q) : space(q - 1) || space(q));
  for (let d = 0; d <= hi - lo; d++) {
    if (g - d >= lo && ok(g - d)) return g - d;
    if (g + d <= hi && ok(g + d)) return g + d;
  }
  return g;
}

function rewriteAttribute(source: string, translation: string | undefined): string {
  if (translation === undefined || translation.trim() === "") return source;
  const m = /^([^\s=]+)(\s*=\s*)(["']?)/.exec(source);
  if (!m) return source;
  const quote = m[3] === "'" ? "'" : '"';
  return `${m[1]}${m[2]}${quote}${escapeAttribute(translation.trim())}${quote}`;
}

export function escapeText(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

export function escapeAttribute(s: string): string {
  return escapeText(s).replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}
