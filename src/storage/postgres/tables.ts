/**
 * drizzle-kit's input for the PostgreSQL migrations (drizzle.postgres.config.ts): the PostgreSQL twin of every
 * registry table (src/storage/pg-tables.ts), one top-level export each, because drizzle-kit collects tables from
 * a schema file's top-level exports only. A table added under src/storage/schema/ needs one line here;
 * test/storage.test.ts fails when one is missing.
 */
import { pgSchema } from "../pg-tables.js";

export const models = pgSchema.models;
export const engines = pgSchema.engines;
export const evalSets = pgSchema.evalSets;
export const evalRuns = pgSchema.evalRuns;
export const gateDecisions = pgSchema.gateDecisions;
export const gateReasons = pgSchema.gateReasons;
export const releases = pgSchema.releases;
export const calibPools = pgSchema.calibPools;
export const calibPoolSources = pgSchema.calibPoolSources;
export const calibSets = pgSchema.calibSets;
export const calibSetMembers = pgSchema.calibSetMembers;
export const calibExclusions = pgSchema.calibExclusions;
export const apiKeys = pgSchema.apiKeys;
export const apiKeyUsage = pgSchema.apiKeyUsage;
export const apiKeyRequests = pgSchema.apiKeyRequests;
export const engineProfiles = pgSchema.engineProfiles;
export const benchResults = pgSchema.benchResults;
export const artifacts = pgSchema.artifacts;
export const artifactChunks = pgSchema.artifactChunks;
