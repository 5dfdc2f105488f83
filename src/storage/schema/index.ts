/**
 * Every registry table, one module per domain. The registry hands these to repositories as `db.t` (the
 * tables of the database's dialect), so a new domain file needs one `export *` line here.
 */
export * from "./models.js";
export * from "./evaluation.js";
export * from "./releases.js";
export * from "./calibration.js";
export * from "./keys.js";
export * from "./benchmarks.js";
export * from "./artifacts.js";
