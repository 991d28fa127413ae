import { CommandManagerError, ErrorCodes, noopLogger } from '@command-manager/core';
/**
 * The agents known to the cluster, read from Wazuh's agents index (default `wazuh-agents`: `agent.id`,
 * `agent.groups`, `agent.status`). Group members are walked with a point in time and `search_after` on
 * `agent.id` (unique per agent: the sort is total, so no member is skipped or repeated even while agents
 * change; the PIT pins the view for the whole walk). The PIT is always deleted, also when the consumer stops
 * early. A search of the walk visits every member of the group in its query phase, wherever `search_after`
 * starts (a `keyword` sort cannot skip), so a walk costs OpenSearch the number of its searches times the
 * group's size: the walk reads more than a page per search (the first search a page, each next one twice
 * the last, up to `walkSearchSize`) and hands the consumer pages of the size it asked for. Each search answer
 * is read within `maxResponseBytes`; a larger one is asked again at half the size. A status filter is a
 * `terms` filter on `agent.status`, excluded ids a `must_not` `terms` on `agent.id`. Agent targets are looked
 * up with one `terms` query per batch of ids, bounded the same way (a batch whose answer is larger is looked
 * up again in halves).
 *
 * Every read refuses a partial answer: a shard whose copies are all unreachable (a node just died, its
 * replica not yet promoted) would otherwise make OpenSearch answer with that shard's agents left out, and a
 * short page ends a walk, so a group command would silently miss members. A page of a walk that fails is
 * asked again (`pageRetries` times, after `pageRetryDelayMs`, doubled each time) under a NEW point in time,
 * from the same place: the node holding part of the old one may be the one that died, and `search_after` on
 * the unique `agent.id` resumes exactly where the walk was. A count or a lookup that cannot read every shard
 * fails as unavailable (503, retry later) rather than answer a count too small or an agent as unknown.
 */
import type { AgentDirectory, AgentInfo, GroupQuery, Logger } from '@command-manager/core';
import type { Client } from '@opensearch-project/opensearch';
import { DEFAULT_AGENTS_INDEX } from './index-layout';
import { boundedJson, maxResponseBytesOption } from './internal/bounded-read';
import { readHalving, readInHalves } from './internal/halving-read';
import { GroupCommit } from './internal/group-commit';
import { sleep } from './internal/bulk';
import { guarded, WHOLE_ANSWER } from './internal/store-errors';

export const DEFAULT_AGENT_PAGE_SIZE = 1000;
/** One search returns at most `index.max_result_window` (10,000) hits. */
export const MAX_AGENT_PAGE_SIZE = 10_000;
/** Members one search of a walk reads at most, by default. */
export const DEFAULT_WALK_SEARCH_SIZE = MAX_AGENT_PAGE_SIZE;

export interface OpenSearchAgentDirectoryOptions {
  client: Client;
  /** Agents index (default `wazuh-agents`). */
  agentsIndex?: string;
  /** Keep-alive of the point in time between two pages (default `1m`). */
  pitKeepAlive?: string;
  /**
   * Tries again of a page of a group walk that failed (default 5), each under a new point in time, the
   * first after `pageRetryDelayMs` (default 500), each next after twice the last.
   */
  pageRetries?: number;
  pageRetryDelayMs?: number;
  /**
   * Members one search of a group walk reads at most (default and maximum 10,000; at least the page size
   * asked). The walk's first search reads one page, each next one twice as many as the last, up to this.
   */
  walkSearchSize?: number;
  /**
   * Bytes of one search answer of a group walk or a lookup (default 8 MiB). A larger answer is not parsed: the
   * search is asked again for half as many agents; a single agent larger than this fails the walk or lookup.
   */
  maxResponseBytes?: number;
  /** Agent ids per `terms` lookup (default 1,000, at most 10,000: one answer holds at most that many agents). */
  lookupBatchSize?: number;
  /**
   * Lookup searches in flight at once (default 1). Lookups of up to `lookupBatchSize` ids made while that many
   * are in flight wait and go out together as one search (group commit, no timer): 32 concurrent
   * single-agent submissions cost one search instead of 32.
   */
  maxInflightLookups?: number;
  logger?: Logger;
}

