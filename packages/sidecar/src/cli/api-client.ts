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
    const headers: Record<string, string> = { accept: 'application/json', ...extraHeaders };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    else if (this.options.basic)
      headers.authorization = `Basic ${Buffer.from(this.options.basic).toString('base64')}`;
    let res: Response;
    try {
      res = await fetch(new URL(path, this.options.url), {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
      });
    } catch (e) {
      throw new ApiError(0, 'UNREACHABLE', `cannot reach ${this.options.url}: ${(e as Error).message}`);
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const err = (
        json as { error?: { code?: string; message?: string; details?: ApiError['details'] } } | undefined
      )?.error;
      throw new ApiError(
        res.status,
        err?.code ?? `HTTP_${res.status}`,
        err?.message ?? (text.slice(0, 200) || res.statusText),
        err?.details ?? [],
      );
    }
    return json as T;
  }
}
