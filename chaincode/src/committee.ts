/**
 * Deterministic committees (the twin of consortium/ledger/contract/committee.py): candidates
 * ordered by sha256(seed + "|" + member_id) in hex, ties by member id, the first `size` taken.
 * The seed is headSeed (the task's head and the submitter or proposer), or the transaction id for
 * a task published without committee_seed "head".
 */

import { createHash } from 'node:crypto';

const HEAD_SEED_PREFIX = 'consortium/committee/v1|';

/** The sort key of `memberId` for `seed`. */
export function committeeRank(seed: string, memberId: string): string {
  return createHash('sha256').update(`${seed}|${memberId}`, 'utf8').digest('hex');
}

/**
 * sha256("consortium/committee/v1|{kind}|{task_id}|{height}|{model_digest}|{member_id}") in hex:
 * the seed of `memberId`'s committee while the head is version `height` with `modelDigest`
 * (the twin of head_seed). Nothing in it is the submitter's to choose: one draw per head.
 */
export function headSeed(
  kind: 'update' | 'block', taskId: string, height: number, modelDigest: string, memberId: string,
): string {
  const text = `${HEAD_SEED_PREFIX}${kind}|${taskId}|${height}|${modelDigest}|${memberId}`;
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The first `size` of `candidates` by rank. */
export function drawCommittee(seed: string, candidates: string[], size: number): string[] {
  const unique = [...new Set(candidates)];
  const ranked = unique
    .map((m) => [committeeRank(seed, m), m] as const)
    .sort((x, y) => cmp(x[0], y[0]) || cmp(x[1], y[1]));
  return ranked.slice(0, Math.max(size, 0)).map(([, m]) => m);
}

/**
 * Accepts a committee needs when `seats` of its members have not abstained: the quorum shrinks only
 * when fewer seats than the quorum are left, and never below one accept.
 */
export function quorumOfSeats(quorum: number, seats: number): number {
  return Math.max(1, Math.min(quorum, seats));
}

export interface Tally { accepts: number; rejects: number; abstentions: number }

/**
 * 'accept', 'reject' or null (still open) for a committee's verdicts so far (the twin of
 * committee_outcome): seats = size - abstentions; accepted at accepts >= quorumOfSeats(quorum,
 * seats), rejected once the seats not rejecting cannot bring them. Every member abstaining is a
 * rejection (seats = 0). Shared by update endorsements and block attestations.
 */
export function committeeOutcome(size: number, quorum: number, t: Tally): 'accept' | 'reject' | null {
  const seats = size - t.abstentions;
  const needed = quorumOfSeats(quorum, seats);
  if (t.accepts >= needed) return 'accept';
  if (seats - t.rejects < needed) return 'reject';
  return null;
}

/** The tally of a list of verdicts. */
export function tally(verdicts: { verdict: string }[]): Tally {
  const accepts = verdicts.filter((v) => v.verdict === 'accept').length;
  const rejects = verdicts.filter((v) => v.verdict === 'reject').length;
  return { accepts, rejects, abstentions: verdicts.length - accepts - rejects };
}
