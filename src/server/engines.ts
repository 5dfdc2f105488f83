/**
 * Which engine serves a request: the reference engine (released by definition, needs no registry row), or the
 * released calibrated engine for the request's source language (src/calib/released.ts's releasedEngineFor),
 * loaded on first use and kept. Registry answers are cached per language for a short time so that a new release
 * or a revocation is picked up without a restart. Any failure (registry unreadable, engine file that does not
 * load) is logged and the request goes to the reference engine. A released engine whose file is missing or does
 * not hold the bytes the registry recorded when it was gated (src/storage/engine-store.ts) is a broken release:
 * logged as an error, counted (glossa_engine_load_failures_total{engine, problem}) and never served.
 * A registry file that appears after the server started is picked up (and announced in the log).
 */
import { existsSync } from "node:fs";
import { enginesDir, isPostgresUrl } from "../config.js";
import type { DecodeOptions } from "../engine/types.js";
import { releasedEngineFor } from "../calib/released.js";
import { openRegistry, type Registry } from "../storage/db.js";
import { engineDecodeOptions } from "../storage/engines.js";
import { EngineFileError, type EngineFileProblem } from "../storage/engine-store.js";
import { watchReleases, type ReleaseWatch } from "../storage/release-watch.js";
import { artifactSetting, openArtifactStore } from "../storage/artifacts/index.js";
import { ensureEngineFile } from "../storage/artifacts/engine-files.js";
import type { BatchScheduler } from "../scheduler/scheduler.js";
import type { TranslationService } from "./translation-service.js";

/** A released calibrated engine as the router needs it. */
export interface CalibratedEngineRef {
  id: number;
  name: string;
  /** Engine file (Engine.load's enginePath). */
  file: string;
  recipe: string;
  decodeOptions: Partial<DecodeOptions>;
  /** sha256 the registry recorded for the file when the engine was registered and gated. */
  fileSha256?: string;
}

/** Why a released engine could not be served: the file's problem, or "load" when the engine refused it. */
export type LoadFailureProblem = EngineFileProblem | "load";

export function loadFailureProblem(err: unknown): LoadFailureProblem {
  return err instanceof EngineFileError ? err.problem : "load";
}

/** The released calibrated engine for a source language (ISO 639-1), or undefined for the reference. */
export type EngineLookup = (srcIso: string) => CalibratedEngineRef | undefined | Promise<CalibratedEngineRef | undefined>;

/** One loaded engine with its own scheduler and translation service. */
export interface EngineSlot {
  name: string;
  service: TranslationService;
  scheduler: BatchScheduler;
  close(graceMs: number): Promise<void>;
}

export interface RegistrySource {
  lookup: EngineLookup;
  /**
   * Calls onChange when releases change in the registry (src/storage/release-watch.ts: LISTEN/NOTIFY on PostgreSQL,
   * polling within 1 s on both dialects). Keeps trying every 5 s while the registry cannot be opened.
   */
  watch(onChange: () => void): void;
  /**
   * The local file of an engine's bytes: its recorded path when present here, else a verified copy fetched from the
   * artifact store (GLOSSA_ARTIFACTS) into GLOSSA_ENGINES_DIR; the recorded path when neither applies.
   */
  engineFile(row: { file: string; fileSha256: string }): Promise<string>;
  close(): Promise<void>;
}

/**
 * Registry-backed lookup over the database at dbPath. While the file does not exist only the reference is served
 * (the server never creates a registry); every lookup checks again, so a registry created after the server
 * started is read from then on, and the log says so. The registry is opened on first use.
 */
