/**
 * The shapes Wazuh's own senders post to `POST /_plugins/_command_manager/commands`, brought to the one
 * shape the schemas validate. Each rule follows what Wazuh's command-manager plugin did with that shape
 * (wazuh/wazuh-indexer-plugins, `plugins/command-manager/.../model/{Command,Action,Target,Args}.java`);
 * the README lists every sender's body, its source file and the rule applied.
 *
 * - `user` absent: the authenticated principal's name. The plugin stored `null` (the content manager's
 *   builder sends none); storing who actually called is what `user` means. A principal that may not act
 *   for others is still refused any other `user` (`authorise` in command-service.ts).
 * - `action.args` absent: `{}` (the plugin's `Action.parse` started from an empty `Args`). The server sends
 *   no `args` for `restart` and `update-group` (its dataclass drops `None` fields).
 * - `action.args` a list, for `set-group`: `{"groups": [...]}`. The server sent the group names as a list
 *   until January 2025 (`args=groups`), and the plugin of that time parsed `args` as a list; the list is what
 *   later became `args.groups`. A list for any other action stays a list and is refused by the schema.
 * - `target.type` in any case (`Agent`, `GROUP`): the canonical lower case (the plugin's
 *   `Target.Type.fromString` compared ignoring case and stored the lower-case value).
 * - `source` in any case (`Content Manager`): the canonical spelling (`canonicalSource`), done in
 *   validation.ts before these rules; the role check sees the canonical value, so a casing never lets a
 *   caller claim a source its role does not allow.
 * - One command posted bare, without the `commands` envelope: taken as a batch of one. The server posted
 *   that way until December 2024 and the plugin of that time parsed one bare command; error pointers are
 *   given relative to the body as sent (`/source`, not `/commands/0/source`).
 *
 * Every rule adds a field that is absent or rewrites one whose meaning is unambiguous; nothing is dropped,
 * so an unknown field is still refused by name.
 */
import { CommandManagerError } from './errors';
import type { ErrorDetail } from './errors';
import { TARGET_TYPES } from './model';

export interface WazuhBodyOptions {
  /** The `user` of a command that names none: the authenticated principal. Unset: `user` stays required. */
  defaultUser?: string;
}

const COMMAND_FIELDS = ['source', 'user', 'target', 'action', 'timeout'];

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A single command posted without the `{"commands": [...]}` envelope (the server's shape before December 2024). */
export function isBareCommand(body: unknown): body is Record<string, unknown> {
  return isObject(body) && !('commands' in body) && COMMAND_FIELDS.some((f) => f in body);
}

/** Fills and rewrites the fields of one command (a JSON copy: it is mutated) as described above. */
export function normaliseWazuhCommand(command: unknown, options: WazuhBodyOptions = {}): void {
  if (!isObject(command)) return;
  if (!('user' in command) && options.defaultUser !== undefined) command.user = options.defaultUser;
  const target = command.target;
  if (isObject(target) && typeof target.type === 'string') {
    const lower = target.type.toLowerCase();
    if ((TARGET_TYPES as readonly string[]).includes(lower)) target.type = lower;
  }
  const action = command.action;
  if (isObject(action)) {
    if (!('args' in action)) action.args = {};
    else if (
      action.name === 'set-group' &&
      Array.isArray(action.args) &&
      action.args.every((g) => typeof g === 'string')
    ) {
      action.args = { groups: action.args };
    }
  }
}

/** Rewrites `/commands/0…` pointers of an error about a bare command to pointers into the body as sent. */
export function rebaseBareCommandError(e: unknown): unknown {
  if (!(e instanceof CommandManagerError) || e.details.length === 0) return e;
  const details: ErrorDetail[] = e.details.map((d) => ({
    ...d,
    pointer: d.pointer === '/commands' ? '' : d.pointer.replace(/^\/commands\/0(?=\/|$)/, ''),
  }));
  return new CommandManagerError(e.code, e.message.replace(/\/commands\/0(?=\/| )/g, '') || e.message, {
    details,
    cause: e,
    ...(e.retryAfterSec !== undefined ? { retryAfterSec: e.retryAfterSec } : {}),
  });
}
