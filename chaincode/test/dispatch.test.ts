/**
 * Replay every vector through fabric-shim's own dispatcher (ChaincodeFromContract.Invoke, what a
 * peer calls): function routing, unknown functions, the argument and result wire format.
 */

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { JSONSerializer } from 'fabric-contract-api';

import { canonicalJson } from '../src/canonical';
import { contracts } from '../src/index';
import { argumentVectors, CASES, ChaincodeStubFake, StubState } from './stub';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const ChaincodeFromContract = require('fabric-shim/lib/contract-spi/chaincodefromcontract.js');

const serializers = { transaction: 'jsonSerializer', serializers: { jsonSerializer: JSONSerializer } };
const chaincode = new ChaincodeFromContract(contracts, serializers, {}, 'consortium', '0.1.0');

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function dispatch(v: any): Promise<void> {
    const state = new StubState();
    for (const [key, value] of Object.entries(v.state_before)) {
      state.data.set(key, Buffer.from(canonicalJson(value), 'utf8'));
    }
    const stub = new ChaincodeStubFake(
      state, v.tx.tx_id, v.tx.timestamp_ms, v.creator, v.tx.fn, [v.tx.args_json],
    );

    const response = await chaincode.Invoke(stub);

    if (v.expected.code === 'VALID') {
      assert.equal(response.status, 200, response.message);
      assert.equal(Buffer.from(response.payload).toString('utf8'), canonicalJson(v.expected.result));
    } else {
      assert.equal(response.status, 500);
      assert.equal(String(response.message).split(':')[0], v.expected.code);
    }
}

for (const file of readdirSync(CASES).filter((f) => f.endsWith('.json')).sort()) {
  test(`dispatch ${file}`, () => dispatch(JSON.parse(readFileSync(join(CASES, file), 'utf8'))));
}

for (const v of argumentVectors()) {
  test(`dispatch argument vector ${v.name}`, () => dispatch(v));
}
