/**
 * The chaincode's side of the differential test (tests/contract/test_differential.py): runs
 * transaction sequences through fabric-shim's own dispatcher, as a peer would, and prints what
 * each did, so that the Python test can compare it with the Python contract's outcome.
 *
 * Started as `node dist/test/differential.js --serve` (without `--serve` it does nothing, so that
 * `node --test dist/test/` can load it). Reads one JSON case per line on stdin:
 *   {"state_before": {key: JSON value}, "transactions": [{"creator": {member_id, msp_id,
 *    cert_pem, ...}, "tx": {"fn", "args_json", "tx_id", "timestamp_ms", ...}}, ...]}
 * (the shapes of the shared scenario vectors) and answers one JSON line per case:
 *   {"outcomes": [{"code", "result", "writes": {key: stored text}}], "state_after": {key: text}}
 * `result` is the canonical JSON text of the envelope's result; a call that fails without an
 * envelope gives the code leading its message, and an error that is not a contract code gives
 * `CRASH: message` (a bug on this side).
 */

import { createInterface } from 'node:readline';

import { JSONSerializer } from 'fabric-contract-api';

import { canonicalJson } from '../src/canonical';
import { CODES } from '../src/errors';
import { contracts } from '../src/index';
import { ChaincodeStubFake, StubCreator, StubState } from './stub';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const ChaincodeFromContract = require('fabric-shim/lib/contract-spi/chaincodefromcontract.js');

const serializers = { transaction: 'jsonSerializer', serializers: { jsonSerializer: JSONSerializer } };

interface Transaction {
  creator: StubCreator;
  tx: { fn: string; args_json: string; tx_id: string; timestamp_ms: number };
}

interface Case {
  state_before: Record<string, unknown>;
  transactions: Transaction[];
}

interface Outcome {
  code: string;
  result: string;
  writes: Record<string, string>;
}

function codeOf(message: string): string {
  const code = message.split(':')[0];
  return (CODES as readonly string[]).includes(code) ? code : `CRASH: ${message}`;
}

function text(data: Map<string, Buffer>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of data) out[key] = value.toString('utf8');
  return out;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function runOne(chaincode: any, state: StubState, t: Transaction): Promise<Outcome> {
  const stub = new ChaincodeStubFake(state, t.tx.tx_id, t.tx.timestamp_ms, t.creator, t.tx.fn, [t.tx.args_json]);
  let code: string;
  let result = 'null';
  try {
    const response = await chaincode.Invoke(stub);
    if (response.status === 200) {
      const envelope = JSON.parse(Buffer.from(response.payload).toString('utf8'));
      code = envelope.code;
      result = canonicalJson(envelope.result);
    } else {
      code = codeOf(String(response.message));
    }
  } catch (error) {
    code = `CRASH: ${(error as Error).message}`;
  }
  stub.commit(); // the contract wrote only if the transaction was valid
  return { code, result, writes: text(stub.writes) };
}

async function runCase(chaincode: unknown, c: Case): Promise<{ outcomes: Outcome[]; state_after: Record<string, string> }> {
  const state = new StubState();
  for (const [key, value] of Object.entries(c.state_before)) {
    state.data.set(key, Buffer.from(canonicalJson(value), 'utf8'));
  }
  const outcomes = [];
  for (const t of c.transactions) outcomes.push(await runOne(chaincode, state, t));
  return { outcomes, state_after: text(state.data) };
}

async function serve(): Promise<void> {
  const chaincode = new ChaincodeFromContract(contracts, serializers, {}, 'consortium', '0.1.0');
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.trim()) continue;
    const answer = await runCase(chaincode, JSON.parse(line) as Case);
    process.stdout.write(`${JSON.stringify(answer)}\n`);
  }
}

if (process.argv.includes('--serve')) {
  serve().catch((error) => {
    process.stderr.write(`${(error as Error).stack}\n`);
    process.exit(1);
  });
}
