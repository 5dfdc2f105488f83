/**
 * Server settings: defaults, overridden by environment variables, overridden by command-line flags.
 * Every setting has one env variable and one flag (see SETTING_SPECS); invalid values throw SettingsError.
 */
import { availableParallelism } from "node:os";
import { resolve } from "node:path";
import { dbPath, modelDir, resolveDbLocation } from "../config.js";
import { TRANSLATABLE_ATTRIBUTES } from "./html.js";

export class SettingsError extends Error {
  override readonly name = "SettingsError";
}

export interface ServerSettings {
  /** TCP port; 0 picks a free one. */
  port: number;
  host: string;
  /** Engine threads. */
  threads: number;
  /** Checkpoint folder of the served model. */
  modelDir: string;
  /** Registry database (engine releases). */
  dbPath: string;
  /** Largest request body accepted, in bytes (413 beyond). */
  maxBodyBytes: number;
  /** Most texts in one request (400 beyond). */
  maxTexts: number;
  /** Most characters (UTF-16 code units) over all texts of one request (413 beyond). */
  maxChars: number;
  /** Most engine requests (sentences) waiting for admission (429 beyond). */
  queueSize: number;
  /** Deadline of a translation request in milliseconds (504 beyond). */
  requestTimeoutMs: number;
  /** KV cache blocks of the engine's pool; undefined = engine default. */
  kvBlocks: number | undefined;
  /** Tokens per KV block; undefined = engine default. */
  blockSize: number | undefined;
  /** Most sequences (beams counted) decoded together. */
  maxBatch: number;
  /** Most estimated KV tokens admitted at once; undefined = the KV pool's capacity. */
  maxBatchTokens: number | undefined;
  /** Most source tokens encoded per engine step. */
  encodeTokenBudget: number;
  /** beam_size used when the client gives none (1 = greedy); undefined = the model's generation_config.json. */
  beamSize: number | undefined;
  /** Largest beam_size a client may ask for. */
  maxBeam: number;
  /** Largest max_new_tokens a client may ask for (also capped by the model's positions). */
  maxNewTokens: number;
  /** Lines longer than this many source tokens are split into sentences; undefined = the model's limit. */
  maxSegmentTokens: number | undefined;
  /** Seconds to let running translations finish on SIGTERM/SIGINT. */
  shutdownGraceMs: number;
  /** Key protecting /admin routes (header x-admin-key or Bearer); unset disables them. */
  adminKey: string | undefined;
  /** HTML attributes translated in format "html" when the client does not choose (title, alt, placeholder...). */
  htmlAttributes: string[];
  /** A client must send its request headers within this time (slowloris protection). */
  headersTimeoutMs: number;
  /** A client must send its whole request (headers and body) within this time. */
  receiveTimeoutMs: number;
  /** An idle keep-alive connection is closed after this time. */
  keepAliveTimeoutMs: number;
  /** Most open connections; further ones are closed as soon as they are accepted. */
  maxConnections: number;
  /** Most sentence segments (engine requests) one request may need (413 beyond); at most queueSize. */
  maxSegments: number;
  /** Tokenizer worker threads (long texts are tokenized off the event loop). */
  tokenizerThreads: number;
  /** Access log and messages: "text" lines or "json" lines (one JSON object per line). */
  logFormat: "text" | "json";
  /** Translation routes require an API key from the registry (glossa keys create); off by default. */
  requireKeys: boolean;
  /** CORS: "*" (any origin, LibreTranslate's default), a comma-separated list of origins, or "none". */
  corsOrigins: string;
  /** Where the engines compute: "cpu", "cuda" or "cuda:N" (the CUDA backend; needs a GPU build). */
  device: string;
  /** CUDA compute precision of float weights: "f16", "bf16" or "f32" (exact mode). */
  cudaCompute: "f16" | "bf16" | "f32";
  /** CUDA without kvBlocks: the KV pool takes this fraction of the device memory free after the weights. */
  kvMemoryFraction: number;
}