interface AgentSource {
  agent?: { id?: unknown; groups?: unknown; status?: unknown };
}

interface AgentHit {
  _source?: AgentSource;
  sort?: unknown[];
}

const SOURCE_FIELDS = ['agent.id', 'agent.groups', 'agent.status'];

export class OpenSearchAgentDirectory implements AgentDirectory {
  readonly index: string;
  private readonly client: Client;
  private readonly keepAlive: string;
  private readonly lookupBatchSize: number;
  private readonly pageRetries: number;
  private readonly pageRetryDelayMs: number;
  private readonly walkSearchSize: number;
  private readonly maxResponseBytes: number;
  private readonly logger: Logger;
  private readonly grouped: GroupCommit<string, AgentInfo | undefined>;

  constructor(options: OpenSearchAgentDirectoryOptions) {
    this.client = options.client;
    this.index = options.agentsIndex ?? DEFAULT_AGENTS_INDEX;
    this.keepAlive = options.pitKeepAlive ?? '1m';
    this.lookupBatchSize = clampPageSize(options.lookupBatchSize ?? 1000);
    this.pageRetries = Math.max(0, Math.floor(options.pageRetries ?? 5));
    this.pageRetryDelayMs = Math.max(0, options.pageRetryDelayMs ?? 500);
    this.walkSearchSize = clampPageSize(options.walkSearchSize ?? DEFAULT_WALK_SEARCH_SIZE);
    this.maxResponseBytes = maxResponseBytesOption(options.maxResponseBytes);
    this.logger = (options.logger ?? noopLogger).child({ component: 'opensearch-agent-directory' });
    this.grouped = new GroupCommit((ids) => this.lookupShared(ids), {
      maxInflight: options.maxInflightLookups ?? 1,
      maxWeight: this.lookupBatchSize,
    });
  }

  /** A point in time on the agents index; undefined when there is no agents index. */
  private async openPit(): Promise<string | undefined> {
    const created = await guarded('create point in time on agents', () =>
      this.client.createPit({ index: [this.index], keep_alive: this.keepAlive }, { ignore: [404] }),
    );
    // 404: no agents index, hence no members.
    return created.statusCode === 404 ? undefined : created.body.pit_id;
  }

  private deletePit(pitId: string): Promise<void> {
    return this.client.deletePit({ body: { pit_id: [pitId] } }).then(
      () => undefined,
      () => {
        // The PIT expires by itself after keep-alive; failing to delete it early is worth a warning only.
        this.logger.warn('could not delete point in time', { index: this.index });
      },
    );
  }

