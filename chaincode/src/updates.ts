/**
 * Task and update transactions (the twin of consortium/ledger/contract/_updates.py): PublishTask,
 * SubmitUpdate, RevealNonce, Endorse. An update's status is derived from its endorsements.
 */

import { createHash } from 'node:crypto';

import { committeeOutcome, drawCommittee, headSeed, tally } from './committee';
import { fail } from './errors';
import {
  EndorseArgs, Endorsement, Head, Json, PublishTaskArgs, RevealNonceArgs, SubmitUpdateArgs, Task,
  Update,
} from './records';
import {
  activeVerifiers, authenticate, decimalCmp, exists, isRevoked, read, requireRole, scan, TxContext,
  versionKey, write,
} from './state';

const SML_COMMIT_PREFIX = 'consortium/sml-commit/v1|';

/** sha256("consortium/sml-commit/v1|" + nonce) in hex. */
export function smlCommitment(nonce: string): string {
  return createHash('sha256').update(SML_COMMIT_PREFIX + nonce, 'utf8').digest('hex');
}

export type TaskRecord = Task & { published_by: string; published_ms: number };

/**
 * Task fields added after tasks were first stored, with the value that keeps the earlier rule
 * (as the Python records' defaults do): a network upgraded in place reads its older tasks so.
 */
const TASK_DEFAULTS = {
  min_interval_bp: 0, gain_decay_intervals: 0, verification_set_digest: null, committee_seed: 'tx',
  verdict_timeout_ms: 0, attest_reasons: false,
};

/** A stored task with the fields it predates at their defaults. */
export function withTaskDefaults(task: TaskRecord): TaskRecord {
  return { ...TASK_DEFAULTS, ...task };
}

export async function loadTask(ctx: TxContext, taskId: string): Promise<TaskRecord> {
  const task = await read<TaskRecord>(ctx, `task/${taskId}`);
  if (task === null) throw fail('TASK_NOT_FOUND', `no task '${taskId}'`);
  return withTaskDefaults(task);
}

export async function loadHead(ctx: TxContext, taskId: string): Promise<Head> {
  const head = await read<Head>(ctx, `head/${taskId}`);
  if (head === null) throw fail('TASK_NOT_FOUND', `no task '${taskId}'`);
  return head;
}

/**
 * The committee of `memberId`'s update or proposal: the task's committee_size of the active
 * verifiers other than `memberId`, drawn with headSeed, or with the transaction id for a task
 * published without committee_seed "head"; NO_COMMITTEE when fewer than the quorum.
 */
export async function draw(
  ctx: TxContext, task: TaskRecord, head: Head, kind: 'update' | 'block', memberId: string,
): Promise<string[]> {
  const candidates = (await activeVerifiers(ctx)).filter((m) => m !== memberId);
  const seed = task.committee_seed === 'tx'
    ? ctx.txId
    : headSeed(kind, task.task_id, head.height, head.model_digest, memberId);
  const committee = drawCommittee(seed, candidates, task.committee_size);
  if (committee.length < task.quorum) {
    throw fail('NO_COMMITTEE', `${committee.length} verifiers < quorum ${task.quorum}`);
  }
  return committee;
}

export async function loadUpdate(ctx: TxContext, taskId: string, updateId: string): Promise<Update> {
  const update = await read<Update>(ctx, `update/${taskId}/${updateId}`);
  if (update === null) throw fail('UPDATE_NOT_FOUND', `no update '${updateId}' in task '${taskId}'`);
  return update;
}

export async function endorsements(ctx: TxContext, updateId: string): Promise<Endorsement[]> {
  return scan<Endorsement>(ctx, `endorse/${updateId}/`);
}

/**
 * accepted, rejected or pending from the endorsements so far (committeeOutcome, the rule
 * attestations follow too): an abstention gives its seat up; every seat abstaining is a rejection.
 * `gone`: committee members revoked before their verdict, whose seats leave as abstentions do.
 */
export function statusOf(update: Update, found: Endorsement[], gone = 0): string {
  const t = tally(found);
  const seats = { ...t, abstentions: t.abstentions + gone };
  const outcome = committeeOutcome(update.committee.length, update.quorum, seats);
  return outcome === 'accept' ? 'accepted' : outcome === 'reject' ? 'rejected' : 'pending';
}

/**
 * When the seats of `update` that have not endorsed count as abstentions: its reveal (when
 * verification can start) plus the task's verdict_timeout_ms; null without a timeout or a reveal.
 */
export function verdictDeadlineMs(task: TaskRecord, update: Update): number | null {
  if (task.verdict_timeout_ms === 0 || update.revealed_ms === null) return null;
  return update.revealed_ms + task.verdict_timeout_ms;
}

