/**
 * The consortium contract as Fabric chaincode: one chaincode function per transaction and query
 * of docs/decisions/0001-protocol.md, each taking the JSON argument text and returning canonical
 * JSON. A refusal fails the transaction with the message `CODE: explanation`.
 */

import { Context, Contract } from 'fabric-contract-api';

import { canonicalJson } from './canonical';
import { execute, TRANSACTIONS } from './engine';
import { ContractError } from './errors';
import { FabricTxContext } from './fabric';
import { QUERIES } from './queries';

/** Every chaincode function name: the transactions, then the queries. */
export const FUNCTIONS = [...Object.keys(TRANSACTIONS), ...Object.keys(QUERIES)];

export class ConsortiumContract extends Contract {
  constructor() {
    super('consortium');
  }

  /** Run `fn` for a Fabric context; the result is canonical JSON text. */
  async _run(ctx: Context, fn: string, argsText: string): Promise<string> {
    try {
      return canonicalJson(await execute(new FabricTxContext(ctx), fn, argsText ?? ''));
    } catch (error) {
      if (error instanceof ContractError) throw new Error(error.message);
      throw error;
    }
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
