/**
 * The live view: polls GET /metrics every 2 s and shows queue depth, running sequences, KV blocks used/free and
 * tokens/s (the change of glossa_tokens_generated_total between two polls), each with a sparkline of the last
 * two minutes. Nothing reloads; a failed poll marks the view stale and the next one retries.
 */
import { byId, h, mount } from "./dom.js";
import { sparkline } from "./charts.js";
import { parsePrometheus, total, type Samples } from "./prom.js";

const POLL_MS = 2000;
const KEEP = 60;

interface Point {
  t: number;
  queue: number;
  running: number;
  kvUsed: number;
  kvFree: number;
  kvCapacity: number;
  tokens: number;
  requests: number;
}

interface Rates {
  tokensPerSecond: number;
  requestsPerSecond: number;
}

const history: Array<Point & Rates> = [];

function point(s: Samples, t: number): Point {
  const kvUsed = total(s, "glossa_kv_blocks_used") ?? 0;
  const kvFree = total(s, "glossa_kv_blocks_free") ?? 0;
  return {
    t,
    queue: total(s, "glossa_queue_depth") ?? 0,
    running: total(s, "glossa_running_sequences") ?? 0,
    kvUsed,
    kvFree,
    kvCapacity: total(s, "glossa_kv_blocks_capacity") ?? total(s, "glossa_kv_blocks_total") ?? kvUsed + kvFree,
    tokens: total(s, "glossa_tokens_generated_total") ?? 0,
    requests: total(s, "glossa_translation_requests_total") ?? 0,
  };
}

function card(key: string, label: string, value: string, series: number[], color: string, extra?: Node): HTMLElement {
  return h(
    "div",
    { class: "stat", "data-live": key },
    h("div", { class: "v" }, value),
    h("div", { class: "k" }, label),
    extra ?? null,
    sparkline(series, { name: `live-${key}`, color }),
  );
}

function kvMeter(used: number, capacity: number): HTMLElement {
  return h("meter", { min: 0, max: Math.max(1, capacity), value: used, "aria-label": "KV blocks used" });
}

function render(): void {
  const last = history.at(-1);
  if (!last) return;
  const col = <K extends keyof (Point & Rates)>(k: K) => history.map((p) => p[k] as number);
  mount(
    byId("live-cards"),
    card("tokens", "tokens/s generated", last.tokensPerSecond.toFixed(1), col("tokensPerSecond"), "#2f9e44"),
    card("queue", "queued (waiting sentences)", String(last.queue), col("queue"), "#d4731c"),
    card("running", "running sequences", String(last.running), col("running"), "#1f4e79"),
    card("kv-used", `KV blocks used of ${last.kvCapacity}`, String(last.kvUsed), col("kvUsed"), "#8250df", kvMeter(last.kvUsed, last.kvCapacity)),
    card("kv-free", "KV blocks free", String(last.kvFree), col("kvFree"), "#0b7285"),
    card("requests", "translation requests/s", last.requestsPerSecond.toFixed(2), col("requestsPerSecond"), "#495057"),
  );
}

async function poll(): Promise<void> {
  const state = byId("live-state");
  try {
    const res = await fetch("/metrics", { cache: "no-store" });
    if (!res.ok) throw new Error(`/metrics answered ${res.status}`);
    const p = point(parsePrometheus(await res.text()), performance.now());
    const prev = history.at(-1);
    const dt = prev ? (p.t - prev.t) / 1000 : 0;
    // A counter that went down means the server restarted: no rate for that interval.
    const rate = (a: number, b: number) => (prev && dt > 0 && a >= b ? (a - b) / dt : 0);
    history.push({ ...p, tokensPerSecond: rate(p.tokens, prev?.tokens ?? 0), requestsPerSecond: rate(p.requests, prev?.requests ?? 0) });
    if (history.length > KEEP) history.shift();
    render();
    state.textContent = `Updated ${new Date().toLocaleTimeString()}.`;
    state.classList.remove("stale");
    document.body.dataset.live = String(history.length);
  } catch (err) {
    state.textContent = `Not updating: ${err instanceof Error ? err.message : String(err)}; retrying.`;
    state.classList.add("stale");
  }
}

export function startLive(): void {
  void poll();
  setInterval(() => void poll(), POLL_MS);
}
