/**
 * The quality dashboard (/dashboard): the live view, then from the registry (GET /api/dashboard) every engine
 * with its scores against the reference per pair (table + delta chart), gate decisions and reasons, release
 * history, calibration profile (per-layer precision and KL, chart), and benchmark throughput by engine and batch.
 * Read-only. An empty registry shows the commands that fill it.
 */
import type { BenchmarkRow, DashboardData, DashboardEngine, GateReasonView, PairScores } from "../../src/storage/dashboard-types.js";
import { describeError, getJson } from "./api.js";
import { PALETTE, divergingBars, groupedBars, logBars, type Segment } from "./charts.js";
import { byId, fmt, h, mount, signed, type Child } from "./dom.js";
import { startLive } from "./live.js";

const PRECISION_COLOR: Record<string, string> = { int4: "#8250df", int8: "#2f7bbf", f16: "#0b7285", f32: "#d4731c", fp32: "#d4731c" };

function precisionColor(p: string): string {
  const key = Object.keys(PRECISION_COLOR).find((k) => p.toLowerCase().startsWith(k));
  return key ? PRECISION_COLOR[key]! : "#495057";
}

function deltaCell(d: number | null, tolerance: number | undefined): HTMLElement {
  const cls = d === null ? "" : tolerance !== undefined && d < -tolerance ? "neg" : d >= 0 ? "pos" : "";
  return h("td", { class: cls }, signed(d));
}

/** A legend colour square (CSSOM style: allowed by the page's content security policy, unlike style attributes). */
function swatch(color: string): HTMLElement {
  const i = h("i", {});
  i.style.background = color;
  return i;
}

function badge(kind: string, text = kind): HTMLElement {
  return h("span", { class: `badge ${kind.replace(/\s+/g, "-")}` }, text);
}

function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

function day(iso: string | null): string {
  return iso ? iso.replace("T", " ").replace(/\.\d+Z$|Z$/, "").slice(0, 16) : "–";
}

// ---------------------------------------------------------------- empty registry

function emptyState(data: DashboardData): HTMLElement {
  return h(
    "div",
    { class: "empty", "data-empty": "true" },
    h("p", {}, data.registry ? "The registry has no evaluation runs yet." : "This server has no registry yet (GLOSSA_DB does not exist), so there is nothing to show."),
    h("p", {}, "Fill it from the command line on this machine, then reload this page:"),
    h(
      "pre",
      {},
      [
        "# 1. score the reference engine (the unquantized model) on evaluation sets",
        "npm run glossa -- eval --engine reference --sets flores200-dev,tatoeba --limit 200",
        "# 2. build a calibrated engine for a language; it is evaluated and gated on every pair involving it",
        "npm run glossa -- calibrate --lang de --recipe int8",
        "npm run glossa -- calibrate --lang de --recipe awq-int4",
        "# 3. re-gate after new runs, list releases",
        "npm run glossa -- gate --engine glossa-mini-50/int8-de",
        "npm run glossa -- releases",
        "# 4. throughput of every engine at batch 1, 8, 32 (recorded in the registry)",
        "npm run bench:engine",
      ].join("\n"),
    ),
    h("p", { class: "meta" }, "The registry is GLOSSA_DB (default var/glossa.sqlite); the server only reads it."),
  );
}

// ---------------------------------------------------------------- overview

function overview(data: DashboardData): HTMLElement {
  const rows = data.engines.map((e) => {
    const gate = e.gates[0];
    return h(
      "tr",
      { "data-engine": e.name },
      h("td", {}, h("a", { href: `#engine-${e.id}` }, e.name)),
      h("td", { class: "l" }, e.recipe),
      h("td", { class: "l" }, e.language ?? "all"),
      h("td", {}, mb(e.size_bytes)),
      h("td", { class: "l" }, badge(e.status === "reference" ? "none" : e.status, e.status)),
      h("td", { class: "l" }, gate ? `${gate.decision} · ${day(gate.created_at)}` : "–"),
      h("td", { class: "l reason" }, gate?.summary ?? ""),
    );
  });
  return h(
    "div",
    { class: "scroll card" },
    h(
      "table",
      { class: "grid", id: "engines-table" },
      h("thead", {}, h("tr", {}, ["engine", "recipe", "language", "size", "status", "last gate", "gate summary"].map((c) => h("th", {}, c)))),
      h("tbody", {}, rows),
    ),
  );
}

