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

    if (response.status === 500) {
      // only unknown functions, arguments without a canonical form and stamps beyond 2**53 − 1 ms
      // get no envelope
      assert.equal(String(response.message).split(':')[0], v.expected.code);
      assert.ok(['BAD_ARGS', 'BAD_TIMESTAMP', 'UNKNOWN_FUNCTION'].includes(v.expected.code));
      assert.equal(stub.events.length, 0);
      return;
    }
    assert.equal(response.status, 200, response.message);
    const envelope = JSON.parse(Buffer.from(response.payload).toString('utf8'));
    assert.equal(envelope.code, v.expected.code);
    assert.equal(canonicalJson(envelope.result), canonicalJson(v.expected.result));
    assert.equal(stub.writes.size > 0, v.expected.code === 'VALID' && v.tx.kind === 'invoke');
    if (v.tx.kind === 'invoke') {
      assert.equal(stub.events.length, 1);
      const event = JSON.parse(stub.events[0].payload);
      assert.equal(stub.events[0].name, 'tx');
      assert.equal(stub.events[0].payload, canonicalJson(event));
      assert.deepEqual(
        [event.fn, event.creator, event.timestamp_ms, event.code],
        [v.tx.fn, v.creator.member_id, v.tx.timestamp_ms, v.expected.code],
      );
      assert.equal(canonicalJson(event.args), canonicalJson(JSON.parse(v.tx.args_json)));
    } else {
      assert.equal(stub.events.length, 0);
    }
}

for (const file of readdirSync(CASES).filter((f) => f.endsWith('.json')).sort()) {
  test(`dispatch ${file}`, () => dispatch(JSON.parse(readFileSync(join(CASES, file), 'utf8'))));
}

for (const v of argumentVectors()) {
  test(`dispatch argument vector ${v.name}`, () => dispatch(v));
}
