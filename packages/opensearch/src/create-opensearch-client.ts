/**
 * Builds the OpenSearch client the adapter uses. TLS is always verified: there is deliberately no option to
 * disable certificate checks; a private CA is passed with `ca`/`caFile` instead.
 */
import { readFileSync } from 'node:fs';
import { Client } from '@opensearch-project/opensearch';
import type { ClientOptions } from '@opensearch-project/opensearch';

export interface OpenSearchClientOptions {
  /** e.g. `https://localhost:9200`. Put credentials in `auth`, not in the URL. */
  node: string;
  auth?: { username: string; password: string };
  /** PEM CA certificate(s) to trust, or a path to them. */
  ca?: string | Buffer;
  caFile?: string;
  /** Client certificate and key (PEM), or paths to them, for mutual TLS. */
  cert?: string | Buffer;
  certFile?: string;
  key?: string | Buffer;
  keyFile?: string;
  /** Per-request timeout (default 30,000). */
  requestTimeoutMs?: number;
  /** Retries of the client on connection errors and 502/503/504 (default 3). */
  maxRetries?: number;
  /** Gzip request bodies (default false: on a co-located node the CPU costs more than the bytes saved). */
  compression?: boolean;
}

function pem(value: string | Buffer | undefined, file: string | undefined): string | Buffer | undefined {
  if (value !== undefined) return value;
  if (file !== undefined) return readFileSync(file);
  return undefined;
}

export function createOpenSearchClient(options: OpenSearchClientOptions): Client {
  const ca = pem(options.ca, options.caFile);
  const cert = pem(options.cert, options.certFile);
  const key = pem(options.key, options.keyFile);
  const ssl: NonNullable<ClientOptions['ssl']> = { rejectUnauthorized: true };
  if (ca !== undefined) ssl.ca = ca;
  if (cert !== undefined) ssl.cert = cert;
  if (key !== undefined) ssl.key = key;
  const clientOptions: ClientOptions = {
    node: options.node,
    ssl,
    requestTimeout: options.requestTimeoutMs ?? 30_000,
    maxRetries: options.maxRetries ?? 3,
  };
  if (options.auth) clientOptions.auth = { username: options.auth.username, password: options.auth.password };
  if (options.compression) clientOptions.compression = 'gzip';
  return new Client(clientOptions);
}
