/**
 * Plan tokens: what a dry run resolved, in a bounded string that the real send can be held to.
 *
 * A command's resolved set is the list of its destinations (`agent:<id>`, `server:<id>`) in order-id order.
 * Each is summarised by its size, a SHA-256 over the list, and BUCKETS buckets (by the first byte of each
 * destination's SHA-256): a count and the XOR of the first 6 bytes of the hashes. The token is
 * `base64url(version ‖ n ‖ per command: count, buckets ‖ tag)` where the tag (16 bytes) is a SHA-256 over the
 * summaries, the list digests and the fingerprint of the caller and the validated body.
 *
 * - A token means one thing: its tag binds the caller, the body and every set digest, so it cannot be reused
 *   for another body, another caller or another set. No secret is involved: a token that anyone computes
 *   only states an expectation, which the server checks against the sets it resolves at send time.
 * - Bounded: 5 + 44 bytes per command + 16, about 5.9 KB of base64url for 100 commands.
 * - When the sets differ, the buckets of the token and of the current sets say how many destinations were
 *   added and removed (exact unless one bucket both gained and lost some: then a lower bound), and a
 *   bucket that gained exactly one destination names it (`sampleAdded`). The buckets are diagnostics only;
 *   the decision rests on the tag.
 */
import { createHash } from 'node:crypto';
import { CommandManagerError, ErrorCodes } from './errors';

const VERSION = 1;
export const PLAN_TOKEN_BUCKETS = 4;
const HASH_BYTES = 6;
const TAG_BYTES = 16;
const BUCKET_BYTES = 4 + HASH_BYTES;
const COMMAND_BYTES = 4 + PLAN_TOKEN_BUCKETS * BUCKET_BYTES;
const HEADER_BYTES = 5;

/** The summary of one command's resolved set, built one destination at a time. */
export class ResolvedSet {
  count = 0;
  readonly bucketCounts = new Array<number>(PLAN_TOKEN_BUCKETS).fill(0);
  readonly bucketHashes = Array.from({ length: PLAN_TOKEN_BUCKETS }, () => Buffer.alloc(HASH_BYTES));
  private readonly digest = createHash('sha256');

  add(destination: string): void {
    this.count++;
    this.digest.update(destination).update('\n');
    const h = destinationHash(destination);
    const b = bucketOf(h);
    this.bucketCounts[b] = (this.bucketCounts[b] ?? 0) + 1;
    xorInto(this.bucketHashes[b] as Buffer, h);
  }

  /** The digest of the whole list (call once, when every destination was added). */
  finish(): Summary {
    return {
      count: this.count,
      buckets: this.bucketCounts.map((c, i) => ({ count: c, hash: this.bucketHashes[i] as Buffer })),
      digest: this.digest.digest(),
    };
  }
}

export interface Summary {
  count: number;
  buckets: Array<{ count: number; hash: Buffer }>;
  /** Absent when decoded from a token (the token carries only the tag over it). */
  digest?: Buffer;
}

/** The token of a plan: the summaries of its commands, bound to `fingerprint` (caller and body). */
export function encodePlanToken(fingerprint: string, summaries: readonly Summary[]): string {
  const body = encodeSummaries(summaries);
  return Buffer.concat([body, tagOf(body, fingerprint, summaries)]).toString('base64url');
}

/** Whether `token` is the token of these summaries for this caller and body. */
export function planTokenMatches(token: string, fingerprint: string, summaries: readonly Summary[]): boolean {
  return token === encodePlanToken(fingerprint, summaries);
}

/** Longest token of a submission of at most `maxCommands` commands (characters of base64url). */
export function maxPlanTokenLength(maxCommands: number): number {
  return Math.ceil(((HEADER_BYTES + COMMAND_BYTES * maxCommands + TAG_BYTES) * 4) / 3);
}

/**
 * The summaries a token carries, for the diagnostics of a mismatch. VALIDATION_FAILED (naming the header)
 * when it is not a token of `commands` commands.
 */