  async *groupMembers(group: string, query: GroupQuery = {}): AsyncIterable<AgentInfo[]> {
    const size = clampPageSize(query.pageSize);
    const opened = await this.openPit();
    if (opened === undefined) return;
    let pitId = opened;
    // Members the next search asks for: a page first, then twice the last, up to `walkSearchSize`; halved
    // when an answer is over the byte bound.
    let searchSize = size;
    let maxSearchSize = Math.max(size, this.walkSearchSize);
    const searchPage = async (after: unknown[] | undefined): Promise<AgentHit[]> => {
      const { value, size: asked } = await readHalving(
        searchSize,
        async (n) => {
          const body: Record<string, unknown> = {
            size: n,
            query: groupQuery(group, query),
            sort: [{ 'agent.id': 'asc' }],
            pit: { id: pitId, keep_alive: this.keepAlive },
            _source: SOURCE_FIELDS,
            track_total_hits: false,
          };
          if (after) body.search_after = after;
          // With a PIT the index comes from the PIT: the request must not name one.
          const { status, body: answer } = await boundedJson<SearchAnswer>(
            'page group members',
            this.maxResponseBytes,
            (options) => this.client.search({ ...WHOLE_ANSWER, body }, options),
          );
          // A point in time that expired or was lost (404) is a failed page, asked again under a new one.
          if (status === 404) {
            throw new CommandManagerError(
              ErrorCodes.STORE_UNAVAILABLE,
              `page group members: OpenSearch answered 404 (${errorType(answer)})`,
            );
          }
          // OpenSearch may hand back a new PIT id with any page; the latest is the one to use and delete.
          if (answer.pit_id) pitId = answer.pit_id;
          checkAllShards(answer, 'page group members');
          return answer.hits?.hits ?? [];
        },
        (e) => {
          throw new AgentTooLargeError(`a member of group "${group}"`, e.maxBytes);
        },
      );
      // A page over the byte bound: the walk goes on with pages no larger than the one that fitted.
      if (asked < searchSize) {
        searchSize = asked;
        maxSearchSize = asked;
      }
      return value;
    };
    const fetchPage = async (after: unknown[] | undefined): Promise<{ hits: AgentHit[]; asked: number }> => {
      for (let attempt = 0; ; attempt++) {
        try {
          const hits = await searchPage(after);
          const asked = searchSize;
          searchSize = Math.min(maxSearchSize, searchSize * 2);
          return { hits, asked };
        } catch (e) {
          // A member too large to read stays so under any point in time.
          if (attempt >= this.pageRetries || e instanceof AgentTooLargeError) throw e;
          this.logger.warn('a page of group members failed; going on under a new point in time', {
            group,
            attempt: attempt + 1,
            error: e instanceof Error ? e.message : String(e),
          });
          await sleep(this.pageRetryDelayMs * 2 ** attempt);
          const fresh = await this.openPit().catch(() => undefined);
          if (fresh !== undefined) {
            void this.deletePit(pitId);
            pitId = fresh;
          }
        }
      }
    };
    // One search is read ahead: the next search runs while the consumer expands and stores the members of the
    // current one, instead of after them (two answers held at most). Its failure is seen when it is awaited;
    // the no-op handler only keeps a failure that happens while the consumer holds the current members from
    // counting as unhandled (which would end the process).
    const readAhead = (after: unknown[] | undefined): Promise<{ hits: AgentHit[]; asked: number }> => {
      const p = fetchPage(after);
      p.catch(() => undefined);
      return p;
    };
    let next: Promise<{ hits: AgentHit[]; asked: number }> | undefined = readAhead(undefined);
    // Members read and not yet handed over: whole pages are filled across searches.
    let page: AgentInfo[] = [];
    try {
      while (next) {
        const { hits, asked } = await next;
        next = undefined;
        const last = hits[hits.length - 1];
        if (hits.length === asked && last?.sort) next = readAhead(last.sort);
        for (const hit of hits) {
          const agent = toAgent(hit);
          if (!agent) continue;
          page.push(agent);
          if (page.length === size) {
            yield page;
            page = [];
          }
        }
      }
      if (page.length > 0) yield page;
    } finally {
      // A consumer that stopped early leaves a read-ahead in flight: let it settle before the PIT goes.
      if (next) await next.catch(() => undefined);
      await this.deletePit(pitId);
    }
  }

  async countGroupMembers(group: string, query: GroupQuery = {}): Promise<number> {
    const response = await guarded('count group members', () =>
      this.client.count({
        index: this.index,
        ignore_unavailable: true,
        body: { query: groupQuery(group, query) },
      }),
    );
    const answer = response.body as SearchAnswer & { count?: number };
    checkAllShards(answer, 'count group members');
    return answer.count ?? 0;
  }

  async lookupAgents(ids: readonly string[]): Promise<Map<string, AgentInfo>> {
    const unique = [...new Set(ids)];
    // Small lookups (a submission's agent targets) share searches with concurrent ones; large ones go alone.
    const answers =
      unique.length <= this.lookupBatchSize
        ? await this.grouped.run(unique)
        : await this.lookupShared(unique);
    const found = new Map<string, AgentInfo>();
    for (const agent of answers) if (agent) found.set(agent.id, agent);
    return found;
  }

  /** One batch of the group commit: the ids of every waiting lookup (repeats allowed), an answer per id. */
  private async lookupShared(ids: string[]): Promise<Array<AgentInfo | undefined>> {
    const byId = new Map<string, AgentInfo>();
    const unique = [...new Set(ids)];
    for (let i = 0; i < unique.length; i += this.lookupBatchSize) {
      for (const agent of await this.search(unique.slice(i, i + this.lookupBatchSize))) {
        byId.set(agent.id, agent);
      }
    }
    return ids.map((id) => byId.get(id));
  }

