import { CLAIM_RULE_FIELDS, CLAIMABLE_STATUS, LEGACY_PARTITION } from '@command-manager/core';

/**
 * The claim rule of core (`claim-rule.ts`: pending, due, before its deadline, no live lease) as the filter
 * clauses of a search, at `now` (ISO-8601). Date ranges compare instants, as `isClaimable` does.
 */
export function claimRuleClauses(now: string): Array<Record<string, unknown>> {
  const f = CLAIM_RULE_FIELDS;
  return [
    { term: { [f.status]: CLAIMABLE_STATUS } },
    { range: { [f.nextAttemptAt]: { lte: now } } },
    { range: { [f.deadline]: { gt: now } } },
    {
      bool: {
        minimum_should_match: 1,
        should: [
          { bool: { must_not: { exists: { field: f.leaseExpiresAt } } } },
          { range: { [f.leaseExpiresAt]: { lte: now } } },
        ],
      },
    },
  ];
}

/**
 * Orders of the given partitions (core's `partitionOfOrder`): an order without `scheduling.partition`,
 * written before partitions existed, is in `LEGACY_PARTITION`.
 */
export function partitionClause(partitions: readonly number[]): Record<string, unknown> {
  const field = CLAIM_RULE_FIELDS.partition;
  const held = { terms: { [field]: [...partitions] } };
  if (!partitions.includes(LEGACY_PARTITION)) return held;
  return {
    bool: {
      minimum_should_match: 1,
      should: [held, { bool: { must_not: { exists: { field } } } }],
    },
  };
}
