/**
 * Canonical JSON, byte for byte the same as consortium/canonical.py: object keys sorted by code
 * point, no white space, UTF-8 with non-ASCII kept as is, no floats.
 *
 * JSON.stringify escapes strings exactly like Python's json.dumps(ensure_ascii=False) (`"`, `\`,
 * \b \f \n \r \t and other control characters below 0x20 as \u00XX with lower-case hex), except
 * for lone surrogates, which Python cannot encode to UTF-8 at all: both refuse them. Keys are
 * sorted by code point (Python's order), not by UTF-16 unit (JavaScript's default), which differs
 * for characters beyond U+FFFF.
 */

export class CanonicalError extends TypeError {}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Compare two strings by Unicode code point (Python's str order, UTF-8 byte order). */
export function compareCodePoints(a: string, b: string): number {
  const x = Array.from(a);
  const y = Array.from(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = (x[i].codePointAt(0) as number) - (y[i].codePointAt(0) as number);
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

/** Whether `text` holds a UTF-16 surrogate without its pair. */
export function hasLoneSurrogate(text: string): boolean {
  return LONE_SURROGATE.test(text);
}

function encode(value: unknown, path: string): string {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'string') {
    if (hasLoneSurrogate(value)) throw new CanonicalError(`lone surrogate at ${path}`);
    return JSON.stringify(value);
  }
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) {
      throw new CanonicalError(`non-integer or unsafe number at ${path}`);
    }
    return String(value === 0 ? 0 : value); // -0 prints as 0, as in Python
  }
  if (typeof value === 'bigint') return value.toString();
  if (Array.isArray(value)) {
    return `[${value.map((item, i) => encode(item, `${path}[${i}]`)).join(',')}]`;
  }
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(
      ([, v]) => v !== undefined,
    );
    entries.sort(([a], [b]) => compareCodePoints(a, b));
    const body = entries.map(([k, v]) => `${encode(k, path)}:${encode(v, `${path}.${k}`)}`);
    return `{${body.join(',')}}`;
  }
  throw new CanonicalError(`${typeof value} at ${path} has no canonical JSON form`);
}

/** Canonical JSON text of `value`. */
export function canonicalJson(value: unknown): string {
  return encode(value, '$');
}

/** Canonical JSON bytes (UTF-8) of `value`. */
export function canonicalBytes(value: unknown): Buffer {
  return Buffer.from(canonicalJson(value), 'utf8');
}
