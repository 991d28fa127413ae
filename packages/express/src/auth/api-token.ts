import { createHash, randomBytes } from 'node:crypto';

/**
 * Bearer API tokens are stored only as their SHA-256 (hex). A token is high-entropy random data, so a fast
 * hash is enough (unlike passwords): what matters is that a leaked users file does not leak usable tokens.
 */
export function hashApiToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/**
 * A new random token for an operator to hand out; store `hashApiToken(token)`. 256 random bits in base64url
 * behind the prefix `cmt_`: a bare base64url token starts with `-` once in 64, which command lines take for
 * an option (the CLI's own `--token T` refused it), and the prefix lets secret scanners recognise a leaked one.
 */
export function generateApiToken(): string {
  return `${API_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
}

/** What every token `generateApiToken` makes starts with (tokens made otherwise are accepted as they are). */
export const API_TOKEN_PREFIX = 'cmt_';
