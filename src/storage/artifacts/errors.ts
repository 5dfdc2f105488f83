/** Errors of the artifact store, and the one key format it accepts. */
export class ArtifactError extends Error {
  override readonly name = "ArtifactError";
}

export class ArtifactMissingError extends ArtifactError {}

export const SHA256_RE = /^[0-9a-f]{64}$/;

export function checkSha256(sha256: string): string {
  if (!SHA256_RE.test(sha256)) throw new ArtifactError(`not a sha256: ${JSON.stringify(sha256)}`);
  return sha256;
}