// ---------------------------------------------------------------- per engine

function reasonRows(e: DashboardEngine, data: DashboardData): GateReasonView[] {
  const gate = e.gates[0];
  if (gate) return gate.reasons;
  // Not gated yet: the newest runs of this engine next to the reference's.
  return data.scores.flatMap((s) =>
    s.engines
      .filter((x) => x.engine_id === e.id)
      .map((x) => ({
        pair: s.pair,
        set: s.line_limit ? `${s.set} (first ${s.line_limit})` : s.set,
        engine_bleu: x.bleu,
        reference_bleu: s.reference?.bleu ?? null,
        engine_chrf: x.chrf,
        reference_chrf: s.reference?.chrf ?? null,
        bleu_delta: x.bleu_delta,
        chrf_delta: x.chrf_delta,
        passed: true,
        reason: "not gated",
      })),
  );
}

function scoreTable(reasons: GateReasonView[], tol: { max_bleu_drop: number; max_chrf_drop: number }): HTMLElement {
  return h(
    "div",
    { class: "scroll" },
    h(
      "table",
      { class: "grid scores" },
      h(
        "thead",
        {},
        h("tr", {}, ["pair", "set", "BLEU ref", "BLEU", "Δ", "chrF++ ref", "chrF++", "Δ", "gate", "reason"].map((c, i) => h("th", { class: i < 2 || i > 7 ? "l" : "" }, c))),
      ),
      h(
        "tbody",
        {},
        reasons.map((r) =>
          h(
            "tr",
            { "data-pair": r.pair },
            h("td", {}, r.pair),
            h("td", { class: "l" }, r.set),
            h("td", {}, fmt(r.reference_bleu)),
            h("td", {}, fmt(r.engine_bleu)),
            deltaCell(r.bleu_delta, tol.max_bleu_drop),
            h("td", {}, fmt(r.reference_chrf)),
            h("td", {}, fmt(r.engine_chrf)),
            deltaCell(r.chrf_delta, tol.max_chrf_drop),
            h("td", { class: "l" }, r.reason === "not gated" ? "–" : badge(r.passed ? "pass" : "fail")),
            h("td", { class: "l" }, r.reason),
          ),
        ),
      ),
    ),
  );
}

function deltaChart(reasons: GateReasonView[], tol: { max_bleu_drop: number; max_chrf_drop: number }): Child {
  if (reasons.length === 0) return null;
  const bad = "#c0362c";
  const rows = reasons.map((r) => ({
    label: `${r.pair} ${r.set}`,
    segments: [
      { key: "bleu", value: r.bleu_delta, color: r.bleu_delta !== null && r.bleu_delta < -tol.max_bleu_drop ? bad : "#1f4e79", title: `${r.pair} ${r.set}: BLEU ${signed(r.bleu_delta)} (${fmt(r.engine_bleu)} vs ${fmt(r.reference_bleu)})` },
      { key: "chrf", value: r.chrf_delta, color: r.chrf_delta !== null && r.chrf_delta < -tol.max_chrf_drop ? bad : "#d4731c", title: `${r.pair} ${r.set}: chrF++ ${signed(r.chrf_delta)} (${fmt(r.engine_chrf)} vs ${fmt(r.reference_chrf)})` },
    ] satisfies Segment[],
  }));
  return [
    h("div", { class: "legend" }, h("span", {}, swatch("#1f4e79"), "BLEU Δ"), h("span", {}, swatch("#d4731c"), "chrF++ Δ"), h("span", {}, swatch("#c0362c"), "beyond the gate's tolerance"), h("span", {}, "dashed: −", String(tol.max_bleu_drop))),
    divergingBars({ rows, threshold: -Math.min(tol.max_bleu_drop, tol.max_chrf_drop), name: "deltas", unit: "points" }),
  ];
}

