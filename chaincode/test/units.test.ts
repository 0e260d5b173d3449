/** Unit tests of the pieces that must match Python byte for byte or integer for integer. */

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { ClientIdentity } from 'fabric-shim';

import { parseArgsText } from '../src/args';
import { canonicalJson, compareCodePoints } from '../src/canonical';
import { committeeOutcome, drawCommittee, headSeed } from '../src/committee';
import { ConsortiumContract } from '../src/contract';
import { floorDiv, nextRequiredGain, requiredGainAt } from '../src/difficulty';
import { ContractError } from '../src/errors';
import { creatorFrom, subjectCommonName, timestampMs } from '../src/fabric';
import { credited, splitRewards } from '../src/rewards';
import { certDerSha256, decimalCmp } from '../src/state';
import { smlCommitment } from '../src/updates';
import { CASES, ChaincodeStubFake, fabricContext, StubState } from './stub';

const code = (fn: () => unknown): string => {
  try {
    fn();
  } catch (error) {
    return (error as ContractError).code;
  }
  return 'VALID';
};

test('canonical JSON escapes like Python json.dumps(ensure_ascii=False)', () => {
  const text = 'q" b\\ \b\f\n\r\t \u0001 \u001f \u007f é 心 \u2028 😀';
  assert.equal(
    canonicalJson({ t: text }),
    '{"t":"q\\" b\\\\ \\b\\f\\n\\r\\t \\u0001 \\u001f \u007f é 心 \u2028 😀"}',
  );
});

test('canonical JSON sorts keys by code point, drops -0 sign, refuses floats and surrogates', () => {
  assert.equal(canonicalJson({ '\uffff': 1, '😀': 2, b: [{ z: 1, a: -0 }], a: null }),
    '{"a":null,"b":[{"a":0,"z":1}],"\uffff":1,"😀":2}');
  assert.ok(compareCodePoints('\uffff', '😀') < 0); // UTF-16 order would say the opposite
  assert.throws(() => canonicalJson({ x: 0.5 }));
  assert.throws(() => canonicalJson({ x: 2 ** 53 }));
  assert.throws(() => canonicalJson({ x: '\ud800' }));
});

test('argument text: fractions and exponents are floats even when integral', () => {
  assert.equal(code(() => parseArgsText('{"n": 100.0}')), 'BAD_ARGS');
  assert.equal(code(() => parseArgsText('{"n": 1e3}')), 'BAD_ARGS');
  assert.equal(code(() => parseArgsText('{"n": -2E+1}')), 'BAD_ARGS');
  assert.equal(code(() => parseArgsText('{"n": 9007199254740992}')), 'BAD_ARGS');
  assert.equal(code(() => parseArgsText('{"s": "\\ud800"}')), 'BAD_ARGS');
  assert.equal(code(() => parseArgsText('[1]')), 'BAD_ARGS');
  assert.equal(code(() => parseArgsText('{"n": NaN}')), 'BAD_ARGS');
  assert.deepEqual(parseArgsText('{"s": "1.5e3 \\" 2.0", "n": -12}'), { s: '1.5e3 " 2.0', n: -12 });
});

test('floor division goes toward minus infinity', () => {
  assert.equal(floorDiv(-75n, 2n), -38n);
  assert.equal(floorDiv(75n, -2n), -38n);
  assert.equal(floorDiv(75n, 2n), 37n);
  assert.equal(floorDiv(-74n, 2n), -37n);
});

const P = { target_interval_ms: 60_000, retarget_every: 2, min_required_gain_bp: -100, max_required_gain_bp: 2000 };

test('difficulty: the worked examples of consortium/pole/difficulty.py', () => {
  assert.equal(nextRequiredGain(P, 50, [30_000, 30_000], 2), 75); // 50 + floor(50 × 0.5)
  assert.equal(nextRequiredGain(P, 50, [240_000, 240_000], 4), 12); // 50 + floor(−37.5)
  assert.equal(nextRequiredGain(P, -80, [30_000, 30_000], 2), -40);
  assert.equal(nextRequiredGain(P, 333, [], 3), 333);
  assert.equal(nextRequiredGain(P, 2000, [1, 1], 2), 2000); // clamped to max
});

test('difficulty: the decaying requirement, as consortium/pole/difficulty.py', () => {
  const D = { target_interval_ms: 60_000, min_required_gain_bp: -100, gain_decay_intervals: 2 };
  assert.equal(requiredGainAt(D, 50, 60_000), 50); // on time: not late
  assert.equal(requiredGainAt(D, 50, 60_001), 50); // 50 − floor(150 × 1 / 120000) = 50
  assert.equal(requiredGainAt(D, 50, 120_000), -25); // half way: 50 − 75
  assert.equal(requiredGainAt(D, 50, 150_000), -62); // 50 − floor(112.5)
  assert.equal(requiredGainAt(D, 50, 180_000), -100); // the floor
  assert.equal(requiredGainAt(D, 50, 2 ** 52), -100); // far past it, no overflow
  assert.equal(requiredGainAt(D, -150, 10 ** 9), -150); // already below the floor: unchanged
  assert.equal(requiredGainAt({ ...D, gain_decay_intervals: 0 }, 50, 10 ** 9), 50); // no decay
});

