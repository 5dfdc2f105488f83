/**
 * Which translation directions a model serves directly, and how the others are served: through a pivot
 * language (two passes, source -> pivot -> target). The model folder decides: an optional `directions.json`
 * beside config.json declares the directions the model was trained on and the pivot; without it every pair of
 * the model's languages is direct (mBART-50 many-to-many's convention).
 *
 *   { "pivot": "en", "direct": ["en-de", "de-en", ...] }      ("*" in "direct" also means every pair)
 *
 * Used by the server (two scheduler passes under one deadline) and by the engine's Translator (evaluation).
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { LANGUAGES, pairName, resolveLanguage, type Language } from "../languages.js";

export const DIRECTIONS_FILE = "directions.json";

export class DirectionsError extends Error {
  override readonly name = "DirectionsError";
}

/** How a direction is served: the languages visited in order ([src, tgt] direct, [src, pivot, tgt] pivoted). */
export interface Route {
  readonly hops: readonly Language[];
  /** The pivot language when the route has two passes. */
  readonly pivot: Language | undefined;
}

export class Directions {
  private readonly direct: ReadonlySet<string>;

  /**
   * @param languages the languages the model reads and writes
   * @param direct "src-tgt" ISO pair names trained directly, or "all"
   * @param pivot the language non-direct pairs go through, if any
   * @param origin where the declaration came from (for messages)
   */
  constructor(
    readonly languages: readonly Language[],
    direct: Iterable<string> | "all",
    readonly pivot: Language | undefined,
    readonly origin: string,
  ) {
    const all = new Set<string>();
    for (const s of languages) for (const t of languages) if (s !== t) all.add(`${s.iso}-${t.iso}`);
    this.direct = direct === "all" ? all : new Set([...direct].filter((p) => all.has(p)));
  }

  /** Every pair direct among `languages` (a many-to-many model without a declaration). */
  static allDirect(languages: readonly Language[] = LANGUAGES, origin = "every pair direct"): Directions {
    return new Directions(languages, "all", undefined, origin);
  }

  /**
   * Reads `directions.json` from a model folder. `languages` restricts to the languages the model's tokenizer
   * has codes for (default: all that Glossa serves). Throws DirectionsError naming the file when it is invalid.
   */
  static fromModelDir(dir: string, languages: readonly Language[] = LANGUAGES): Directions {
    const file = join(dir, DIRECTIONS_FILE);
    if (!existsSync(file)) return Directions.allDirect(languages, `${dir}: no ${DIRECTIONS_FILE}, every pair direct`);
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(file, "utf8"));
    } catch (err) {
      throw new DirectionsError(`${file}: not valid JSON (${err instanceof Error ? err.message : String(err)})`);
    }
    return Directions.parse(json, languages, file);
  }

  /** Validates a declaration (the parsed directions.json). */
  static parse(json: unknown, languages: readonly Language[], file: string): Directions {
    if (typeof json !== "object" || json === null || Array.isArray(json)) throw new DirectionsError(`${file}: expected a JSON object`);
    const { direct, pivot } = json as Record<string, unknown>;
    if (!Array.isArray(direct) || !direct.every((d): d is string => typeof d === "string")) {
      throw new DirectionsError(`${file}: "direct" must be a list of pairs like "en-de" (or ["*"])`);
    }
    const known = new Set(languages.map((l) => l.iso));
    const pairs: string[] = [];
    let all = false;
    for (const d of direct) {
      if (d === "*") {
        all = true;
        continue;
      }
      const [a, b, extra] = d.split("-");
      const src = a === undefined ? undefined : resolveLanguage(a);
      const tgt = b === undefined ? undefined : resolveLanguage(b);
      if (!src || !tgt || extra !== undefined || src === tgt) throw new DirectionsError(`${file}: "${d}" is not a pair of served languages like "en-de"`);
      if (known.has(src.iso) && known.has(tgt.iso)) pairs.push(pairName({ src, tgt }));
    }
    let pivotLang: Language | undefined;
    if (pivot !== undefined) {
      pivotLang = typeof pivot === "string" ? resolveLanguage(pivot) : undefined;
      if (!pivotLang || !known.has(pivotLang.iso)) throw new DirectionsError(`${file}: "pivot" must be one of the model's languages (${[...known].join(", ")})`);
    }
    return new Directions(languages, all ? "all" : pairs, pivotLang, file);
  }

  isDirect(src: Language, tgt: Language): boolean {
    return this.direct.has(`${src.iso}-${tgt.iso}`);
  }

  /** How src -> tgt is served, or undefined when it cannot be (neither direct nor through the pivot). */
  route(src: Language, tgt: Language): Route | undefined {
    if (src.iso === tgt.iso) return { hops: [src], pivot: undefined };
    if (this.isDirect(src, tgt)) return { hops: [src, tgt], pivot: undefined };
    const p = this.pivot;
    if (p && p !== src && p !== tgt && this.isDirect(src, p) && this.isDirect(p, tgt)) return { hops: [src, p, tgt], pivot: p };
    return undefined;
  }

  /** Targets reachable from src (directly or through the pivot), in the language table's order. */
  targets(src: Language): Language[] {
    return this.languages.filter((t) => t !== src && this.route(src, t) !== undefined);
  }

  /** Targets src translates into in one pass. */
  directTargets(src: Language): Language[] {
    return this.languages.filter((t) => t !== src && this.isDirect(src, t));
  }
}
