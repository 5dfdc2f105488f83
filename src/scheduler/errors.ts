/**
 * Why a scheduled translation did not produce a result. The server maps each kind to an HTTP status.
 */
export type SchedulerErrorKind =
  /** The waiting queue has no room for the request: retry later (HTTP 429). */
  | "queue_full"
  /** The request can never fit the queue, whatever the load (HTTP 413). */
  | "too_large"
  /** The request passed its deadline before finishing (HTTP 504). */
  | "deadline"
  /** The caller cancelled (client disconnect). */
  | "cancelled"
  /** The engine refused the request when it was added (invalid input, HTTP 400). */
  | "rejected"
  /** The engine failed the request or a step threw (HTTP 500). */
  | "engine"
  /** The scheduler is shutting down (HTTP 503). */
  | "closed";

export class SchedulerError extends Error {
  readonly kind: SchedulerErrorKind;
  constructor(kind: SchedulerErrorKind, message: string) {
    super(message);
    this.name = "SchedulerError";
    this.kind = kind;
  }
}

export function isSchedulerError(err: unknown): err is SchedulerError {
  return err instanceof SchedulerError;
}
