/**
 * The translate page (/): language pickers from /languages, a text box with its character count against the
 * server's limit, swap, auto-detection, streamed output (server-sent events), copy, file translation, HTML text,
 * alternatives, one clear message per error, Ctrl+Enter to translate.
 */
import { ApiError, describeError, getJson, postForm, postStream, setApiKey } from "./api.js";
import { byId, h, mount } from "./dom.js";
import { languageName, pivotTargets, type FrontendSettings, type LanguageInfo } from "./languages.js";

interface GlossaTranslation {
  text: string;
  detected_source_language?: string;
  tokens: number;
  finish_reason: "eos" | "length";
  alternatives?: string[];
}

interface GlossaAnswer {
  translations: GlossaTranslation[];
  source_lang: string;
  target_lang: string;
  model: string;
  engine: string;
  /** The language the text went through when the pair pivots (http issue 10). */
  pivot?: string | null;
}

const STORE = "glossa.translate";
const AUTO_DELAY_MS = 700;

const el = {
  source: byId<HTMLSelectElement>("source"),
  target: byId<HTMLSelectElement>("target"),
  swap: byId<HTMLButtonElement>("swap"),
  text: byId<HTMLTextAreaElement>("text"),
  count: byId("count"),
  file: byId<HTMLInputElement>("file"),
  clear: byId<HTMLButtonElement>("clear"),
  output: byId("output"),
  fileResult: byId("file-result"),
  alternatives: byId<HTMLOListElement>("alternatives"),
  info: byId("info"),
  copy: byId<HTMLButtonElement>("copy"),
  auto: byId<HTMLInputElement>("auto"),
  html: byId<HTMLInputElement>("html"),
  alts: byId<HTMLSelectElement>("alts"),
  translate: byId<HTMLButtonElement>("translate"),
  error: byId("error"),
  pivotNote: byId("pivot-note"),
  keyRow: byId("key-row"),
  apiKey: byId<HTMLInputElement>("apikey"),
};

let languages: LanguageInfo[] = [];
let settings: FrontendSettings = { charLimit: -1 };
let detected: string | undefined;
let inflight: AbortController | undefined;
let autoTimer: ReturnType<typeof setTimeout> | undefined;
/** The text the current output translates (the swap button moves it back). */
let lastTranslated: { text: string; output: string } | undefined;

function saved(): { source?: string; target?: string; auto?: boolean; alts?: string; key?: string } {
  try {
    return JSON.parse(localStorage.getItem(STORE) ?? "{}") as ReturnType<typeof saved>;
  } catch {
    return {};
  }
}

function save(): void {
  try {
    localStorage.setItem(
      STORE,
      JSON.stringify({ source: el.source.value, target: el.target.value, auto: el.auto.checked, alts: el.alts.value, key: el.apiKey.value || undefined }),
    );
  } catch {
    // private mode: nothing to keep
  }
}

function showError(message: string | undefined): void {
  el.error.hidden = !message;
  el.error.textContent = message ?? "";
}

function setBusy(busy: boolean): void {
  el.output.dataset.state = busy ? "busy" : el.output.textContent ? "done" : "empty";
  el.translate.setAttribute("aria-busy", String(busy));
}

function updateCount(): void {
  const n = el.text.value.length;
  const limit = settings.charLimit;
  el.count.textContent = limit > 0 ? `${n.toLocaleString("en")} / ${limit.toLocaleString("en")}` : n.toLocaleString("en");
  el.count.classList.toggle("over", limit > 0 && n > limit);
}

function sourceLabel(): void {
  const auto = el.source.querySelector<HTMLOptionElement>('option[value="auto"]');
  if (auto) auto.textContent = detected ? `Detect language (${languageName(languages, detected)})` : "Detect language";
}

