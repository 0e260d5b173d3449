/**
 * PoLe sealing (the twin of consortium/ledger/contract/_blocks.py and _aggregates.py):
 * PostAggregate, ProposeBlock, AttestBlock with finalization, RecordDownload.
 */

import { committeeOutcome, tally } from './committee';
import {
  earliestIntervalMs, isRetargetHeight, nextRequiredGain, requiredGainAt, tooEarly,
} from './difficulty';
import { fail } from './errors';
import {
  Aggregate, ATTEST_REASONS, AttestBlockArgs, Attestation, Head, Json, LearningBlock,
  PostAggregateArgs, Proposal, ProposeBlockArgs, RecordDownloadArgs,
} from './records';
import { credited, splitRewards } from './rewards';
import {
  authenticate, exists, isRevoked, read, requireRole, scan, TxContext, versionKey, write,
} from './state';
import { checkIncludable, draw, loadHead, loadTask, loadUpdate, TaskRecord } from './updates';

export async function postAggregate(ctx: TxContext, args: PostAggregateArgs): Promise<Json> {
  const member = await authenticate(ctx);
  requireRole(member, 'aggregator');
  const task = await loadTask(ctx, args.task_id);
  const head = await loadHead(ctx, args.task_id);
  await checkIncludable(ctx, task, head, args.updates);
  const aggregate = {
    aggregate_id: ctx.txId, task_id: args.task_id, head: head.height, updates: args.updates,
    weights_ppm: args.weights_ppm, contribution_ppm: args.contribution_ppm,
    aggregate_digest: args.aggregate_digest, by: member.member_id, ms: ctx.timestampMs,
  };
  await write(ctx, `aggregate/${args.task_id}/${ctx.txId}`, aggregate);
  return aggregate;
}

