import { createServer as createHttpServer, type Server as HttpServer, type RequestListener } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { maxPlanTokenLength } from '@command-manager/core';

/** TLS for the listener. With `ca`, clients must present a certificate signed by it (mutual TLS). */
export interface TlsOptions {
  /** PEM private key and certificate chain of the server. */
  key: string | Buffer;
  cert: string | Buffer;
  /** PEM CA(s) that sign client certificates; enables mutual TLS. */
  ca?: string | Buffer | Array<string | Buffer>;
  /**
   * Ask clients for a certificate (default: true when `ca` is set). With a CA set, unverified certificates
   * are always refused at the handshake (`rejectUnauthorized: true`): they are never "trusted blindly".
   */
  requestCert?: boolean;
  /**
   * With a CA set, also let clients without a verified certificate complete the handshake (they then
   * authenticate by Basic or token; the app believes a certificate only when Node verified it). Default false.
   */
  allowNoClientCertificate?: boolean;
  minVersion?: 'TLSv1.2' | 'TLSv1.3';
}

/** Node's own limit on the bytes of a request's headers: a larger request is answered 431. */
const NODE_DEFAULT_MAX_HEADER_SIZE = 16 * 1024;

/**
 * The header limit a listener needs for submissions of up to `maxBatchCommands` commands: Node's 16 KiB plus
 * the longest `Plan-Token` of such a submission (44 bytes a command, core's plan-token.ts), so that the token
 * a dry run hands out can always be sent back.
 */
export function maxHeaderSizeFor(maxBatchCommands: number): number {
  return NODE_DEFAULT_MAX_HEADER_SIZE + maxPlanTokenLength(maxBatchCommands);
}

export interface ServerOptions {
  tls?: TlsOptions;
  /** Bytes of a request's headers, at most (default Node's 16 KiB; see `maxHeaderSizeFor`). */
  maxHeaderSize?: number;
  /** Node's `headersTimeout` / `requestTimeout` (slowloris protection). */
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
  keepAliveTimeoutMs?: number;
}

/**
 * An HTTP or HTTPS server around an app (not listening yet: call `server.listen(port, host)`).
 *
 * Mutual TLS: Node verifies the client chain against `ca` during the handshake when
 * `requestCert && rejectUnauthorized` (node:tls docs) and refuses the connection otherwise. Node has no
 * setting for "verify a certificate if one is presented, accept none", so `allowNoClientCertificate` turns
 * `rejectUnauthorized` off and the app only believes a certificate when `socket.authorized` is true.
 */
export function createServer(app: RequestListener, options: ServerOptions = {}): HttpServer | HttpsServer {
  const tls = options.tls;
  const maxHeaderSize = options.maxHeaderSize ?? NODE_DEFAULT_MAX_HEADER_SIZE;
  const server = tls
    ? createHttpsServer(
        {
          maxHeaderSize,
          key: tls.key,
          cert: tls.cert,
          minVersion: tls.minVersion ?? 'TLSv1.2',
          ...(tls.ca
            ? {
                ca: tls.ca,
                requestCert: tls.requestCert ?? true,
                rejectUnauthorized: !tls.allowNoClientCertificate,
              }
            : { requestCert: tls.requestCert ?? false }),
        },
        app,
      )
    : createHttpServer({ maxHeaderSize }, app);
  server.headersTimeout = options.headersTimeoutMs ?? 30_000;
  server.requestTimeout = options.requestTimeoutMs ?? 120_000;
  server.keepAliveTimeout = options.keepAliveTimeoutMs ?? 5_000;
  return server;
}

export interface ListenOptions extends ServerOptions {
  port: number;
  host?: string;
}

/** Creates the server and resolves once it listens (port 0 picks a free port: read `server.address()`). */
export function listen(app: RequestListener, options: ListenOptions): Promise<HttpServer | HttpsServer> {
  const server = createServer(app, options);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
