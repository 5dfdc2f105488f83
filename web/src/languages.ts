/** Languages as GET /languages lists them, and what the page derives from them. */

export interface LanguageInfo {
  code: string;
  name: string;
  /** Every target served from this source, directly or through the pivot. */
  targets: string[];
  /** Targets the model translates in one pass (absent on servers without pivoting: all are direct). */
  direct_targets?: string[];
  /** The pivot language of the other targets (two passes: source -> pivot -> target), or null. */
  pivot?: string | null;
}

/** GET /frontend/settings (LibreTranslate's shape; Glossa adds its own limits). */
export interface FrontendSettings {
  /** Characters per request; -1 when unlimited. */
  charLimit: number;
  keyRequired?: boolean;
  supportedFilesFormat?: string[];
  maxFileBytes?: number;
  /** The most alternatives a translation request may ask for; absent or 0: none offered. */
  alternatives?: number;
}

export function languageName(all: readonly LanguageInfo[], code: string): string {
  return all.find((l) => l.code === code)?.name ?? code;
}

/** The source's targets that go through a pivot, with the pivot language. */
export function pivotTargets(from: LanguageInfo): Map<string, string> {
  const out = new Map<string, string>();
  if (!from.pivot || !from.direct_targets) return out;
  const direct = new Set(from.direct_targets);
  for (const t of from.targets) if (!direct.has(t) && t !== from.code) out.set(t, from.pivot);
  return out;
}
