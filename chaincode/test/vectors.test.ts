/** Replay every shared vector (data_schemas/vectors/cases) through the Fabric contract class. */

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { canonicalJson } from '../src/canonical';
import { ConsortiumContract } from '../src/contract';
import { CODES } from '../src/errors';
import { argumentVectors, CASES, ChaincodeStubFake, fabricContext, StubState } from './stub';


interface Vector {
  name: string;
  state_before: Record<string, unknown>;
  creator: { member_id: string; msp_id: string; cert_pem: string };
  tx: { kind: string; fn: string; args_json: string; tx_id: string; timestamp_ms: number };
  expected: { code: string; result: unknown };
  state_after: Record<string, unknown>;
}

/** Run one vector: returns the code, the parsed result and the state after. */
async function replay(v: Vector): Promise<{ code: string; result: unknown; state: StubState }> {
  const state = new StubState();
  for (const [key, value] of Object.entries(v.state_before)) {
    state.data.set(key, Buffer.from(canonicalJson(value), 'utf8'));
  }
  const stub = new ChaincodeStubFake(state, v.tx.tx_id, v.tx.timestamp_ms, v.creator, v.tx.fn);
  const contract = new ConsortiumContract() as unknown as Record<string, unknown>;
  const ctx = fabricContext(stub);
  let code: string;
  let result: unknown = null;
  try {
    const method = contract[v.tx.fn];
    if (typeof method !== 'function') await (contract as unknown as ConsortiumContract).unknownTransaction(ctx);
    const envelope = JSON.parse(await (method as Function).call(contract, ctx, v.tx.args_json));
    assert.deepEqual(Object.keys(envelope).sort(), ['code', 'message', 'result']);
    code = envelope.code;
    result = envelope.result;
  } catch (error) {
    if (error instanceof assert.AssertionError) throw error;
    code = (error as Error).message.split(':')[0]; // refused before the contract could answer
  }
  stub.commit(); // the contract wrote only if the transaction was valid
  return { code, result, state };
}

const files = readdirSync(CASES).filter((f) => f.endsWith('.json')).sort();

test('there are vectors for every code', () => {
  const codes = new Set(files.map((f) => JSON.parse(readFileSync(join(CASES, f), 'utf8')).expected.code));
  assert.ok(files.length >= 50);
  assert.deepEqual([...CODES].filter((c) => !codes.has(c)), []);
});

async function check(v: Vector): Promise<void> {
  const { code, result, state } = await replay(v);

  assert.equal(code, v.expected.code);
  assert.deepEqual(result, v.expected.result);
  const after: Record<string, string> = {};
  for (const [key, value] of state.data) after[key] = value.toString('utf8');
  const expected: Record<string, string> = {};
  for (const [key, value] of Object.entries(v.state_after)) expected[key] = canonicalJson(value);
  assert.deepEqual(after, expected);
}

for (const file of files) {
  test(`vector ${file}`, () => check(JSON.parse(readFileSync(join(CASES, file), 'utf8')) as Vector));
}

for (const v of argumentVectors()) {
  test(`argument vector ${v.name}`, () => check(v as unknown as Vector));
}
