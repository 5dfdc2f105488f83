/**
 * Redis for tests (the BullMQ queue's Redis backend): same policy as PostgreSQL (test/helpers/postgres.ts): an
 * unreachable server fails the tests under CI=true or GLOSSA_TEST_PG=require, and skips them, with the reason,
 * elsewhere. GLOSSA_TEST_REDIS_URL names the server (default redis://127.0.0.1:6379); tests use their own queue names.
 */
import { Redis } from "ioredis";
import { pgRequired } from "./postgres.js";

export const REDIS_URL = process.env.GLOSSA_TEST_REDIS_URL?.trim() || "redis://127.0.0.1:6379";

export async function redisSkip(): Promise<string | false> {
  const client = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 3000, retryStrategy: () => null });
  client.on("error", () => undefined); // the failed connect below reports it
  let why: string | undefined;
  try {
    await client.connect();
    await client.ping();
  } catch (e) {
    why = `Redis unreachable at ${REDIS_URL}: ${(e as Error).message}`;
  } finally {
    client.disconnect();
  }
  if (why === undefined) return false;
  if (pgRequired()) throw new Error(`${why} (required: CI or GLOSSA_TEST_PG=require)`);
  return `${why} (set GLOSSA_TEST_REDIS_URL, or GLOSSA_TEST_PG=require to make this a failure)`;
}