test('rewards: thirds, ties by update id, exact sums on big numbers', () => {
  const thirds = [
    { updateId: 'u1', memberId: 'h1', contributionPpm: 333_333 },
    { updateId: 'u2', memberId: 'h2', contributionPpm: 333_333 },
    { updateId: 'u3', memberId: 'h3', contributionPpm: 333_334 },
  ];
  assert.deepEqual(splitRewards(1000, 1000, 's', thirds), { h1: 300, h2: 300, h3: 300, s: 100 });
  const ties = [
    { updateId: 'b', memberId: 'hb', contributionPpm: 500_000 },
    { updateId: 'a', memberId: 'ha', contributionPpm: 500_000 },
  ];
  assert.deepEqual(splitRewards(3, 0, 's', ties), { ha: 2, hb: 1 });
  const big = splitRewards(2 ** 40, 1234, 's', thirds);
  assert.equal(Object.values(big).reduce((a, b) => a + b, 0), 2 ** 40);
});

test('committee: same members whatever the candidate order, never more than asked', () => {
  const a = drawCommittee('tx', ['v1', 'v2', 'v3', 'v4'], 2);
  assert.deepEqual(drawCommittee('tx', ['v4', 'v3', 'v2', 'v1', 'v1'], 2), a);
  assert.equal(drawCommittee('tx', ['v1'], 3).length, 1);
});

test('decimals and the SML commitment', () => {
  assert.equal(decimalCmp('8', '8.0'), 0);
  assert.equal(decimalCmp('8.000001', '8'), 1);
  assert.equal(decimalCmp('2.25', '2.5'), -1);
  assert.equal(smlCommitment('').length, 64);
  assert.notEqual(smlCommitment('ab'), smlCommitment('ba'));
});

const IDENTITIES = join(__dirname, '..', '..', '..', 'data_schemas', 'vectors', 'identities.json');
const people = JSON.parse(readFileSync(IDENTITIES, 'utf8')).identities;

test('certificates: DER digest ignores wrapping, malformed PEM has none', () => {
  const pem: string = people.h1.cert_pem;
  const body = pem.split('\n').filter((l) => l && !l.startsWith('-----')).join('');
  const rewrapped = `-----BEGIN CERTIFICATE-----\r\n${body.match(/.{1,40}/g)?.join('\r\n')}\r\n-----END CERTIFICATE-----`;
  assert.equal(certDerSha256(rewrapped), certDerSha256(pem));
  assert.equal(certDerSha256('-----BEGIN CERTIFICATE-----\nMA=o\n-----END CERTIFICATE-----'), null);
  assert.equal(certDerSha256('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----'), null);
});

test('the creator comes from the certificate attribute consortium.member, via ClientIdentity', () => {
  const stub = new ChaincodeStubFake(new StubState(), 'tx', 1_767_225_600_123, people.h3);
  const creator = creatorFrom(new ClientIdentity(stub as never));
  assert.deepEqual(creator, { memberId: 'h3', mspId: 'Org3MSP', certPem: people.h3.cert_pem });
  assert.equal(timestampMs(stub.getTxTimestamp()), 1_767_225_600_123);
  assert.equal(subjectCommonName('x509::/O=c/OU=client/CN=h\\/9::/O=c/CN=ca.c'), 'h/9');
});

test('committeeOutcome: an abstention gives its seat up, every seat abstaining rejects', () => {
  const out = (accepts: number, rejects: number, abstentions: number) =>
    committeeOutcome(3, 2, { accepts, rejects, abstentions });
  assert.equal(out(1, 0, 1), null); // committee 3, quorum 2: two accepts still needed
  assert.equal(out(2, 0, 1), 'accept');
  assert.equal(out(0, 1, 1), 'reject');
  assert.equal(out(1, 0, 2), 'accept'); // one seat left, one accept decides
  assert.equal(out(0, 0, 3), 'reject'); // nobody could judge: fail closed
  assert.equal(out(1, 1, 0), null); // without abstentions, the rule before them
  assert.equal(out(0, 2, 0), 'reject');
});

