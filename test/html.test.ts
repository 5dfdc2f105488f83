/**
 * HTML mode (src/server/html.ts): markup byte for byte, entities decoded once and output escaped once, inline
 * elements inside one sentence, translatable attributes off by default, verbatim elements, and a property test:
 * for random markup trees and arbitrary translations (markup characters included), the output's tag structure
 * equals the input's. Then the same through HTTP with the real model, in both request shapes.
 */
import { test, after } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { SAXParser } from "parse5-sax-parser";
import { prepareHtml } from "../src/server/html.js";
import { parseTranslateBody } from "../src/server/translate-request.js";
import { assertError, modelSkip, postJson, SharedBackend } from "./helpers/http.js";

/** Start/end tags (name + attributes), comments and doctypes as a browser's tokenizer reads them. */
function structure(html: string, ignoreAttrValues: ReadonlySet<string> = new Set()): string[] {
  const out: string[] = [];
  const p = new SAXParser();
  p.on("startTag", (t) => out.push(`<${t.tagName} ${t.attrs.map((a) => `${a.name}=${ignoreAttrValues.has(a.name) ? "*" : JSON.stringify(a.value)}`).join(" ")}>`));
  p.on("endTag", (t) => out.push(`</${t.tagName}>`));
  p.on("comment", (t) => out.push(`<!--${t.text}-->`));
  p.on("doctype", (t) => out.push(`<!doctype ${t.name}>`));
  p.end(html);
  return out;
}

/** The source bytes of every tag, comment and doctype, in order. */
function markupBytes(html: string): string[] {
  const out: string[] = [];
  const p = new SAXParser({ sourceCodeLocationInfo: true });
  const take = (t: { sourceCodeLocation?: { startOffset: number; endOffset: number } | null }) => {
    if (t.sourceCodeLocation) out.push(html.slice(t.sourceCodeLocation.startOffset, t.sourceCodeLocation.endOffset));
  };
  for (const e of ["startTag", "endTag", "comment", "doctype"] as const) p.on(e as "comment", take);
  p.end(html);
  return out;
}

test("the issue's attribute with '>' inside quotes: markup byte for byte, only the text changes", () => {
  const input = '<a title="1 > 0 is true" href="/x">Read the book</a>';
  const doc = prepareHtml(input);
  assert.deepEqual(doc.sources, ["Read the book"]);
  assert.equal(doc.compose(["Lies das Buch"]), '<a title="1 > 0 is true" href="/x">Lies das Buch</a>');
});

test("entities are decoded before translation and the output is escaped exactly once", () => {
  const doc = prepareHtml("<p>Caf&eacute; &amp; th&eacute; &lt;3</p>");
  assert.deepEqual(doc.sources, ["Café & thé <3"]);
  assert.equal(doc.compose(["Café & thé <3"]), "<p>Café &amp; thé &lt;3</p>");
  // Text without letters and untranslated parts keep their original bytes (entities included).
  assert.equal(prepareHtml("<p>&nbsp;&#49;2 &gt; 1</p>").compose([]), "<p>&nbsp;&#49;2 &gt; 1</p>");
});

test("translations cannot inject markup: text and attribute values are escaped", () => {
  const doc = prepareHtml('<p title="Hi">Hello</p>', { attributes: new Set(["title"]) });
  // Units: the attribute first (its tag comes first), then the text.
  const out = doc.compose(['" onmouseover="alert(1)', '<img src=x onerror=alert(1)>"']);
  assert.equal(out, '<p title="&quot; onmouseover=&quot;alert(1)">&lt;img src=x onerror=alert(1)&gt;"</p>');
  assert.deepEqual(structure(out), ['<p title="\\" onmouseover=\\"alert(1)">', "</p>"]);
});

