/**
 * The job queue: BullMQ (an existing, maintained queue; see NOTES.md "Distributed evaluation" for why BullMQ over
 * pg-boss) on Redis or on PostgreSQL, chosen by URL:
 *   GLOSSA_QUEUE=redis://host:6379[/db]        BullMQ's Redis backend (ioredis)
 *   GLOSSA_QUEUE=postgres://user@host/db       BullMQ's PostgreSQL backend (tables in schema "bullmq", migrated on open)
 * Default: GLOSSA_DB when it is a PostgreSQL URL (the queue then lives next to the registry, no other service),
 * else redis://127.0.0.1:6379. GLOSSA_QUEUE_NAME names the queue (default glossa-eval; tests use their own).
 */
import { Queue, QueueEvents, Worker, createPostgresBackend, type Processor, type WorkerOptions } from "bullmq";
import { dbPath, isPostgresUrl } from "../config.js";
import { redactUrl } from "../storage/db.js";

export class QueueConfigError extends Error {
  override readonly name = "QueueConfigError";
}

export interface QueueTarget {
  /** redis://... or postgres://... */
  readonly url: string;
  /** Queue name (GLOSSA_QUEUE_NAME, default "glossa-eval"). */
  readonly name: string;
}

export const DEFAULT_QUEUE_NAME = "glossa-eval";

/** The queue from flags, env and defaults (see the module comment). */
export function queueTarget(url?: string, name?: string): QueueTarget {
  const u = (url ?? process.env.GLOSSA_QUEUE ?? "").trim() || (isPostgresUrl(dbPath()) ? dbPath() : "redis://127.0.0.1:6379");
  if (!/^rediss?:\/\//i.test(u) && !isPostgresUrl(u)) throw new QueueConfigError(`queue URL must start with redis://, rediss:// or postgres://, got ${JSON.stringify(redactUrl(u))}`);
  const n = (name ?? process.env.GLOSSA_QUEUE_NAME ?? "").trim() || DEFAULT_QUEUE_NAME;
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/.test(n)) throw new QueueConfigError(`queue name must be 1-100 of A-Z a-z 0-9 _ . -, got ${JSON.stringify(n)}`);
  return { url: u, name: n };
}

export function describeTarget(t: QueueTarget): string {
  return `${t.name} on ${redactUrl(t.url)}`;
}

function redisConnection(url: string): { host: string; port: number; db?: number; username?: string; password?: string; tls?: object; maxRetriesPerRequest: null } {
  const u = new URL(url);
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : undefined;
  if (db !== undefined && !Number.isInteger(db)) throw new QueueConfigError(`redis URL database must be a number: ${redactUrl(url)}`);
  return {
    host: u.hostname || "127.0.0.1",
    port: u.port ? Number(u.port) : 6379,
    ...(db !== undefined ? { db } : {}),
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.protocol === "rediss:" ? { tls: {} } : {}),
    // BullMQ requires this for blocking connections (workers, events).
    maxRetriesPerRequest: null,
  };
}

/* eslint-disable @typescript-eslint/no-explicit-any */
// BullMQ's classes are generic over the backend; Glossa only needs the common surface, so the three factories below
// return that surface for either backend.
export type AnyQueue = Queue<any, any, string, any, any, any>;
export type AnyWorker = Worker<any, any, string, any, any, any>;
export type AnyQueueEvents = QueueEvents<any, any>;

export function openQueue(t: QueueTarget): AnyQueue {
  return isPostgresUrl(t.url)
    ? (new Queue(t.name, { connection: { connectionString: t.url, migrate: true } }, createPostgresBackend) as unknown as AnyQueue)
    : (new Queue(t.name, { connection: redisConnection(t.url) }) as AnyQueue);
}

export function openQueueEvents(t: QueueTarget): AnyQueueEvents {
  return isPostgresUrl(t.url)
    ? (new QueueEvents(t.name, { connection: { connectionString: t.url, migrate: true } }, createPostgresBackend) as unknown as AnyQueueEvents)
    : (new QueueEvents(t.name, { connection: redisConnection(t.url) }) as AnyQueueEvents);
}

export function openWorker(t: QueueTarget, processor: Processor<any, any, string>, opts: Omit<WorkerOptions, "connection">): AnyWorker {
  return isPostgresUrl(t.url)
    ? (new Worker(t.name, processor, { ...opts, connection: { connectionString: t.url, migrate: true } }, createPostgresBackend) as unknown as AnyWorker)
    : (new Worker(t.name, processor, { ...opts, connection: redisConnection(t.url) }) as AnyWorker);
}
/* eslint-enable @typescript-eslint/no-explicit-any */
