import { defineConfig } from "drizzle-kit";

// Every file under src/storage/schema/ is one domain of the registry (models, evaluation, releases,
// calibration, ...): a new domain file is picked up by `npm run db:generate` without touching this config.
export default defineConfig({
  dialect: "sqlite",
  schema: "./src/storage/schema/*.ts",
  out: "./migrations",
});
