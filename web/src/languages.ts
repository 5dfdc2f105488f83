/** Languages as GET /languages lists them, and what the page derives from them. */

export interface LanguageInfo {
  code: string;
  name: string;
  targets: string[];
  /** Targets reached through a pivot language: {target: pivot}. */
  pivots?: Record<string, string>;
}

/** GET /frontend/settings (LibreTranslate's shape; Glossa adds its own limits). */
export interface FrontendSettings {
  /** Characters per request; -1 when unlimited. */
  charLimit: number;
  keyRequired?: boolean;
  supportedFilesFormat?: string[];
  maxFileBytes?: number;
}

export function languageName(all: readonly LanguageInfo[], code: string): string {
  return all.find((l) => l.code === code)?.name ?? code;
}

/** The source's targets that go through a pivot, with the pivot language. */
export function pivotTargets(from: LanguageInfo): Map<string, string> {
  return new Map(Object.entries(from.pivots ?? {}));
}