export async function loadAggregate(ctx: TxContext, taskId: string, id: string): Promise<Aggregate> {
  const aggregate = await read<Aggregate>(ctx, `aggregate/${taskId}/${id}`);
  if (aggregate === null) throw fail('AGGREGATE_NOT_FOUND', `no aggregate '${id}' in task '${taskId}'`);
  return aggregate;
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

async function checkAggregate(ctx: TxContext, args: ProposeBlockArgs): Promise<void> {
  const aggregate = await loadAggregate(ctx, args.task_id, args.aggregate_id);
  for (const name of ['updates', 'weights_ppm', 'contribution_ppm', 'aggregate_digest'] as const) {
    if (!same(aggregate[name], args[name])) {
      throw fail('AGGREGATE_MISMATCH', `${name} differs from aggregate ${aggregate.aggregate_id}`);
    }
  }
}

async function windowIntervals(ctx: TxContext, task: TaskRecord, height: number, interval: number): Promise<number[]> {
  if (!isRetargetHeight(task, height)) return [];
  const start = versionKey(task.task_id, height - task.retarget_every + 1);
  const found = await ctx.range(start, versionKey(task.task_id, height));
  const blocks = found.map(([, raw]) => JSON.parse(Buffer.from(raw).toString('utf8')) as LearningBlock);
  return [...blocks.map((b) => b.interval_ms), interval];
}

export async function proposeBlock(ctx: TxContext, args: ProposeBlockArgs): Promise<Json> {
  const sealer = await authenticate(ctx);
  requireRole(sealer, 'hospital');
  const task = await loadTask(ctx, args.task_id);
  const head = await loadHead(ctx, args.task_id);
  if (args.height !== head.height + 1) throw fail('WRONG_HEIGHT', `the next height is ${head.height + 1}`);
  if (args.parent_digest !== head.model_digest) {
    throw fail('WRONG_PARENT', "parent_digest is not the head's model_digest");
  }
  if (ctx.timestampMs < head.ms) {
    // a block's time never goes back: the next interval would count time that never passed
    throw fail('TOO_EARLY', `stamped ${head.ms - ctx.timestampMs} ms before the head: a block never precedes its parent`);
  }
  const interval = ctx.timestampMs - head.ms;
  if (tooEarly(task, interval)) {
    throw fail('TOO_EARLY', `no proposal before ${earliestIntervalMs(task)} ms after the head`);
  }
  if (args.aggregate_id) await checkAggregate(ctx, args);
  await checkIncludable(ctx, task, head, args.updates);
  const window = await windowIntervals(ctx, task, args.height, interval);
  const expected = nextRequiredGain(task, head.required_gain_bp, window, args.height);
  if (args.next_required_gain_bp !== expected) {
    throw fail('WRONG_DIFFICULTY', `next_required_gain_bp must be ${expected}`);
  }
  const committee = await draw(ctx, task, head, 'block', sealer.member_id);
  const proposal = {
    ...args, proposal_id: ctx.txId, interval_ms: interval,
    required_gain_bp: requiredGainAt(task, head.required_gain_bp, interval),
    sealer: sealer.member_id, committee, quorum: task.quorum, ms: ctx.timestampMs,
    status: 'open', closed_ms: null,
  };
  await write(ctx, `proposal/${task.task_id}/${ctx.txId}`, proposal);
  return proposal;
}

export async function loadProposal(ctx: TxContext, taskId: string, id: string): Promise<Proposal> {
  const proposal = await read<Proposal>(ctx, `proposal/${taskId}/${id}`);
  if (proposal === null) throw fail('PROPOSAL_NOT_FOUND', `no proposal '${id}' in task '${taskId}'`);
  return proposal;
}

export async function attestations(ctx: TxContext, proposalId: string): Promise<Attestation[]> {
  return scan<Attestation>(ctx, `attest/${proposalId}/`);
}

export async function attestBlock(ctx: TxContext, args: AttestBlockArgs): Promise<Json> {
  const member = await authenticate(ctx);
  requireRole(member, 'verifier');
  const proposal = await loadProposal(ctx, args.task_id, args.proposal_id);
  if (proposal.status !== 'open') throw fail('PROPOSAL_CLOSED', `the proposal is closed (${proposal.status})`);
  if (!proposal.committee.includes(member.member_id)) {
    throw fail('NOT_IN_COMMITTEE', `'${member.member_id}' is not in this committee`);
  }
  const key = `attest/${proposal.proposal_id}/${member.member_id}`;
  if (await exists(ctx, key)) throw fail('ALREADY_ATTESTED', 'one attestation per member and proposal');
  await checkReason(ctx, args);
  // reason is left out unless given: an attestation without one keeps the bytes it had before
  // reasons existed, so a ledger written then replays the same
  const mine: Attestation = {
    proposal_id: proposal.proposal_id, member_id: member.member_id, verdict: args.verdict,
    metric_bp: args.metric_bp, base_metric_bp: args.base_metric_bp, ms: ctx.timestampMs,
    ...(args.reason !== null ? { reason: args.reason } : {}),
  };
  const every = [...(await attestations(ctx, proposal.proposal_id)), mine];
  const accepts = every.filter((a) => a.verdict === 'accept');
  const outcome = committeeOutcome(proposal.committee.length, proposal.quorum, tally(every));
  let status = 'open';
  let block: Json | null = null;
  if (outcome === 'accept') {
    [status, block] = await finalize(ctx, proposal, accepts);
  } else if (outcome === 'reject') {
    status = 'rejected'; // the seats still open cannot bring the accepts needed
  }
  if (status !== 'open') {
    const closed = { ...proposal, status, closed_ms: ctx.timestampMs };
    await write(ctx, `proposal/${proposal.task_id}/${proposal.proposal_id}`, closed);
  }
  await write(ctx, key, mine);
  return { attestation: mine, proposal_status: status, block };
}

/**
 * REASON_MISSING: a reject without a reason, in a task published with attest_reasons (a task
 * published before the field takes one, as it did then).
 */
async function checkReason(ctx: TxContext, args: AttestBlockArgs): Promise<void> {
  if (args.verdict !== 'reject' || args.reason !== null) return;
  if ((await loadTask(ctx, args.task_id)).attest_reasons) {
    throw fail('REASON_MISSING', 'a reject must say which check the proposal failed: give reason, '
      + `one of ${ATTEST_REASONS.join(', ')} (task '${args.task_id}' sets attest_reasons)`);
  }
}

/** The accepting attestation with the lower-median gain (ties by member id). */
export function medianAttestation(accepts: Attestation[]): Attestation {
  const gain = (a: Attestation): number => a.metric_bp - a.base_metric_bp;
  const ranked = [...accepts].sort((a, b) => gain(a) - gain(b) || (a.member_id < b.member_id ? -1 : 1));
  return ranked[Math.floor((ranked.length - 1) / 2)];
}

const BLOCK_FIELDS = [
  'task_id', 'height', 'parent_digest', 'model_digest', 'blob_digest', 'aggregate_id',
  'aggregate_digest', 'updates', 'weights_ppm', 'contribution_ppm', 'sealer', 'proposal_id',
  'next_required_gain_bp', 'interval_ms', 'ms',
];

async function finalize(ctx: TxContext, proposal: Proposal, accepts: Attestation[]): Promise<[string, Json | null]> {
  const head = await loadHead(ctx, proposal.task_id);
  if (head.height + 1 !== proposal.height || head.model_digest !== proposal.parent_digest) {
    return ['superseded', null];
  }
  if (await namesARevokedMember(ctx, proposal)) return ['member_revoked', null];
  const median = medianAttestation(accepts);
  const gain = median.metric_bp - median.base_metric_bp;
  // the head's requirement, decayed to the proposal's interval
  if (gain < proposal.required_gain_bp) return ['below_target', null];
  const task = await loadTask(ctx, proposal.task_id);
  const rewards = await pay(ctx, task, proposal);
  const block: Json = Object.fromEntries(BLOCK_FIELDS.map((f) => [f, proposal[f]]));
  Object.assign(block, {
    required_gain_bp: proposal.required_gain_bp, metric_bp: median.metric_bp,
    base_metric_bp: median.base_metric_bp, gain_bp: gain,
    attesters: accepts.map((a) => a.member_id).sort(), rewards,
  });
  const newHead: Head = {
    task_id: proposal.task_id, height: proposal.height, model_digest: block.model_digest as string,
    blob_digest: block.blob_digest as string, ms: proposal.ms,
    required_gain_bp: proposal.next_required_gain_bp,
  };
  await write(ctx, versionKey(proposal.task_id, proposal.height), block);
  await write(ctx, `head/${proposal.task_id}`, newHead);
  for (const updateId of proposal.updates) {
    await write(ctx, `included/${updateId}`, { update_id: updateId, task_id: proposal.task_id, height: proposal.height });
  }
  return ['final', block];
}

/**
 * Was the sealer, or the member of an update, revoked while the proposal was open? ProposeBlock
 * refuses both; a revocation before the quorum must not let the block in either.
 */
async function namesARevokedMember(ctx: TxContext, proposal: Proposal): Promise<boolean> {
  const members = [proposal.sealer];
  for (const id of proposal.updates) {
    members.push((await loadUpdate(ctx, proposal.task_id, id)).member_id);
  }
  for (const memberId of members) {
    if (await isRevoked(ctx, memberId)) return true;
  }
  return false;
}

async function pay(ctx: TxContext, task: TaskRecord, proposal: Proposal): Promise<Record<string, number>> {
  const parts = [];
  for (let i = 0; i < proposal.updates.length; i++) {
    const update = await loadUpdate(ctx, task.task_id, proposal.updates[i]);
    parts.push({ updateId: update.update_id, memberId: update.member_id, contributionPpm: proposal.contribution_ppm[i] });
  }
  const rewards = splitRewards(task.block_reward, task.sealer_share_bp, proposal.sealer, parts);
  for (const [memberId, units] of Object.entries(rewards)) {
    const balance = await read<{ units: number }>(ctx, `balance/${memberId}`);
    await write(ctx, `balance/${memberId}`, { member_id: memberId, units: credited(balance?.units ?? 0, units) });
  }
  return rewards;
}

export async function recordDownload(ctx: TxContext, args: RecordDownloadArgs): Promise<Json> {
  const member = await authenticate(ctx);
  if (!member.roles.some((r) => ['hospital', 'verifier', 'admin'].includes(r))) {
    if (member.roles.includes('auditor')) {
      throw fail('ROLE_FORBIDDEN', 'auditors review the ledger, they cannot download');
    }
    requireRole(member, 'hospital', 'verifier', 'admin');
  }
  await loadTask(ctx, args.task_id);
  const version = await read<LearningBlock>(ctx, versionKey(args.task_id, args.version));
  if (version === null) throw fail('VERSION_NOT_FOUND', `task '${args.task_id}' has no version ${args.version}`);
  if (version.model_digest !== args.model_digest) {
    throw fail('DIGEST_MISMATCH', "model_digest is not the version's digest");
  }
  const download = {
    download_id: ctx.txId, member_id: member.member_id, task_id: args.task_id,
    version: args.version, model_digest: args.model_digest, ms: ctx.timestampMs,
  };
  await write(ctx, `download/${ctx.txId}`, download);
  return download;
}