export function registryLookup(dbPath: string, log: (msg: string, err?: unknown) => void): RegistrySource {
  const isFile = dbPath !== ":memory:" && !isPostgresUrl(dbPath);
  let seen = !isFile || existsSync(dbPath);
  log(seen ? `registry ${isFile ? dbPath : "(database)"}: released engines are served from it` : `registry ${dbPath} does not exist yet: serving the reference engine; released engines are served once it appears`);
  let registry: Promise<Registry> | undefined;
  let watching: Promise<ReleaseWatch | undefined> | undefined;
  let retry: NodeJS.Timeout | undefined;
  let closed = false;
  const open = (): Promise<Registry> => {
    registry ??= openRegistry({ path: dbPath }).catch((e: unknown) => {
      registry = undefined; // retried by the next lookup
      throw e;
    });
    return registry;
  };
  return {
    lookup: async (srcIso) => {
      if (!seen) {
        if (!existsSync(dbPath)) return undefined;
        seen = true;
        log(`registry ${dbPath} appeared: released engines are now served from it`);
      }
      const row = await releasedEngineFor((await open()).db, srcIso);
      if (!row) return undefined;
      let decodeOptions: Partial<DecodeOptions> = {};
      try {
        decodeOptions = engineDecodeOptions(row);
      } catch (err) {
        log(`engine ${row.name}: ignoring invalid decode options`, err);
      }
      return { id: row.id, name: row.name, file: row.file, recipe: row.recipe, decodeOptions, fileSha256: row.fileSha256 };
    },
    engineFile: async (row) => {
      if (existsSync(row.file)) return row.file;
      const setting = artifactSetting();
      if (setting === undefined || setting === "none") return row.file;
      const reg = await open();
      const local = await ensureEngineFile(row, openArtifactStore(setting, reg), enginesDir());
      log(`engine bytes ${row.fileSha256.slice(0, 12)} fetched from the artifact store into ${local}`);
      return local;
    },
    watch: (onChange) => {
      const start = (): void => {
        if (closed) return;
        if (!seen && !existsSync(dbPath)) {
          // The server never creates a registry: look again until it appears.
          retry = setTimeout(start, 1000);
          retry.unref();
          return;
        }
        watching = open()
          .then((reg) => watchReleases(reg, onChange, { log }))
          .then(
            (w) => {
              if (closed) void w.close();
              return w;
            },
            (err: unknown) => {
              log("watching releases in the registry failed; retrying in 5 s", err);
              retry = setTimeout(start, 5000);
              retry.unref();
              return undefined;
            },
          );
      };
      start();
    },
    close: async () => {
      closed = true;
      if (retry) clearTimeout(retry);
      await (await watching)?.close();
      const r = registry;
      registry = undefined;
      if (r) await (await r.catch(() => undefined))?.close();
    },
  };
}

interface CachedChoice {
  ref: Promise<CalibratedEngineRef | undefined>;
  until: number;
}

export class EngineRouter {
  private readonly choices = new Map<string, CachedChoice>();
  private readonly loaded = new Map<number, Promise<EngineSlot | undefined>>();
  private readonly failedUntil = new Map<number, number>();
  private readonly settledSlots: EngineSlot[] = [];

  constructor(
    readonly reference: EngineSlot,
    private readonly lookup: EngineLookup | undefined,
    private readonly load: (ref: CalibratedEngineRef) => Promise<EngineSlot>,
    private readonly log: (msg: string, err?: unknown) => void,
    private readonly cacheMs = 30_000,
    private readonly retryMs = 60_000,
    /** Called for every failed load (metrics); the failure is also logged here. */
    private readonly onLoadFailure?: (ref: CalibratedEngineRef, problem: LoadFailureProblem) => void,
  ) {}

  /** The slot serving requests from this source language. Never throws: falls back to the reference. */
  async slotFor(srcIso: string): Promise<EngineSlot> {
    const ref = await this.choose(srcIso);
    if (!ref) return this.reference;
    if ((this.failedUntil.get(ref.id) ?? 0) > Date.now()) return this.reference;
    let pending = this.loaded.get(ref.id);
    if (!pending) {
      this.log(`loading released engine ${ref.name} (${ref.recipe}) for source language ${srcIso}`);
      pending = this.load(ref).then(
        (slot) => {
          this.settledSlots.push(slot);
          return slot;
        },
        (err: unknown) => {
          const problem = loadFailureProblem(err);
          this.log(
            problem === "load"
              ? `ERROR released engine ${ref.name} failed to load; serving the reference instead`
              : `ERROR broken release: engine ${ref.name} (${problem}); serving the reference instead`,
            err,
          );
          this.onLoadFailure?.(ref, problem);
          this.failedUntil.set(ref.id, Date.now() + this.retryMs);
          this.loaded.delete(ref.id);
          return undefined;
        },
      );
      this.loaded.set(ref.id, pending);
    }
    return (await pending) ?? this.reference;
  }

  /**
   * Releases changed in the registry: forget the cached choices, and choose again (loading newly released engines)
   * for the languages already asked for, so that the next request finds its engine ready.
   */
  invalidate(): void {
    const langs = [...this.choices.keys()];
    this.choices.clear();
    for (const lang of langs) void this.slotFor(lang);
  }

  /** Every loaded slot, the reference first. */
  async slots(): Promise<EngineSlot[]> {
    const others = (await Promise.all(this.loaded.values())).filter((s): s is EngineSlot => s !== undefined);
    return [this.reference, ...others];
  }

  /** Slots already loaded, synchronously (for metrics). */
  loadedSlots(): EngineSlot[] {
    return [this.reference, ...this.settledSlots];
  }

  /** The cached choice for a language, or one lookup shared by every request that asks meanwhile. */
  private choose(srcIso: string): Promise<CalibratedEngineRef | undefined> {
    const lookup = this.lookup;
    if (!lookup) return Promise.resolve(undefined);
    const now = Date.now();
    const cached = this.choices.get(srcIso);
    if (cached && cached.until > now) return cached.ref;
    const ref = (async () => {
      try {
        return await lookup(srcIso);
      } catch (err) {
        this.log("reading released engines from the registry failed; serving the reference", err);
        return undefined;
      }
    })();
    this.choices.set(srcIso, { ref, until: now + this.cacheMs });
    return ref;
  }
}
