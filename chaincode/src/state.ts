/**
 * The transaction context the contract sees, and world-state helpers shared by the transactions
 * (the twin of consortium/ledger/contract/_state.py).
 *
 * Reads see the state before the transaction (never its own writes, as in Fabric); every stored
 * value is canonical JSON.
 */

import { createHash } from 'node:crypto';

import { canonicalBytes } from './canonical';
import { fail } from './errors';
import { Member } from './records';

/** Who signed the transaction, from its certificate. */
export interface Creator {
  memberId: string;
  mspId: string;
  certPem: string;
}

/** What a contract may see and do while executing one transaction. */
export interface TxContext {
  readonly txId: string;
  readonly timestampMs: number;
  readonly creator: Creator;
  getState(key: string): Promise<Uint8Array | undefined>;
  putState(key: string, value: Uint8Array): Promise<void>;
  /** Keys in [start, end) in byte order, as Fabric's GetStateByRange. */
  range(start: string, end: string, limit?: number): Promise<Array<[string, Uint8Array]>>;
}

const PEM = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\r\n\t ]+?)-----END CERTIFICATE-----/;
const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** SHA-256 (hex) of the DER inside the first PEM CERTIFICATE block, or null if malformed. */
export function certDerSha256(certPem: string): string | null {
  const match = PEM.exec(certPem);
  if (!match) return null;
  const body = match[1].replace(/[\r\n\t ]/g, '');
  if (!body || body.length % 4 !== 0 || !B64.test(body)) return null;
  const der = Buffer.from(body, 'base64');
  if (der.length === 0 || der[0] !== 0x30) return null;
  return createHash('sha256').update(der).digest('hex');
}

/** Compare two decimal strings exactly: -1, 0 or 1. */
export function decimalCmp(a: string, b: string): number {
  const [ai, af = ''] = a.split('.');
  const [bi, bf = ''] = b.split('.');
  const width = Math.max(af.length, bf.length);
  const x = BigInt(ai + af.padEnd(width, '0'));
  const y = BigInt(bi + bf.padEnd(width, '0'));
  return x > y ? 1 : x < y ? -1 : 0;
}

/** The exclusive end of a range holding exactly the keys starting with `prefix`. */
export function prefixEnd(prefix: string): string {
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}

/** The JSON value at `key`, or null. */
export async function read<T>(ctx: TxContext, key: string): Promise<T | null> {
  const raw = await ctx.getState(key);
  return raw === undefined ? null : (JSON.parse(Buffer.from(raw).toString('utf8')) as T);
}

/** Whether `key` holds a value. */
export async function exists(ctx: TxContext, key: string): Promise<boolean> {
  return (await ctx.getState(key)) !== undefined;
}

/** Store `value` as canonical JSON. */
export async function write(ctx: TxContext, key: string, value: unknown): Promise<void> {
  await ctx.putState(key, canonicalBytes(value));
}

/** The values under `prefix`, in key order. */
export async function scan<T>(ctx: TxContext, prefix: string, limit?: number): Promise<T[]> {
  const found = await ctx.range(prefix, prefixEnd(prefix), limit);
  return found.map(([, raw]) => JSON.parse(Buffer.from(raw).toString('utf8')) as T);
}

/** The creator's member record: registered, same certificate and MSP, not revoked. */
export async function authenticate(ctx: TxContext): Promise<Member> {
  const creator = ctx.creator;
  const member = creator.memberId ? await read<Member>(ctx, `member/${creator.memberId}`) : null;
  if (member === null) throw fail('NOT_A_MEMBER', `'${creator.memberId}' is not a registered member`);
  if (certDerSha256(creator.certPem) !== member.cert_sha256 || creator.mspId !== member.msp_id) {
    throw fail('CERT_MISMATCH', `the signing certificate or MSP is not the one registered for '${member.member_id}'`);
  }
  if (member.status !== 'active') throw fail('MEMBER_REVOKED', `member '${member.member_id}' is revoked`);
  return member;
}

/** Refuse with MISSING_ROLE unless `member` holds one of `roles`. */
export function requireRole(member: Member, ...roles: string[]): void {
  if (!roles.some((r) => (member.roles as string[]).includes(r))) {
    throw fail('MISSING_ROLE', `'${member.member_id}' needs one of the roles ${roles.join(', ')}`);
  }
}

/** Whether `member/{memberId}` is a revoked member (an unknown id is not). */
export async function isRevoked(ctx: TxContext, memberId: string): Promise<boolean> {
  const member = await read<Member>(ctx, `member/${memberId}`);
  return member !== null && member.status === 'revoked';
}

/** Active members with role verifier, by member id. */
export async function activeVerifiers(ctx: TxContext): Promise<string[]> {
  const members = await scan<Member>(ctx, 'member/');
  return members.filter((m) => m.status === 'active' && m.roles.includes('verifier')).map((m) => m.member_id);
}

/** `version/{task_id}/{height:08d}`. */
export function versionKey(taskId: string, height: number): string {
  return `version/${taskId}/${String(height).padStart(8, '0')}`;
}
