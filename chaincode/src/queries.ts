/**
 * Read-only queries (the twin of consortium/ledger/contract/_queries.py). No role check: who may
 * read the ledger at all is decided by the network (channel membership).
 */

import { fail } from './errors';
import { Json, LearningBlock, Member, Update } from './records';
import { attestations, loadAggregate, loadProposal } from './blocks';
import { read, scan, TxContext, versionKey } from './state';
import {
  derivedStatus, endorsements, loadHead, loadTask, loadUpdate, TaskRecord, withTaskDefaults,
} from './updates';

type Args = Record<string, unknown>;
type Query = (ctx: TxContext, args: Args) => Promise<unknown>;

async function updateView(ctx: TxContext, update: Update): Promise<Json> {
  const included = await read<{ height: number }>(ctx, `included/${update.update_id}`);
  return {
    update,
    endorsements: await endorsements(ctx, update.update_id),
    status: await derivedStatus(ctx, update),
    included_height: included === null ? null : included.height,
  };
}

export const QUERIES: Record<string, Query> = {
  async GetMember(ctx, a) {
    const member = await read<Member>(ctx, `member/${a.member_id}`);
    if (member === null) throw fail('MEMBER_NOT_FOUND', `no member '${a.member_id}'`);
    return member;
  },
  ListMembers: (ctx) => scan(ctx, 'member/'),
  GetTask: (ctx, a) => loadTask(ctx, a.task_id as string),
  ListTasks: async (ctx) => (await scan<TaskRecord>(ctx, 'task/')).map(withTaskDefaults),
  async GetUpdate(ctx, a) {
    return updateView(ctx, await loadUpdate(ctx, a.task_id as string, a.update_id as string));
  },
  async ListUpdates(ctx, a) {
    await loadTask(ctx, a.task_id as string);
    const views = [];
    for (const update of await scan<Update>(ctx, `update/${a.task_id}/`)) {
      views.push(await updateView(ctx, update));
    }
    return views.filter((v) => a.status === null || v.status === a.status);
  },
  GetHead: (ctx, a) => loadHead(ctx, a.task_id as string),
  async GetVersion(ctx, a) {
    const block = await read<LearningBlock>(ctx, versionKey(a.task_id as string, a.version as number));
    if (block === null) throw fail('VERSION_NOT_FOUND', `task '${a.task_id}' has no version ${a.version}`);
    return block;
  },
  async ListVersions(ctx, a) {
    await loadTask(ctx, a.task_id as string);
    return scan(ctx, `version/${a.task_id}/`);
  },
  GetAggregate: (ctx, a) => loadAggregate(ctx, a.task_id as string, a.aggregate_id as string),
  async ListAggregates(ctx, a) {
    await loadTask(ctx, a.task_id as string);
    return scan(ctx, `aggregate/${a.task_id}/`);
  },
  async GetProposal(ctx, a) {
    const proposal = await loadProposal(ctx, a.task_id as string, a.proposal_id as string);
    // an attestation stored without a reason (all but a reject's) reads with reason null
    const found = await attestations(ctx, proposal.proposal_id);
    return { proposal, attestations: found.map((a) => ({ reason: null, ...a })) };
  },
  async GetBalance(ctx, a) {
    return (await read(ctx, `balance/${a.member_id}`)) ?? { member_id: a.member_id, units: 0 };
  },
  ListBalances: (ctx) => scan(ctx, 'balance/'),
  async GetShareKey(ctx, a) {
    const share = await read(ctx, `sharekey/${a.member_id}`);
    if (share === null) throw fail('SHARE_NOT_FOUND', `no key share for '${a.member_id}'`);
    return { replaced: null, ...share };
  },
  async ListDownloads(ctx, a) {
    const found = await scan<{ task_id: string }>(ctx, 'download/');
    return found.filter((d) => a.task_id === null || d.task_id === a.task_id);
  },
};
