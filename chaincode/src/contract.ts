/**
 * The consortium contract as Fabric chaincode: one chaincode function per transaction and query
 * of docs/decisions/0001-protocol.md, each taking the JSON argument text.
 *
 * The answer follows the envelope convention of docs/decisions/0006-fabric.md, so that a refused
 * transaction is still endorsed and stays on the ledger with its code, as 0001 requires:
 * - every function returns (status 200) the canonical JSON `{"code", "message", "result"}`, and a
 *   refused transaction writes nothing (writes are buffered until the code is known);
 * - every transaction function emits one chaincode event `tx` with the canonical JSON
 *   `{"fn", "args", "creator", "timestamp_ms", "code", "message", "result"}` (followers rebuild
 *   the ledger's transactions from it);
 * - arguments that have no canonical form (not a JSON object, a float, an integer beyond 2**53,
 *   a lone surrogate), a transaction stamped beyond 2**53 − 1 ms and unknown functions fail the call (`CODE: message`, status 500): they
 *   cannot be recorded faithfully, so they are not endorsed.
 */

import { Context, Contract } from 'fabric-contract-api';

import { parseArgsText } from './args';
import { canonicalBytes, canonicalJson } from './canonical';
import { executeParsed, isTransaction, TRANSACTIONS } from './engine';
import { ContractError } from './errors';
import { FabricTxContext } from './fabric';
import { QUERIES } from './queries';

/** Every chaincode function name: the transactions, then the queries. */
export const FUNCTIONS = [...Object.keys(TRANSACTIONS), ...Object.keys(QUERIES)];

export const EVENT_NAME = 'tx';

export class ConsortiumContract extends Contract {
  constructor() {
    super('consortium');
  }

  /** Run `fn` for a Fabric context; the answer is the canonical JSON envelope. */
  async _run(ctx: Context, fn: string, argsText: string): Promise<string> {
    let args: Record<string, unknown>;
    try {
      args = parseArgsText(argsText ?? '');
    } catch (error) {
      throw new Error((error as Error).message); // not endorsed: no faithful record possible
    }
    const tx = new FabricTxContext(ctx);
    let code = 'VALID';
    let message = '';
    let result: unknown = null;
    try {
      result = await executeParsed(tx, fn, args);
      await tx.flush();
    } catch (error) {
      if (!(error instanceof ContractError)) throw error; // a bug: fail, nothing endorsed
      // a transaction stamped beyond 2**53 - 1 ms: no event can hold the stamp, nothing endorsed
      if (isTransaction(fn) && !Number.isSafeInteger(tx.timestampMs)) throw new Error(error.message);
      [code, message] = [error.code, error.detail];
    }
    if (isTransaction(fn)) {
      const event = {
        fn, args, creator: tx.creator.memberId, timestamp_ms: tx.timestampMs, code, message, result,
      };
      ctx.stub.setEvent(EVENT_NAME, canonicalBytes(event));
    }
    return canonicalJson({ code, message, result });
  }

  async unknownTransaction(ctx: Context): Promise<void> {
    const { fcn } = ctx.stub.getFunctionAndParameters();
    throw new Error(`UNKNOWN_FUNCTION: no transaction or query '${fcn}'`);
  }
}

// One method per function, so that fabric-contract-api (which without decorators exposes every
// own method of the prototype) routes `Bootstrap`, `SubmitUpdate`, … here.
for (const fn of FUNCTIONS) {
  Object.defineProperty(ConsortiumContract.prototype, fn, {
    value: async function (this: ConsortiumContract, ctx: Context, argsText: string): Promise<string> {
      return this._run(ctx, fn, argsText);
    },
    writable: false,
    enumerable: false,
  });
}
