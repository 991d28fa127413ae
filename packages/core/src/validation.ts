/**
 * Validation of what callers send. Every error names the JSON pointer of the bad field and why
 * (`CommandManagerError.details`); all errors of a body are listed at once; nothing depends on the order of
 * fields (Wazuh's plugin required `action` before `target`; we do not); unknown fields are rejected by name.
 *
 * Validators never mutate their input: they return a canonical copy (e.g. `source` in its canonical case).
 */
import type { ValidateFunction } from 'ajv/dist/2020';
import type { ActionRegistry } from './action-registry';
import { CommandManagerError, ErrorCodes } from './errors';
import type { ErrorDetail } from './errors';
import { createAjv, sortDetails, toErrorDetails } from './internal/ajv';
import type { CommandBatch, CommandRequest, Order, ResultReport, Source } from './model';
import { SOURCES } from './model';
import {
  commandBatchSchema,
  commandRequestSchema,
  orderSchema,
  resultReportBatchSchema,
  resultReportSchema,
} from './schemas';
import { normaliseWazuhCommand } from './wazuh-bodies';
import type { WazuhBodyOptions } from './wazuh-bodies';
import { checkArgsBytes, DEFAULT_MAX_ARGS_BYTES } from './write-bounds';

const SOURCE_BY_LOWER = new Map<string, Source>(SOURCES.map((s) => [s.toLowerCase(), s]));

/** The canonical spelling of a source, matched without regard to case (`Content Manager` → `Content manager`). */
export function canonicalSource(value: string): Source | undefined {
  return SOURCE_BY_LOWER.get(value.toLowerCase());
}

interface Compiled {
  batch: ValidateFunction;
  command: ValidateFunction;
  order: ValidateFunction;
  report: ValidateFunction;
  reports: ValidateFunction;
}

let compiled: Compiled | undefined;

/** Schemas are compiled once per process (ajv compilation is the slow part). */
function schemasCompiled(): Compiled {
  if (!compiled) {
    const ajv = createAjv();
    compiled = {
      batch: ajv.compile(commandBatchSchema),
      command: ajv.compile(commandRequestSchema),
      order: ajv.compile(orderSchema),
      report: ajv.compile(resultReportSchema),
      reports: ajv.compile(resultReportBatchSchema),
    };
  }
  return compiled;
}

function invalid(details: ErrorDetail[], message = 'the request is invalid'): CommandManagerError {
  return new CommandManagerError(ErrorCodes.VALIDATION_FAILED, `${message}: ${summary(details)}`, {
    details: sortDetails(details),
  });
}

function summary(details: ErrorDetail[]): string {
  const first = details.slice(0, 3).map((d) => `${d.pointer || '/'} ${d.message}`);
  return details.length > 3 ? `${first.join('; ')}; and ${details.length - 3} more` : first.join('; ');
}

