/**
 * Hand-written SVG charts: the dashboard needs four simple kinds (diverging bars, horizontal bars on a log scale,
 * grouped bars, sparklines), which take less code than wiring a chart library and add nothing to install or ship.
 * Every mark carries a <title> (hover text, read by screen readers) and the SVG scales with its container.
 */
import { svg } from "./dom.js";

const CHAR_W = 6.4; // approximate width of an 11px label character
const ROW_H = 16;
const BAR_GAP = 2;

export interface Segment {
  key: string;
  value: number | null;
  color: string;
  title: string;
}

function labelWidth(labels: readonly string[]): number {
  return Math.min(220, Math.max(40, ...labels.map((l) => l.length * CHAR_W))) + 8;
}

/** Tick values for [lo, hi]: about n round numbers. */
export function ticks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

function tickLabel(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(Math.abs(v) < 1 ? 2 : 1);
}

/**
 * One row per label, a bar per segment growing left (negative) or right (positive) of zero; a dashed line at
 * `threshold` (e.g. the gate's -1.0 tolerance). Used for per-pair BLEU / chrF++ deltas.
 */
export function divergingBars(opts: { rows: Array<{ label: string; segments: Segment[] }>; threshold?: number; width?: number; name: string; unit: string }): SVGSVGElement {
  const width = opts.width ?? 640;
  const lw = labelWidth(opts.rows.map((r) => r.label));
  const perRow = Math.max(1, ...opts.rows.map((r) => r.segments.length));
  const rowH = perRow * (ROW_H / 2 + BAR_GAP) + 6;
  const top = 8;
  const bottom = 22;
  const height = top + opts.rows.length * rowH + bottom;
  const values = opts.rows.flatMap((r) => r.segments.map((s) => s.value ?? 0));
  if (opts.threshold !== undefined) values.push(opts.threshold * 1.25);
  const ext = Math.max(0.5, ...values.map(Math.abs));
  const lo = -ext;
  const hi = ext;
  const x0 = lw;
  const x1 = width - 12;
  const x = (v: number) => x0 + ((v - lo) / (hi - lo)) * (x1 - x0);
  const root = svg("svg", { class: "chart", "data-chart": opts.name, viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-label": `${opts.name} chart` });
  for (const t of ticks(lo, hi, 6)) {
    root.append(
      svg("line", { class: "gridline", x1: x(t), x2: x(t), y1: top, y2: height - bottom }),
      svg("text", { x: x(t), y: height - 6, "text-anchor": "middle" }, `${t > 0 ? "+" : ""}${tickLabel(t)}`),
    );
  }
  opts.rows.forEach((row, i) => {
    const y = top + i * rowH + 3;
    root.append(svg("text", { x: lw - 6, y: y + rowH / 2, "text-anchor": "end", "dominant-baseline": "middle" }, row.label));
    row.segments.forEach((s, j) => {
      if (s.value === null) return;
      const yy = y + j * (ROW_H / 2 + BAR_GAP);
      const a = x(Math.min(0, s.value));
      const b = x(Math.max(0, s.value));
      root.append(
        svg("rect", { class: "bar", "data-key": s.key, x: a, y: yy, width: Math.max(1, b - a), height: ROW_H / 2, fill: s.color }, svg("title", {}, s.title)),
      );
    });
  });
  root.append(svg("line", { class: "axis", x1: x(0), x2: x(0), y1: top, y2: height - bottom }));
  if (opts.threshold !== undefined) {
    root.append(
      svg("line", { class: "tol", x1: x(opts.threshold), x2: x(opts.threshold), y1: top, y2: height - bottom }, svg("title", {}, `gate tolerance ${opts.threshold} ${opts.unit}`)),
    );
  }
  return root;
}

/** Horizontal bars, one per row, on a log10 scale (KL values span several decades). */
export function logBars(opts: { rows: Array<{ label: string; value: number | null; color: string; title: string; ghost?: number | null }>; width?: number; name: string; axisLabel: string; marker?: { value: number; title: string } }): SVGSVGElement {
  const width = opts.width ?? 640;
  const lw = labelWidth(opts.rows.map((r) => r.label));
  const top = 6;
  const bottom = 34;
  const height = top + opts.rows.length * (ROW_H + BAR_GAP) + bottom;
  const positive = opts.rows.flatMap((r) => [r.value ?? 0, r.ghost ?? 0]).filter((v) => v > 0);
  if (opts.marker && opts.marker.value > 0) positive.push(opts.marker.value);
  const lo = Math.floor(Math.log10(Math.min(...(positive.length ? positive : [1e-6]))));
  const hi = Math.max(lo + 1, Math.ceil(Math.log10(Math.max(...(positive.length ? positive : [1e-3])))));
  const x0 = lw;
  const x1 = width - 12;
  const x = (v: number) => x0 + ((Math.log10(Math.max(v, 10 ** lo)) - lo) / (hi - lo)) * (x1 - x0);
  const root = svg("svg", { class: "chart", "data-chart": opts.name, viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-label": `${opts.name} chart` });
  for (let e = lo; e <= hi; e++) {
    root.append(
      svg("line", { class: "gridline", x1: x(10 ** e), x2: x(10 ** e), y1: top, y2: height - bottom }),
      svg("text", { x: x(10 ** e), y: height - bottom + 14, "text-anchor": "middle" }, `1e${e}`),
    );
  }
  root.append(svg("text", { x: (x0 + x1) / 2, y: height - 4, "text-anchor": "middle" }, opts.axisLabel));
  opts.rows.forEach((row, i) => {
    const y = top + i * (ROW_H + BAR_GAP);
    root.append(svg("text", { x: lw - 6, y: y + ROW_H / 2, "text-anchor": "end", "dominant-baseline": "middle" }, row.label));
    // A ghost: the value this row would have had otherwise (e.g. the KL at the recipe's precision), outlined.
    if (row.ghost && row.ghost > 0) root.append(svg("rect", { class: "ghost", x: x0, y: y + 1, width: Math.max(1, x(row.ghost) - x0), height: ROW_H - 2, fill: "none", stroke: "#8c959f", "stroke-dasharray": "3 2" }));
    if (row.value === null || !(row.value > 0)) return;
    root.append(svg("rect", { class: "bar", x: x0, y, width: Math.max(1, x(row.value) - x0), height: ROW_H, fill: row.color }, svg("title", {}, row.title)));
  });
  if (opts.marker && opts.marker.value > 0) {
    root.append(svg("line", { class: "tol", x1: x(opts.marker.value), x2: x(opts.marker.value), y1: top, y2: height - bottom }, svg("title", {}, opts.marker.title)));
  }
  return root;
}

/** Vertical bars in groups (e.g. batch sizes), one bar per series (e.g. engines) in each group. */
export function groupedBars(opts: { groups: Array<{ label: string; bars: Segment[] }>; width?: number; height?: number; name: string; yLabel: string }): SVGSVGElement {
  const width = opts.width ?? 640;
  const height = opts.height ?? 260;
  const left = 52;
  const right = 10;
  const top = 10;
  const bottom = 30;
  const max = Math.max(1e-9, ...opts.groups.flatMap((g) => g.bars.map((b) => b.value ?? 0)));
  const yt = ticks(0, max * 1.05, 5);
  const yMax = Math.max(max, yt.at(-1) ?? max);
  const y = (v: number) => height - bottom - (v / yMax) * (height - bottom - top);
  const root = svg("svg", { class: "chart", "data-chart": opts.name, viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-label": `${opts.name} chart` });
  for (const t of yt) {
    root.append(
      svg("line", { class: "gridline", x1: left, x2: width - right, y1: y(t), y2: y(t) }),
      svg("text", { x: left - 6, y: y(t), "text-anchor": "end", "dominant-baseline": "middle" }, tickLabel(t)),
    );
  }
  root.append(svg("text", { x: 12, y: top + (height - bottom - top) / 2, transform: `rotate(-90 12 ${top + (height - bottom - top) / 2})`, "text-anchor": "middle" }, opts.yLabel));
  const gw = (width - left - right) / Math.max(1, opts.groups.length);
  opts.groups.forEach((g, i) => {
    const gx = left + i * gw;
    const n = Math.max(1, g.bars.length);
    const bw = Math.min(36, (gw * 0.8) / n);
    const start = gx + (gw - bw * n) / 2;
    g.bars.forEach((b, j) => {
      if (b.value === null) return;
      root.append(
        svg("rect", { class: "bar", "data-key": b.key, x: start + j * bw, y: y(b.value), width: Math.max(1, bw - 2), height: Math.max(0, y(0) - y(b.value)), fill: b.color }, svg("title", {}, b.title)),
      );
    });
    root.append(svg("text", { x: gx + gw / 2, y: height - bottom + 16, "text-anchor": "middle" }, g.label));
  });
  root.append(svg("line", { class: "axis", x1: left, x2: width - right, y1: y(0), y2: y(0) }));
  return root;
}

/** A small line of the last values (the live view). */
export function sparkline(values: readonly number[], opts: { width?: number; height?: number; color?: string; name: string }): SVGSVGElement {
  const width = opts.width ?? 160;
  const height = opts.height ?? 36;
  const root = svg("svg", { class: "spark", "data-chart": opts.name, viewBox: `0 0 ${width} ${height}`, width, height, "aria-hidden": "true" });
  if (values.length < 2) return root;
  const max = Math.max(1e-9, ...values);
  const step = width / (values.length - 1);
  const pts = values.map((v, i) => `${(i * step).toFixed(1)},${(height - 2 - (v / max) * (height - 4)).toFixed(1)}`).join(" ");
  root.append(svg("polyline", { points: pts, fill: "none", stroke: opts.color ?? "#2f7bbf", "stroke-width": 1.5 }));
  return root;
}

/** A fixed palette for series (engines), distinguishable and print-safe. */
export const PALETTE = ["#1f4e79", "#d4731c", "#2f9e44", "#8250df", "#c0362c", "#0b7285", "#9a6700", "#e8590c", "#5f3dc4", "#495057"];
