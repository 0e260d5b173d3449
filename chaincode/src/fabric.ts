/**
 * The bridge from Fabric's chaincode context (stub + client identity) to the contract's TxContext.
 *
 * The creator is identified by its certificate: the member id is the Fabric CA attribute
 * `consortium.member` (extension OID 1.2.3.4.5.6.7.8.1, JSON {"attrs": {...}}), else the subject
 * CN, as consortium/identity does; the ledger's member record then decides, by the certificate's
 * DER digest, whether the signer really is that member and which roles it holds.
 */

import type { Context } from 'fabric-contract-api';

import { Creator, TxContext } from './state';

/** The client identity methods the bridge needs (fabric-shim's ClientIdentity has them). */
export interface IdentityLike {
  getMSPID(): string;
  getID(): string;
  getIDBytes(): Uint8Array;
  getAttributeValue(name: string): string | null;
}

/** The CN of the subject in fabric-shim's `x509::/O=…/CN=name::/…issuer` id. */
export function subjectCommonName(id: string): string {
  const subject = id.split('::')[1] ?? '';
  const match = /\/CN=((?:\\\/|[^/])*)/.exec(subject);
  return match ? match[1].replace(/\\\//g, '/') : '';
}

/** Who signed, from the client identity. */
export function creatorFrom(identity: IdentityLike): Creator {
  return {
    memberId: identity.getAttributeValue('consortium.member') || subjectCommonName(identity.getID()),
    mspId: identity.getMSPID(),
    certPem: Buffer.from(identity.getIDBytes()).toString('utf8'),
  };
}

/** Milliseconds of a protobuf timestamp ({seconds: Long | number, nanos}). */
export function timestampMs(ts: { seconds: unknown; nanos: number }): number {
  return Number(String(ts.seconds)) * 1000 + Math.floor(ts.nanos / 1_000_000);
}

/** The proposal's channel header as fabric-shim decodes it (a google-protobuf message). */
interface DecodedChannelHeader {
  getTimestamp(): { getSeconds(): number; getNanos(): number } | undefined;
}

/**
 * Milliseconds of the proposal's timestamp, read from the channel header itself. fabric-shim's
 * `getTxTimestamp()` returns the seconds as an *unsigned* Long, so a stamp before 1970 comes out
 * as 0 s plus the nanos (0 to 999 ms) and would be accepted, where the Python contract sees the
 * negative stamp and refuses BAD_TIMESTAMP. The decoded header keeps the sign. An unset
 * timestamp is 0, as protobuf's default.
 */
export function proposalTimestampMs(stub: Context['stub']): number {
  const { channelHeader } = stub.getSignedProposal().proposal.header;
  const ts = (channelHeader as unknown as DecodedChannelHeader).getTimestamp();
  return ts === undefined ? 0 : timestampMs({ seconds: ts.getSeconds(), nanos: ts.getNanos() });
}

/**
 * A TxContext over a Fabric chaincode context. Writes are buffered and reach the stub only through
 * `flush`, called when the transaction is valid: a refused transaction writes nothing even though
 * Fabric endorses it (to keep it on the ledger with its code).
 */
export class FabricTxContext implements TxContext {
  private readonly writes = new Map<string, Uint8Array>();
  readonly txId: string;
  readonly timestampMs: number;
  readonly creator: Creator;

  constructor(private readonly ctx: Context) {
    this.txId = ctx.stub.getTxID();
    this.timestampMs = proposalTimestampMs(ctx.stub);
    this.creator = creatorFrom(ctx.clientIdentity);
  }

  async getState(key: string): Promise<Uint8Array | undefined> {
    const value = await this.ctx.stub.getState(key);
    return value && value.length > 0 ? value : undefined; // Fabric returns empty bytes when absent
  }

  async putState(key: string, value: Uint8Array): Promise<void> {
    this.writes.set(key, value);
  }

  /** Hand the buffered writes to Fabric (the transaction is valid). */
  async flush(): Promise<void> {
    for (const [key, value] of this.writes) await this.ctx.stub.putState(key, value);
    this.writes.clear();
  }

  async range(start: string, end: string, limit?: number): Promise<Array<[string, Uint8Array]>> {
    const iterator = await this.ctx.stub.getStateByRange(start, end);
    const out: Array<[string, Uint8Array]> = [];
    try {
      for (let res = await iterator.next(); !res.done; res = await iterator.next()) {
        out.push([res.value.key, res.value.value]);
        if (limit !== undefined && out.length >= limit) break;
      }
    } finally {
      await iterator.close();
    }
    return out;
  }
}
