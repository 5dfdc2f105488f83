import { defineConfig } from "drizzle-kit";

// The PostgreSQL registry's migrations, generated from the same schema as the SQLite ones (drizzle.config.ts):
// src/storage/pg-tables.ts derives each PostgreSQL table from its SQLite declaration in src/storage/schema/.
// `npm run db:generate` runs both configs.
export default defineConfig({
  dialect: "postgresql",
  schema: "./src/storage/postgres/tables.ts",
  out: "./migrations/postgres",
});
