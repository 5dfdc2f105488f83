/**
 * glossa releases [--all] [--json] [--check]
 *
 * Lists what the server may serve: each model's reference engine (the baseline, released by definition)
 * and every engine with an active release. --all adds ended releases (superseded or revoked).
 * The files of every listed active release are checked against the sha256 the registry recorded: a missing or
 * different file is a broken release (status BROKEN, "files" in --json), which the server refuses to serve.
 * --check exits 1 when any active release is broken.
 */
import { parseArgs } from "node:util";
import { PROCESS_IO, runCommand, type CommandIo } from "../../eval/cliSupport.js";
import { formatTable } from "../../eval/table.js";
import { existsSync } from "node:fs";
import { openRegistry, type RegistryDb } from "../../storage/db.js";
import { EngineFileMismatchError, verifyEngineFiles } from "../../storage/engines.js";
import type { EngineRow } from "../../storage/schema/models.js";
import { listReleases, releasedEngines } from "../../storage/releases.js";

export const RELEASES_USAGE = "usage: glossa releases [--all] [--json] [--check]";

/** "ok", or why the engine's files are not the bytes the registry recorded. */
async function filesStatus(db: RegistryDb, e: EngineRow): Promise<{ files: "ok" | "missing" | "checksum"; detail?: string }> {
  try {
    await verifyEngineFiles(db, e);
    return { files: "ok" };
  } catch (err) {
    if (!(err instanceof EngineFileMismatchError)) throw err;
    return { files: existsSync(e.file) ? "checksum" : "missing", detail: err.message };
  }
}

export async function releasesCommand(argv: string[], io: CommandIo = PROCESS_IO): Promise<number> {
  return runCommand(io, RELEASES_USAGE, async () => {
    const { values } = parseArgs({
      args: argv,
      options: {
        all: { type: "boolean", default: false },
        json: { type: "boolean", default: false },
        check: { type: "boolean", default: false },
        help: { type: "boolean", default: false },
      },
      strict: true,
      allowPositionals: false,
    });
    if (values.help) {
      io.stdout.write(`${RELEASES_USAGE}\n`);
      return 0;
    }
    const reg = await openRegistry();
    try {
      const refs = (await releasedEngines(reg.db)).filter((r) => r.basis.kind === "reference");
      const rels = await listReleases(reg.db, { all: values.all });
      const status = new Map<number, { files: "ok" | "missing" | "checksum"; detail?: string }>();
      for (const e of [...refs.map((r) => r.engine), ...rels.filter((r) => r.release.active).map((r) => r.engine)])
        if (!status.has(e.id)) status.set(e.id, await filesStatus(reg.db, e));
      const broken = [...status.entries()].filter(([, s]) => s.files !== "ok");
      for (const [id, s] of broken) io.stderr.write(`BROKEN release: engine #${id}: ${s.detail}\n`);
      const code = values.check && broken.length > 0 ? 1 : 0;
      if (values.json) {
        io.stdout.write(
          `${JSON.stringify(
            {
              references: refs.map((r) => ({
                engineId: r.engine.id,
                engine: r.engine.name,
                recipe: r.engine.recipe,
                language: r.engine.language,
                file: r.engine.file,
                sha256: r.engine.fileSha256,
                files: status.get(r.engine.id)?.files,
              })),
              releases: rels.map((r) => ({
                releaseId: r.release.id,
                engineId: r.engine.id,
                engine: r.engine.name,
                recipe: r.engine.recipe,
                language: r.engine.language,
                gateDecisionId: r.decision.id,
                releasedAt: r.release.releasedAt,
                active: r.release.active,
                endedAt: r.release.endedAt,
                endedByDecisionId: r.release.endedByDecisionId,
                file: r.engine.file,
                sha256: r.engine.fileSha256,
                ...(r.release.active ? { files: status.get(r.engine.id)?.files, broken: status.get(r.engine.id)?.files !== "ok" } : {}),
              })),
            },
            null,
            2,
          )}\n`,
        );
        return code;
      }
      const fileNote = (id: number): string => {
        const s = status.get(id);
        return s && s.files !== "ok" ? ` BROKEN (file ${s.files})` : "";
      };
      const rows = [
        ...refs.map((r) => [r.engine.name, r.engine.id, r.engine.recipe, r.engine.language ?? "all", `reference (baseline)${fileNote(r.engine.id)}`, null, null, null, r.engine.fileSha256.slice(0, 12)]),
        ...rels.map((r) => [
          r.engine.name,
          r.engine.id,
          r.engine.recipe,
          r.engine.language ?? "all",
          r.release.active
            ? `released${fileNote(r.engine.id)}`
            : r.release.endedByDecisionId !== null
              ? `ended by decision #${r.release.endedByDecisionId}`
              : "ended",
          r.release.id,
          `#${r.decision.id}`,
          r.release.releasedAt,
          r.engine.fileSha256.slice(0, 12),
        ]),
      ];
      io.stdout.write(formatTable(["engine", "id", "recipe", "language", "status", "release", "gate", "released_at", "sha256"], rows));
      return code;
    } finally {
      await reg.close();
    }
  });
}