test('a balance stops at 2**53 - 1, as in Python (tests/contract/test_rewards.py)', () => {
  const max = Number.MAX_SAFE_INTEGER;
  assert.equal(credited(0, 1000), 1000);
  assert.equal(credited(max - 10, 10), max);
  assert.equal(credited(max - 10, 2 ** 40), max);
  assert.equal(credited(max, 1), max);
  assert.equal(credited(2 ** 52, 2 ** 40), 2 ** 52 + 2 ** 40);
});

// ------------------------------------------------------------------ committee seeds, end to end
// A consortium whose hospital h1 has four other verifiers (h3, v1, v2, v3) and a task with
// committees of 2: six possible committees, so a seed h1 could vary would let it pick one.

type Envelope = { code: string; message: string; result: Record<string, unknown> };
const contract = new ConsortiumContract() as unknown as Record<string, Function>;
let clock = 1_767_225_600_000;

/** Run `fn` as `who` with transaction id `txId`; the writes are kept only when `keep`. */
async function run(
  state: StubState, who: string, fn: string, args: unknown, txId: string, keep = true,
): Promise<Envelope> {
  clock += 1000;
  const stub = new ChaincodeStubFake(state, txId, clock, people[who], fn);
  const out = JSON.parse(await contract[fn].call(contract, fabricContext(stub), JSON.stringify(args)));
  assert.equal(out.code, 'VALID', `${fn} by ${who}: ${out.message}`);
  if (keep) stub.commit();
  return out;
}

const publishVector = JSON.parse(readFileSync(join(CASES, '044-publish.json'), 'utf8'));
const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

async function consortium(): Promise<StubState> {
  const state = new StubState();
  const members = ['admin', 'h1', 'h3', 'v1', 'v2', 'v3'].map((name) => ({
    member_id: people[name].member_id, msp_id: people[name].msp_id, roles: people[name].roles,
    cert_pem: people[name].cert_pem,
  }));
  await run(state, 'admin', 'Bootstrap', { members }, 'boot');
  return state;
}

async function publish(state: StubState, taskId: string, extra: Record<string, unknown>): Promise<Record<string, unknown>> {
  const task = { ...publishVector.tx.args.task, task_id: taskId, committee_size: 2, quorum: 2, ...extra };
  await run(state, 'admin', 'PublishTask', { task }, `publish-${taskId}`);
  return task;
}

const submitArgs = (taskId: string) => ({
  task_id: taskId, base_version: 0, model_digest: sha256('update'), n_samples: 10,
  epsilon_spent: '1', commitment: sha256('commitment'),
});

/** h1's committee for the same update sent under 20 transaction ids (nothing kept). */
async function committees(state: StubState, taskId: string): Promise<Map<string, string[]>> {
  const found = new Map<string, string[]>();
  for (let i = 0; i < 20; i += 1) {
    const txId = sha256(`nonce ${i}`);
    const out = await run(state, 'h1', 'SubmitUpdate', submitArgs(taskId), txId, false);
    found.set(txId, out.result.committee as string[]);
  }
  return found;
}

const OTHERS = ['h3', 'v1', 'v2', 'v3'];

test('headSeed is sha256 of the domain-separated head and member, as head_seed in Python', () => {
  const digest = 'ab'.repeat(32);
  assert.equal(headSeed('block', 't', 3, digest, 'h2'), sha256(`consortium/committee/v1|block|t|3|${digest}|h2`));
  assert.notEqual(headSeed('update', 't', 3, digest, 'h2'), headSeed('block', 't', 3, digest, 'h2'));
});

test('committee_seed head: one committee per head and submitter, whatever the transaction id', async () => {
  const state = await consortium();
  const task = await publish(state, 'seeded', { committee_seed: 'head' });

  const drawn = [...(await committees(state, 'seeded')).values()];

  const seed = headSeed('update', 'seeded', 0, task.initial_model_digest as string, 'h1');
  const expected = drawCommittee(seed, OTHERS, 2);
  assert.deepEqual(new Set(drawn.map((c) => c.join())), new Set([expected.join()]));
  const stored = JSON.parse((state.data.get('task/seeded') as Buffer).toString('utf8'));
  assert.equal(stored.committee_seed, 'head');
});

test('a task without committee_seed keeps the transaction-id draw and its stored bytes', async () => {
  const state = await consortium();
  await publish(state, 'legacy', {});

  const drawn = await committees(state, 'legacy');

  for (const [txId, committee] of drawn) assert.deepEqual(committee, drawCommittee(txId, OTHERS, 2));
  assert.ok(new Set([...drawn.values()].map((c) => c.join())).size > 1); // the nonce chooses
  const stored = JSON.parse((state.data.get('task/legacy') as Buffer).toString('utf8'));
  assert.ok(!('committee_seed' in stored));
  const got = await run(state, 'v1', 'GetTask', { task_id: 'legacy' }, 'query');
  assert.equal(got.result.committee_seed, 'tx');
});
