/**
 * Dispatch, in the order of checks the Python contract uses (consortium/ledger/contract/contract.py):
 * the function name (UNKNOWN_FUNCTION), the arguments (BAD_ARGS), then the transaction itself
 * (creator first, then its own rules).
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
  return TRANSACTIONS[fn](ctx, TX_ARGS[fn](plain, 'args'));
}

/** Run transaction or query `fn` with its argument text; throws ContractError to refuse. */
export async function execute(ctx: TxContext, fn: string, argsText: string): Promise<unknown> {
  if (!isTransaction(fn) && !isQuery(fn)) throw fail('UNKNOWN_FUNCTION', `no transaction or query '${fn}'`);
  return executeParsed(ctx, fn, parseArgsText(argsText));
}