function releaseHistory(e: DashboardEngine): HTMLElement {
  // Ordered by the decisions that caused each event (timestamps can tie): a decision, then the release change it made.
  type Event = { at: string; order: number; what: Child; kind: string };
  const events: Event[] = [];
  for (const g of e.gates) events.push({ at: g.created_at, order: 2 * g.id, kind: g.decision, what: [badge(g.decision, `gate ${g.decision}`), " ", g.summary] });
  for (const r of e.releases) {
    events.push({ at: r.released_at, order: 2 * r.gate_decision_id + 1, kind: "released", what: [badge("released"), r.active ? " active" : ""] });
    if (r.ended_at) {
      const kind = r.ended_by ?? "superseded";
      events.push({ at: r.ended_at, order: 2 * (r.ended_by_decision_id ?? r.gate_decision_id) + 1, kind, what: badge(kind, `release ${kind}`) });
    }
  }
  events.sort((a, b) => b.order - a.order);
  if (events.length === 0) return h("p", { class: "meta" }, "No gate decision or release yet.");
  return h("table", { class: "grid history" }, h("tbody", {}, events.map((ev) => h("tr", { "data-kind": ev.kind }, h("td", {}, day(ev.at)), h("td", { class: "l" }, ev.what)))));
}

function profileSection(e: DashboardEngine): Child {
  const p = e.profile;
  if (!p) return h("p", { class: "meta" }, "No calibration profile recorded for this engine.");
  const counts = new Map<string, number>();
  for (const l of p.layers) counts.set(l.precision, (counts.get(l.precision) ?? 0) + 1);
  const base = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
  const promoted = p.layers.filter((l) => l.precision !== base);
  return [
    h(
      "p",
      { class: "meta" },
      `${p.layers.length} units: ${[...counts].map(([k, n]) => `${n} ${k}`).join(", ")}. KL estimate ${p.kl_estimate?.toExponential(2) ?? "–"}, measured ${p.kl_measured?.toExponential(2) ?? "–"} nats/token` +
        `${p.examples ? ` (${p.examples} calibration sentences)` : ""}; read from the ${p.source}.`,
    ),
    h(
      "div",
      { class: "legend" },
      [...counts.keys()].map((k) => h("span", {}, swatch(precisionColor(k)), k)),
      promoted.length ? h("span", {}, `dashed outline: the KL at ${base} of a unit kept higher`) : null,
    ),
    logBars({
      rows: p.layers.map((l) => ({
        label: l.unit,
        value: l.kl,
        color: precisionColor(l.precision),
        ghost: l.precision !== base && base ? (l.kl_by_precision[base] ?? null) : null,
        title: `${l.unit}: ${l.precision}, KL ${l.kl?.toExponential(2) ?? "–"}${Object.keys(l.kl_by_precision).length > 1 ? ` (${Object.entries(l.kl_by_precision).map(([k, v]) => `${k} ${v.toExponential(2)}`).join(", ")})` : ""}${l.awq_alpha !== null ? `, AWQ alpha ${l.awq_alpha}` : ""}`,
      })),
      name: "sensitivity",
      axisLabel: "KL(float ‖ this unit quantized), nats/token, log scale",
    }),
    promoted.length
      ? h(
          "details",
          {},
          h("summary", {}, `${promoted.length} unit(s) kept at higher precision than ${base ?? "the recipe"}`),
          h(
            "table",
            { class: "grid" },
            h("thead", {}, h("tr", {}, ["unit", "kept at", "KL at each precision tried"].map((c) => h("th", { class: "l" }, c)))),
            h("tbody", {}, promoted.map((l) => h("tr", {}, h("td", {}, l.unit), h("td", { class: "l" }, l.precision), h("td", { class: "l" }, Object.entries(l.kl_by_precision).map(([k, v]) => `${k}: ${v.toExponential(2)}`).join(", "))))),
          ),
        )
      : null,
  ];
}

