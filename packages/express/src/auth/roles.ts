import { SOURCES, type Principal, type Source } from '@command-manager/core';

/** What an HTTP caller may do; each route requires one. */
/**
 * `cancel` cancels the caller's own requests; `cancel-any` (with `cancel`) also other principals' requests.
 * Delegation (`delegate`, setting `user` on submission) does not grant cancelling others' requests.
 */
export const OPERATIONS = [
  'submit',
  'read',
  'results',
  'cancel',
  'cancel-any',
  'metrics',
  'claim',
  'audit',
] as const;
export type Operation = (typeof OPERATIONS)[number];

/** A role grants operations, the `source` values a caller may claim, the actions it may send, and delegation. */
export interface RoleDefinition {
  operations: readonly Operation[];
  /** Sources this role may claim in `commands[].source`; `'*'` for all. */
  sources: readonly Source[] | '*';
  /** Action names this role may send; `'*'` for all. */
  actions: readonly string[] | '*';
  /** May set `user` to someone other than the caller itself. */
  delegate: boolean;
}

/** The actions Wazuh's Management API and Engine send to agents (`update`/`refresh` belong to the content manager). */
export const AGENT_ACTIONS: readonly string[] = ['set-group', 'fetch-config', 'restart'];
/** The actions only the indexer's content manager sends. */
export const CONTENT_ACTIONS: readonly string[] = ['update', 'refresh'];

/**
 * Built-in roles. A users file may add roles or redefine these by name.
 * - `admin`: everything (cancelling anyone's requests included), any source, any action, may delegate.
 * - `management-api`: the server's Management API, acting for its users and services; cancels the requests
 *   it submitted (every user's request made through it), not other principals' (no `cancel-any`).
 * - `engine`: the server's Engine.
 * - `content-manager`: the indexer's content manager, the only built-in role that may send `update`/`refresh`.
 * - `comms`: the Comms API, which only reports results.
 * - `wazuh-server`: a server that pulls its orders (claims and acknowledges them), reports results and reads.
 * - `read-only`: reads requests and orders.
 * - `monitoring`: scrapes `/metrics`.
 * - `auditor`: reads the audit trail (`GET /audit`).
 */
export const BUILT_IN_ROLES: Readonly<Record<string, RoleDefinition>> = Object.freeze({
  admin: { operations: OPERATIONS, sources: '*', actions: '*', delegate: true },
  'management-api': {
    operations: ['submit', 'read', 'cancel'],
    sources: ['Users/Services'],
    actions: AGENT_ACTIONS,
    delegate: true,
  },
  engine: { operations: ['submit'], sources: ['Engine'], actions: AGENT_ACTIONS, delegate: false },
  'content-manager': {
    operations: ['submit'],
    sources: ['Content manager'],
    actions: CONTENT_ACTIONS,
    delegate: false,
  },
  comms: { operations: ['results'], sources: [], actions: [], delegate: false },
  'wazuh-server': { operations: ['claim', 'results', 'read'], sources: [], actions: [], delegate: false },
  'read-only': { operations: ['read'], sources: [], actions: [], delegate: false },
  monitoring: { operations: ['metrics'], sources: [], actions: [], delegate: false },
  auditor: { operations: ['audit'], sources: [], actions: [], delegate: false },
});

/** An authenticated caller: the core `Principal` plus the HTTP operations its roles grant. */
export interface Caller {
  principal: Principal;
  operations: ReadonlySet<Operation>;
  /** How the caller proved who it is. */
  method: 'basic' | 'token' | 'certificate';
}

/**
 * Builds a caller from role names: the union of what each role grants (`'*'` wins). Every name must exist in
 * `roles` (the users file parser checks this before any request arrives).
 */
export function callerFromRoles(
  name: string,
  roleNames: readonly string[],
  roles: Readonly<Record<string, RoleDefinition>>,
  method: Caller['method'],
): Caller {
  const operations = new Set<Operation>();
  let sources: Set<Source> | '*' = new Set();
  let actions: Set<string> | '*' = new Set();
  let delegate = false;
  for (const roleName of roleNames) {
    const role = Object.prototype.hasOwnProperty.call(roles, roleName) ? roles[roleName] : undefined;
    if (!role) throw new Error(`unknown role ${JSON.stringify(roleName)}`);
    for (const op of role.operations) operations.add(op);
    if (role.sources === '*') sources = '*';
    else if (sources !== '*') for (const s of role.sources) sources.add(s);
    if (role.actions === '*') actions = '*';
    else if (actions !== '*') for (const a of role.actions) actions.add(a);
    delegate ||= role.delegate;
  }
  const principal: Principal = {
    name,
    roles: Object.freeze([...roleNames]),
    canDelegate: delegate,
    canCancelAny: operations.has('cancel-any'),
    sources: sources === '*' ? '*' : Object.freeze(SOURCES.filter((s) => (sources as Set<Source>).has(s))),
    actions: actions === '*' ? '*' : Object.freeze([...actions]),
  };
  return Object.freeze({ principal: Object.freeze(principal), operations, method });
}
