/**
 * The actions the command manager accepts. Each action declares, per version, a JSON Schema (2020-12) for its
 * `args` and the target types it may be sent to. The five actions Wazuh ships are built in; operators add
 * their own from JSON (a definition file), without code.
 *
 * Definition file format (one definition, an array of them, or `{"actions": [...]}`):
 *
 *   { "name": "scan",
 *     "versions": { "*": { "targets": ["agent", "group"],
 *                          "args": { "type": "object", "properties": { "path": { "type": "string" } },
 *                                    "required": ["path"], "additionalProperties": false } } } }
 *
 * Version keys: an exact `action.version` string, or `*` which matches any version and a request without
 * one. A request without `action.version` uses `*`, or the only version when there is exactly one.
 */
import type Ajv2020 from 'ajv/dist/2020';
import type { ValidateFunction } from 'ajv/dist/2020';
import { CommandManagerError, ErrorCodes } from './errors';
import type { ErrorDetail } from './errors';
import { createAjv, escapePointerToken, sortDetails, toErrorDetails } from './internal/ajv';
import type { Action, Target, TargetType } from './model';
import { TARGET_TYPES } from './model';

export interface ActionVersionSpec {
  /** Target types this action (version) may be sent to. */
  targets: TargetType[];
  /** JSON Schema (draft 2020-12) of `action.args`. */
  args: Record<string, unknown>;
  /** For `server` targets: the server components allowed; any when unset. */
  serverIds?: string[];
}

export interface ActionDefinition {
  name: string;
  description?: string;
  /** Per version (`*` = any version). */
  versions: Record<string, ActionVersionSpec>;
}

/** The JSON Schema of an action definition (what operators write). */
export const actionDefinitionSchema = {
  type: 'object',
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 256, pattern: '^[^\\u0000-\\u001F\\u007F-\\u009F]*$' },
    description: { type: 'string' },
    versions: {
      type: 'object',
      minProperties: 1,
      additionalProperties: {
        type: 'object',
        properties: {
          targets: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: TARGET_TYPES } },
          args: { type: 'object' },
          serverIds: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
        },
        required: ['targets', 'args'],
        additionalProperties: false,
      },
    },
  },
  required: ['name', 'versions'],
  additionalProperties: false,
} as const;

/** Agent and group targets: the action runs on endpoints. */
const ON_AGENTS: TargetType[] = ['agent', 'group'];
const NO_ARGS = { type: 'object', maxProperties: 0 } as const;
/**
 * Bounds of the built-in actions' args, so that every string and array has a length limit of its own (the
 * byte bound `limits.maxArgsBytes` covers the whole of `args`, and unregistered actions in permissive mode).
 * A Wazuh group or an OpenSearch index name is at most 255 bytes.
 */
const MAX_NAME_LENGTH = 255;
const MAX_GROUPS = 128;
const MAX_INDICES = 64;
const MAX_OFFSET_LENGTH = 64;
const NON_EMPTY_STRING = { type: 'string', minLength: 1, maxLength: MAX_NAME_LENGTH } as const;

export interface BuiltInActionOptions {
  /** Server components `update` may target (Wazuh hard-codes `vulnerability-detector`). */
  updateServerIds?: string[];
}

export const DEFAULT_UPDATE_SERVER_IDS: readonly string[] = ['vulnerability-detector'];

/** The actions Wazuh ships, with their args and targets. */
export function builtInActions(options: BuiltInActionOptions = {}): ActionDefinition[] {
  return [
    {
      name: 'set-group',
      description: "Replaces the agent's groups.",
      versions: {
        '*': {
          targets: ON_AGENTS,
          args: {
            type: 'object',
            properties: { groups: { type: 'array', maxItems: MAX_GROUPS, items: NON_EMPTY_STRING } },
            required: ['groups'],
            additionalProperties: false,
          },
        },
      },
    },
    {
      name: 'fetch-config',
      description: 'The agent fetches its configuration (Wazuh sends `args: {}`).',
      versions: { '*': { targets: ON_AGENTS, args: NO_ARGS } },
    },
    {
      name: 'restart',
      description: 'The agent restarts.',
      versions: { '*': { targets: ON_AGENTS, args: NO_ARGS } },
    },
    {
      name: 'update',
      description: 'A server component updates its content from an index, from an offset.',
      versions: {
        '*': {
          targets: ['server'],
          serverIds: [...(options.updateServerIds ?? DEFAULT_UPDATE_SERVER_IDS)],
          args: {
            type: 'object',
            properties: { index: NON_EMPTY_STRING, offset: { type: 'string', maxLength: MAX_OFFSET_LENGTH } },
            required: ['index', 'offset'],
            additionalProperties: false,
          },
        },
      },
    },
    {
      name: 'refresh',
      description: 'A server component refreshes from one or more indices.',
      versions: {
        '*': {
          targets: ['server'],
          args: {
            type: 'object',
            properties: {
              index: {
                anyOf: [
                  NON_EMPTY_STRING,
                  { type: 'array', minItems: 1, maxItems: MAX_INDICES, items: NON_EMPTY_STRING },
                ],
              },
            },
            additionalProperties: false,
          },
        },
      },
    },
  ];
}

interface CompiledVersion {
  spec: ActionVersionSpec;
  validateArgs: ValidateFunction;
}

export interface ActionCheck {
  /** The action name is not registered (only ever true when the registry is not permissive). */
  unknownAction: boolean;
  details: ErrorDetail[];
}

export interface ActionRegistryOptions {
  /** Accept unregistered action names with any args and any target type. Default false. */
  permissive?: boolean;
}

export interface DefaultActionRegistryOptions extends ActionRegistryOptions, BuiltInActionOptions {
  /** More definitions (parsed JSON), registered after the built-in ones; a same-named one replaces a built-in. */
  definitions?: unknown;
}

