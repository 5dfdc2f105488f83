/**
 * glossa keys create --name NAME [--chars-per-month N] [--requests-per-minute N] [--json]
 * glossa keys list [--all] [--month YYYY-MM] [--json]
 * glossa keys revoke <id | key prefix>
 *
 * API keys of the translation API (checked when the server runs with GLOSSA_REQUIRE_KEYS=1): created with
 * their limits, listed with this month's usage, revoked at once. The registry stores only each key's SHA-256
 * digest: `create` prints the key once. The database is GLOSSA_DB (default var/glossa.sqlite, or a postgres:// URL)
 * or --db.
 */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { PROCESS_IO, runCommand, UsageError, type CommandIo } from "../../eval/cliSupport.js";
import { formatTable } from "../../eval/table.js";
import { isPostgresUrl } from "../../config.js";
import { openRegistry } from "../../storage/db.js";
import { createApiKey, KeyError, listApiKeys, revokeApiKey, usagePeriod } from "../../storage/keys.js";
import type { ApiKeyRow } from "../../storage/schema/keys.js";

export const KEYS_USAGE = [
  "usage: glossa keys create --name NAME [--chars-per-month N] [--requests-per-minute N] [--json] [--db FILE]",
  "       glossa keys list [--all] [--month YYYY-MM] [--json] [--db FILE]",
  "       glossa keys revoke <id | key prefix> [--db FILE]",
  "",
  "Limits are optional (unlimited when omitted). The key is printed once by create; the registry keeps its digest.",
].join("\n");

function limitArg(v: string | undefined, flag: string): number | null {
  if (v === undefined) return null;
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v))) throw new UsageError(`${flag} expects a non-negative integer, got ${JSON.stringify(v)}`);
  return Number(v);
}

function describeLimits(row: ApiKeyRow): string {
  const chars = row.charsPerMonth === null ? "unlimited characters/month" : `${row.charsPerMonth} characters/month`;
  const rpm = row.requestsPerMinute === null ? "unlimited requests/minute" : `${row.requestsPerMinute} requests/minute`;
  return `${chars}, ${rpm}`;
}

function keyJson(row: ApiKeyRow): Record<string, unknown> {
  return {
    id: row.id,
    name: row.name,
    prefix: row.keyPrefix,
    charsPerMonth: row.charsPerMonth,
    requestsPerMinute: row.requestsPerMinute,
    createdAt: row.createdAt,
    revokedAt: row.revokedAt,
  };
}

export async function keysCommand(argv: string[], io: CommandIo = PROCESS_IO): Promise<number> {
  return runCommand(io, KEYS_USAGE, async () => {
    const [sub, ...rest] = argv;
    if (sub === undefined || sub === "--help" || sub === "-h" || sub === "help") {
      (sub === undefined ? io.stderr : io.stdout).write(`${KEYS_USAGE}\n`);
      return sub === undefined ? 2 : 0;
    }
    if (sub !== "create" && sub !== "list" && sub !== "revoke") throw new UsageError(`unknown subcommand ${JSON.stringify(sub)}`);
    const { values, positionals } = parseArgs({
      args: rest,
      options: {
        name: { type: "string" },
        "chars-per-month": { type: "string" },
        "requests-per-minute": { type: "string" },
        all: { type: "boolean", default: false },
        month: { type: "string" },
        json: { type: "boolean", default: false },
        db: { type: "string" },
        help: { type: "boolean", default: false },
      },
      strict: true,
      allowPositionals: sub === "revoke",
    });
    if (values.help) {
      io.stdout.write(`${KEYS_USAGE}\n`);
      return 0;
    }
    const allowed: Record<string, string[]> = {
      create: ["name", "chars-per-month", "requests-per-minute", "json", "db", "help"],
      list: ["all", "month", "json", "db", "help"],
      revoke: ["db", "help", "json"],
    };
    for (const [flag, v] of Object.entries(values)) {
      if (v !== undefined && v !== false && !allowed[sub]!.includes(flag)) throw new UsageError(`--${flag} does not apply to keys ${sub}`);
    }
    // Validate everything before opening (and possibly creating) the database.
    let create: { name: string; charsPerMonth: number | null; requestsPerMinute: number | null } | undefined;
    if (sub === "create") {
      if (values.name === undefined || values.name.trim() === "") throw new UsageError("keys create needs --name NAME");
      create = {
        name: values.name,
        charsPerMonth: limitArg(values["chars-per-month"], "--chars-per-month"),
        requestsPerMinute: limitArg(values["requests-per-minute"], "--requests-per-minute"),
      };
    }
    const period = values.month ?? usagePeriod(Date.now());
    if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(period)) throw new UsageError(`--month expects YYYY-MM, got ${JSON.stringify(period)}`);
    if (sub === "revoke" && positionals.length !== 1) throw new UsageError("keys revoke needs exactly one key id or prefix");

    const reg = await openRegistry(values.db !== undefined ? { path: isPostgresUrl(values.db) ? values.db : resolve(values.db) } : {});
    try {
      if (create) {
        const { key, row } = await createApiKey(reg.db, create);
        if (values.json) {
          io.stdout.write(`${JSON.stringify({ key, ...keyJson(row) }, null, 2)}\n`);
        } else {
          io.stdout.write(`${key}\n`);
          io.stderr.write(`created key #${row.id} "${row.name}" (${describeLimits(row)}); the key above is shown only once\n`);
        }
        return 0;
      }
      if (sub === "list") {
        const keys = await listApiKeys(reg.db, { period, all: values.all });
        if (values.json) {
          io.stdout.write(`${JSON.stringify({ period, keys: keys.map((k) => ({ ...keyJson(k.row), characters: k.characters, requests: k.requests })) }, null, 2)}\n`);
          return 0;
        }
        const rows = keys.map((k) => [
          k.row.id,
          k.row.name,
          k.row.keyPrefix,
          k.characters,
          k.row.charsPerMonth,
          k.requests,
          k.row.requestsPerMinute,
          k.row.revokedAt === null ? "active" : `revoked ${k.row.revokedAt}`,
          k.row.createdAt,
        ]);
        io.stdout.write(formatTable(["id", "name", "prefix", `chars ${period}`, "chars/month", "requests", "req/minute", "status", "created_at"], rows));
        if (keys.length === 0) io.stderr.write(values.all ? "no API keys\n" : "no active API keys (--all lists revoked ones)\n");
        return 0;
      }
      const row = await revokeApiKey(reg.db, positionals[0]!);
      if (values.json) io.stdout.write(`${JSON.stringify(keyJson(row), null, 2)}\n`);
      else io.stdout.write(`revoked key #${row.id} "${row.name}" (${row.keyPrefix}…) at ${row.revokedAt}\n`);
      return 0;
    } catch (e) {
      if (e instanceof KeyError) {
        io.stderr.write(`error: ${e.message}\n`);
        return 1;
      }
      throw e;
    } finally {
      await reg.close();
    }
  });
}
