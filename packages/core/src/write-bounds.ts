/**
 * Byte bounds on what one submission may write, checked before anything is written.
 *
 * Every order of a command carries the command's whole `action.args`, and every reader of the orders index
 * (claims, deliveries, listings) pays for those bytes once per order. Two bounds keep that in hand:
 * - `maxArgsBytes`: the serialized JSON of one command's `action.args` (ARGS_TOO_LARGE, 413, beyond);
 * - `maxRequestWriteBytes`: args bytes × orders, summed over the commands of one submission
 *   (REQUEST_WRITE_TOO_LARGE, 422, beyond), i.e. how many bytes of args the submission would write.
 * Whatever `maxArgsBytes` allows, each leaf of `action.args` must fit one index term
 * (flat-object-leaves.ts; ARGS_TOO_LARGE, 413, beyond): the index would refuse the orders otherwise.
 */
import { CommandManagerError, ErrorCodes } from './errors';
import type { ErrorDetail } from './errors';
import { oversizedLeaf, PAYLOAD_LEAF_MAX_BYTES } from './flat-object-leaves';
import type { CommandRequest } from './model';

/** Default bound of one command's serialized `action.args`: 16 KiB. */
export const DEFAULT_MAX_ARGS_BYTES = 16 * 1024;
/**
 * Default bound of the args bytes one submission writes: 64 MiB, so that a 100,000-agent group passes with
 * args of up to ~670 bytes (a `set-group` naming a dozen groups), while the 16 KiB a single command may carry
 * reaches at most ~4,000 orders.
 */
export const DEFAULT_MAX_REQUEST_WRITE_BYTES = 64 * 1024 * 1024;

export interface WriteBounds {
  maxArgsBytes: number;
  maxRequestWriteBytes: number;
}

/** Bytes of the serialized JSON of a command's `action.args` (UTF-8), as stored on each of its orders. */
export function argsBytes(command: CommandRequest): number {
  return Buffer.byteLength(JSON.stringify(command.action.args ?? {}), 'utf8');
}

/**
 * ARGS_TOO_LARGE naming every command whose args are over the bound, or hold a leaf larger than one index
 * term may be (PAYLOAD_LEAF_MAX_BYTES, path and value).
 */
export function checkArgsBytes(
  commands: readonly CommandRequest[],
  maxArgsBytes: number,
  pointerOf: (i: number) => string = (i) => `/commands/${i}`,
): void {
  const details: ErrorDetail[] = [];
  let leaves = 0;
  commands.forEach((c, i) => {
    const bytes = argsBytes(c);
    if (bytes > maxArgsBytes) {
      details.push({
        pointer: `${pointerOf(i)}/action/args`,
        message: `is ${bytes} bytes of JSON, more than the maximum of ${maxArgsBytes}`,
      });
      return;
    }
    // A leaf's path and value never take more bytes than the whole args as JSON: small args need no walk.
    if (bytes <= PAYLOAD_LEAF_MAX_BYTES) return;
    const leaf = oversizedLeaf(c.action.args ?? {});
    if (leaf) {
      leaves++;
      details.push({
        pointer: `${pointerOf(i)}/action/args${leaf.keys.map((k) => `/${escapePointer(k)}`).join('')}`,
        message: `is ${leaf.bytes} bytes with its path; a value of action.args may hold at most ${PAYLOAD_LEAF_MAX_BYTES} (the index stores each as one term)`,
      });
    }
  });
  if (details.length > 0) {
    const message =
      leaves === details.length
        ? `action.args holds a value larger than ${PAYLOAD_LEAF_MAX_BYTES} bytes; nothing was written`
        : `action.args larger than ${maxArgsBytes} bytes; nothing was written`;
    throw new CommandManagerError(ErrorCodes.ARGS_TOO_LARGE, message, { details });
  }
}

/** A key as a JSON Pointer reference token (RFC 6901). */
function escapePointer(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

/**
 * Whether the submission could go over `maxRequestWriteBytes` before its groups are counted: agent and
 * server targets write one order each, a list of agents one per id, a group at most `maxFanOut`. When false, the write bound cannot be
 * exceeded and ids may be allocated while the groups are counted.
 */
export function mayExceedWriteBound(
  commands: readonly CommandRequest[],
  maxFanOut: number,
  maxRequestWriteBytes: number,
): boolean {
  let worst = 0;
  for (const c of commands) {
    const orders =
      c.target.type === 'group' ? maxFanOut : c.target.type === 'agents' ? c.target.ids.length : 1;
    worst += argsBytes(c) * orders;
  }
  return worst > maxRequestWriteBytes;
}

/** REQUEST_WRITE_TOO_LARGE when args bytes × orders, summed over the commands, is over the bound. */
export function checkRequestWrite(
  plans: ReadonlyArray<{ command: CommandRequest; count: number }>,
  maxRequestWriteBytes: number,
): void {
  let total = 0;
  const details: ErrorDetail[] = [];
  plans.forEach((p, i) => {
    const bytes = argsBytes(p.command) * p.count;
    total += bytes;
    if (bytes > 0) {
      details.push({
        pointer: `/commands/${i}/action/args`,
        message: `${p.count} order(s) × ${argsBytes(p.command)} bytes of args = ${bytes} bytes`,
      });
    }
  });
  if (total <= maxRequestWriteBytes) return;
  throw new CommandManagerError(
    ErrorCodes.REQUEST_WRITE_TOO_LARGE,
    `the submission would write ${total} bytes of args (orders × args), more than the maximum of ${maxRequestWriteBytes}; nothing was written`,
    { details },
  );
}
