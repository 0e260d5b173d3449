/**
 * A stub of Fabric's chaincode context for tests: getState/putState/getStateByRange with Fabric's
 * rule that reads see the committed state, not the transaction's own writes; getTxID,
 * getTxTimestamp, getSignedProposal (its channel header's timestamp), getCreator (so that
 * fabric-shim's real ClientIdentity parses the certificate). shim.test.ts runs the real
 * ChaincodeStub where this stub could share a misreading of it.
 */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { ClientIdentity } from 'fabric-shim';
import type { Context } from 'fabric-contract-api';

import { compareCodePoints } from '../src/canonical';

/** The shared vectors (this file runs from chaincode/dist/test/). */
export const CASES = join(__dirname, '..', '..', '..', 'data_schemas', 'vectors', 'cases');

/** The argument vectors, expanded to the shape of a case file (one creator for all). */
export function argumentVectors(): Array<Record<string, unknown> & { name: string }> {
  const file = join(__dirname, '..', '..', '..', 'data_schemas', 'vectors', 'arguments.json');
  const data = JSON.parse(readFileSync(file, 'utf8'));
  return data.vectors.map((v: Record<string, unknown>) => ({ ...v, creator: data.creator }));
}

export interface StubCreator {
  msp_id: string;
  cert_pem: string;
}

export class StubState {
  readonly data = new Map<string, Buffer>();

  sortedKeys(): string[] {
    return [...this.data.keys()].sort(compareCodePoints);
  }
}

export class ChaincodeStubFake {
  readonly writes = new Map<string, Buffer>();
  readonly events: Array<{ name: string; payload: string }> = [];

  constructor(
    private readonly state: StubState,
    private readonly txId: string,
    private readonly timestampMs: number,
    private readonly creator: StubCreator,
    private readonly fn = '',
    private readonly args: string[] = [],
  ) {}

  getTxID(): string {
    return this.txId;
  }

  getChannelID(): string {
    return 'consortium';
  }

  getTxTimestamp(): { seconds: { toString(): string }; nanos: number } {
    const seconds = Math.floor(this.timestampMs / 1000); // nanos never negative, as in protobuf
    return { seconds: { toString: () => String(seconds) }, nanos: (this.timestampMs - seconds * 1000) * 1_000_000 };
  }

  /** The decoded proposal as fabric-shim keeps it: here only the channel header's timestamp. */
  getSignedProposal(): unknown {
    const { seconds, nanos } = this.getTxTimestamp();
    const timestamp = { getSeconds: () => Number(seconds.toString()), getNanos: () => nanos };
    return { proposal: { header: { channelHeader: { getTimestamp: () => timestamp } } } };
  }

  getCreator(): { mspid: string; idBytes: Uint8Array } {
    return { mspid: this.creator.msp_id, idBytes: Buffer.from(this.creator.cert_pem, 'utf8') };
  }

  getFunctionAndParameters(): { fcn: string; params: string[] } {
    return { fcn: this.fn, params: this.args };
  }

  /** The raw invocation arguments: the function name, then the argument text. */
  getBufferArgs(): Buffer[] {
    return [this.fn, ...this.args].map((a) => Buffer.from(a, 'utf8'));
  }

  async getState(key: string): Promise<Uint8Array> {
    return this.state.data.get(key) ?? Buffer.alloc(0);
  }

  async putState(key: string, value: Uint8Array): Promise<void> {
    this.writes.set(key, Buffer.from(value));
  }

  async getStateByRange(start: string, end: string) {
    const keys = this.state.sortedKeys().filter(
      (k) => compareCodePoints(k, start) >= 0 && (end === '' || compareCodePoints(k, end) < 0),
    );
    let i = 0;
    const data = this.state.data;
    return {
      async next() {
        if (i >= keys.length) return { done: true, value: undefined as never };
        const key = keys[i++];
        return { done: false, value: { namespace: 'consortium', key, value: data.get(key) as Buffer } };
      },
      async close() {},
    };
  }

  setEvent(name: string, payload: Uint8Array): void {
    this.events.push({ name, payload: Buffer.from(payload).toString('utf8') });
  }

  /** Apply the write set (what a peer does when the transaction is valid). */
  commit(): void {
    for (const [key, value] of this.writes) this.state.data.set(key, value);
  }
}

/** A Fabric Context with the real ClientIdentity parsing the stub's creator certificate. */
export function fabricContext(stub: ChaincodeStubFake): Context {
  const clientIdentity = new ClientIdentity(stub as never);
  return { stub, clientIdentity } as unknown as Context;
}
