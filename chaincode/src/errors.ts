/**
 * Validation codes and the error that carries one (the twin of consortium/ledger/contract/codes.py).
 *
 * On Fabric a refused transaction fails endorsement with the message `CODE: explanation`; the
 * gateway client maps the leading code back to the ledger's validation code.
 */

export const CODES = [
  'VALID', 'UNKNOWN_FUNCTION', 'BAD_ARGS', 'BAD_TIMESTAMP', 'NOT_A_MEMBER', 'CERT_MISMATCH', 'MEMBER_REVOKED',
  'MISSING_ROLE', 'ALREADY_BOOTSTRAPPED', 'BAD_CERT', 'CERT_IN_USE', 'MEMBER_EXISTS',
  'MEMBER_NOT_FOUND', 'ALREADY_REVOKED', 'ROLE_FORBIDDEN', 'CONTEXT_MISMATCH', 'SHARE_EXISTS',
  'SHARE_NOT_FOUND', 'TASK_EXISTS', 'TASK_NOT_FOUND', 'VERSION_NOT_FOUND', 'STALE_BASE',
  'DUPLICATE_SUBMISSION', 'BUDGET_EXCEEDED', 'EPSILON_DECREASED', 'COMMITMENT_MISSING',
  'NO_COMMITTEE', 'UPDATE_NOT_FOUND', 'NOT_SUBMITTER', 'ALREADY_REVEALED', 'COMMITMENT_MISMATCH',
  'SELF_ENDORSEMENT', 'NOT_IN_COMMITTEE', 'NOT_REVEALED', 'ALREADY_ENDORSED', 'VERDICT_CLOSED',
  'WRONG_HEIGHT',
  'WRONG_PARENT', 'TOO_EARLY', 'UPDATE_NOT_ACCEPTED', 'UPDATE_ALREADY_INCLUDED', 'WRONG_DIFFICULTY',
  'AGGREGATE_NOT_FOUND', 'AGGREGATE_MISMATCH', 'PROPOSAL_NOT_FOUND', 'PROPOSAL_CLOSED',
  'ALREADY_ATTESTED', 'REASON_MISSING', 'DIGEST_MISMATCH',
] as const;

export type Code = (typeof CODES)[number];

/** A transaction the contract refuses; `code` is the validation code kept on the ledger. */
export class ContractError extends Error {
  constructor(
    readonly code: Code,
    readonly detail: string,
  ) {
    super(`${code}: ${detail}`);
    this.name = 'ContractError';
  }
}

/** Shorthand for `new ContractError(code, detail)`. */
export function fail(code: Code, detail: string): ContractError {
  return new ContractError(code, detail);
}