/** A JSON copy: what a JSON body would be (drops `undefined` members), and never the caller's object. */
function jsonCopy(body: unknown): unknown {
  if (body === undefined) return undefined;
  try {
    return JSON.parse(JSON.stringify(body)) as unknown;
  } catch (e) {
    throw new CommandManagerError(ErrorCodes.VALIDATION_FAILED, 'the body is not JSON-serialisable', {
      details: [{ pointer: '', message: 'must be a JSON value' }],
      cause: e,
    });
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function canonicaliseCommand(command: unknown): void {
  if (isObject(command) && typeof command.source === 'string') {
    const s = canonicalSource(command.source);
    if (s) command.source = s;
  }
}

export interface CommandValidatorOptions {
  registry: ActionRegistry;
  /** Most commands in one batch (BATCH_TOO_LARGE beyond). */
  maxBatchCommands: number;
  /** Most result reports in one bulk report (BATCH_TOO_LARGE beyond). Default 1000. */
  maxResultsPerReport?: number;
  /**
   * Most bytes of one command's serialized `action.args` (ARGS_TOO_LARGE beyond), checked before the
   * action's own schema: a huge `args` is refused for its size whatever else is wrong with it. Default 16 KiB.
   */
  maxArgsBytes?: number;
  /** Most ids in one command's `exclude_agents` (VALIDATION_FAILED beyond). Default 1000. */
  maxExcludeAgents?: number;
  /** Most ids in one `"type": "agents"` target's `ids` (VALIDATION_FAILED beyond). Default 1000. */
  maxTargetAgents?: number;
}

/** Default bound of `exclude_agents`; with ids of at most 256 characters, at most ~1 MiB of UTF-8. */
export const DEFAULT_MAX_EXCLUDE_AGENTS = 1000;
/** Default bound of an `agents` target's `ids`; with ids of at most 256 characters, at most ~1 MiB of UTF-8. */
export const DEFAULT_MAX_TARGET_AGENTS = 1000;

export class CommandValidator {
  private readonly registry: ActionRegistry;
  private readonly maxBatchCommands: number;
  private readonly maxResultsPerReport: number;
  private readonly maxArgsBytes: number;
  private readonly maxExcludeAgents: number;
  private readonly maxTargetAgents: number;

  constructor(options: CommandValidatorOptions) {
    this.registry = options.registry;
    this.maxBatchCommands = options.maxBatchCommands;
    this.maxResultsPerReport = options.maxResultsPerReport ?? 1000;
    this.maxArgsBytes = options.maxArgsBytes ?? DEFAULT_MAX_ARGS_BYTES;
    this.maxExcludeAgents = options.maxExcludeAgents ?? DEFAULT_MAX_EXCLUDE_AGENTS;
    this.maxTargetAgents = options.maxTargetAgents ?? DEFAULT_MAX_TARGET_AGENTS;
  }

  /**
   * Validates a whole `{"commands": [...]}` body, then each command's action against the registry. The
   * shapes Wazuh's senders post are normalised first (`wazuh-bodies.ts`; `options.defaultUser` fills `user`).
   * Throws BATCH_TOO_LARGE (too many commands), UNKNOWN_ACTION (some action name is not registered; the
   * details also list every other error) or VALIDATION_FAILED, with every bad field in `details`.
   */
  validateBatch(body: unknown, options: WazuhBodyOptions = {}): CommandBatch {
    const copy = jsonCopy(body);
    if (isObject(copy) && Array.isArray(copy.commands)) {
      if (copy.commands.length > this.maxBatchCommands) {
        throw new CommandManagerError(
          ErrorCodes.BATCH_TOO_LARGE,
          `at most ${this.maxBatchCommands} commands per request (got ${copy.commands.length})`,
          {
            details: [
              { pointer: '/commands', message: `must have at most ${this.maxBatchCommands} item(s)` },
            ],
          },
        );
      }
      for (const command of copy.commands) {
        canonicaliseCommand(command);
        normaliseWazuhCommand(command, options);
      }
      this.checkIdCounts(copy.commands, (i) => `/commands/${i}`);
    }
    const v = schemasCompiled().batch;
    if (!v(copy)) throw invalid(toErrorDetails(v.errors));
    const batch = copy as unknown as CommandBatch;
    checkArgsBytes(batch.commands, this.maxArgsBytes);
    checkEligibilityTargets(batch.commands, (i) => `/commands/${i}`);
    checkDeliveryWindows(batch.commands, (i) => `/commands/${i}`);
    this.checkActions(batch.commands, (i) => `/commands/${i}`);
    return batch;
  }

  /** Validates one command request (as embedded services send it, without the batch envelope). */
  validateCommand(body: unknown, options: WazuhBodyOptions = {}): CommandRequest {
    const copy = jsonCopy(body);
    canonicaliseCommand(copy);
    normaliseWazuhCommand(copy, options);
    this.checkIdCounts([copy], () => '');
    const v = schemasCompiled().command;
    if (!v(copy)) throw invalid(toErrorDetails(v.errors));
    const command = copy as unknown as CommandRequest;
    checkArgsBytes([command], this.maxArgsBytes, () => '');
    checkEligibilityTargets([command], () => '');
    checkDeliveryWindows([command], () => '');
    this.checkActions([command], () => '');
    return command;
  }

  /** Validates result reports: a single `{id, status, result}` or bulk `{"results": [...]}`. */
  validateResultReports(body: unknown): ResultReport[] {
    const copy = jsonCopy(body);
    if (isObject(copy) && 'results' in copy) {
      if (Array.isArray(copy.results) && copy.results.length > this.maxResultsPerReport) {
        throw new CommandManagerError(
          ErrorCodes.BATCH_TOO_LARGE,
          `at most ${this.maxResultsPerReport} results per report (got ${copy.results.length})`,
          {
            details: [
              { pointer: '/results', message: `must have at most ${this.maxResultsPerReport} item(s)` },
            ],
          },
        );
      }
      const v = schemasCompiled().reports;
      if (!v(copy)) throw invalid(toErrorDetails(v.errors), 'the result report is invalid');
      return (copy as unknown as { results: ResultReport[] }).results;
    }
    const v = schemasCompiled().report;
    if (!v(copy)) throw invalid(toErrorDetails(v.errors), 'the result report is invalid');
    return [copy as unknown as ResultReport];
  }

  /** `exclude_agents` and `target.ids` over their bounds, before the schema walks every id. */
  private checkIdCounts(commands: readonly unknown[], pointerOf: (i: number) => string): void {
    const details: ErrorDetail[] = [];
    const bound = (list: unknown, max: number, pointer: string): void => {
      if (Array.isArray(list) && list.length > max) {
        details.push({ pointer, message: `must have at most ${max} item(s)` });
      }
    };
    commands.forEach((c, i) => {
      if (!isObject(c)) return;
      bound(c.exclude_agents, this.maxExcludeAgents, `${pointerOf(i)}/exclude_agents`);
      if (isObject(c.target)) bound(c.target.ids, this.maxTargetAgents, `${pointerOf(i)}/target/ids`);
    });
    if (details.length > 0) throw invalid(details);
  }

  private checkActions(commands: readonly CommandRequest[], pointerOf: (i: number) => string): void {
    const details: ErrorDetail[] = [];
    let unknown = false;
    commands.forEach((c, i) => {
      // A list of agents may carry what one agent may: the registry knows order targets.
      const target =
        c.target.type === 'agents' ? { type: 'agent' as const, id: c.target.ids[0] ?? '' } : c.target;
      const check = this.registry.check(c.action, target, pointerOf(i));
      unknown ||= check.unknownAction;
      details.push(...check.details);
    });
    if (details.length === 0) return;
    if (unknown) {
      throw new CommandManagerError(ErrorCodes.UNKNOWN_ACTION, `unknown action: ${summary(details)}`, {
        details: sortDetails(details),
      });
    }
    throw invalid(details);
  }
}

/** `agent_status` and `exclude_agents` narrow agents: a server target has none. */
function checkEligibilityTargets(
  commands: readonly CommandRequest[],
  pointerOf: (i: number) => string,
): void {
  const details: ErrorDetail[] = [];
  commands.forEach((c, i) => {
    if (c.target.type !== 'server') return;
    for (const key of ['agent_status', 'exclude_agents'] as const) {
      if (c[key] !== undefined) {
        details.push({
          pointer: `${pointerOf(i)}/${key}`,
          message: 'applies only to agent and group targets',
        });
      }
    }
  });
  if (details.length > 0) throw invalid(details);
}

/**
 * A delivery window holds the first `timeout` (an order delivered at once has all of it inside the window);
 * only a group has members that may join.
 */
function checkDeliveryWindows(commands: readonly CommandRequest[], pointerOf: (i: number) => string): void {
  const details: ErrorDetail[] = [];
  commands.forEach((c, i) => {
    if (c.membership === 'live' && c.target.type !== 'group') {
      details.push({ pointer: `${pointerOf(i)}/membership`, message: 'live applies only to group targets' });
    }
    if (c.delivery_window_s !== undefined && c.delivery_window_s < c.timeout) {
      details.push({
        pointer: `${pointerOf(i)}/delivery_window_s`,
        message: `must be at least timeout (${c.timeout})`,
      });
    }
  });
  if (details.length > 0) throw invalid(details);
}

/** Validates a stored order document (for adapters and tools that read the orders index). */
export function validateOrder(doc: unknown): Order {
  const v = schemasCompiled().order;
  if (!v(doc)) throw invalid(toErrorDetails(v.errors), 'the order is invalid');
  return doc as Order;
}
