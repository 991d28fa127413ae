/**
 * The CLI's client of the command manager's HTTP API. Errors carry the API's error body (code, message,
 * details) so the CLI can print and exit with a meaningful code.
 */
export interface ApiClientOptions {
  url: string;
  /** Bearer API token. */
  token?: string;
  /** Basic credentials (`user:password`). */
  basic?: string;
  timeoutMs?: number;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Array<{ pointer: string; message: string }> = [],
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export class ApiClient {
  constructor(private readonly options: ApiClientOptions) {}

  async request<T>(
    method: string,
    path: string,
    body?: unknown,
    extraHeaders: Record<string, string> = {},
  ): Promise<T> {
    const headers = this.headers({ accept: 'application/json', ...extraHeaders });
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await this.send(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
    });
    const text = await res.text();
    if (!res.ok) throw apiError(res, text);
    try {
      return (text ? JSON.parse(text) : undefined) as T;
    } catch {
      return undefined as T;
    }
  }

  /**
   * Opens a `text/event-stream` (GET): the answer once its headers arrived (within the timeout); the body is
   * then read for as long as the server writes it, until `signal` aborts.
   */
  async eventStream(
    path: string,
    extraHeaders: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<Response> {
    const connect = new AbortController();
    const timer = setTimeout(
      () => connect.abort(new Error('no answer in time')),
      this.options.timeoutMs ?? 30_000,
    );
    try {
      const res = await this.send(path, {
        method: 'GET',
        headers: this.headers({ accept: 'text/event-stream', ...extraHeaders }),
        signal: signal ? AbortSignal.any([signal, connect.signal]) : connect.signal,
      });
      if (!res.ok) throw apiError(res, await res.text());
      return res;
    } finally {
      clearTimeout(timer);
    }
  }

  private headers(base: Record<string, string>): Record<string, string> {
    const headers = { ...base };
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    else if (this.options.basic)
      headers.authorization = `Basic ${Buffer.from(this.options.basic).toString('base64')}`;
    return headers;
  }

  private async send(path: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(new URL(path, this.options.url), init);
    } catch (e) {
      throw new ApiError(0, 'UNREACHABLE', `cannot reach ${this.options.url}: ${(e as Error).message}`);
    }
  }
}

/** The API's error body (code, message, details) of a refused call, or what the answer had instead. */
function apiError(res: Response, text: string): ApiError {
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  const err = (
    json as { error?: { code?: string; message?: string; details?: ApiError['details'] } } | undefined
  )?.error;
  return new ApiError(
    res.status,
    err?.code ?? `HTTP_${res.status}`,
    err?.message ?? (text.slice(0, 200) || res.statusText),
    err?.details ?? [],
  );
}