  /**
   * One `terms` search for a batch of ids, read within `maxResponseBytes`: a larger answer is not parsed, and
   * the batch is looked up again in two halves; an agent larger than the bound alone fails the lookup.
   */
  private async search(batch: string[]): Promise<AgentInfo[]> {
    return readInHalves(
      batch,
      async (ids) => {
        const { body: answer } = await boundedJson<SearchAnswer>(
          'look up agents',
          this.maxResponseBytes,
          (options) =>
            this.client.search(
              {
                index: this.index,
                ignore_unavailable: true,
                ...WHOLE_ANSWER,
                body: {
                  size: Math.min(ids.length, MAX_AGENT_PAGE_SIZE),
                  query: { bool: { filter: [{ terms: { 'agent.id': [...ids] } }] } },
                  _source: SOURCE_FIELDS,
                  track_total_hits: false,
                },
              },
              options,
            ),
        );
        checkAllShards(answer, 'look up agents');
        const agents: AgentInfo[] = [];
        for (const hit of answer.hits?.hits ?? []) {
          const agent = toAgent(hit);
          if (agent) agents.push(agent);
        }
        return agents;
      },
      (id, e) => {
        throw new AgentTooLargeError(`agent "${id}"`, e.maxBytes);
      },
    );
  }
}

/** One agent alone makes an answer larger than the byte bound: no walk or lookup can read past it. */
class AgentTooLargeError extends CommandManagerError {
  /** `subject`: which agent, as the message names it (`agent "001"`, `a member of group "web"`). */
  constructor(subject: string, maxBytes: number) {
    super(
      ErrorCodes.STORE_UNAVAILABLE,
      `${subject} is larger than ${maxBytes} bytes in the agents index; it cannot be read`,
    );
  }
}

interface SearchAnswer {
  error?: { type?: unknown };
  pit_id?: string;
  hits?: { hits?: AgentHit[] };
  _shards?: { total?: number; successful?: number; skipped?: number; failed?: number };
}

/** An answer some shard did not contribute to is refused as unavailable: it may lack agents. */
function checkAllShards(answer: SearchAnswer, operation: string): void {
  const failed = answer._shards?.failed ?? 0;
  if (failed > 0) {
    throw new CommandManagerError(
      ErrorCodes.STORE_UNAVAILABLE,
      `OpenSearch answered ${operation} without ${failed} of its shards`,
      { retryAfterSec: 5 },
    );
  }
}

function errorType(answer: SearchAnswer): string {
  return typeof answer.error?.type === 'string' ? answer.error.type : 'no error type';
}

function clampPageSize(pageSize: number | undefined): number {
  if (pageSize === undefined || !Number.isFinite(pageSize)) return DEFAULT_AGENT_PAGE_SIZE;
  return Math.min(MAX_AGENT_PAGE_SIZE, Math.max(1, Math.floor(pageSize)));
}

function groupQuery(group: string, query: GroupQuery): Record<string, unknown> {
  const filter: Array<Record<string, unknown>> = [
    { term: { 'agent.groups': group } },
    { exists: { field: 'agent.id' } },
  ];
  if (query.statuses !== undefined) filter.push({ terms: { 'agent.status': [...query.statuses] } });
  const excluded = query.excludeIds ?? [];
  return excluded.length > 0
    ? { bool: { filter, must_not: [{ terms: { 'agent.id': [...excluded] } }] } }
    : { bool: { filter } };
}

function toAgent(hit: AgentHit): AgentInfo | undefined {
  const agent = hit._source?.agent;
  if (!agent || typeof agent.id !== 'string') return undefined;
  const groups = Array.isArray(agent.groups)
    ? agent.groups.filter((g): g is string => typeof g === 'string')
    : typeof agent.groups === 'string'
      ? [agent.groups]
      : [];
  const info: AgentInfo = { id: agent.id, groups };
  if (typeof agent.status === 'string') info.status = agent.status;
  return info;
}
