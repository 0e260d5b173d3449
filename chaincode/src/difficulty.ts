/**
 * PoLe difficulty retargeting, the twin of consortium/pole/difficulty.py (formula and reasoning
 * there and in docs/decisions/0001-protocol.md). BigInt arithmetic with floor division toward −∞,
 * since products may exceed 2**53 and BigInt division truncates toward zero.
 */

export interface DifficultyParams {
  target_interval_ms: number;
  retarget_every: number;
  min_required_gain_bp: number;
  max_required_gain_bp: number;
}

/** The task fields the decaying requirement reads. */
export interface DecayParams {
  target_interval_ms: number;
  min_required_gain_bp: number;
  gain_decay_intervals: number;
}

/** The task fields the target-interval gate reads. */
export interface GateParams {
  target_interval_ms: number;
  min_interval_bp: number;
}

const MIN_ADJUST_BP = 50n;

/** Floor division of BigInts (toward −∞, as Python's //). */
export function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return (a % b !== 0n) && ((a < 0n) !== (b < 0n)) ? q - 1n : q;
}

const max = (a: bigint, b: bigint): bigint => (a > b ? a : b);
const min = (a: bigint, b: bigint): bigint => (a < b ? a : b);

/** The shortest interval the gate accepts: ceil(target_interval_ms × min_interval_bp / 10⁴). */
export function earliestIntervalMs(task: GateParams): number {
  return Number(-floorDiv(-BigInt(task.target_interval_ms) * BigInt(task.min_interval_bp), 10_000n));
}

/** Whether a proposal `intervalMs` after the head falls before the target-interval gate. */
export function tooEarly(task: GateParams, intervalMs: number): boolean {
  return BigInt(intervalMs) * 10_000n < BigInt(task.target_interval_ms) * BigInt(task.min_interval_bp);
}

/** The gain a proposal made `intervalMs` after the head must show (the decaying requirement). */
export function requiredGainAt(task: DecayParams, headRequiredGainBp: number, intervalMs: number): number {
  const late = BigInt(intervalMs) - BigInt(task.target_interval_ms);
  const head = BigInt(headRequiredGainBp);
  const floor = BigInt(task.min_required_gain_bp);
  if (task.gain_decay_intervals === 0 || late <= 0n || head <= floor) return headRequiredGainBp;
  const span = BigInt(task.gain_decay_intervals) * BigInt(task.target_interval_ms);
  return Number(max(floor, head - floorDiv((head - floor) * late, span)));
}

/** Whether the block at `height` recomputes the requirement for its successor. */
export function isRetargetHeight(task: DifficultyParams, height: number): boolean {
  return height >= 1 && height % task.retarget_every === 0;
}

/** The retargeting formula for `oldBp` over the window's intervals. */
export function retarget(task: DifficultyParams, oldBp: number, intervalsMs: number[]): number {
  const old = BigInt(oldBp);
  const target = BigInt(task.retarget_every) * BigInt(task.target_interval_ms);
  const sum = intervalsMs.reduce((a, b) => a + BigInt(b), 0n);
  const actual = min(max(sum, target / 4n), 4n * target);
  const adjust = max(MIN_ADJUST_BP, old < 0n ? -old : old);
  const next = old + floorDiv(adjust * (target - actual), max(target, actual));
  const clamped = min(max(next, BigInt(task.min_required_gain_bp)), BigInt(task.max_required_gain_bp));
  return Number(clamped);
}

/** The gain required of block `height + 1`, as block `height` must state it. */
export function nextRequiredGain(
  task: DifficultyParams, parentRequiredGainBp: number, recentIntervalsMs: number[], height: number,
): number {
  if (!isRetargetHeight(task, height)) return parentRequiredGainBp;
  if (recentIntervalsMs.length !== task.retarget_every) {
    throw new Error(`retargeting at height ${height} needs ${task.retarget_every} intervals`);
  }
  return retarget(task, parentRequiredGainBp, recentIntervalsMs);
}
