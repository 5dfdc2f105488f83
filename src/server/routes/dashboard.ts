/**
 * GET /api/dashboard: the quality dashboard's data (src/storage/dashboard.ts) from the registry at GLOSSA_DB,
 * read-only. The server never creates a registry: when the file does not exist the answer says so (registry:
 * false) and the page shows how to create runs. Calibration profiles come from each engine file's header when the
 * registry has no copy.
 */
import { existsSync } from "node:fs";
import { Hono } from "hono";
import { evalDir, isPostgresUrl } from "../../config.js";
import { readEngineHeader } from "../../engine/engine-file.js";
import { loadTolerances } from "../../eval/gate.js";
import { dashboardData, emptyDashboard } from "../../storage/dashboard.js";
import { openRegistry } from "../../storage/db.js";

export interface DashboardDeps {
  dbPath: string;
  log: (msg: string, err?: unknown) => void;
}

function defaultTolerances(log: DashboardDeps["log"]): { maxBleuDrop: number; maxChrfDrop: number } {
  try {
    return loadTolerances(evalDir()).default;
  } catch (err) {
    log("dashboard: cannot read eval/gates.json; showing 1.0 / 1.0", err);
    return { maxBleuDrop: 1, maxChrfDrop: 1 };
  }
}

function profileFromFile(file: string): unknown {
  if (!existsSync(file)) return undefined;
  return readEngineHeader(file).metadata.report;
}

export function dashboardRoutes(deps: DashboardDeps): Hono {
  const app = new Hono();
  app.get("/api/dashboard", async (c) => {
    const tolerances = defaultTolerances(deps.log);
    if (deps.dbPath !== ":memory:" && !isPostgresUrl(deps.dbPath) && !existsSync(deps.dbPath)) return c.json(emptyDashboard(new Date(), tolerances));
    // Opened per request: the dashboard is read rarely, and no handle outlives the answer.
    const registry = await openRegistry({ path: deps.dbPath });
    try {
      return c.json(await dashboardData(registry.db, { profileFromFile, defaultTolerances: tolerances }), 200, { "cache-control": "no-store" });
    } finally {
      await registry.close();
    }
  });
  return app;
}
