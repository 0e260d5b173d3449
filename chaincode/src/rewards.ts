/**
 * Reward split, the twin of consortium/pole/rewards.py: the sealer's share, then the largest
 * remainder method over contribution_ppm (ties by update id). BigInt: products exceed 2**53.
 */

export interface Contribution {
  updateId: string;
  memberId: string;
  contributionPpm: number;
}

/** Split `pool` units over updates by contribution (largest remainder). */
export function splitByUpdate(pool: bigint, parts: Contribution[]): Map<string, bigint> {
  const total = parts.reduce((a, c) => a + BigInt(c.contributionPpm), 0n);
  const shares = new Map<string, bigint>();
  for (const c of parts) shares.set(c.updateId, (pool * BigInt(c.contributionPpm)) / total);
  const rem = (c: Contribution): bigint => (pool * BigInt(c.contributionPpm)) % total;
  const ranked = [...parts].sort((a, b) => {
    const d = rem(b) - rem(a);
    if (d !== 0n) return d > 0n ? 1 : -1;
    return a.updateId < b.updateId ? -1 : a.updateId > b.updateId ? 1 : 0;
  });
  let left = pool - [...shares.values()].reduce((a, b) => a + b, 0n);
  for (const c of ranked) {
    if (left <= 0n) break;
    shares.set(c.updateId, (shares.get(c.updateId) as bigint) + 1n);
    left -= 1n;
  }
  return shares;
}

/**
 * `balance` plus `units`, stopping at 2**53 - 1 (Number.MAX_SAFE_INTEGER), the twin of
 * `credited` in rewards.py: refusing the block would stop the chain; units past the cap are lost.
 */
export function credited(balance: number, units: number): number {
  const sum = BigInt(balance) + BigInt(units); // exact, where a number sum would round
  const cap = BigInt(Number.MAX_SAFE_INTEGER);
  return Number(sum < cap ? sum : cap);
}

/** Units per member for one block, sorted by member id, members with zero units left out. */
export function splitRewards(
  blockReward: number, sealerShareBp: number, sealer: string, parts: Contribution[],
): Record<string, number> {
  const reward = BigInt(blockReward);
  const sealerUnits = (reward * BigInt(sealerShareBp)) / 10_000n;
  const units = new Map<string, bigint>([[sealer, sealerUnits]]);
  if (parts.some((c) => c.contributionPpm > 0)) {
    const perUpdate = splitByUpdate(reward - sealerUnits, parts);
    for (const c of parts) {
      units.set(c.memberId, (units.get(c.memberId) ?? 0n) + (perUpdate.get(c.updateId) as bigint));
    }
  } else {
    units.set(sealer, reward);
  }
  const out: Record<string, number> = {};
  for (const member of [...units.keys()].sort()) {
    const n = units.get(member) as bigint;
    if (n > 0n) out[member] = Number(n);
  }
  return out;
}
