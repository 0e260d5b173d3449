/**
 * Deterministic committees (the twin of consortium/ledger/contract/committee.py): candidates
 * ordered by sha256(tx_id + "|" + member_id) in hex, ties by member id, the first `size` taken.
 */

import { createHash } from 'node:crypto';

/** The sort key of `memberId` for `txId`. */
export function committeeRank(txId: string, memberId: string): string {
  return createHash('sha256').update(`${txId}|${memberId}`, 'utf8').digest('hex');
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The first `size` of `candidates` by rank. */
export function drawCommittee(txId: string, candidates: string[], size: number): string[] {
  const unique = [...new Set(candidates)];
  const ranked = unique
    .map((m) => [committeeRank(txId, m), m] as const)
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
