import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * A minimal HS256 JSON Web Token (RFC 7519), enough to mimic Wazuh's `POST /security/user/authenticate`,
 * whose tokens expire (900 s by default) and are then refused with 401.
 */
export function signJwt(claims: Record<string, unknown>, secret: Buffer): string {
  const head = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = base64url(JSON.stringify(claims));
  return `${head}.${body}.${mac(`${head}.${body}`, secret)}`;
}

/** The claims of a token signed with `secret` that has not expired at `nowSec`, else undefined. */
export function verifyJwt(
  token: string,
  secret: Buffer,
  nowSec: number,
): Record<string, unknown> | undefined {
  const [head, body, signature] = token.split('.');
  if (head === undefined || body === undefined || signature === undefined) return undefined;
  const expected = Buffer.from(mac(`${head}.${body}`, secret));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
  let claims: Record<string, unknown>;
  try {
    claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  return typeof claims.exp === 'number' && claims.exp > nowSec ? claims : undefined;
}

function base64url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}

function mac(data: string, secret: Buffer): string {
  return createHmac('sha256', secret).update(data).digest('base64url');
}
