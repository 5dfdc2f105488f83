/** Typed errors of calibration-data curation. Each carries a message meant for the operator. */
export class CalibDataError extends Error {
  override readonly name: string = "CalibDataError";
}

/** Bad input from a caller (unknown language, bad size, malformed line id). */
export class CalibInputError extends CalibDataError {
  override readonly name = "CalibInputError";
}

/** A named set (or a language's candidate pool) does not exist. */
export class CalibNotFoundError extends CalibDataError {
  override readonly name = "CalibNotFoundError";
}

/** The corpora changed since a set was drawn: a member line no longer has its recorded sha256. */
export class CorpusChangedError extends CalibDataError {
  override readonly name = "CorpusChangedError";
  constructor(
    readonly file: string,
    readonly line: number,
    readonly expectedSha256: string,
    readonly actualSha256: string | undefined,
    detail?: string,
  ) {
    super(
      detail !== undefined
        ? `corpus file changed: cannot read ${file} (${detail}); the calibration set needs line ${line} ` +
            `(sha256 ${expectedSha256}): re-import and re-sample`
        : actualSha256 === undefined
        ? `corpus file changed: ${file} has no line ${line} any more (expected sha256 ${expectedSha256}); ` +
            `the calibration set was drawn from a different version of the corpora: re-import and re-sample`
        : `corpus file changed: ${file} line ${line} has sha256 ${actualSha256}, the calibration set recorded ` +
            `${expectedSha256}; refusing to use it: re-import and re-sample`,
    );
  }
}
