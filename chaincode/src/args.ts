/**
 * Reading a transaction's argument text the way the Python contract does.
 *
 * Python's json module reads `100.0` and `1e3` as floats, which canonical JSON refuses; JSON.parse
 * would read them as the integers 100 and 1000. So the raw text is scanned first and any number
 * written with a fraction or an exponent is refused as a float. Integers beyond ±(2**53 − 1)
 * (JSON.parse cannot hold them exactly) and lone surrogates are refused anywhere, as in Python.
 */

import { hasLoneSurrogate } from './canonical';
import { fail } from './errors';

/** Whether the JSON text holds a number token with a fraction or an exponent. */
export function hasFloatToken(text: string): boolean {
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') {
      inString = true;
    } else if (c === '-' || (c >= '0' && c <= '9')) {
      let j = i + 1;
      while (j < text.length && /[0-9.eE+-]/.test(text[j])) j++;
      if (/[.eE]/.test(text.slice(i, j))) return true;
      i = j - 1;
    }
  }
  return false;
}

function checkValues(value: unknown, path: string): void {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw fail('BAD_ARGS', `integer at ${path} is beyond ±(2**53 − 1)`);
  } else if (typeof value === 'string') {
    if (hasLoneSurrogate(value)) throw fail('BAD_ARGS', `a string at ${path} holds a lone surrogate`);
  } else if (Array.isArray(value)) {
    value.forEach((item, i) => checkValues(item, `${path}[${i}]`));
  } else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if (hasLoneSurrogate(key)) throw fail('BAD_ARGS', `a key at ${path} holds a lone surrogate`);
      checkValues(item, `${path}.${key}`);
    }
  }
}

/** Parse the argument text of one transaction into a plain JSON object, or refuse BAD_ARGS. */
export function parseArgsText(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw fail('BAD_ARGS', `arguments are not JSON: ${(error as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw fail('BAD_ARGS', 'arguments must be a JSON object');
  }
  if (hasFloatToken(text)) throw fail('BAD_ARGS', 'a float in the arguments: use integers or strings');
  checkValues(value, '$');
  return value as Record<string, unknown>;
}
