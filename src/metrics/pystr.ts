/**
 * Python `str` semantics that sacreBLEU relies on, reimplemented for JavaScript strings.
 *
 * - Python's `str.split()` / `strip()` / `rstrip()` (no arguments) treat as whitespace exactly the
 *   code points for which `str.isspace()` is true. That set differs from JavaScript's `\s`:
 *   Python includes U+001C..U+001F and U+0085 (JS does not) and excludes U+FEFF (JS includes it).
 * - Python strings index by code point, so n-grams and lengths are counted in code points, not
 *   UTF-16 code units.
 * - Python's `format(x, ".Nf")` rounds the exact binary value half-to-even; JavaScript's
 *   `toFixed` rounds exact ties away from zero.
 */

/** The code points for which CPython's `str.isspace()` is true (measured with CPython 3.11). */
const PY_WHITESPACE_CLASS =
  "\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";

const PY_NON_WHITESPACE_RUN = new RegExp(`[^${PY_WHITESPACE_CLASS}]+`, "gu");
const PY_TRAILING_WHITESPACE = new RegExp(`[${PY_WHITESPACE_CLASS}]+$`, "u");
const PY_LEADING_WHITESPACE = new RegExp(`^[${PY_WHITESPACE_CLASS}]+`, "u");
const PY_ANY_WHITESPACE = new RegExp(`[${PY_WHITESPACE_CLASS}]+`, "gu");

/** Python `s.split()` (no separator): runs of whitespace separate, no empty fields. */
export function pySplit(s: string): string[] {
  return s.match(PY_NON_WHITESPACE_RUN) ?? [];
}

/** Python `' '.join(s.split())`. */
export function pyNormalizeSpaces(s: string): string {
  return pySplit(s).join(" ");
}

/** Python `''.join(s.split())`: all whitespace removed. */
export function pyRemoveWhitespace(s: string): string {
  return s.replace(PY_ANY_WHITESPACE, "");
}

/** Python `s.rstrip()`. */
export function pyRstrip(s: string): string {
  return s.replace(PY_TRAILING_WHITESPACE, "");
}

/** Python `s.strip()`. */
export function pyStrip(s: string): string {
  return pyRstrip(s).replace(PY_LEADING_WHITESPACE, "");
}

/**
 * Python `s.lower()`. Both implement Unicode full lowercase mapping with the Final_Sigma rule;
 * they can differ only on characters whose case mapping changed between the Unicode versions of
 * the Python and Node builds.
 */
export function pyLower(s: string): string {
  return s.toLowerCase();
}

/** The code points of `s` (Python's view of a string). */
export function codePoints(s: string): string[] {
  return Array.from(s);
}

/** Python `f"{x:.{digits}f}"` for finite numbers: exact value, ties rounded half to even. */
export function pyFormatFixed(x: number, digits: number): string {
  if (!Number.isFinite(x)) {
    return Number.isNaN(x) ? "nan" : x > 0 ? "inf" : "-inf";
  }
  const plain = (Object.is(x, -0) ? "-" : "") + x.toFixed(digits);
  // toFixed(100) is the exact decimal expansion for every double this can be a tie for:
  // a tie at `digits` places is k + 0.5 * 10^-digits, whose binary expansion is short.
  const exact = Math.abs(x).toFixed(100);
  const point = exact.indexOf(".");
  const tail = exact.slice(point + 1 + digits);
  const isTie = tail[0] === "5" && /^50*$/.test(tail);
  if (!isTie) return plain;
  // JavaScript rounded the tie away from zero; Python rounds it to the even neighbour.
  const keptDigits = exact.slice(0, point + 1 + digits).replace(".", "");
  const lastDigit = Number(keptDigits[keptDigits.length - 1]);
  if (lastDigit % 2 === 1) return plain; // away-from-zero already lands on the even digit
  const truncated = digits === 0 ? exact.slice(0, point) : exact.slice(0, point + 1 + digits);
  const sign = x < 0 || Object.is(x, -0) ? "-" : "";
  return sign + truncated;
}
