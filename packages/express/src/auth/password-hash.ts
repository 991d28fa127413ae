import { randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Password hashes are stored as `scrypt$N$r$p$<salt base64>$<hash base64>` (a self-describing format, so the
 * cost can be raised later without breaking existing entries). Node's scrypt is RFC 7914.
 */
export interface PasswordHashOptions {
  /** CPU/memory cost, a power of two. */
  cost?: number;
  blockSize?: number;
  parallelization?: number;
}

const DEFAULTS = { cost: 16384, blockSize: 8, parallelization: 1 } as const;
const KEY_BYTES = 32;
const SALT_BYTES = 16;
/** Upper bounds on parameters read from a users file, so a hostile entry cannot exhaust memory. */
const MAX_COST = 1 << 20;
const MAX_BLOCK_SIZE = 32;
const MAX_PARALLELIZATION = 16;

function scrypt(password: string, salt: Buffer, keyBytes: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scryptCallback(password, salt, keyBytes, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

function scryptOptions(N: number, r: number, p: number): ScryptOptions {
  // Node refuses to run when 128 * N * r exceeds `maxmem` (32 MiB by default); allow what the parameters need.
  return { N, r, p, maxmem: 128 * N * r * 2 + 1024 * 1024 };
}

/** Hashes a password for a users file. Usable from a CLI: `node -e "require('@command-manager/express').hashPassword('…').then(console.log)"`. */
export async function hashPassword(password: string, options: PasswordHashOptions = {}): Promise<string> {
  const N = options.cost ?? DEFAULTS.cost;
  const r = options.blockSize ?? DEFAULTS.blockSize;
  const p = options.parallelization ?? DEFAULTS.parallelization;
  const parsed = checkParameters(N, r, p);
  if (parsed !== undefined) throw new Error(parsed);
  const salt = randomBytes(SALT_BYTES);
  const key = await scrypt(password, salt, KEY_BYTES, scryptOptions(N, r, p));
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export interface ParsedPasswordHash {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  key: Buffer;
}

function checkParameters(N: number, r: number, p: number): string | undefined {
  if (!Number.isSafeInteger(N) || N < 2 || N > MAX_COST || (N & (N - 1)) !== 0) {
    return `scrypt cost N must be a power of two in 2..${MAX_COST}`;
  }
  if (!Number.isSafeInteger(r) || r < 1 || r > MAX_BLOCK_SIZE)
    return `scrypt r must be in 1..${MAX_BLOCK_SIZE}`;
  if (!Number.isSafeInteger(p) || p < 1 || p > MAX_PARALLELIZATION)
    return `scrypt p must be in 1..${MAX_PARALLELIZATION}`;
  return undefined;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** Parses a stored hash; returns a reason string when it is malformed. */
export function parsePasswordHash(encoded: string): ParsedPasswordHash | string {
  const parts = encoded.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt')
    return 'must look like scrypt$N$r$p$<salt base64>$<hash base64>';
  const [, n, r, p, salt, key] = parts as [string, string, string, string, string, string];
  const digits = /^[0-9]{1,8}$/;
  if (!digits.test(n) || !digits.test(r) || !digits.test(p)) return 'N, r and p must be decimal integers';
  const reason = checkParameters(Number(n), Number(r), Number(p));
  if (reason) return reason;
  if (!BASE64.test(salt) || !BASE64.test(key)) return 'salt and hash must be base64';
  const keyBuf = Buffer.from(key, 'base64');
  const saltBuf = Buffer.from(salt, 'base64');
  if (keyBuf.length < 16 || keyBuf.length > 128) return 'hash must be 16..128 bytes';
  if (saltBuf.length < 8) return 'salt must be at least 8 bytes';
  return { N: Number(n), r: Number(r), p: Number(p), salt: saltBuf, key: keyBuf };
}

/** Checks a password against a parsed hash in constant time (for a given hash length). */
export async function verifyPassword(password: string, hash: ParsedPasswordHash): Promise<boolean> {
  const key = await scrypt(password, hash.salt, hash.key.length, scryptOptions(hash.N, hash.r, hash.p));
  return timingSafeEqual(key, hash.key);
}
