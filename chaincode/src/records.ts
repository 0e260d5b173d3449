/**
 * Argument checks and record shapes, the twins of consortium/ledger/contract/records.py.
 * The JSON Schemas in data_schemas/ledger/ are generated from the Python models; the shared
 * vectors check that both sides accept and refuse the same arguments.
 */

import {
  anyObject, bool, Check, dict, int, list, literal, model, nullable, opt, req, str,
} from './validate';

const IDENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const TXID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const OPT_TXID = /^([A-Za-z0-9][A-Za-z0-9._-]{0,127})?$/;
const DIGEST = /^[0-9a-f]{64}$/;
const OPT_DIGEST = /^([0-9a-f]{64})?$/;
const DECIMAL = /^(0|[1-9][0-9]{0,17})(\.[0-9]{1,18})?$/;

export const ident = str(IDENT);
export const txId = str(TXID);
const digest = str(DIGEST);
const decimal = str(DECIMAL);
const nonNeg = int(0);
const posInt = int(1);
const gainBp = int(-10_000, 10_000);
const bp = int(0, 10_000);
const ppm = int(0, 1_000_000);
const role = literal('admin', 'aggregator', 'auditor', 'hospital', 'verifier');
/**
 * A committee member that cannot judge abstains: its seat leaves the committee (committeeOutcome).
 * An attester abstains when it cannot measure the metric; an endorser when it could not run every
 * check and all those it could run passed (reason UNMEASURABLE).
 */
const verdict = literal('accept', 'reject', 'abstain');
export type Verdict = 'accept' | 'reject' | 'abstain';
const reason = literal(
  'OK', 'SML_MISMATCH', 'INCONSISTENT_REVEAL', 'DUPLICATE', 'NO_LEARNING', 'NORM_OUTLIER',
  'DIRECTION_OUTLIER', 'METRIC_DROP', 'BAD_BLOB', 'UNMEASURABLE',
);
/** Why an attester rejects a proposal (AttestBlock.reason): the attester's checks, in its order. */
export const ATTEST_REASONS = [
  'PROPOSAL_LATE', 'NO_AGGREGATE', 'BLOB_UNREADABLE', 'MODEL_DIGEST_MISMATCH', 'WEIGHTS_MISMATCH',
  'UPDATE_UNREADABLE', 'NOT_CANONICAL', 'VERSION_MISMATCH',
] as const;
const attestReason = literal(...ATTEST_REASONS);

export type Json = Record<string, unknown>;
export type Role = 'admin' | 'aggregator' | 'auditor' | 'hospital' | 'verifier';

export interface RegisterMemberArgs { member_id: string; msp_id: string; roles: Role[]; cert_pem: string }
export interface BootstrapArgs { members: RegisterMemberArgs[] }
export interface MemberIdArgs { member_id: string }
export interface ShareKeyArgs { member_id: string; wrapped_key_digest: string; public_context_digest: string }
export interface Task extends Json {
  task_id: string; sml: boolean; committee_size: number; quorum: number; max_staleness: number;
  epsilon_budget: string; target_interval_ms: number; retarget_every: number; min_interval_bp: number;
  gain_decay_intervals: number;
  initial_required_gain_bp: number; min_required_gain_bp: number; max_required_gain_bp: number;
  block_reward: number; sealer_share_bp: number; initial_model_digest: string;
  initial_blob_digest: string; committee_seed: 'tx' | 'head'; verdict_timeout_ms: number;
  attest_reasons: boolean;
}
export interface PublishTaskArgs { task: Task }
export interface SubmitUpdateArgs {
  task_id: string; base_version: number; model_digest: string; n_samples: number;
  epsilon_spent: string; commitment: string;
}
export interface RevealNonceArgs { task_id: string; update_id: string; nonce: string; unmapped_digest: string }
export interface EndorseArgs {
  task_id: string; update_id: string; verdict: Verdict; reason: string;
  metric_bp: number; scores: Record<string, number>;
}
export interface WeightedUpdates { updates: string[]; weights_ppm: number[]; contribution_ppm: number[] }
export interface PostAggregateArgs extends WeightedUpdates { task_id: string; aggregate_digest: string }
export interface ProposeBlockArgs extends WeightedUpdates {
  task_id: string; height: number; parent_digest: string; aggregate_id: string;
  aggregate_digest: string; model_digest: string; blob_digest: string; next_required_gain_bp: number;
}
export interface AttestBlockArgs {
  task_id: string; proposal_id: string; verdict: Verdict; metric_bp: number;
  base_metric_bp: number; reason: string | null;
}
export interface RecordDownloadArgs { task_id: string; version: number; model_digest: string }

