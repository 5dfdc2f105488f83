/** An error answered to the client as JSON `{error}` with this status. */
export class HttpError extends Error {
  override readonly name = "HttpError";
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 405 | 413 | 415 | 429 | 456 | 499 | 500 | 503 | 504,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}