/**
 * The update's status at the transaction's timestamp, 'included' once a block holds it. A
 * committee member revoked before its verdict gives its seat up, and so does a seat still silent at
 * the update's verdictDeadlineMs (read for a pending update only: a seat leaving never turns an
 * accepted update rejected or a rejected one accepted).
 */
export async function derivedStatus(ctx: TxContext, update: Update): Promise<string> {
  if (await exists(ctx, `included/${update.update_id}`)) return 'included';
  const found = await endorsements(ctx, update.update_id);
  const status = statusOf(update, found);
  if (status !== 'pending') return status;
  const judged = new Set(found.map((e) => e.member_id));
  const deadline = verdictDeadlineMs(await loadTask(ctx, update.task_id), update);
  const expired = deadline !== null && ctx.timestampMs >= deadline;
  let gone = 0;
  for (const memberId of update.committee) {
    if (!judged.has(memberId) && (expired || (await isRevoked(ctx, memberId)))) gone += 1;
  }
  return statusOf(update, found, gone);
}

/**
 * Each update exists, is accepted, is in no learning block yet, comes from a member not revoked
 * and is at most max_staleness versions behind the head: revocation reaches everything not yet in
 * a block (blocks appended before stay as they are), and the head moves on while an update waits.
 */
export async function checkIncludable(
  ctx: TxContext, task: TaskRecord, head: Head, ids: string[],
): Promise<Update[]> {
  const found: Update[] = [];
  for (const id of ids) {
    const update = await loadUpdate(ctx, task.task_id, id);
    const status = await derivedStatus(ctx, update);
    if (status === 'included') throw fail('UPDATE_ALREADY_INCLUDED', `update ${id} is in a block already`);
    if (status !== 'accepted') throw fail('UPDATE_NOT_ACCEPTED', `update ${id} is ${status}`);
    if (await isRevoked(ctx, update.member_id)) {
      const why = "a revoked member's updates enter no block; leave it out";
      throw fail('MEMBER_REVOKED', `update ${id} is from '${update.member_id}', revoked since: ${why}`);
    }
    if (head.height - update.base_version > task.max_staleness) {
      throw fail('STALE_BASE', `update ${id} is on version ${update.base_version}, more than max_staleness `
        + `${task.max_staleness} behind the head ${head.height}: it enters no block; leave it out`);
    }
    found.push(update);
  }
  return found;
}

export async function publishTask(ctx: TxContext, args: PublishTaskArgs): Promise<Json> {
  const admin = await authenticate(ctx);
  requireRole(admin, 'admin');
  const task = args.task;
  if (await exists(ctx, `task/${task.task_id}`)) throw fail('TASK_EXISTS', `task '${task.task_id}' exists`);
  const ms = ctx.timestampMs;
  const { committee_seed: seed, verdict_timeout_ms: timeout, attest_reasons: reasons, ...rest } = task;
  // committee_seed is stored only when 'head', verdict_timeout_ms and attest_reasons only when set:
  // a task without them keeps the bytes it had before the fields existed, so a ledger written then
  // replays the same
  const record = {
    ...rest, ...(seed === 'head' ? { committee_seed: seed } : {}),
    ...(timeout !== 0 ? { verdict_timeout_ms: timeout } : {}),
    ...(reasons ? { attest_reasons: true } : {}),
    published_by: admin.member_id, published_ms: ms,
  };
  const genesis = {
    task_id: task.task_id, height: 0, parent_digest: null, model_digest: task.initial_model_digest,
    blob_digest: task.initial_blob_digest, aggregate_id: '', aggregate_digest: null, updates: [],
    weights_ppm: [], contribution_ppm: [], sealer: admin.member_id, proposal_id: ctx.txId,
    metric_bp: 0, base_metric_bp: 0, gain_bp: 0, attesters: [],
    required_gain_bp: task.initial_required_gain_bp,
    next_required_gain_bp: task.initial_required_gain_bp, interval_ms: 0, ms, rewards: {},
  };
  const head: Head = {
    task_id: task.task_id, height: 0, model_digest: task.initial_model_digest,
    blob_digest: task.initial_blob_digest, ms, required_gain_bp: task.initial_required_gain_bp,
  };
  await write(ctx, `task/${task.task_id}`, record);
  await write(ctx, versionKey(task.task_id, 0), genesis);
  await write(ctx, `head/${task.task_id}`, head);
  return record;
}

async function checkBudget(ctx: TxContext, task: TaskRecord, memberId: string, spent: string): Promise<void> {
  if (decimalCmp(spent, task.epsilon_budget) > 0) {
    throw fail('BUDGET_EXCEEDED', `ε ${spent} exceeds the budget ${task.epsilon_budget}`);
  }
  const previous = await read<{ epsilon_spent: string }>(ctx, `epsilon/${task.task_id}/${memberId}`);
  if (previous !== null && decimalCmp(spent, previous.epsilon_spent) < 0) {
    throw fail('EPSILON_DECREASED', `cumulative ε ${spent} is below the ${previous.epsilon_spent} declared before`);
  }
}

