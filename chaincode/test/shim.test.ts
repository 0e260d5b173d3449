/**
 * The chaincode under fabric-shim's own ChaincodeStub, built from a real SignedProposal as a peer
 * sends it: what the test stub (stub.ts) cannot show, because it answers from our own reading of
 * the shim.
 */

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { common, msp, peer } from '@hyperledger/fabric-protos';
import { JSONSerializer } from 'fabric-contract-api';
import type { Context } from 'fabric-contract-api';
import { ClientIdentity } from 'fabric-shim';

import { contracts } from '../src/index';
import { FabricTxContext } from '../src/fabric';
import { CASES } from './stub';

/* eslint-disable @typescript-eslint/no-require-imports */
const ChaincodeStub = require('fabric-shim/lib/stub.js');
const ChaincodeFromContract = require('fabric-shim/lib/contract-spi/chaincodefromcontract.js');
const { Timestamp } = require('google-protobuf/google/protobuf/timestamp_pb');
/* eslint-enable @typescript-eslint/no-require-imports */

const CERT = JSON.parse(readFileSync(join(CASES, '209-register-before-epoch.json'), 'utf8')).creator;

/** A real ChaincodeStub for a proposal stamped `ms` (protobuf: seconds floor, nanos >= 0). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function realStub(ms: number, args: string[], creator = CERT): any {
  const seconds = Math.floor(ms / 1000);
  const timestamp = new Timestamp();
  timestamp.setSeconds(seconds);
  timestamp.setNanos((ms - seconds * 1000) * 1_000_000);
  const channelHeader = new common.ChannelHeader();
  channelHeader.setType(common.HeaderType.ENDORSER_TRANSACTION);
  channelHeader.setChannelId('consortium');
  channelHeader.setTxId('t1');
  channelHeader.setTimestamp(timestamp);
  const identity = new msp.SerializedIdentity();
  identity.setMspid(creator.msp_id);
  identity.setIdBytes(Buffer.from(creator.cert_pem, 'utf8'));
  const signatureHeader = new common.SignatureHeader();
  signatureHeader.setCreator(identity.serializeBinary());
  signatureHeader.setNonce(Buffer.alloc(24, 7));
  const header = new common.Header();
  header.setChannelHeader(channelHeader.serializeBinary());
  header.setSignatureHeader(signatureHeader.serializeBinary());
  const input = new peer.ChaincodeInput();
  input.setArgsList(args.map((a) => Buffer.from(a, 'utf8')));
  const payload = new peer.ChaincodeProposalPayload();
  payload.setInput(Buffer.from('invocation spec (the shim does not read it)'));
  const proposal = new peer.Proposal();
  proposal.setHeader(header.serializeBinary());
  proposal.setPayload(payload.serializeBinary());
  const signed = new peer.SignedProposal();
  signed.setProposalBytes(proposal.serializeBinary());
  signed.setSignature(Buffer.from('signature'));
  const handler = { handleGetState: async () => Buffer.alloc(0) }; // an empty world state
  return new ChaincodeStub(handler, 'consortium', 't1', input, signed);
}

function context(stub: unknown): Context {
  return { stub, clientIdentity: new ClientIdentity(stub as never) } as unknown as Context;
}

test('the transaction time is the proposal timestamp, also before the epoch', () => {
  for (const ms of [-1, -999, -1000, -1500, 0, 1, 999, 1_767_225_600_123, 1_767_225_600_999]) {
    const tx = new FabricTxContext(context(realStub(ms, ['ListMembers', '{}'])));
    assert.equal(tx.timestampMs, ms, `stamped ${ms} ms`);
  }
});

test('a transaction stamped before 1970 is refused BAD_TIMESTAMP, as by the Python contract', async () => {
  const vector = JSON.parse(readFileSync(join(CASES, '209-register-before-epoch.json'), 'utf8'));
  const serializers = { transaction: 'jsonSerializer', serializers: { jsonSerializer: JSONSerializer } };
  const chaincode = new ChaincodeFromContract(contracts, serializers, {}, 'consortium', '0.1.0');
  const stub = realStub(vector.tx.timestamp_ms, [vector.tx.fn, vector.tx.args_json], vector.creator);

  const response = await chaincode.Invoke(stub);

  assert.equal(response.status, 200, response.message);
  const envelope = JSON.parse(Buffer.from(response.payload).toString('utf8'));
  assert.equal(envelope.code, vector.expected.code);
  const event = JSON.parse(Buffer.from(stub.chaincodeEvent.getPayload()).toString('utf8'));
  assert.deepEqual([event.code, event.timestamp_ms], ['BAD_TIMESTAMP', vector.tx.timestamp_ms]);
});
