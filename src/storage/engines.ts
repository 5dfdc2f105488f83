/** Repository: models and engines. */
import { and, eq } from "drizzle-orm";
import { existsSync, readFileSync, statSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { DEFAULT_DECODE_OPTIONS, type DecodeOptions } from "../engine/types.js";
import { resolveLanguage } from "../languages.js";
import { first, inTransaction, one, StorageError, type DbOrTx, type RegistryDb } from "./db.js";
import { fingerprintJson, sha256Bytes, sha256File, weightFiles, weightsSha256 } from "./hashing.js";
import type { EngineRow, ModelRow } from "./schema/models.js";

/** The reference model folder is missing or not a checkpoint. */
export class ModelMissingError extends Error {
  override readonly name = "ModelMissingError";
}

const now = (): string => new Date().toISOString();

/**
 * The models row for a checkpoint folder, created on first use. Weights are hashed only when the
 * folder's weight files (names, sizes, mtimes) differ from every row already recorded for it.
 */
export async function ensureModel(db: RegistryDb, dir: string): Promise<ModelRow> {
  const abs = resolve(dir);
  const configPath = join(abs, "config.json");
  if (!existsSync(configPath)) {
    throw new ModelMissingError(`no model checkpoint at ${abs} (config.json missing); set GLOSSA_MODEL or install models/glossa-mini-50`);
  }
  const configSha256 = sha256Bytes(readFileSync(configPath));
  const files = weightFiles(abs);
  if (files.length === 0) throw new ModelMissingError(`no weight files (*.safetensors or *.bin) in ${abs}`);
  const fingerprint = fingerprintJson(files);
  const { models } = db.t;
  const known = await first(
    db.orm
      .select()
      .from(models)
      .where(and(eq(models.dir, abs), eq(models.configSha256, configSha256), eq(models.weightsFingerprint, fingerprint))),
  );
  if (known) return known;
  const wSha = await weightsSha256(abs, files);
  return inTransaction(db, async (tx) => {
    const same = await first(
      tx.orm
        .select()
        .from(models)
        .where(and(eq(models.dir, abs), eq(models.configSha256, configSha256), eq(models.weightsSha256, wSha))),
    );
    if (same) {
      // Same bytes, touched files: remember the new fingerprint so the next open skips hashing.
      await tx.orm.update(models).set({ weightsFingerprint: fingerprint }).where(eq(models.id, same.id));
      return { ...same, weightsFingerprint: fingerprint };
    }
    return one(
      tx.orm
        .insert(models)
        .values({ name: basename(abs), dir: abs, configSha256, weightsSha256: wSha, weightsFingerprint: fingerprint, createdAt: now() })
        .returning(),
    );
  });
}

/**
 * The reference engine of the checkpoint in `dir` (the unquantized model, recipe "fp32"), created on first
 * use. It is the gate's baseline and released by definition (see src/storage/releases.ts).
 * Its name is the folder's base name, suffixed with "@" and the weights hash when that name is taken.
 */
export async function ensureReferenceEngine(db: RegistryDb, dir: string): Promise<EngineRow> {
  const model = await ensureModel(db, dir);
  const size = weightFiles(model.dir).reduce((s, f) => s + f.size, 0);
  return inTransaction(db, async (tx) => {
    const existing = await referenceEngineOf(tx, model.id);
    if (existing) return existing;
    let name = model.name;
    if (await engineByName(tx, name)) name = `${model.name}@${model.weightsSha256.slice(0, 12)}`;
    return one(
      tx.orm
      .insert(tx.t.engines)
      .values({
        name,
        modelId: model.id,
        file: model.dir,
        recipe: "fp32",
        language: null,
        isReference: true,
        fileSha256: model.weightsSha256,
        calibrationSha256: null,
        sizeBytes: size,
        decodeOptions: null,
        createdAt: now(),
      })
      .returning(),
    );
  });
}

export async function referenceEngineOf(db: DbOrTx, modelId: number): Promise<EngineRow | undefined> {
  const { engines } = db.t;
  return first(db.orm.select().from(engines).where(and(eq(engines.modelId, modelId), eq(engines.isReference, true))));
}

async function engineByName(db: DbOrTx, name: string): Promise<EngineRow | undefined> {
  const { engines } = db.t;
  return first(db.orm.select().from(engines).where(eq(engines.name, name)));
}

/** An engine by numeric id ("3") or by name. */
export async function findEngine(db: DbOrTx, idOrName: string): Promise<EngineRow | undefined> {
  const byName = await engineByName(db, idOrName);
  if (byName) return byName;
  if (/^\d+$/.test(idOrName)) return engineById(db, Number(idOrName));
  return undefined;
}

export async function engineById(db: DbOrTx, id: number): Promise<EngineRow | undefined> {
  const { engines } = db.t;
  return first(db.orm.select().from(engines).where(eq(engines.id, id)));
}

export async function listEngines(db: DbOrTx): Promise<EngineRow[]> {
  const { engines } = db.t;
  return db.orm.select().from(engines).orderBy(engines.id);
}

export interface NewEngine {
  name: string;
  modelId: number;
  file: string;
  recipe: string;
  /** ISO code; null for an engine that serves every language. */
  language: string | null;
  fileSha256: string;
  sizeBytes: number;
  calibrationSha256?: string | null;
  decodeOptions?: Partial<DecodeOptions> | null;
}

/** Registers a non-reference engine (a quantized build, or a variant with its own decode options). */
export async function registerEngine(db: RegistryDb, e: NewEngine): Promise<EngineRow> {
  if (e.name.trim() === "" || /^\d+$/.test(e.name)) throw new StorageError(`invalid engine name ${JSON.stringify(e.name)}: must be non-empty and not all digits`);
  if (e.language !== null && resolveLanguage(e.language)?.iso !== e.language) {
    throw new StorageError(`invalid engine language ${JSON.stringify(e.language)}: expected an ISO code Glossa serves`);
  }
  if (!Number.isInteger(e.sizeBytes) || e.sizeBytes < 0) throw new StorageError(`invalid engine size ${e.sizeBytes}`);
  return inTransaction(db, async (tx) => {
    if (await engineByName(tx, e.name)) throw new StorageError(`an engine named ${JSON.stringify(e.name)} already exists`);
    return one(
      tx.orm
      .insert(tx.t.engines)
      .values({
        name: e.name,
        modelId: e.modelId,
        file: e.file,
        recipe: e.recipe,
        language: e.language,
        isReference: false,
        fileSha256: e.fileSha256,
        calibrationSha256: e.calibrationSha256 ?? null,
        sizeBytes: e.sizeBytes,
        decodeOptions: e.decodeOptions ? JSON.stringify(parseDecodeOptions(JSON.stringify(e.decodeOptions), "decode options")) : null,
        createdAt: now(),
      })
      .returning(),
    );
  });
}

/** The engine's own decode-option overrides (engines.decode_options), {} when none. */
export function engineDecodeOptions(e: EngineRow): Partial<DecodeOptions> {
  if (e.decodeOptions === null) return {};
  return parseDecodeOptions(e.decodeOptions, `engine ${e.name}: decode_options`);
}

/** Parses and checks a JSON Partial<DecodeOptions>: known keys only, each of the default's type. */
export function parseDecodeOptions(json: string, what: string): Partial<DecodeOptions> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (e) {
    throw new StorageError(`${what} is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new StorageError(`${what} is not a JSON object`);
  const out: Record<string, number | boolean> = {};
  for (const [k, v] of Object.entries(parsed)) {
    if (!(k in DEFAULT_DECODE_OPTIONS)) throw new StorageError(`${what}: unknown decode option ${JSON.stringify(k)}`);
    const expected = typeof DEFAULT_DECODE_OPTIONS[k as keyof DecodeOptions];
    if (typeof v !== expected) throw new StorageError(`${what}: ${k} must be a ${expected}`);
    out[k] = v as number | boolean;
  }
  return out as Partial<DecodeOptions>;
}

/** An engine's files no longer hold the bytes it was registered with. */
export class EngineFileMismatchError extends StorageError {}

/**
 * Checks that an engine's file still holds the bytes recorded for it, so that runs are never attributed
 * to an engine whose weights changed underneath: a checkpoint folder (the reference, or a variant of it)
 * by its weights hash (skipping the hashing when the files' fingerprint matches a model row with that
 * hash), a single engine file by its sha256.
 */
export async function verifyEngineFiles(db: DbOrTx, e: EngineRow): Promise<void> {
  if (!existsSync(e.file)) throw new EngineFileMismatchError(`engine ${e.name}: ${e.file} does not exist`);
  let actual: string;
  if (statSync(e.file).isDirectory()) {
    const files = weightFiles(e.file);
    const fingerprint = fingerprintJson(files);
    const { models } = db.t;
    const known = await first(
      db.orm
        .select()
        .from(models)
        .where(and(eq(models.dir, resolve(e.file)), eq(models.weightsFingerprint, fingerprint), eq(models.weightsSha256, e.fileSha256))),
    );
    if (known) return;
    actual = await weightsSha256(e.file, files);
  } else {
    actual = await sha256File(e.file);
  }
  if (actual !== e.fileSha256) {
    throw new EngineFileMismatchError(
      `engine ${e.name}: ${e.file} has changed since it was registered (sha256 ${actual}, registered ${e.fileSha256}); register the new files as a new engine`,
    );
  }
}
