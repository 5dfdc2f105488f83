/** Plain-text tables for the eval, gate and releases commands. */

export type Cell = string | number | null;

/** Left-aligned text, right-aligned numbers; null prints as "-". */
export function formatTable(headers: string[], rows: Cell[][]): string {
  const text = rows.map((r) => r.map((c) => (c === null ? "-" : String(c))));
  const widths = headers.map((h, i) => Math.max(h.length, ...text.map((r) => (r[i] ?? "").length)));
  const numeric = headers.map((_, i) => text.length > 0 && text.every((r) => /^(-|[+-]?\d+(\.\d+)?)$/.test(r[i] ?? "")));
  const line = (cells: string[], isHeader: boolean): string =>
    cells
      .map((c, i) => (numeric[i] && !isHeader ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(headers, true), widths.map((w) => "-".repeat(w)).join("  "), ...text.map((r) => line(r, false))].join("\n") + "\n";
}

export const round2 = (x: number | null): string | null => (x === null ? null : x.toFixed(2));