/** "db": GLOSSA_DB, a SQLite file path (resolved) or a postgres:// URL (kept as given). */
type Kind = "int" | "string" | "path" | "list" | "db" | "bool" | "device" | "fraction";

interface SettingSpec {
  key: keyof ServerSettings;
  env: string;
  flag: string;
  kind: Kind;
  min?: number;
  optional?: boolean;
  /** For lists and strings: the values allowed. */
  allowed?: ReadonlySet<string>;
}

export const SETTING_SPECS: readonly SettingSpec[] = [
  { key: "port", env: "PORT", flag: "--port", kind: "int", min: 0 },
  { key: "host", env: "GLOSSA_HOST", flag: "--host", kind: "string" },
  { key: "threads", env: "GLOSSA_THREADS", flag: "--threads", kind: "int", min: 1 },
  { key: "modelDir", env: "GLOSSA_MODEL", flag: "--model", kind: "path" },
  { key: "dbPath", env: "GLOSSA_DB", flag: "--db", kind: "db" },
  { key: "maxBodyBytes", env: "GLOSSA_MAX_BODY_BYTES", flag: "--max-body-bytes", kind: "int", min: 64 },
  { key: "maxTexts", env: "GLOSSA_MAX_TEXTS", flag: "--max-texts", kind: "int", min: 1 },
  { key: "maxChars", env: "GLOSSA_MAX_CHARS", flag: "--max-chars", kind: "int", min: 1 },
  { key: "queueSize", env: "GLOSSA_QUEUE_SIZE", flag: "--queue-size", kind: "int", min: 1 },
  { key: "requestTimeoutMs", env: "GLOSSA_REQUEST_TIMEOUT_MS", flag: "--request-timeout-ms", kind: "int", min: 1 },
  { key: "kvBlocks", env: "GLOSSA_KV_BLOCKS", flag: "--kv-blocks", kind: "int", min: 1, optional: true },
  { key: "blockSize", env: "GLOSSA_BLOCK_SIZE", flag: "--block-size", kind: "int", min: 1, optional: true },
  { key: "maxBatch", env: "GLOSSA_MAX_BATCH", flag: "--max-batch", kind: "int", min: 1 },
  { key: "maxBatchTokens", env: "GLOSSA_MAX_BATCH_TOKENS", flag: "--max-batch-tokens", kind: "int", min: 1, optional: true },
  { key: "encodeTokenBudget", env: "GLOSSA_ENCODE_TOKEN_BUDGET", flag: "--encode-token-budget", kind: "int", min: 1 },
  { key: "beamSize", env: "GLOSSA_BEAM_SIZE", flag: "--beam-size", kind: "int", min: 1, optional: true },
  { key: "maxBeam", env: "GLOSSA_MAX_BEAM", flag: "--max-beam", kind: "int", min: 1 },
  { key: "maxNewTokens", env: "GLOSSA_MAX_NEW_TOKENS", flag: "--max-new-tokens", kind: "int", min: 1 },
  { key: "maxSegmentTokens", env: "GLOSSA_MAX_SEGMENT_TOKENS", flag: "--max-segment-tokens", kind: "int", min: 4, optional: true },
  { key: "shutdownGraceMs", env: "GLOSSA_SHUTDOWN_GRACE_MS", flag: "--shutdown-grace-ms", kind: "int", min: 0 },
  { key: "adminKey", env: "GLOSSA_ADMIN_KEY", flag: "--admin-key", kind: "string", optional: true },
  { key: "htmlAttributes", env: "GLOSSA_HTML_ATTRIBUTES", flag: "--html-attributes", kind: "list", allowed: TRANSLATABLE_ATTRIBUTES },
  { key: "headersTimeoutMs", env: "GLOSSA_HEADERS_TIMEOUT_MS", flag: "--headers-timeout-ms", kind: "int", min: 1 },
  { key: "receiveTimeoutMs", env: "GLOSSA_RECEIVE_TIMEOUT_MS", flag: "--receive-timeout-ms", kind: "int", min: 1 },
  { key: "keepAliveTimeoutMs", env: "GLOSSA_KEEP_ALIVE_TIMEOUT_MS", flag: "--keep-alive-timeout-ms", kind: "int", min: 1 },
  { key: "maxConnections", env: "GLOSSA_MAX_CONNECTIONS", flag: "--max-connections", kind: "int", min: 1 },
  { key: "maxSegments", env: "GLOSSA_MAX_SEGMENTS", flag: "--max-segments", kind: "int", min: 1 },
  { key: "tokenizerThreads", env: "GLOSSA_TOKENIZER_THREADS", flag: "--tokenizer-threads", kind: "int", min: 1 },
  { key: "logFormat", env: "GLOSSA_LOG_FORMAT", flag: "--log-format", kind: "string", allowed: new Set(["text", "json"]) },
  { key: "requireKeys", env: "GLOSSA_REQUIRE_KEYS", flag: "--require-keys", kind: "bool" },
  { key: "corsOrigins", env: "GLOSSA_CORS_ORIGINS", flag: "--cors-origins", kind: "string" },
  { key: "device", env: "GLOSSA_DEVICE", flag: "--device", kind: "device" },
  { key: "cudaCompute", env: "GLOSSA_CUDA_COMPUTE", flag: "--cuda-compute", kind: "string", allowed: new Set(["f16", "bf16", "f32"]) },
  { key: "kvMemoryFraction", env: "GLOSSA_KV_MEMORY_FRACTION", flag: "--kv-memory-fraction", kind: "fraction" },
];