export async function submitUpdate(ctx: TxContext, args: SubmitUpdateArgs): Promise<Json> {
  const member = await authenticate(ctx);
  requireRole(member, 'hospital');
  const task = await loadTask(ctx, args.task_id);
  const head = await loadHead(ctx, args.task_id);
  if (args.base_version > head.height) {
    throw fail('VERSION_NOT_FOUND', `version ${args.base_version} does not exist yet`);
  }
  if (head.height - args.base_version > task.max_staleness) {
    throw fail('STALE_BASE', `base ${args.base_version} is too old (head ${head.height})`);
  }
  if (task.sml && !args.commitment) {
    throw fail('COMMITMENT_MISSING', "this task uses SML: send the nonce's commitment");
  }
  const subKey = `sub/${task.task_id}/${String(args.base_version).padStart(8, '0')}/${member.member_id}`;
  if (await exists(ctx, subKey)) {
    throw fail('DUPLICATE_SUBMISSION', `one update per member on base ${args.base_version}`);
  }
  await checkBudget(ctx, task, member.member_id, args.epsilon_spent);
  const committee = await draw(ctx, task, head, 'update', member.member_id);
  const update = {
    update_id: ctx.txId, task_id: args.task_id, member_id: member.member_id,
    base_version: args.base_version, model_digest: args.model_digest, n_samples: args.n_samples,
    epsilon_spent: args.epsilon_spent, commitment: args.commitment, committee,
    quorum: task.quorum, submitted_ms: ctx.timestampMs, nonce: null, unmapped_digest: null,
    revealed_ms: null,
  };
  const epsilon = {
    task_id: task.task_id, member_id: member.member_id, epsilon_spent: args.epsilon_spent,
    ms: ctx.timestampMs,
  };
  await write(ctx, `update/${task.task_id}/${ctx.txId}`, update);
  await write(ctx, subKey, ctx.txId);
  await write(ctx, `epsilon/${task.task_id}/${member.member_id}`, epsilon);
  return update;
}

export async function revealNonce(ctx: TxContext, args: RevealNonceArgs): Promise<Json> {
  const member = await authenticate(ctx);
  const task = await loadTask(ctx, args.task_id);
  const update = await loadUpdate(ctx, args.task_id, args.update_id);
  if (update.member_id !== member.member_id) throw fail('NOT_SUBMITTER', 'only the submitter reveals its nonce');
  if (update.nonce !== null) throw fail('ALREADY_REVEALED', 'the nonce of this update is revealed already');
  const opened = update.commitment
    ? smlCommitment(args.nonce) === update.commitment
    : !task.sml && args.nonce === '';
  if (!opened) throw fail('COMMITMENT_MISMATCH', "the nonce does not open the update's commitment");
  const revealed = {
    ...update, nonce: args.nonce, unmapped_digest: args.unmapped_digest, revealed_ms: ctx.timestampMs,
  };
  await write(ctx, `update/${args.task_id}/${args.update_id}`, revealed);
  return revealed;
}

export async function endorse(ctx: TxContext, args: EndorseArgs): Promise<Json> {
  const member = await authenticate(ctx);
  requireRole(member, 'verifier');
  const update = await loadUpdate(ctx, args.task_id, args.update_id);
  if (update.member_id === member.member_id) throw fail('SELF_ENDORSEMENT', 'a member never endorses its own update');
  if (!update.committee.includes(member.member_id)) {
    throw fail('NOT_IN_COMMITTEE', `'${member.member_id}' is not in this committee`);
  }
  if (update.nonce === null) throw fail('NOT_REVEALED', "wait for the submitter's RevealNonce");
  const key = `endorse/${update.update_id}/${member.member_id}`;
  if (await exists(ctx, key)) throw fail('ALREADY_ENDORSED', 'one endorsement per member and update');
  // a verdict after the deadline would reopen a status the expired seat's abstention decided
  const deadline = verdictDeadlineMs(await loadTask(ctx, args.task_id), update);
  if (deadline !== null && ctx.timestampMs >= deadline) {
    throw fail('VERDICT_CLOSED', `the task's verdict_timeout_ms passed at ${deadline} ms (reveal + timeout): `
      + 'this seat counts as an abstention now and takes no verdict; nothing to do');
  }
  const endorsement = {
    update_id: update.update_id, member_id: member.member_id, verdict: args.verdict,
    reason: args.reason, metric_bp: args.metric_bp, scores: args.scores, ms: ctx.timestampMs,
  };
  // No range read of the other endorsements: concurrent endorsements must not conflict in Fabric.
  await write(ctx, key, endorsement);
  return endorsement;
}