export class ActionRegistry {
  readonly permissive: boolean;
  private readonly ajv: Ajv2020 = createAjv();
  private readonly validateDefinition: ValidateFunction;
  private readonly actions = new Map<
    string,
    { definition: ActionDefinition; versions: Map<string, CompiledVersion> }
  >();

  constructor(options: ActionRegistryOptions = {}) {
    this.permissive = options.permissive ?? false;
    this.validateDefinition = this.ajv.compile(actionDefinitionSchema);
  }

  /** The built-in actions, plus operator definitions. */
  static withDefaults(options: DefaultActionRegistryOptions = {}): ActionRegistry {
    const registry = new ActionRegistry(options);
    for (const d of builtInActions(options)) registry.register(d);
    if (options.definitions !== undefined) registry.registerAll(options.definitions);
    return registry;
  }

  /**
   * Registers (or replaces) one action. The definition and every args schema are checked; a bad one throws
   * CONFIG_INVALID naming each bad field, and nothing is registered.
   */
  register(definition: unknown, pointer = ''): void {
    if (!this.validateDefinition(definition)) {
      throw new CommandManagerError(ErrorCodes.CONFIG_INVALID, 'invalid action definition', {
        details: sortDetails(toErrorDetails(this.validateDefinition.errors, pointer)),
      });
    }
    const def = structuredClone(definition) as ActionDefinition;
    const versions = new Map<string, CompiledVersion>();
    const details: ErrorDetail[] = [];
    for (const [version, spec] of Object.entries(def.versions)) {
      try {
        versions.set(version, { spec, validateArgs: this.ajv.compile(spec.args) });
      } catch (e) {
        details.push({
          pointer: `${pointer}/versions/${escapePointerToken(version)}/args`,
          message: `is not a valid JSON Schema: ${e instanceof Error ? e.message : String(e)}`,
        });
      }
    }
    if (details.length > 0) {
      throw new CommandManagerError(
        ErrorCodes.CONFIG_INVALID,
        `invalid args schema for action "${def.name}"`,
        {
          details,
        },
      );
    }
    this.actions.set(def.name, { definition: def, versions });
  }

  /** Registers definitions from parsed JSON: one definition, an array of them, or `{"actions": [...]}`. */
  registerAll(definitions: unknown): void {
    if (Array.isArray(definitions)) {
      definitions.forEach((d, i) => this.register(d, `/${i}`));
    } else if (
      typeof definitions === 'object' &&
      definitions !== null &&
      Array.isArray((definitions as { actions?: unknown }).actions)
    ) {
      (definitions as { actions: unknown[] }).actions.forEach((d, i) => this.register(d, `/actions/${i}`));
    } else {
      this.register(definitions);
    }
  }

  /** Registers definitions from the text of a JSON file. */
  registerJson(text: string): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      throw new CommandManagerError(ErrorCodes.CONFIG_INVALID, 'action definitions are not valid JSON', {
        details: [{ pointer: '', message: e instanceof Error ? e.message : String(e) }],
        cause: e,
      });
    }
    this.registerAll(parsed);
  }

  has(name: string): boolean {
    return this.actions.has(name);
  }

  names(): string[] {
    return [...this.actions.keys()].sort();
  }

  get(name: string): ActionDefinition | undefined {
    const entry = this.actions.get(name);
    return entry ? structuredClone(entry.definition) : undefined;
  }

  /**
   * Checks an (already schema-valid) command's action against its registration: known name, supported
   * version, allowed target type (and server id), args valid. `pointer` is the command's pointer
   * (e.g. `/commands/3`); every detail is below it.
   */
  check(action: Action, target: Target, pointer: string): ActionCheck {
    const entry = this.actions.get(action.name);
    if (!entry) {
      if (this.permissive) return { unknownAction: false, details: [] };
      return {
        unknownAction: true,
        details: [
          {
            pointer: `${pointer}/action/name`,
            message: `unknown action "${action.name}" (registered: ${this.names().join(', ')})`,
          },
        ],
      };
    }
    const compiled = this.resolveVersion(entry.versions, action.version);
    if (!compiled) {
      const known = [...entry.versions.keys()].join(', ');
      return {
        unknownAction: false,
        details: [
          action.version === undefined
            ? {
                pointer: `${pointer}/action/version`,
                message: `is required for action "${action.name}" (one of: ${known})`,
              }
            : {
                pointer: `${pointer}/action/version`,
                message: `action "${action.name}" has no version "${action.version}" (known: ${known})`,
              },
        ],
      };
    }
    const details: ErrorDetail[] = [];
    const { spec } = compiled;
    if (!spec.targets.includes(target.type)) {
      details.push({
        pointer: `${pointer}/target/type`,
        message: `action "${action.name}" cannot be sent to target type "${target.type}" (allowed: ${spec.targets.join(', ')})`,
      });
    } else if (target.type === 'server' && spec.serverIds && !spec.serverIds.includes(target.id)) {
      details.push({
        pointer: `${pointer}/target/id`,
        message: `action "${action.name}" cannot be sent to server "${target.id}" (allowed: ${spec.serverIds.join(', ')})`,
      });
    }
    if (!compiled.validateArgs(action.args)) {
      details.push(...toErrorDetails(compiled.validateArgs.errors, `${pointer}/action/args`));
    }
    return { unknownAction: false, details };
  }

  private resolveVersion(
    versions: Map<string, CompiledVersion>,
    version: string | undefined,
  ): CompiledVersion | undefined {
    if (version !== undefined) return versions.get(version) ?? versions.get('*');
    const any = versions.get('*');
    if (any) return any;
    if (versions.size === 1) return versions.values().next().value;
    return undefined;
  }
}