export function defaultSettings(): ServerSettings {
  return {
    port: 8080,
    host: "127.0.0.1",
    threads: Math.max(1, availableParallelism()),
    modelDir: modelDir(),
    dbPath: dbPath(),
    maxBodyBytes: 1 << 20,
    maxTexts: 128,
    maxChars: 30_000,
    queueSize: 2048,
    requestTimeoutMs: 120_000,
    kvBlocks: undefined,
    blockSize: undefined,
    maxBatch: 32,
    maxBatchTokens: undefined,
    encodeTokenBudget: 512,
    beamSize: undefined,
    maxBeam: 8,
    maxNewTokens: 512,
    maxSegmentTokens: undefined,
    shutdownGraceMs: 10_000,
    adminKey: undefined,
    htmlAttributes: [],
    headersTimeoutMs: 10_000,
    receiveTimeoutMs: 30_000,
    keepAliveTimeoutMs: 5_000,
    maxConnections: 1024,
    maxSegments: 1024,
    tokenizerThreads: Math.max(1, Math.floor(availableParallelism() / 2)),
    logFormat: "text",
    requireKeys: false,
    corsOrigins: "*",
    device: "cpu",
    cudaCompute: "f16",
    kvMemoryFraction: 0.9,
  };
}

function parseValue(spec: SettingSpec, raw: string, from: string): string | number | string[] | boolean {
  if (spec.kind === "bool") {
    const t = raw.trim().toLowerCase();
    if (["1", "true", "yes", "on"].includes(t)) return true;
    if (["0", "false", "no", "off"].includes(t)) return false;
    throw new SettingsError(`${from}: expected 1/0 (or true/false, yes/no, on/off), got "${raw}"`);
  }
  if (spec.kind === "list") {
    const items = raw.split(",").map((x) => x.trim().toLowerCase()).filter((x) => x !== "");
    for (const x of items) {
      if (spec.allowed && !spec.allowed.has(x)) throw new SettingsError(`${from}: "${x}" is not allowed; allowed: ${[...spec.allowed].join(", ")}`);
    }
    return items;
  }
  if (spec.kind === "device") {
    const t = raw.trim();
    if (!/^(cpu|cuda|cuda:\d{1,3})$/.test(t)) throw new SettingsError(`${from}: expected cpu, cuda or cuda:N, got "${raw}"`);
    return t;
  }
  if (spec.kind === "fraction") {
    const n = Number(raw.trim());
    if (raw.trim() === "" || !(n > 0 && n <= 1)) throw new SettingsError(`${from}: expected a number in (0, 1], got "${raw}"`);
    return n;
  }
  if (spec.kind === "int") {
    const t = raw.trim();
    if (!/^\d+$/.test(t)) throw new SettingsError(`${from}: expected a non-negative integer, got "${raw}"`);
    const n = Number(t);
    if (!Number.isSafeInteger(n) || n < (spec.min ?? 0)) {
      throw new SettingsError(`${from}: must be an integer >= ${spec.min ?? 0}, got "${raw}"`);
    }
    return n;
  }
  if (raw.trim() === "") throw new SettingsError(`${from}: must not be empty`);
  if (spec.allowed && !spec.allowed.has(raw.trim())) {
    throw new SettingsError(`${from}: expected one of ${[...spec.allowed].join(", ")}, got "${raw}"`);
  }
  if (spec.kind === "db") return resolveDbLocation(raw);
  return spec.kind === "path" ? resolve(raw) : raw;
}