test("inline elements do not cut sentences; their tags are placed around their own translation", () => {
  const doc = prepareHtml('<p>Read <a href="/b">the book</a> now.</p>');
  assert.deepEqual(doc.sources, ["Read the book now.", "the book"]);
  assert.equal(doc.compose(["Lies jetzt das Buch.", "das Buch"]), '<p>Lies jetzt <a href="/b">das Buch</a>.</p>');
  // Case and a trailing period of the fragment's translation do not prevent the match.
  assert.equal(doc.compose(["Das Buch lies jetzt.", "Das Buch."]), '<p><a href="/b">Das Buch</a> lies jetzt.</p>');
  // Not found: positions by length, snapped to word starts; the tags are still all there, in order.
  const fallback = doc.compose(["Lies jetzt den Roman.", "das Werk"]);
  assert.deepEqual(structure(fallback), structure('<p>Read <a href="/b">the book</a> now.</p>'));
  assert.equal(fallback.replace(/<[^>]+>/g, ""), "Lies jetzt den Roman.");
  // Nested inline elements.
  const nested = prepareHtml("<p>This is <b>very <i>important</i></b> news.</p>");
  assert.deepEqual(nested.sources, ["This is very important news.", "very important", "important"]);
  assert.equal(nested.compose(["Das sind sehr wichtige Nachrichten.", "sehr wichtige", "wichtige"]), "<p>Das sind <b>sehr <i>wichtige</i></b> Nachrichten.</p>");
});

test("block elements and <br> separate units; whitespace between them is kept", () => {
  const doc = prepareHtml("<ul>\n  <li>One apple</li>\n  <li>Two pears<br>and a plum</li>\n</ul>");
  assert.deepEqual(doc.sources, ["One apple", "Two pears", "and a plum"]);
  assert.equal(doc.compose(["Ein Apfel", "Zwei Birnen", "und eine Pflaume"]), "<ul>\n  <li>Ein Apfel</li>\n  <li>Zwei Birnen<br>und eine Pflaume</li>\n</ul>");
});

test("verbatim: script, style, code, pre, textarea, svg and translate=no / notranslate", () => {
  const input =
    '<p>Run <code>npm test</code></p><script>if (a < b) alert("x")</script><style>p>b{}</style><pre> keep  this </pre>' +
    '<p translate="no">Brand <b>Name</b></p><span class="x notranslate">Glossa</span><textarea>a<b</textarea><svg><text>Hi</text></svg><p>End</p>';
  const doc = prepareHtml(input);
  assert.deepEqual(doc.sources, ["Run", "End"]);
  assert.equal(doc.compose(["Starte", "Ende"]), input.replace("Run <code>", "Starte <code>").replace("<p>End</p>", "<p>Ende</p>"));
});

test("translatable attributes are off by default and limited to text attributes", () => {
  const input = `<img alt="A red car" src="car.png"><input placeholder='Your name' title=Search>`;
  assert.deepEqual(prepareHtml(input).sources, []);
  const doc = prepareHtml(input, { attributes: new Set(["alt", "placeholder", "title"]) });
  assert.deepEqual(doc.sources, ["A red car", "Your name", "Search"]);
  assert.equal(doc.compose(["Ein rotes Auto", "Ihr Name", "Suche"]), `<img alt="Ein rotes Auto" src="car.png"><input placeholder='Ihr Name' title="Suche">`);
  const limits = { maxTexts: 4, maxChars: 1000, maxBeam: 4, maxNewTokens: 100 };
  assert.throws(() => parseTranslateBody({ text: "x", source_lang: "en", target_lang: "de", options: { html_attributes: ["href"] } }, limits), /cannot be translated/);
  const call = parseTranslateBody({ text: "<b>x</b>", source_lang: "en", target_lang: "de", format: "html", options: { html_attributes: ["ALT"] } }, limits);
  assert.equal(call.format, "html");
  assert.deepEqual([...call.htmlAttributes], ["alt"]);
});