const registerMember = model<RegisterMemberArgs>(
  {
    member_id: req(ident),
    msp_id: req(ident),
    roles: req(list(role, 1, 5)),
    cert_pem: req(str(undefined, 1, 8192)),
  },
  (o) => (new Set(o.roles).size !== o.roles.length ? 'roles must not repeat' : undefined),
);

const task = model<Task>(
  {
    task_id: req(ident),
    title: req(str(undefined, 1, 200)),
    cohort: req(ident),
    model_spec: req(anyObject),
    metric: req(literal('auroc')),
    epsilon_budget: req(decimal),
    delta: req(decimal),
    accountant: req(literal('prv', 'rdp')),
    committee_size: req(int(1, 100)),
    quorum: req(int(1, 100)),
    staleness_exponent_bp: req(int(0, 100_000)),
    max_staleness: req(int(0, 1_000_000)),
    buffer_size: req(int(1, 10_000)),
    server_lr_bp: req(int(1, 100_000)),
    sml: req(bool),
    target_interval_ms: req(int(1, 2 ** 40)),
    retarget_every: req(int(1, 1000)),
    min_interval_bp: opt(bp, 0),
    gain_decay_intervals: opt(int(0, 1000), 0),
    initial_required_gain_bp: req(gainBp),
    min_required_gain_bp: req(gainBp),
    max_required_gain_bp: req(gainBp),
    block_reward: req(int(0, 2 ** 40)),
    sealer_share_bp: req(bp),
    initial_model_digest: req(digest),
    initial_blob_digest: req(digest),
    verification_set_digest: opt(nullable(digest), null),
    committee_seed: opt(literal('tx', 'head'), 'tx'),
    verdict_timeout_ms: opt(int(0, 2 ** 40), 0),
    attest_reasons: opt(bool, false),
  },
  (t) => {
    if (t.quorum > t.committee_size) return 'quorum must not exceed committee_size';
    const ok = t.min_required_gain_bp <= t.initial_required_gain_bp
      && t.initial_required_gain_bp <= t.max_required_gain_bp;
    return ok ? undefined : 'need min <= initial <= max required gain';
  },
);

const weightedFields = {
  updates: req(list(txId, 1, 1000)),
  weights_ppm: req(list(int(1, 1_000_000), 0, 1000)),
  contribution_ppm: req(list(ppm, 0, 1000)),
};

function checkWeighted(o: WeightedUpdates): string | undefined {
  const n = o.updates.length;
  if (new Set(o.updates).size !== n) return 'updates must not repeat';
  if (o.weights_ppm.length !== n || o.contribution_ppm.length !== n) {
    return 'updates, weights_ppm and contribution_ppm need the same length';
  }
  const total = o.contribution_ppm.reduce((a, b) => a + b, 0);
  return total === 1_000_000 ? undefined : 'contribution_ppm must sum to 1000000';
}

const taskIdArgs = model<{ task_id: string }>({ task_id: req(ident) });
const memberIdArgs = model<MemberIdArgs>({ member_id: req(ident) });
const noArgs = model<Json>({});

