import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { Socket } from 'node:net';
import { CommandManagerError, ErrorCodes, systemClock, type Clock, type Logger } from '@command-manager/core';
import { LoginRateLimiter, type LoginRateLimitOptions } from '../internal/login-rate-limiter';
import { VerificationQueue, type VerificationQueueOptions } from './verification-queue';
import { hashApiToken } from './api-token';
import { parsePasswordHash, verifyPassword, type ParsedPasswordHash } from './password-hash';
import { callerFromRoles, type Caller } from './roles';
import type { AuthConfig } from './users-file';

/** What the authenticator needs from an HTTP request. */
export interface AuthRequestInfo {
  /** The `Authorization` header, if any. */
  authorization: string | undefined;
  /** Client IP (for rate limiting and logs). */
  clientIp: string;
  /** The verified client certificate's subject CN, when the listener does mutual TLS and the chain verified. */
  clientCertificateCn?: string;
}

/** Authenticates a caller; throws UNAUTHENTICATED (401) or RATE_LIMITED (429). */
export interface Authenticator {
  authenticate(info: AuthRequestInfo): Promise<Caller>;
}

/**
 * Bounds on failed logins. Attempts are counted when they start (before scrypt), per client address and per
 * presented identity on that address (a user name, or the first 16 hex digits of a token's sha256):
 * - a Basic login is refused once its identity reached `maxFailuresPerIdentity` on this address, or once the
 *   address reached `maxPasswordFailuresPerAddress` (whether the name exists is not revealed: every name is
 *   treated alike);
 * - a credential that names no caller (unknown token, malformed or unsupported header, unmapped certificate)
 *   is refused once the address reached `maxFailures`;
 * - a valid token or a mapped certificate is never refused: it is checked in microseconds and cannot be
 *   guessed, so another client's failures from the same address do not lock it out.
 */
export interface LoginLimitOptions extends LoginRateLimitOptions {
  /** Failed Basic logins of one user name from one address per window; default `maxFailures`. */
  maxFailuresPerIdentity?: number;
  /** Failed Basic logins (any names) from one address per window; default 10 × `maxFailures`. */
  maxPasswordFailuresPerAddress?: number;
}

export interface AuthenticatorOptions {
  logger?: Logger;
  clock?: Clock;
  rateLimit?: LoginLimitOptions;
  /** Bounds on password verifications (scrypt) running and waiting; beyond them a login gets 429 + Retry-After. */
  verification?: VerificationQueueOptions;
  /**
   * A good Basic login is remembered this long (keyed by a salted hash of name and password, never the
   * password), so that a client sending Basic on every request pays scrypt once, not per request.
   */
  basicCacheTtlMs?: number;
  basicCacheMaxEntries?: number;
}

/** Subject CN of a TLS peer certificate, only when the TLS layer verified it against the configured CA. */
export function verifiedClientCn(socket: Socket): string | undefined {
  const tls = socket as Partial<TLSSocket>;
  if (tls.encrypted !== true || tls.authorized !== true || typeof tls.getPeerCertificate !== 'function')
    return undefined;
  const cert = tls.getPeerCertificate();
  const cn: unknown = cert?.subject?.CN;
  // A subject may carry several CNs (an array); that is ambiguous, so it maps to nobody.
  return typeof cn === 'string' && cn.length > 0 ? cn : undefined;
}

/**
 * The authenticator over a users file: HTTP Basic (scrypt), bearer API tokens (SHA-256) and, when the
 * listener does mutual TLS, the client certificate's subject CN. An `Authorization` header, when present,
 * decides (a bad one is never rescued by a certificate).
 */
