/**
 * Membership transactions (the twin of consortium/ledger/contract/_members.py): Bootstrap,
 * RegisterMember, RevokeMember, ShareKey. The ledger's member records are the authority on roles.
 */

import { fail } from './errors';
import {
  BootstrapArgs, Json, Member, MemberIdArgs, RegisterMemberArgs, Role, ShareKeyArgs,
} from './records';
import {
  authenticate, certDerSha256, exists, read, requireRole, scan, TxContext, write,
} from './state';

/** Members that never hold the consortium's secret key. */
const KEYLESS_ROLES: Role[] = ['aggregator', 'auditor'];
/** Roles whose work needs that key; a member never holds one of each (refused at registration). */
const KEYED_ROLES: Role[] = ['hospital', 'verifier'];

function newMember(args: RegisterMemberArgs, ms: number): Member {
  const sha = certDerSha256(args.cert_pem);
  if (sha === null) throw fail('BAD_CERT', `cert_pem of '${args.member_id}' is not a PEM certificate`);
  const keyless = KEYLESS_ROLES.filter((r) => args.roles.includes(r));
  const keyed = KEYED_ROLES.filter((r) => args.roles.includes(r));
  if (keyless.length > 0 && keyed.length > 0) {
    throw fail('ROLE_FORBIDDEN', `member '${args.member_id}' cannot be ${keyless[0]} and ${keyed[0]}: `
      + `an ${keyless[0]} never receives the secret key, which a ${keyed[0]} needs; register two members`);
  }
  return {
    member_id: args.member_id,
    msp_id: args.msp_id,
    roles: [...args.roles].sort(),
    cert_pem: args.cert_pem,
    cert_sha256: sha,
    status: 'active',
    registered_ms: ms,
    revoked_ms: null,
  };
}

export async function bootstrap(ctx: TxContext, args: BootstrapArgs): Promise<Json> {
  if ((await ctx.range('member/', 'member0', 1)).length > 0) {
    throw fail('ALREADY_BOOTSTRAPPED', 'members exist already; use RegisterMember');
  }
  const members = args.members.map((m) => newMember(m, ctx.timestampMs));
  if (new Set(members.map((m) => m.cert_sha256)).size !== members.length) {
    throw fail('CERT_IN_USE', 'two genesis members share one certificate');
  }
  const sha = certDerSha256(ctx.creator.certPem);
  const mine = members.filter((m) => m.cert_sha256 === sha);
  if (mine.length === 0) throw fail('NOT_A_MEMBER', "the creator's certificate is not among the members");
  if (mine[0].member_id !== ctx.creator.memberId || mine[0].msp_id !== ctx.creator.mspId) {
    throw fail('CERT_MISMATCH', "the creator's certificate is listed under another id");
  }
  requireRole(mine[0], 'admin');
  for (const member of members) await write(ctx, `member/${member.member_id}`, member);
  return { members: members.map((m) => m.member_id).sort() };
}

export async function registerMember(ctx: TxContext, args: RegisterMemberArgs): Promise<Json> {
  requireRole(await authenticate(ctx), 'admin');
  const member = newMember(args, ctx.timestampMs);
  if (await exists(ctx, `member/${args.member_id}`)) {
    throw fail('MEMBER_EXISTS', `member '${args.member_id}' exists (ids are never reused)`);
  }
  for (const other of await scan<Member>(ctx, 'member/')) {
    if (other.cert_sha256 === member.cert_sha256) {
      throw fail('CERT_IN_USE', `this certificate belongs to '${other.member_id}'`);
    }
  }
  await write(ctx, `member/${member.member_id}`, member);
  return member;
}

export async function revokeMember(ctx: TxContext, args: MemberIdArgs): Promise<Json> {
  requireRole(await authenticate(ctx), 'admin');
  const member = await read<Member>(ctx, `member/${args.member_id}`);
  if (member === null) throw fail('MEMBER_NOT_FOUND', `no member '${args.member_id}'`);
  if (member.status === 'revoked') throw fail('ALREADY_REVOKED', `member '${args.member_id}' is revoked already`);
  const revoked: Member = { ...member, status: 'revoked', revoked_ms: ctx.timestampMs };
  await write(ctx, `member/${member.member_id}`, revoked);
  return revoked;
}

export async function shareKey(ctx: TxContext, args: ShareKeyArgs): Promise<Json> {
  const creator = await authenticate(ctx);
  if (!creator.roles.includes('admin') && !(await exists(ctx, `sharekey/${creator.member_id}`))) {
    throw fail('MISSING_ROLE', 'only an admin or a member holding the key may share it');
  }
  const target = await read<Member>(ctx, `member/${args.member_id}`);
  if (target === null) throw fail('MEMBER_NOT_FOUND', `no member '${args.member_id}'`);
  if (target.status !== 'active') throw fail('MEMBER_REVOKED', `member '${args.member_id}' is revoked`);
  if (target.roles.some((r) => KEYLESS_ROLES.includes(r))) {
    throw fail('ROLE_FORBIDDEN', 'aggregators and auditors never receive the secret key');
  }
  const replaced = await replaceable(ctx, creator, args.member_id);
  const [first] = await scan<ShareKeyArgs>(ctx, 'sharekey/', 1);
  if (first !== undefined && first.public_context_digest !== args.public_context_digest) {
    throw fail('CONTEXT_MISMATCH', "every share must name the consortium's public context");
  }
  const record = {
    member_id: args.member_id,
    wrapped_key_digest: args.wrapped_key_digest,
    public_context_digest: args.public_context_digest,
    by: creator.member_id,
    ms: ctx.timestampMs,
    // Left out unless there was one: a share's record and result stay the bytes they were.
    ...(replaced === null ? {} : { replaced }),
  };
  await write(ctx, `sharekey/${args.member_id}`, record);
  return record;
}

/**
 * The wrap digest the creator's share for `memberId` replaces, null when there is none. Any key
 * holder may share, so one could front-run the admin with a wrap the new member cannot open; an
 * admin's share therefore replaces a share a member gave. An admin's share is final.
 */
async function replaceable(ctx: TxContext, creator: Member, memberId: string): Promise<string | null> {
  const existing = await read<{ by: string; wrapped_key_digest: string }>(ctx, `sharekey/${memberId}`);
  if (existing === null) return null;
  const giver = await read<Member>(ctx, `member/${existing.by}`);
  if (!creator.roles.includes('admin') || (giver !== null && giver.roles.includes('admin'))) {
    throw fail('SHARE_EXISTS', `'${memberId}' holds a share already`);
  }
  return existing.wrapped_key_digest;
}
