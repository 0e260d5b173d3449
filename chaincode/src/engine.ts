/**
 * Dispatch, in the order of checks the Python contract uses (consortium/ledger/contract/contract.py):
 * the function name (UNKNOWN_FUNCTION), the arguments (BAD_ARGS), a transaction's timestamp
 * (BAD_TIMESTAMP), then the transaction itself (creator first, then its own rules).
 */

import { parseArgsText } from './args';
import { fail } from './errors';
import { attestBlock, postAggregate, proposeBlock, recordDownload } from './blocks';
import { bootstrap, registerMember, revokeMember, shareKey } from './members';
import { QUERIES } from './queries';
import { QUERY_ARGS, TX_ARGS } from './records';
import { TxContext } from './state';
import { endorse, publishTask, revealNonce, submitUpdate } from './updates';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Handler = (ctx: TxContext, args: any) => Promise<unknown>;

export const TRANSACTIONS: Record<string, Handler> = {
  Bootstrap: bootstrap,
  RegisterMember: registerMember,
  RevokeMember: revokeMember,
  ShareKey: shareKey,
  PublishTask: publishTask,
  SubmitUpdate: submitUpdate,
  RevealNonce: revealNonce,
  Endorse: endorse,
  PostAggregate: postAggregate,
  ProposeBlock: proposeBlock,
  AttestBlock: attestBlock,
  RecordDownload: recordDownload,
};

/** Whether `fn` names a query. */
export function isQuery(fn: string): boolean {
  return Object.prototype.hasOwnProperty.call(QUERIES, fn);
}

/** Whether `fn` names a transaction (a function that may write). */
export function isTransaction(fn: string): boolean {
  return Object.prototype.hasOwnProperty.call(TRANSACTIONS, fn);
}

/** Run `fn` on already parsed arguments; throws ContractError to refuse. */
export async function executeParsed(ctx: TxContext, fn: string, plain: Record<string, unknown>): Promise<unknown> {
  if (!isTransaction(fn) && !isQuery(fn)) throw fail('UNKNOWN_FUNCTION', `no transaction or query '${fn}'`);
  if (isQuery(fn)) return QUERIES[fn](ctx, QUERY_ARGS[fn](plain, 'args') as Record<string, unknown>);
  const args = TX_ARGS[fn](plain, 'args');
  checkTimestamp(ctx.timestampMs);
  return TRANSACTIONS[fn](ctx, args);
}

/**
 * Refuse a transaction stamped outside [0, 2**53 - 1] ms (BAD_TIMESTAMP), the twin of
 * check_timestamp in contract.py: records keep their times within those bounds, and the stamp is
 * the client's (Fabric does not check it).
 */
export function checkTimestamp(timestampMs: number): void {
  if (!Number.isSafeInteger(timestampMs) || timestampMs < 0) {
    throw fail(
      'BAD_TIMESTAMP',
      `the transaction is stamped ${timestampMs} ms, outside [0, 2**53 − 1] ms since the epoch: check the client's clock`,
    );
  }
}

/** Run transaction or query `fn` with its argument text; throws ContractError to refuse. */
export async function execute(ctx: TxContext, fn: string, argsText: string): Promise<unknown> {
  if (!isTransaction(fn) && !isQuery(fn)) throw fail('UNKNOWN_FUNCTION', `no transaction or query '${fn}'`);
  return executeParsed(ctx, fn, parseArgsText(argsText));
}
