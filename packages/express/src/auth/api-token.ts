import { createHash, randomBytes } from 'node:crypto';

/**
 * Bearer API tokens are stored only as their SHA-256 (hex). A token is high-entropy random data, so a fast
 * hash is enough (unlike passwords): what matters is that a leaked users file does not leak usable tokens.
 */
export function hashApiToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** A new random token (256 bits, base64url) for an operator to hand out; store `hashApiToken(token)`. */
export function generateApiToken(): string {
  return randomBytes(32).toString('base64url');
}