// Random markup trees: block and inline elements, void elements, comments, attributes with quotes, '>' and
// entities, text with entities and markup characters.
const WORDS = ["the", "cat", "sat", "on", "a", "mat", "1 > 0", "Tom & Jerry", "café", "x<y", "&amp;", "&eacute;", "\"q\"", "'s"];
const attrValue = fc.constantFrom("1 > 0 is true", "/x?a=1&b=2", "it's", 'say "hi"', "", "a&amp;b", "<b>");
const attr = fc.tuple(fc.constantFrom("title", "href", "class", "alt", "data-x"), attrValue, fc.constantFrom('"', "'")).map(([n, v, q]) =>
  q === '"' ? ` ${n}="${v.replace(/"/g, "&quot;")}"` : ` ${n}='${v.replace(/'/g, "&#39;")}'`,
);
const text = fc.array(fc.constantFrom(...WORDS), { minLength: 1, maxLength: 5 }).map((ws) => ws.join(" ").replace(/</g, "&lt;").replace(/(^|\s)>/g, "$1&gt;"));
const tree: fc.Arbitrary<string> = fc.letrec<{ node: string }>((tie) => ({
  node: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    text,
    fc.constantFrom("<br>", '<img alt="a cat" src="c.png">', "<!-- note > here -->", "<hr/>"),
    fc
      .tuple(
        fc.constantFrom("p", "div", "li", "b", "i", "a", "span", "em", "strong", "code", "h1", "td", "q"),
        fc.array(attr, { maxLength: 2 }),
        fc.array(tie("node"), { maxLength: 4 }),
      )
      .map(([name, attrs, kids]) => `<${name}${attrs.join("")}>${kids.join(" ")}</${name}>`),
  ),
})).node;

test("property: for random markup trees and arbitrary translations, the output's tag structure equals the input's", () => {
  fc.assert(
    fc.property(
      fc.array(tree, { minLength: 1, maxLength: 4 }).map((xs) => xs.join("")),
      fc.array(fc.string({ unit: fc.constantFrom("a", "b", " ", "<", ">", "&", '"', "'", "é", "/", "=", "x") }), { maxLength: 40 }),
      fc.boolean(),
      (html, translations, attrs) => {
        const attributes = new Set(attrs ? ["title", "alt"] : []);
        const doc = prepareHtml(html, { attributes });
        const out = doc.compose(doc.sources.map((s, i) => translations[i % Math.max(1, translations.length)] ?? s));
        assert.deepEqual(structure(out, attributes), structure(html, attributes));
        // With translations equal to the sources, only text escaping may differ: the markup is byte for byte.
        const same = doc.compose(doc.sources);
        assert.deepEqual(structure(same), structure(html));
        if (!attrs) assert.deepEqual(markupBytes(same), markupBytes(html));
        // Without translatable attributes, every tag of the output is the input's, byte for byte.
        if (!attrs) assert.deepEqual(markupBytes(out), markupBytes(html));
      },
    ),
    { numRuns: 400, seed: 20261129 },
  );
});

const backend = new SharedBackend();
after(() => backend.dispose());

test("HTTP: format html in both shapes; the issue's payload keeps its markup; Glossa shape honours format", { skip: modelSkip }, async () => {
  await backend.with({}, async (url) => {
    const q = '<a title="1 > 0 is true" href="/x">Read the book</a>';
    const libre = await postJson(url, "/translate", { q, source: "en", target: "de", format: "html" });
    assert.equal(libre.status, 200, JSON.stringify(libre.json));
    const out = libre.json.translatedText as string;
    assert.ok(out.startsWith('<a title="1 > 0 is true" href="/x">') && out.endsWith("</a>"), out);
    assert.deepEqual(structure(out), structure(q));

    const html = "<p>The <b>dog</b> sleeps under the table. Caf&eacute; &amp; tea.</p>";
    const glossa = await postJson(url, "/translate", { text: html, source_lang: "en", target_lang: "de", format: "html" });
    assert.equal(glossa.status, 200, JSON.stringify(glossa.json));
    const g = glossa.json.translations[0].text as string;
    assert.deepEqual(structure(g), structure(html), g);
    assert.doesNotMatch(g, /&amp;(eacute|amp);/, "escaped exactly once");
    // As text (the default), the same input is not parsed: its tags are words to the model.
    const plain = await postJson(url, "/translate", { text: "<b>dog</b>", source_lang: "en", target_lang: "de" });
    assert.equal(plain.status, 200);
    assertError(await postJson(url, "/translate", { text: "x", source_lang: "en", target_lang: "de", format: "xml" }), 400, /format/);
    // Pivoted HTML keeps its structure too.
    const ru = '<p>Где <a href="/s">вокзал</a>?</p>';
    const pivot = await postJson(url, "/translate", { q: ru, source: "ru", target: "de", format: "html" });
    assert.equal(pivot.json.pivot, "en");
    assert.deepEqual(structure(pivot.json.translatedText), structure(ru));
  });
});