export function createAuthenticator(config: AuthConfig, options: AuthenticatorOptions = {}): Authenticator {
  const clock = options.clock ?? systemClock;
  const logger = options.logger;
  const limits = options.rateLimit ?? {};
  // One counter per address (all failures) and one per (address, identity); each map bounded by maxEntries.
  const byAddress = new LoginRateLimiter(limits);
  const byIdentity = new LoginRateLimiter({
    ...limits,
    maxFailures: limits.maxFailuresPerIdentity ?? byAddress.maxFailures,
  });
  const passwordFailuresPerAddress = limits.maxPasswordFailuresPerAddress ?? 10 * byAddress.maxFailures;
  const queue = new VerificationQueue(options.verification);
  const cacheTtlMs = options.basicCacheTtlMs ?? 60_000;
  const cacheMax = options.basicCacheMaxEntries ?? 1000;
  const cacheSalt = randomBytes(32);
  const basicCache = new Map<string, { caller: Caller; expiresAtMs: number }>();

  const users = new Map(config.users.map((u) => [u.name, u]));
  const userCallers = new Map(
    config.users.map((u) => [u.name, callerFromRoles(u.name, u.roles, config.roles, 'basic')]),
  );
  const tokenCallers = config.tokens.map((t) => ({
    sha256: t.sha256,
    caller: callerFromRoles(t.name, t.roles, config.roles, 'token'),
  }));
  const certCallers = new Map(
    config.certificates.map((c) => [
      c.subjectCn,
      callerFromRoles(c.name, c.roles, config.roles, 'certificate'),
    ]),
  );
  // Verified against when the user is unknown, so that the answer takes as long as for a known user.
  let dummyHash: Promise<ParsedPasswordHash> | undefined;
  const dummy = (): Promise<ParsedPasswordHash> => {
    dummyHash ??= Promise.resolve(
      parsePasswordHash(
        `scrypt$16384$8$1$${randomBytes(16).toString('base64')}$${randomBytes(32).toString('base64')}`,
      ) as ParsedPasswordHash,
    );
    return dummyHash;
  };

  const rateLimited = (retryAfterSec: number, message = 'too many failed logins; retry later'): never => {
    throw new CommandManagerError(ErrorCodes.RATE_LIMITED, message, { retryAfterSec });
  };

  const reject = (info: AuthRequestInfo, scheme: string, reason: string, user?: string): never => {
    // Never the secret: only the scheme, the claimed user name (Basic) and why.
    logger?.warn('authentication failed', {
      clientIp: info.clientIp,
      scheme,
      reason,
      ...(user ? { user } : {}),
    });
    throw new CommandManagerError(ErrorCodes.UNAUTHENTICATED, 'authentication failed');
  };

  /** A credential that names no caller: gated and counted by the address alone. */
  const fail = (info: AuthRequestInfo, scheme: string, reason: string, identity?: string): never => {
    const nowMs = clock.now().getTime();
    const blocked =
      byAddress.blockedForSec(info.clientIp, nowMs) ??
      (identity !== undefined ? byIdentity.blockedForSec(identity, nowMs) : undefined);
    if (blocked !== undefined) return rateLimited(blocked);
    byAddress.recordFailure(info.clientIp, nowMs);
    if (identity !== undefined) byIdentity.recordFailure(identity, nowMs);
    return reject(info, scheme, reason);
  };

  async function basic(info: AuthRequestInfo, encoded: string): Promise<Caller> {
    const decoded = /^[A-Za-z0-9+/]+={0,2}$/.test(encoded)
      ? Buffer.from(encoded, 'base64').toString('utf8')
      : '';
    const colon = decoded.indexOf(':');
    if (colon < 0) return fail(info, 'basic', 'malformed credentials');
    const name = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    const nowMs = clock.now().getTime();
    const cacheKey = createHash('sha256')
      .update(cacheSalt)
      .update(name)
      .update('\0')
      .update(password)
      .digest('base64');
    const cached = basicCache.get(cacheKey);
    if (cached && cached.expiresAtMs > nowMs) return cached.caller;
    if (cached) basicCache.delete(cacheKey);
    const identity = `${info.clientIp}\0user:${name.slice(0, 256)}`;
    const blocked =
      byIdentity.blockedForSec(identity, nowMs) ??
      byAddress.blockedForSec(info.clientIp, nowMs, passwordFailuresPerAddress);
    if (blocked !== undefined) return rateLimited(blocked);
    // Counted now, before the slow verification, so parallel attempts see each other.
    const identityAttempt = byIdentity.begin(identity, nowMs);
    const addressAttempt = byAddress.begin(info.clientIp, nowMs);
    const user = users.get(name);
    const verified = await queue.run(info.clientIp, async () =>
      verifyPassword(password, user ? user.hash : await dummy()),
    );
    if (verified === undefined) {
      // Not verified at all: this attempt is not a failure.
      byIdentity.succeeded(identityAttempt);
      byAddress.succeeded(addressAttempt);
      return rateLimited(1, 'too many logins being verified; retry later');
    }
    const caller = user ? userCallers.get(name) : undefined;
    if (!verified.value || !caller)
      return reject(info, 'basic', user ? 'bad password' : 'unknown user', name.slice(0, 256));
    byIdentity.succeeded(identityAttempt);
    byAddress.succeeded(addressAttempt);
    basicCache.set(cacheKey, { caller, expiresAtMs: nowMs + cacheTtlMs });
    while (basicCache.size > cacheMax) {
      const oldest = basicCache.keys().next();
      if (oldest.done) break;
      basicCache.delete(oldest.value);
    }
    return caller;
  }

  function bearer(info: AuthRequestInfo, token: string): Caller {
    const presented = Buffer.from(hashApiToken(token), 'hex');
    let found: Caller | undefined;
    // Compare against every token, in constant time each, without stopping at the first match.
    for (const t of tokenCallers) {
      if (timingSafeEqual(presented, t.sha256) && !found) found = t.caller;
    }
    return (
      found ??
      fail(info, 'bearer', 'unknown token', `${info.clientIp}\0token:${hashApiToken(token).slice(0, 16)}`)
    );
  }

  return {
    async authenticate(info: AuthRequestInfo): Promise<Caller> {
      const header = info.authorization;
      if (header !== undefined && header.length > 0) {
        const m = /^([A-Za-z]+) +(\S+) *$/.exec(header);
        const scheme = m?.[1]?.toLowerCase();
        const value = m?.[2];
        if (scheme === 'basic' && value !== undefined) return basic(info, value);
        if (scheme === 'bearer' && value !== undefined) return bearer(info, value);
        return fail(info, 'unknown', 'unsupported authorization scheme');
      }
      if (info.clientCertificateCn !== undefined) {
        const caller = certCallers.get(info.clientCertificateCn);
        return caller ?? fail(info, 'certificate', 'unmapped certificate subject');
      }
      throw new CommandManagerError(ErrorCodes.UNAUTHENTICATED, 'authentication required');
    },
  };
}
