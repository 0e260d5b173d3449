/**
 * A small validator kit reproducing the pydantic models' strict JSON-mode checks
 * (consortium/ledger/contract/records.py): exact types, unknown fields refused, defaults for
 * optional fields, lengths counted in code points as Python does.
 */

import { fail } from './errors';

export type Check<T> = (value: unknown, path: string) => T;

function bad(path: string, message: string): never {
  throw fail('BAD_ARGS', `${path}: ${message}`);
}

export const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** An integer (never a boolean) in [min, max]. */
export function int(min = -MAX_SAFE, max = MAX_SAFE): Check<number> {
  return (v, p) => {
    if (typeof v !== 'number' || !Number.isInteger(v)) bad(p, 'Input should be a valid integer');
    if (v < min || v > max) bad(p, `Input should be in [${min}, ${max}]`);
    return v;
  };
}

/** A string matching `pattern`, with a length in code points within [minLen, maxLen]. */
export function str(pattern?: RegExp, minLen = 0, maxLen = Infinity): Check<string> {
  return (v, p) => {
    if (typeof v !== 'string') bad(p, 'Input should be a valid string');
    const n = Array.from(v).length;
    if (n < minLen || n > maxLen) bad(p, `length should be in [${minLen}, ${maxLen}]`);
    if (pattern && !pattern.test(v)) bad(p, `String should match pattern '${pattern.source}'`);
    return v;
  };
}

export const bool: Check<boolean> = (v, p) => {
  if (typeof v !== 'boolean') bad(p, 'Input should be a valid boolean');
  return v;
};

/** One of the given strings. */
export function literal<T extends string>(...values: T[]): Check<T> {
  return (v, p) => {
    if (typeof v !== 'string' || !(values as string[]).includes(v)) {
      bad(p, `Input should be ${values.map((x) => `'${x}'`).join(', ')}`);
    }
    return v as T;
  };
}

/** A list of items, with a length within [minLen, maxLen]. */
export function list<T>(item: Check<T>, minLen = 0, maxLen = Infinity): Check<T[]> {
  return (v, p) => {
    if (!Array.isArray(v)) bad(p, 'Input should be a valid list');
    if (v.length < minLen || v.length > maxLen) bad(p, `length should be in [${minLen}, ${maxLen}]`);
    return v.map((x, i) => item(x, `${p}.${i}`));
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** A JSON object whose keys and values pass the checks, at most `maxLen` entries. */
export function dict<T>(key: Check<string>, value: Check<T>, maxLen = Infinity): Check<Record<string, T>> {
  return (v, p) => {
    if (!isObject(v)) bad(p, 'Input should be a valid dictionary');
    if (Object.keys(v).length > maxLen) bad(p, `at most ${maxLen} entries`);
    const out: Record<string, T> = {};
    for (const [k, x] of Object.entries(v)) out[key(k, `${p}.${k}`)] = value(x, `${p}.${k}`);
    return out;
  };
}

/** Any JSON object (pydantic's dict[str, Any]). */
export const anyObject: Check<Record<string, unknown>> = (v, p) => {
  if (!isObject(v)) bad(p, 'Input should be a valid dictionary');
  return v;
};

/** `null` or a value passing `check`. */
export function nullable<T>(check: Check<T>): Check<T | null> {
  return (v, p) => (v === null ? null : check(v, p));
}

export interface Field {
  check: Check<unknown>;
  /** present when the field may be omitted */
  default?: unknown;
}

/** A required field. */
export function req(check: Check<unknown>): Field {
  return { check };
}

/** An optional field with its default. */
export function opt(check: Check<unknown>, fallback: unknown): Field {
  return { check, default: fallback };
}

/**
 * An object with exactly these fields (unknown ones refused, omitted optional ones defaulted),
 * then `after` (pydantic's model validator, run only when every field is valid).
 */
export function model<T>(fields: Record<string, Field>, after?: (o: T) => string | undefined): Check<T> {
  return (v, p) => {
    if (!isObject(v)) bad(p, 'Input should be a valid dictionary or instance');
    for (const key of Object.keys(v)) {
      if (!(key in fields)) bad(`${p}.${key}`, 'Extra inputs are not permitted');
    }
    const out: Record<string, unknown> = {};
    for (const [name, field] of Object.entries(fields)) {
      if (name in v) out[name] = field.check(v[name], `${p}.${name}`);
      else if ('default' in field) out[name] = field.default;
      else bad(`${p}.${name}`, 'Field required');
    }
    const problem = after?.(out as T);
    if (problem) bad(p, problem);
    return out as T;
  };
}