export function decodePlanToken(token: string, commands: number): Summary[] {
  const bad = (message: string): CommandManagerError =>
    new CommandManagerError(ErrorCodes.VALIDATION_FAILED, `invalid Plan-Token: ${message}`, {
      details: [{ pointer: '/headers/plan-token', message }],
    });
  if (token.length > maxPlanTokenLength(commands) || !/^[A-Za-z0-9_-]+$/.test(token)) {
    throw bad(
      `must be the plan_token of a dry run of this body (base64url, at most ${maxPlanTokenLength(commands)} characters)`,
    );
  }
  const bytes = Buffer.from(token, 'base64url');
  if (bytes.length !== HEADER_BYTES + COMMAND_BYTES * commands + TAG_BYTES || bytes[0] !== VERSION) {
    throw bad(`is not the plan_token of a dry run of a ${commands}-command body`);
  }
  if (bytes.readUInt32BE(1) !== commands)
    throw bad(`was made for ${bytes.readUInt32BE(1)} command(s), not ${commands}`);
  const summaries: Summary[] = [];
  for (let i = 0; i < commands; i++) {
    let at = HEADER_BYTES + i * COMMAND_BYTES;
    const count = bytes.readUInt32BE(at);
    at += 4;
    const buckets: Summary['buckets'] = [];
    for (let b = 0; b < PLAN_TOKEN_BUCKETS; b++) {
      buckets.push({ count: bytes.readUInt32BE(at), hash: bytes.subarray(at + 4, at + BUCKET_BYTES) });
      at += BUCKET_BYTES;
    }
    summaries.push({ count, buckets });
  }
  return summaries;
}

export interface SetChange {
  /** Destinations added and removed (a lower bound when one bucket both gained and lost some). */
  added: number;
  removed: number;
  /** For each bucket that gained exactly one destination and lost none: the hash that names it. */
  addedHashes: Buffer[];
}

/** How `now` differs from `then` (both of one command); undefined when their buckets agree. */
export function setChange(then: Summary, now: Summary): SetChange | undefined {
  let added = 0;
  let removed = 0;
  let differ = then.count !== now.count;
  const addedHashes: Buffer[] = [];
  for (let b = 0; b < PLAN_TOKEN_BUCKETS; b++) {
    const t = then.buckets[b] as Summary['buckets'][number];
    const n = now.buckets[b] as Summary['buckets'][number];
    const delta = n.count - t.count;
    if (delta > 0) added += delta;
    else removed -= delta;
    if (delta !== 0 || !t.hash.equals(n.hash)) differ = true;
    if (delta === 1) addedHashes.push(xor(t.hash, n.hash));
  }
  if (!differ) return undefined;
  // Same counts per bucket but other hashes: as many destinations left as came.
  if (added === 0 && removed === 0) {
    added = 1;
    removed = 1;
  }
  return { added, removed, addedHashes };
}

/** The hash of a destination that bucket and XOR work on (its first 6 bytes). */
export function destinationHash(destination: string): Buffer {
  return createHash('sha256').update(destination).digest().subarray(0, HASH_BYTES);
}

function bucketOf(hash: Buffer): number {
  return (hash[0] as number) % PLAN_TOKEN_BUCKETS;
}

function xorInto(target: Buffer, h: Buffer): void {
  for (let i = 0; i < HASH_BYTES; i++) target[i] = (target[i] as number) ^ (h[i] as number);
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.from(a);
  xorInto(out, b);
  return out;
}

function encodeSummaries(summaries: readonly Summary[]): Buffer {
  const out = Buffer.alloc(HEADER_BYTES + COMMAND_BYTES * summaries.length);
  out[0] = VERSION;
  out.writeUInt32BE(summaries.length, 1);
  summaries.forEach((s, i) => {
    let at = HEADER_BYTES + i * COMMAND_BYTES;
    out.writeUInt32BE(s.count, at);
    at += 4;
    for (const bucket of s.buckets) {
      out.writeUInt32BE(bucket.count, at);
      bucket.hash.copy(out, at + 4);
      at += BUCKET_BYTES;
    }
  });
  return out;
}

function tagOf(body: Buffer, fingerprint: string, summaries: readonly Summary[]): Buffer {
  const h = createHash('sha256')
    .update(`command-manager plan token ${VERSION}\n`)
    .update(fingerprint)
    .update(body);
  for (const s of summaries) h.update(s.digest ?? Buffer.alloc(0));
  return h.digest().subarray(0, TAG_BYTES);
}
