/**
 * Minimal HTML handling for LibreTranslate's format "html": tags, comments and the contents of <script>,
 * <style>, <code> and <pre> are kept verbatim; each other text node is translated on its own (entities decoded
 * before, the translation escaped after). Not a full HTML parser: inline markup splits a sentence into separately
 * translated nodes.
 */

export type HtmlPart = { kind: "markup"; html: string } | { kind: "text"; lead: string; text: string; trail: string };

const VERBATIM = new Set(["script", "style", "code", "pre", "textarea"]);

export function splitHtml(html: string): HtmlPart[] {
  const parts: HtmlPart[] = [];
  const re = /<!--[\s\S]*?(?:-->|$)|<\/?[a-zA-Z][^>]*(?:>|$)|<![^>]*(?:>|$)/g;
  let last = 0;
  let verbatimUntil: string | undefined;
  let m: RegExpExecArray | null;
  const pushText = (s: string) => {
    if (s === "") return;
    if (verbatimUntil !== undefined || s.trim() === "") {
      parts.push({ kind: "markup", html: s });
      return;
    }
    const mm = /^(\s*)([\s\S]*?)(\s*)$/.exec(s)!;
    parts.push({ kind: "text", lead: mm[1] ?? "", text: decodeEntities(mm[2] ?? ""), trail: mm[3] ?? "" });
  };
  while ((m = re.exec(html)) !== null) {
    pushText(html.slice(last, m.index));
    const tag = m[0];
    parts.push({ kind: "markup", html: tag });
    last = m.index + tag.length;
    const name = /^<(\/?)([a-zA-Z][a-zA-Z0-9-]*)/.exec(tag);
    if (name) {
      const lower = name[2]!.toLowerCase();
      if (name[1] === "" && VERBATIM.has(lower) && !tag.endsWith("/>")) verbatimUntil ??= lower;
      else if (name[1] === "/" && lower === verbatimUntil) verbatimUntil = undefined;
    }
    if (tag.length === 0) re.lastIndex++;
  }
  pushText(html.slice(last));
  return parts;
}

export function renderHtml(parts: readonly HtmlPart[], translations: readonly string[]): string {
  let k = 0;
  return parts
    .map((p) => (p.kind === "markup" ? p.html : p.lead + escapeText(translations[k++] ?? p.text) + p.trail))
    .join("");
}

const NAMED: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: "\u00a0" };

export function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]{1,6}|#[0-9]{1,7}|[a-zA-Z]{2,8});/g, (whole, body: string) => {
    if (body.startsWith("#")) {
      const cp = body[1] === "x" || body[1] === "X" ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
      return cp > 0 && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff) ? String.fromCodePoint(cp) : whole;
    }
    return NAMED[body.toLowerCase()] ?? whole;
  });
}

export function escapeText(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