function engineCard(e: DashboardEngine, data: DashboardData, reference: DashboardEngine | undefined): HTMLElement {
  const tol = e.gates[0]?.tolerances ?? data.tolerances;
  const reasons = reasonRows(e, data);
  const ratio = reference && reference.size_bytes > 0 ? ` · ${(e.size_bytes / reference.size_bytes).toFixed(2)}× the reference's size` : "";
  return h(
    "section",
    { class: "card engine", id: `engine-${e.id}`, "data-engine": e.name },
    h("div", { class: "engine-head" }, h("span", { class: "name" }, e.name), badge(e.status === "reference" ? "none" : e.status, e.status), h("span", { class: "meta" }, `${e.recipe} · ${e.language ?? "all languages"} · ${mb(e.size_bytes)}${ratio} · created ${day(e.created_at)}`)),
    e.gates[0] ? h("p", {}, badge(e.gates[0].decision), " ", e.gates[0].summary) : null,
    h("h3", {}, "Scores against the reference"),
    reasons.length ? [deltaChart(reasons, tol), h("details", {}, h("summary", {}, `Table: ${reasons.length} pair/set rows`), scoreTable(reasons, tol))] : h("p", { class: "meta" }, "No evaluation runs of this engine yet."),
    h("h3", {}, "Calibration profile"),
    profileSection(e),
    h("h3", {}, "Release history"),
    releaseHistory(e),
  );
}

function referenceScores(data: DashboardData): HTMLElement {
  const sets = [...new Set(data.scores.map((s) => s.set))];
  const rows = data.scores.filter((s) => s.reference);
  return h(
    "details",
    {},
    h("summary", {}, `Reference engine scores: ${rows.length} (set, pair, limit) rows over ${sets.join(", ") || "no set"}`),
    h(
      "div",
      { class: "scroll" },
      h(
        "table",
        { class: "grid" },
        h("thead", {}, h("tr", {}, ["pair", "set", "lines", "BLEU", "chrF++", "engines compared"].map((c, i) => h("th", { class: i < 2 ? "l" : "" }, c)))),
        h(
          "tbody",
          {},
          rows.map((s: PairScores) =>
            h("tr", {}, h("td", {}, s.pair), h("td", { class: "l" }, s.set), h("td", {}, s.line_limit ?? "all"), h("td", {}, fmt(s.reference!.bleu)), h("td", {}, fmt(s.reference!.chrf)), h("td", {}, s.engines.length)),
          ),
        ),
      ),
    ),
  );
}

// ---------------------------------------------------------------- benchmarks

function throughput(rows: BenchmarkRow[]): HTMLElement {
  const wrap = h("div", { class: "card", id: "throughput" });
  if (rows.length === 0) {
    mount(wrap, h("p", { class: "meta" }, "No benchmark results in the registry. `npm run bench:engine` records tokens/s of every engine at batch 1, 8 and 32."));
    return wrap;
  }
  // One chart per benchmark section of one run (rows measured side by side), newest first.
  const key = (r: BenchmarkRow) => `${r.bench} · ${r.run}`;
  const runs = [...new Set(rows.map(key))].reverse();
  const runSel = h("select", { class: "inline", "aria-label": "Benchmark run" }, runs.map((r) => h("option", { value: r }, r)));
  const modeSel = h("select", { class: "inline", "aria-label": "Decoding mode" });
  const fillModes = () => {
    const keep = modeSel.value;
    const modes = [...new Set(rows.filter((r) => key(r) === runSel.value).map((r) => r.mode))];
    mount(modeSel, modes.map((m) => h("option", { value: m }, m)));
    if (modes.includes(keep)) modeSel.value = keep;
  };
  fillModes();
  const body = h("div", {});
  const draw = () => {
    const sel = rows.filter((r) => key(r) === runSel.value && r.mode === modeSel.value);
    const engines = [...new Set(sel.map((r) => r.engine))];
    const batches = [...new Set(sel.map((r) => r.batch))].sort((a, b) => a - b);
    const color = (e: string) => PALETTE[engines.indexOf(e) % PALETTE.length]!;
    const first = sel[0];
    mount(
      body,
      h("div", { class: "legend" }, engines.map((e) => h("span", {}, swatch(color(e)), e))),
      groupedBars({
        name: "throughput",
        yLabel: "tokens/s",
        groups: batches.map((b) => ({
          label: `batch ${b}`,
          bars: engines.map((e) => {
            const r = sel.find((x) => x.engine === e && x.batch === b);
            return { key: e, value: r?.tokens_per_second ?? null, color: color(e), title: r ? `${e}, batch ${b}: ${r.tokens_per_second.toFixed(1)} tokens/s` : `${e}, batch ${b}: not measured` };
          }),
        })),
      }),
      first
        ? h("p", { class: "meta" }, `${first.bench} benchmark on ${first.host}: ${first.threads} threads, ${first.kernels} kernels, load average ${fmt(first.load_average)} when measured, ${day(first.created_at)}. The figures of one run were measured side by side in one process.`)
        : null,
      h(
        "details",
        {},
        h("summary", {}, "Table"),
        h(
          "table",
          { class: "grid" },
          h("thead", {}, h("tr", {}, ["engine", "batch", "tokens/s", "× first engine", "latency p50 s"].map((c) => h("th", {}, c)))),
          h(
            "tbody",
            {},
            sel.map((r) => {
              const base = sel.find((x) => x.batch === r.batch && x.engine === engines[0]);
              return h("tr", {}, h("td", {}, r.engine), h("td", {}, r.batch), h("td", {}, r.tokens_per_second.toFixed(1)), h("td", {}, base ? (r.tokens_per_second / base.tokens_per_second).toFixed(2) : "–"), h("td", {}, fmt(r.latency_p50_s, 3)));
            }),
          ),
        ),
      ),
    );
  };
  runSel.addEventListener("change", () => {
    fillModes();
    draw();
  });
  modeSel.addEventListener("change", draw);
  mount(wrap, h("p", {}, "Run ", runSel, " mode ", modeSel), body);
  draw();
  return wrap;
}

