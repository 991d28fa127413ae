import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { Socket } from 'node:net';
import { CommandManagerError, ErrorCodes, systemClock, type Clock, type Logger } from '@command-manager/core';
import { LoginRateLimiter, type LoginRateLimitOptions } from '../internal/login-rate-limiter';
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

export interface AuthenticatorOptions {
  logger?: Logger;
  clock?: Clock;
  rateLimit?: LoginRateLimitOptions;
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
  const limiter = new LoginRateLimiter(options.rateLimit);
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

  const fail = (info: AuthRequestInfo, scheme: string, reason: string, user?: string): never => {
    const nowMs = clock.now().getTime();
    limiter.recordFailure(info.clientIp, nowMs);
    // Never the secret: only the scheme, the claimed user name (Basic) and why.
    logger?.warn('authentication failed', {
      clientIp: info.clientIp,
      scheme,
      reason,
      ...(user ? { user } : {}),
    });
    throw new CommandManagerError(ErrorCodes.UNAUTHENTICATED, 'authentication failed');
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
    const user = users.get(name);
    const ok = await verifyPassword(password, user ? user.hash : await dummy());
    const caller = user ? userCallers.get(name) : undefined;
    if (!ok || !caller)
      return fail(info, 'basic', user ? 'bad password' : 'unknown user', name.slice(0, 256));
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
    return found ?? fail(info, 'bearer', 'unknown token');
  }

  return {
    async authenticate(info: AuthRequestInfo): Promise<Caller> {
      const blocked = limiter.blockedForSec(info.clientIp, clock.now().getTime());
      if (blocked !== undefined) {
        throw new CommandManagerError(ErrorCodes.RATE_LIMITED, 'too many failed logins; retry later', {
          retryAfterSec: blocked,
        });
      }
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
