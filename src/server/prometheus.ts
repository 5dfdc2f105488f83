/**
 * A small Prometheus registry: counters, gauges and histograms with labels, rendered in the text exposition
 * format 0.0.4 (https://prometheus.io/docs/instrumenting/exposition_formats/).
 */

export type Labels = Record<string, string>;

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

interface Metric {
  readonly name: string;
  render(): string;
}

function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

function labelString(names: readonly string[], values: readonly string[], extra?: [string, string]): string {
  const parts = names.map((n, i) => `${n}="${escapeLabelValue(values[i] ?? "")}"`);
  if (extra) parts.push(`${extra[0]}="${escapeLabelValue(extra[1])}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

abstract class LabelledMetric<S> implements Metric {
  protected readonly series = new Map<string, { values: string[]; state: S }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {
    if (!NAME_RE.test(name)) throw new Error(`invalid metric name ${name}`);
    for (const l of labelNames) {
      if (!LABEL_RE.test(l) || l.startsWith("__")) throw new Error(`invalid label name ${l}`);
    }
  }

  protected abstract fresh(): S;
  abstract render(): string;

  protected get(labels: Labels = {}): S {
    const values = this.labelNames.map((n) => {
      const v = labels[n];
      if (v === undefined) throw new Error(`metric ${this.name}: missing label ${n}`);
      return v;
    });
    const key = values.join("\u0000");
    let s = this.series.get(key);
    if (!s) {
      s = { values, state: this.fresh() };
      this.series.set(key, s);
    }
    return s.state;
  }

  protected header(type: string): string {
    return `# HELP ${this.name} ${escapeHelp(this.help)}\n# TYPE ${this.name} ${type}\n`;
  }
}

export class Counter extends LabelledMetric<{ value: number }> {
  protected fresh() {
    return { value: 0 };
  }
  inc(labels: Labels = {}, by = 1): void {
    if (!(by >= 0) || !Number.isFinite(by)) throw new Error(`counter ${this.name} can only increase`);
    this.get(labels).value += by;
  }
  value(labels: Labels = {}): number {
    return this.get(labels).value;
  }
  render(): string {
    let out = this.header("counter");
    if (this.labelNames.length === 0 && this.series.size === 0) this.get();
    for (const { values, state } of this.series.values()) {
      out += `${this.name}${labelString(this.labelNames, values)} ${formatValue(state.value)}\n`;
    }
    return out;
  }
}

export class Gauge extends LabelledMetric<{ value: number }> {
  private collector: (() => void) | undefined;
  protected fresh() {
    return { value: 0 };
  }
  set(value: number, labels: Labels = {}): void {
    this.get(labels).value = value;
  }
  inc(labels: Labels = {}, by = 1): void {
    this.get(labels).value += by;
  }
  value(labels: Labels = {}): number {
    return this.get(labels).value;
  }
  /** Called before each render, to set values pulled from elsewhere (e.g. KV pool occupancy). */
  collect(fn: () => void): this {
    this.collector = fn;
    return this;
  }
  render(): string {
    this.collector?.();
    let out = this.header("gauge");
    if (this.labelNames.length === 0 && this.series.size === 0) this.get();
    for (const { values, state } of this.series.values()) {
      out += `${this.name}${labelString(this.labelNames, values)} ${formatValue(state.value)}\n`;
    }
    return out;
  }
}

interface HistogramState {
  counts: number[];
  sum: number;
  count: number;
}

export class Histogram extends LabelledMetric<HistogramState> {
  readonly buckets: readonly number[];
  constructor(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]) {
    super(name, help, labelNames);
    if (labelNames.includes("le")) throw new Error("histogram label 'le' is reserved");
    const sorted = [...buckets].sort((a, b) => a - b);
    if (sorted.length === 0 || sorted.some((b, i) => !Number.isFinite(b) || (i > 0 && b === sorted[i - 1]))) {
      throw new Error(`histogram ${name}: buckets must be distinct finite numbers`);
    }
    this.buckets = sorted;
  }
  protected fresh(): HistogramState {
    return { counts: new Array<number>(this.buckets.length).fill(0), sum: 0, count: 0 };
  }
  observe(value: number, labels: Labels = {}): void {
    if (Number.isNaN(value)) return;
    const s = this.get(labels);
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) s.counts[i]!++;
    s.sum += value;
    s.count++;
  }
  count(labels: Labels = {}): number {
    return this.get(labels).count;
  }
  render(): string {
    let out = this.header("histogram");
    if (this.labelNames.length === 0 && this.series.size === 0) this.get();
    for (const { values, state } of this.series.values()) {
      this.buckets.forEach((b, i) => {
        out += `${this.name}_bucket${labelString(this.labelNames, values, ["le", formatValue(b)])} ${state.counts[i]}\n`;
      });
      out += `${this.name}_bucket${labelString(this.labelNames, values, ["le", "+Inf"])} ${state.count}\n`;
      out += `${this.name}_sum${labelString(this.labelNames, values)} ${formatValue(state.sum)}\n`;
      out += `${this.name}_count${labelString(this.labelNames, values)} ${state.count}\n`;
    }
    return out;
  }
}

export class Registry {
  private readonly metrics = new Map<string, Metric>();

  private add<M extends Metric>(m: M): M {
    if (this.metrics.has(m.name)) throw new Error(`metric ${m.name} registered twice`);
    this.metrics.set(m.name, m);
    return m;
  }
  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.add(new Counter(name, help, labelNames));
  }
  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.add(new Gauge(name, help, labelNames));
  }
  histogram(name: string, help: string, buckets: readonly number[], labelNames: readonly string[] = []): Histogram {
    return this.add(new Histogram(name, help, labelNames, buckets));
  }
  render(): string {
    return [...this.metrics.values()].map((m) => m.render()).join("");
  }
}
