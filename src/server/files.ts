/**
 * Files for POST /translate_file (LibreTranslate): which parts of a .txt, .html or .srt file are translated and how
 * the translations are put back. Everything that is not text to translate comes back byte for byte: line endings,
 * blank lines, subtitle numbers and timing lines, HTML markup (the HTML path of src/server/html.ts).
 */
import { HttpError } from "./http-error.js";

export type FileKind = "txt" | "html" | "srt";

/** Extensions accepted, as LibreTranslate's supportedFilesFormat lists them. */
export const FILE_EXTENSIONS: Readonly<Record<string, FileKind>> = { ".txt": "txt", ".html": "html", ".htm": "html", ".srt": "srt" };

export function fileKind(filename: string): FileKind | undefined {
  const dot = filename.lastIndexOf(".");
  return dot < 0 ? undefined : FILE_EXTENSIONS[filename.slice(dot).toLowerCase()];
}

export interface FilePlan {
  /** The pieces to translate, in order (plain text, or one HTML document for .html). */
  units: string[];
  format: "text" | "html";
  /** The translated file from the units' translations (same order). */
  compose(translations: readonly string[]): string;
}

/** Plans a file's translation; HttpError(400) for content that is not what its extension says. */
export function planFile(kind: FileKind, content: string): FilePlan {
  switch (kind) {
    case "txt":
      return planLines(content);
    case "html":
      return { units: content.trim() === "" ? [] : [content], format: "html", compose: (t) => (content.trim() === "" ? content : t[0] ?? "") };
    case "srt":
      return planSubtitles(content);
  }
}

/** Plain text: every non-blank line is a unit (the translator keeps each line's leading and trailing spaces). */
function planLines(content: string): FilePlan {
  const parts = content.split(/(\r\n|\n|\r)/);
  const unitAt: number[] = [];
  parts.forEach((p, i) => {
    if (i % 2 === 0 && p.trim() !== "") unitAt.push(i);
  });
  return {
    units: unitAt.map((i) => parts[i]!),
    format: "text",
    compose: (t) => {
      const out = [...parts];
      unitAt.forEach((i, k) => (out[i] = t[k] ?? parts[i]!));
      return out.join("");
    },
  };
}

const TIMING = /^\s*\d{1,3}:\d{2}:\d{2}[,.]\d{1,3}\s*-->\s*\d{1,3}:\d{2}:\d{2}[,.]\d{1,3}/;

/**
 * SubRip: cues separated by blank lines, each a number, a timing line ("00:00:01,000 --> 00:00:03,500") and text
 * lines. A cue's text lines are one sentence more often than not, so they are translated together and the
 * translation is wrapped back onto the same number of lines; numbers and timing lines are kept as they are.
 */
function planSubtitles(content: string): FilePlan {
  const eol = content.includes("\r\n") ? "\r\n" : "\n";
  const lines = content.split(/\r\n|\n|\r/);
  if (!lines.some((l) => TIMING.test(l))) throw new HttpError(400, "Invalid request: the .srt file has no subtitle timing lines (00:00:01,000 --> 00:00:02,000)");
  interface Cue {
    first: number;
    count: number;
  }
  const cues: Cue[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!TIMING.test(lines[i]!)) continue;
    let j = i + 1;
    while (j < lines.length && lines[j]!.trim() !== "") j++;
    if (j > i + 1) cues.push({ first: i + 1, count: j - i - 1 });
    i = j - 1;
  }
  return {
    units: cues.map((c) => lines.slice(c.first, c.first + c.count).map((l) => l.trim()).join(" ")),
    format: "text",
    compose: (t) => {
      const out = [...lines];
      cues.forEach((c, k) => {
        const wrapped = wrapLines(t[k] ?? "", c.count);
        for (let n = 0; n < c.count; n++) out[c.first + n] = wrapped[n] ?? "";
      });
      return out.join(eol);
    },
  };
}

/** Splits a line into `count` lines of similar length at spaces (or anywhere, for text written without spaces). */
export function wrapLines(text: string, count: number): string[] {
  if (count <= 1) return [text];
  const words = text.split(/\s+/).filter((w) => w !== "");
  if (words.length < count) {
    // Few or no spaces (e.g. Chinese): cut by characters.
    const chars = [...text.replace(/\s+/g, "")];
    const per = Math.ceil(chars.length / count);
    return Array.from({ length: count }, (_, n) => chars.slice(n * per, (n + 1) * per).join(""));
  }
  const total = words.reduce((a, w) => a + w.length, 0) + words.length - 1;
  const out: string[] = [];
  let current: string[] = [];
  let used = 0;
  for (let w = 0; w < words.length; w++) {
    const remainingLines = count - out.length;
    const wordsLeft = words.length - w;
    current.push(words[w]!);
    used += words[w]!.length + 1;
    const target = (total * (out.length + 1)) / count;
    // Close the line when it reached its share, keeping at least one word for every line still to fill.
    if (remainingLines > 1 && (used >= target || wordsLeft - 1 <= remainingLines - 1)) {
      out.push(current.join(" "));
      current = [];
    }
  }
  if (current.length > 0 || out.length < count) out.push(current.join(" "));
  while (out.length < count) out.push("");
  return out;
}
