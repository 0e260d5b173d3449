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