/** Target options for the chosen source: its targets, pivot pairs marked "(via English)". */
function fillTargets(): void {
  const src = el.source.value;
  const keep = el.target.value || saved().target || "en";
  const from = src === "auto" ? undefined : languages.find((l) => l.code === src);
  const codes = from ? from.targets.filter((c) => c !== src) : languages.map((l) => l.code);
  const pivots = from ? pivotTargets(from) : new Map<string, string>();
  mount(
    el.target,
    codes.map((c) => {
      const via = pivots.get(c);
      return h("option", { value: c, "data-pivot": via ?? null }, via ? `${languageName(languages, c)} (via ${languageName(languages, via)})` : languageName(languages, c));
    }),
  );
  el.target.value = codes.includes(keep) ? keep : (codes.find((c) => c !== src) ?? codes[0] ?? "");
  pivotNote();
}

function pivotNote(): void {
  const opt = el.target.selectedOptions[0];
  const via = opt?.dataset.pivot;
  el.pivotNote.hidden = !via;
  el.pivotNote.textContent = via
    ? `${languageName(languages, el.source.value)} → ${languageName(languages, el.target.value)} is translated through ${languageName(languages, via)} (two passes).`
    : "";
}

function resetOutput(): void {
  el.output.textContent = "";
  el.output.dataset.state = "empty";
  el.info.textContent = "";
  el.copy.disabled = true;
  el.alternatives.hidden = true;
  el.alternatives.replaceChildren();
  el.fileResult.hidden = true;
  el.fileResult.replaceChildren();
}

function showAlternatives(alts: readonly string[] | undefined): void {
  const list = (alts ?? []).filter((a) => a !== el.output.textContent);
  el.alternatives.hidden = list.length === 0;
  mount(
    el.alternatives,
    list.map((a) =>
      h("li", {}, h("button", { type: "button", class: "link alt", title: "Use this alternative", onclick: () => useAlternative(a) }, a)),
    ),
  );
}

function useAlternative(text: string): void {
  const previous = el.output.textContent ?? "";
  el.output.textContent = text;
  if (lastTranslated) lastTranslated.output = text;
  const others = [...el.alternatives.querySelectorAll("button.alt")].map((b) => b.textContent ?? "").filter((t) => t !== text);
  showAlternatives([previous, ...others]);
}

function describeAnswer(engine: string | undefined, tokens: number | undefined, seconds: number, pivot: string | null | undefined, length: boolean): string {
  const parts: string[] = [];
  if (pivot) parts.push(`via ${languageName(languages, pivot)}`);
  if (engine) parts.push(engine);
  if (tokens !== undefined) parts.push(`${tokens} tokens`);
  parts.push(`${seconds.toFixed(2)} s`);
  if (length) parts.push("cut at the length limit");
  return parts.join(" · ");
}

async function translate(trigger: "button" | "auto"): Promise<void> {
  const text = el.text.value;
  clearTimeout(autoTimer);
  if (text.trim() === "") {
    inflight?.abort();
    resetOutput();
    showError(trigger === "button" ? "Type or paste some text first." : undefined);
    return;
  }
  if (settings.charLimit > 0 && text.length > settings.charLimit) {
    showError(`The text has ${text.length.toLocaleString("en")} characters; this server translates at most ${settings.charLimit.toLocaleString("en")} at a time.`);
    return;
  }
  inflight?.abort();
  const controller = new AbortController();
  inflight = controller;
  showError(undefined);
  el.fileResult.hidden = true;
  setBusy(true);
  const source = el.source.value;
  const target = el.target.value;
  const alternatives = Number(el.alts.value);
  const t0 = performance.now();
  try {
    // Glossa shape, streamed; "Text is HTML" keeps the markup (format html).
    const options: Record<string, unknown> = { stream: true };
    if (alternatives > 0) options.alternatives = alternatives;
    const body = { text, source_lang: source, target_lang: target, format: el.html.checked ? "html" : "text", options };
    el.output.textContent = "";
    const a = await postStream<GlossaAnswer>(
      "/translate",
      body,
      (p) => {
        const part = p as { index?: number; text?: string };
        if (controller === inflight && part.index === 0 && typeof part.text === "string") el.output.textContent = part.text;
      },
      controller.signal,
    );
    if (controller !== inflight) return;
    const t = a.translations[0];
    el.output.textContent = t?.text ?? "";
    detected = t?.detected_source_language;
    el.info.textContent = describeAnswer(a.engine, t?.tokens, (performance.now() - t0) / 1000, a.pivot, t?.finish_reason === "length");
    showAlternatives(t?.alternatives);
    lastTranslated = { text, output: el.output.textContent ?? "" };
    el.copy.disabled = !el.output.textContent;
    sourceLabel();
  } catch (err) {
    if (controller !== inflight) return;
    if (err instanceof DOMException && err.name === "AbortError") return;
    el.output.textContent = "";
    showError(describeError(err));
  } finally {
    if (controller === inflight) {
      inflight = undefined;
      setBusy(false);
    }
  }
}