// ---------------------------------------------------------------- page

function filters(data: DashboardData, onChange: (lang: string, recipe: string) => void): HTMLElement {
  const langs = [...new Set(data.engines.map((e) => e.language).filter((l): l is string => !!l))].sort();
  const recipes = [...new Set(data.engines.filter((e) => !e.is_reference).map((e) => e.recipe))].sort();
  const lang = h("select", { class: "inline", id: "filter-lang", "aria-label": "Language" }, h("option", { value: "" }, "all languages"), langs.map((l) => h("option", { value: l }, l)));
  const recipe = h("select", { class: "inline", id: "filter-recipe", "aria-label": "Recipe" }, h("option", { value: "" }, "all recipes"), recipes.map((r) => h("option", { value: r }, r)));
  const fire = () => onChange(lang.value, recipe.value);
  lang.addEventListener("change", fire);
  recipe.addEventListener("change", fire);
  return h("p", {}, "Show ", lang, " ", recipe);
}

function renderQuality(data: DashboardData): void {
  const body = byId("quality-body");
  const sub = byId("quality-sub");
  const calibrated = data.engines.filter((e) => !e.is_reference);
  const reference = data.engines.find((e) => e.is_reference);
  const released = calibrated.filter((e) => e.status === "released").length;
  sub.textContent = data.engines.length
    ? `${data.models.map((m) => m.name).join(", ")}: ${calibrated.length} calibrated engine(s), ${released} released; gate: BLEU and chrF++ each at most ${data.tolerances.max_bleu_drop} / ${data.tolerances.max_chrf_drop} below the reference on every pair.`
    : "";
  if (data.engines.length === 0 || (data.scores.length === 0 && calibrated.length === 0)) {
    mount(body, emptyState(data), h("h2", {}, "Throughput"), throughput(data.benchmarks));
    document.body.dataset.dashboard = "empty";
    return;
  }
  const cards = h("div", { id: "engine-cards" });
  const drawCards = (lang: string, recipe: string) =>
    mount(
      cards,
      calibrated.filter((e) => (!lang || e.language === lang) && (!recipe || e.recipe === recipe)).map((e) => engineCard(e, data, reference)),
    );
  mount(
    body,
    h("h2", {}, "Engines"),
    overview(data),
    referenceScores(data),
    h("h2", {}, "Throughput by engine and batch"),
    throughput(data.benchmarks),
    h("h2", {}, "Calibrated engines"),
    filters(data, drawCards),
    cards,
  );
  drawCards("", "");
  document.body.dataset.dashboard = "ready";
}

async function init(): Promise<void> {
  startLive();
  try {
    renderQuality(await getJson<DashboardData>("/api/dashboard"));
  } catch (err) {
    byId("quality-sub").textContent = `Cannot load the registry: ${describeError(err)}`;
    document.body.dataset.dashboard = "error";
  }
}

void init();