/** Argument checks of the transactions. */
export const TX_ARGS: Record<string, Check<unknown>> = {
  Bootstrap: model<BootstrapArgs>({ members: req(list(registerMember, 1, 1000)) }, (o) => {
    const ids = o.members.map((m) => m.member_id);
    return new Set(ids).size !== ids.length ? 'member_id must not repeat' : undefined;
  }),
  RegisterMember: registerMember,
  RevokeMember: memberIdArgs,
  ShareKey: model<ShareKeyArgs>({
    member_id: req(ident), wrapped_key_digest: req(digest), public_context_digest: req(digest),
  }),
  PublishTask: model<PublishTaskArgs>({ task: req(task) }),
  SubmitUpdate: model<SubmitUpdateArgs>({
    task_id: req(ident),
    base_version: req(nonNeg),
    model_digest: req(digest),
    n_samples: req(posInt),
    epsilon_spent: req(decimal),
    commitment: req(str(OPT_DIGEST)),
  }),
  RevealNonce: model<RevealNonceArgs>({
    task_id: req(ident), update_id: req(txId), nonce: req(str(OPT_DIGEST)),
    unmapped_digest: req(digest),
  }),
  Endorse: model<EndorseArgs>(
    {
      task_id: req(ident), update_id: req(txId), verdict: req(verdict), reason: req(reason),
      metric_bp: req(bp), scores: req(dict(ident, int(), 64)),
    },
    (o) => {
      if ((o.verdict === 'accept') !== (o.reason === 'OK')) {
        return 'reason must be OK exactly when verdict is accept';
      }
      if ((o.verdict === 'abstain') !== (o.reason === 'UNMEASURABLE')) {
        return 'reason must be UNMEASURABLE exactly when verdict is abstain';
      }
      return undefined;
    },
  ),
  PostAggregate: model<PostAggregateArgs>(
    { ...weightedFields, task_id: req(ident), aggregate_digest: req(digest) },
    checkWeighted,
  ),
  ProposeBlock: model<ProposeBlockArgs>(
    {
      ...weightedFields,
      task_id: req(ident),
      height: req(posInt),
      parent_digest: req(digest),
      aggregate_id: opt(str(OPT_TXID), ''),
      aggregate_digest: req(digest),
      model_digest: req(digest),
      blob_digest: req(digest),
      next_required_gain_bp: req(gainBp),
    },
    checkWeighted,
  ),
  AttestBlock: model<AttestBlockArgs>(
    {
      task_id: req(ident), proposal_id: req(txId), verdict: req(verdict), metric_bp: req(bp),
      base_metric_bp: req(bp), reason: opt(nullable(attestReason), null),
    },
    (o) => (o.reason !== null && o.verdict !== 'reject'
      ? `reason is given only with verdict reject: leave it out of an ${o.verdict}`
      : undefined),
  ),
  RecordDownload: model<RecordDownloadArgs>({
    task_id: req(ident), version: req(nonNeg), model_digest: req(digest),
  }),
};

/** Argument checks of the queries. */
export const QUERY_ARGS: Record<string, Check<unknown>> = {
  GetMember: memberIdArgs,
  ListMembers: noArgs,
  GetTask: taskIdArgs,
  ListTasks: noArgs,
  GetUpdate: model({ task_id: req(ident), update_id: req(txId) }),
  ListUpdates: model({
    task_id: req(ident),
    status: opt(nullable(literal('pending', 'accepted', 'rejected', 'included')), null),
  }),
  GetHead: taskIdArgs,
  GetVersion: model({ task_id: req(ident), version: req(nonNeg) }),
  ListVersions: taskIdArgs,
  GetAggregate: model({ task_id: req(ident), aggregate_id: req(txId) }),
  ListAggregates: taskIdArgs,
  GetProposal: model({ task_id: req(ident), proposal_id: req(txId) }),
  GetBalance: memberIdArgs,
  ListBalances: noArgs,
  GetShareKey: memberIdArgs,
  ListDownloads: model({ task_id: opt(nullable(ident), null) }),
};

// ---------------------------------------------------------------------------- stored records

export interface Member extends Json {
  member_id: string; msp_id: string; roles: Role[]; cert_pem: string; cert_sha256: string;
  status: 'active' | 'revoked'; registered_ms: number; revoked_ms: number | null;
}
export interface Update extends Json {
  update_id: string; task_id: string; member_id: string; base_version: number;
  commitment: string; committee: string[]; quorum: number; nonce: string | null;
  revealed_ms: number | null;
}
export interface Endorsement extends Json { member_id: string; verdict: string }
export interface Head extends Json {
  task_id: string; height: number; model_digest: string; blob_digest: string; ms: number;
  required_gain_bp: number;
}
export interface LearningBlock extends Json { interval_ms: number; model_digest: string }
export interface Proposal extends Json {
  proposal_id: string; task_id: string; height: number; parent_digest: string;
  updates: string[]; contribution_ppm: number[]; required_gain_bp: number; next_required_gain_bp: number;
  interval_ms: number; sealer: string; committee: string[]; quorum: number; ms: number;
  status: string;
}
export interface Attestation extends Json {
  member_id: string; verdict: string; metric_bp: number; base_metric_bp: number; reason?: string;
}
export interface Aggregate extends Json { aggregate_id: string }
