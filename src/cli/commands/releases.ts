/**
 * glossa releases [--all] [--json]
 *
 * Lists what the server may serve: each model's reference engine (the baseline, released by definition)
 * and every engine with an active release. --all adds ended releases (superseded or revoked).
 */
import { parseArgs } from "node:util";
import { PROCESS_IO, runCommand, type CommandIo } from "../../eval/cliSupport.js";
import { formatTable } from "../../eval/table.js";
import { openRegistry } from "../../storage/db.js";
import { listReleases, releasedEngines } from "../../storage/releases.js";

export const RELEASES_USAGE = "usage: glossa releases [--all] [--json]";

export async function releasesCommand(argv: string[], io: CommandIo = PROCESS_IO): Promise<number> {
  return runCommand(io, RELEASES_USAGE, async () => {
    const { values } = parseArgs({
      args: argv,
      options: { all: { type: "boolean", default: false }, json: { type: "boolean", default: false }, help: { type: "boolean", default: false } },
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
      if (values.json) {
        io.stdout.write(
          `${JSON.stringify(
            {
              references: refs.map((r) => ({ engineId: r.engine.id, engine: r.engine.name, recipe: r.engine.recipe, language: r.engine.language })),
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
              })),
            },
            null,
            2,
          )}\n`,
        );
        return 0;
      }
      const rows = [
        ...refs.map((r) => [r.engine.name, r.engine.id, r.engine.recipe, r.engine.language ?? "all", "reference (baseline)", null, null, null]),
        ...rels.map((r) => [
          r.engine.name,
          r.engine.id,
          r.engine.recipe,
          r.engine.language ?? "all",
          r.release.active ? "released" : r.release.endedByDecisionId !== null ? `ended by decision #${r.release.endedByDecisionId}` : "ended",
          r.release.id,
          `#${r.decision.id}`,
          r.release.releasedAt,
        ]),
      ];
      io.stdout.write(formatTable(["engine", "id", "recipe", "language", "status", "release", "gate", "released_at"], rows));
      return 0;
    } finally {
      await reg.close();
    }
  });
}
