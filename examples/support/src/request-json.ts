import * as http from 'node:http';
import * as https from 'node:https';

export interface JsonAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The parsed body, or undefined when it is empty or not JSON. */
  body: unknown;
}

export interface RequestJsonOptions {
  method?: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** A keep-alive agent to reuse connections; Node's global agent when unset. */
  agent?: http.Agent;
  timeoutMs?: number;
  /** PEM CA(s) for https URLs (the certificate is always verified). */
  ca?: string | Buffer;
  /** Aborting destroys the request (the promise rejects). */
  signal?: AbortSignal;
}

/** One JSON request with node:http(s). Rejects on network errors and on timeout, never on an HTTP status. */
export function requestJson(url: string, options: RequestJsonOptions = {}): Promise<JsonAnswer> {
  const target = new URL(url);
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
  if (payload !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(Buffer.byteLength(payload));
  }
  const client = target.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(
      target,
      {
        method: options.method ?? (payload === undefined ? 'GET' : 'POST'),
        headers,
        ...(options.agent ? { agent: options.agent } : {}),
        ...(options.ca !== undefined ? { ca: options.ca } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown;
          try {
            body = text === '' ? undefined : (JSON.parse(text) as unknown);
          } catch {
            body = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        });
      },
    );
    req.setTimeout(options.timeoutMs ?? 10_000, () =>
      req.destroy(new Error(`no answer from ${url} in time`)),
    );
    req.on('error', reject);
    req.end(payload);
  });
}