function scheduleAuto(): void {
  clearTimeout(autoTimer);
  if (!el.auto.checked) return;
  autoTimer = setTimeout(() => void translate("auto"), AUTO_DELAY_MS);
}

function swap(): void {
  const src = el.source.value === "auto" ? detected : el.source.value;
  if (!src) {
    showError("Pick the source language (or translate once so that it is detected) before swapping.");
    return;
  }
  const tgt = el.target.value;
  if (!languages.some((l) => l.code === tgt && l.targets.includes(src))) {
    showError(`${languageName(languages, tgt)} → ${languageName(languages, src)} is not served.`);
    return;
  }
  el.source.value = tgt;
  fillTargets();
  el.target.value = src;
  pivotNote();
  detected = undefined;
  sourceLabel();
  if (lastTranslated && lastTranslated.text === el.text.value && lastTranslated.output) {
    el.text.value = lastTranslated.output;
    updateCount();
  }
  resetOutput();
  save();
  if (el.text.value.trim()) void translate("auto");
}

async function copyOutput(): Promise<void> {
  const text = el.output.textContent ?? "";
  if (!text) return;
  let ok = false;
  try {
    await navigator.clipboard.writeText(text);
    ok = true;
  } catch {
    // Not a secure context (plain http on a LAN address): the selection fallback.
    const ta = h("textarea", { class: "offscreen", readonly: true });
    ta.value = text;
    document.body.append(ta);
    ta.select();
    ok = document.execCommand("copy");
    ta.remove();
  }
  el.copy.textContent = ok ? "Copied" : "Copy failed";
  setTimeout(() => (el.copy.textContent = "Copy"), 1500);
}

/** The file name a download names (content-disposition: filename*=UTF-8'' first, then filename=). */
function fileNameOf(res: Response): string | undefined {
  const cd = res.headers.get("content-disposition") ?? "";
  const star = /filename\*=UTF-8''([^;]+)/i.exec(cd)?.[1];
  if (star) {
    try {
      return decodeURIComponent(star.trim());
    } catch {
      // malformed: fall back to the plain form
    }
  }
  return /filename="?([^";]+)"?/i.exec(cd)?.[1]?.trim() || undefined;
}

/** Download name: "notes.txt" -> "notes.de.txt". */
function translatedName(name: string, target: string): string {
  const dot = name.lastIndexOf(".");
  return dot > 0 ? `${name.slice(0, dot)}.${target}${name.slice(dot)}` : `${name}.${target}`;
}

async function translateFile(file: File): Promise<void> {
  const source = el.source.value;
  const target = el.target.value;
  inflight?.abort();
  const controller = new AbortController();
  inflight = controller;
  showError(undefined);
  resetOutput();
  setBusy(true);
  const t0 = performance.now();
  try {
    const form = new FormData();
    form.append("file", file, file.name);
    form.append("source", source);
    form.append("target", target);
    const res = await postForm("/translate_file", form, controller.signal);
    let blob: Blob;
    let name = translatedName(file.name, target);
    if ((res.headers.get("content-type") ?? "").includes("application/json")) {
      // LibreTranslate: {translatedFileUrl} to download from.
      const a = (await res.json()) as { translatedFileUrl?: string };
      if (!a.translatedFileUrl) throw new ApiError(500, "the server answered without a translated file");
      // Fetched from this page's origin (the URL may name the server by another host name; CSP allows 'self').
      const at = new URL(a.translatedFileUrl, location.href);
      const file2 = await fetch(`${at.pathname}${at.search}`, { signal: controller.signal });
      if (!file2.ok) throw new ApiError(file2.status, `cannot download the translated file (${file2.statusText})`);
      blob = await file2.blob();
      const served = fileNameOf(file2);
      if (served && served !== file.name) name = served;
    } else {
      blob = await res.blob();
      const served = fileNameOf(res);
      if (served && served !== file.name) name = served;
    }
    if (controller !== inflight) return;
    const url = URL.createObjectURL(blob);
    mount(el.fileResult, "Translated file: ", h("a", { href: url, download: name, class: "download" }, name), ` (${blob.size.toLocaleString("en")} bytes)`);
    el.fileResult.hidden = false;
    const preview = await blob.text();
    el.output.textContent = preview.length > 20000 ? `${preview.slice(0, 20000)}…` : preview;
    el.copy.disabled = !preview;
    el.info.textContent = `${file.name} · ${((performance.now() - t0) / 1000).toFixed(2)} s`;
  } catch (err) {
    if (controller !== inflight || (err instanceof DOMException && err.name === "AbortError")) return;
    showError(describeError(err));
  } finally {
    if (controller === inflight) {
      inflight = undefined;
      setBusy(false);
    }
    el.file.value = "";
  }
}