/** Defaults that differ on a GPU (GLOSSA_DEVICE=cuda...): batch and encoder budget sized for its throughput. */
export const DEVICE_DEFAULTS = { maxBatch: 256, encodeTokenBudget: 4096 } as const;

/**
 * Settings from env (e.g. GLOSSA_THREADS) and argv flags (--threads 2 or --threads=2); flags win. With a GPU device,
 * GLOSSA_MAX_BATCH and GLOSSA_ENCODE_TOKEN_BUDGET default to DEVICE_DEFAULTS when not given.
 */
export function loadSettings(
  env: NodeJS.ProcessEnv = process.env,
  argv: readonly string[] = process.argv.slice(2),
): ServerSettings {
  const s = defaultSettings() as unknown as Record<string, unknown>;
  const given = new Set<string>();
  for (const spec of SETTING_SPECS) {
    const raw = env[spec.env];
    if (raw !== undefined && raw !== "") {
      s[spec.key] = parseValue(spec, raw, spec.env);
      given.add(spec.key);
    }
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--help" || arg === "-h") throw new SettingsError(usage());
    const eq = arg.indexOf("=");
    const name = eq >= 0 ? arg.slice(0, eq) : arg;
    const spec = SETTING_SPECS.find((x) => x.flag === name);
    if (!spec) throw new SettingsError(`unknown flag ${arg}\n${usage()}`);
    let raw: string | undefined;
    if (eq >= 0) raw = arg.slice(eq + 1);
    else raw = argv[++i];
    if (raw === undefined) throw new SettingsError(`${name} needs a value`);
    s[spec.key] = parseValue(spec, raw, name);
    given.add(spec.key);
  }
  const settings = s as unknown as ServerSettings;
  // A GPU decode step costs little more for 128 rows than for 32 (1.5 vs 1.2 ms on the H200, NOTES.md, CUDA
  // backend): unless the operator says otherwise, a device engine decodes up to DEVICE_DEFAULTS.maxBatch sequences
  // together and encodes more source tokens per step than the CPU defaults allow.
  if (settings.device !== "cpu") {
    for (const key of ["maxBatch", "encodeTokenBudget"] as const) if (!given.has(key)) settings[key] = DEVICE_DEFAULTS[key];
  }
  if (settings.headersTimeoutMs > settings.receiveTimeoutMs) {
    throw new SettingsError(
      `GLOSSA_HEADERS_TIMEOUT_MS (${settings.headersTimeoutMs}) must not exceed GLOSSA_RECEIVE_TIMEOUT_MS (${settings.receiveTimeoutMs}): the headers are part of the request`,
    );
  }
  return settings;
}

export function usage(): string {
  const lines = SETTING_SPECS.map((s) => `  ${`${s.flag} <${s.kind}>`.padEnd(32)} env ${s.env}`);
  return `usage: npm start -- [flags]\n${lines.join("\n")}`;
}
