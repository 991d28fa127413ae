import type { OrderFilter } from '@command-manager/core';

type Clause = Record<string, unknown>;

/** The `bool.filter` clauses of an order filter (all exact: keyword terms and `@timestamp` ranges). */
export function filterClauses(filter: OrderFilter): Clause[] {
  const clauses: Clause[] = [];
  if (filter.requestId !== undefined) clauses.push({ term: { 'command.request_id': filter.requestId } });
  if (filter.status !== undefined) {
    const statuses = typeof filter.status === 'string' ? [filter.status] : [...filter.status];
    clauses.push({ terms: { 'command.status': statuses } });
  }
  if (filter.targetType !== undefined) clauses.push({ term: { 'command.target.type': filter.targetType } });
  if (filter.targetId !== undefined) clauses.push({ term: { 'command.target.id': filter.targetId } });
  if (filter.action !== undefined) clauses.push({ term: { 'command.action.name': filter.action } });
  if (filter.source !== undefined) clauses.push({ term: { 'command.source': filter.source } });
  if (filter.from !== undefined || filter.to !== undefined) {
    const range: Record<string, string> = {};
    if (filter.from !== undefined) range.gte = filter.from;
    if (filter.to !== undefined) range.lt = filter.to;
    clauses.push({ range: { '@timestamp': range } });
  }
  return clauses;
}

export function boolQuery(clauses: Clause[]): Clause {
  return clauses.length === 0 ? { match_all: {} } : { bool: { filter: clauses } };
}