async function init(): Promise<void> {
  const [langs, fs] = await Promise.allSettled([getJson<LanguageInfo[]>("/languages"), getJson<FrontendSettings>("/frontend/settings")]);
  if (langs.status === "rejected") {
    showError(`Cannot load the languages: ${describeError(langs.reason)}`);
    return;
  }
  languages = langs.value;
  if (fs.status === "fulfilled") settings = fs.value;
  const s = saved();
  for (const l of languages) el.source.append(h("option", { value: l.code }, l.name));
  el.source.value = s.source && (s.source === "auto" || languages.some((l) => l.code === s.source)) ? s.source : "auto";
  fillTargets();
  if (s.target && [...el.target.options].some((o) => o.value === s.target)) el.target.value = s.target;
  pivotNote();
  if (s.auto !== undefined) el.auto.checked = s.auto;
  // A server that requires API keys: the key field shows, and every call carries the key.
  el.keyRow.hidden = !settings.keyRequired;
  if (settings.keyRequired && s.key) {
    el.apiKey.value = s.key;
    setApiKey(s.key);
  }
  // Alternatives only where the server offers them (/frontend/settings: alternatives = the most it gives).
  const maxAlts = settings.alternatives ?? 0;
  el.alts.closest("label")!.hidden = maxAlts <= 0;
  for (const o of [...el.alts.options]) if (Number(o.value) > maxAlts) o.remove();
  if (s.alts && Number(s.alts) <= maxAlts) el.alts.value = s.alts;
  updateCount();

  el.source.addEventListener("change", () => {
    detected = undefined;
    sourceLabel();
    fillTargets();
    save();
    scheduleAuto();
  });
  el.target.addEventListener("change", () => {
    pivotNote();
    save();
    scheduleAuto();
  });
  el.text.addEventListener("input", () => {
    updateCount();
    scheduleAuto();
  });
  el.alts.addEventListener("change", () => {
    save();
    scheduleAuto();
  });
  el.auto.addEventListener("change", save);
  el.apiKey.addEventListener("change", () => {
    setApiKey(el.apiKey.value);
    save();
    scheduleAuto();
  });
  el.html.addEventListener("change", scheduleAuto);
  el.translate.addEventListener("click", () => void translate("button"));
  el.swap.addEventListener("click", swap);
  el.copy.addEventListener("click", () => void copyOutput());
  el.clear.addEventListener("click", () => {
    el.text.value = "";
    updateCount();
    inflight?.abort();
    resetOutput();
    showError(undefined);
    el.text.focus();
  });
  el.file.addEventListener("change", () => {
    const f = el.file.files?.[0];
    if (f) void translateFile(f);
  });
  document.addEventListener("keydown", (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key === "Enter") {
      e.preventDefault();
      void translate("button");
    } else if ((e.ctrlKey || e.metaKey) && e.shiftKey && (e.key === "S" || e.key === "s")) {
      e.preventDefault();
      swap();
    }
  });
  document.body.dataset.ready = "true";
  el.text.focus();
}

void init();
