import { existsSync, readFileSync } from 'node:fs';
import { ApiClient } from './api-client';
import { DEV_TOKEN_FILE } from './dev-mode';

/**
 * The API client of a CLI command, from its client options (`CLIENT_OPTIONS`) or the `CM_API_*` variables.
 * With no credentials given, the quick start's admin token is used when its file exists.
 */
export function cliClient(
  values: { url?: string; token?: string; basic?: string },
  options: { timeoutMs?: number } = {},
): ApiClient {
  let token = values.token ?? process.env.CM_API_TOKEN;
  if (
    token === undefined &&
    values.basic === undefined &&
    process.env.CM_API_BASIC === undefined &&
    existsSync(DEV_TOKEN_FILE)
  ) {
    token = readFileSync(DEV_TOKEN_FILE, 'utf8').trim();
  }
  const basic = values.basic ?? process.env.CM_API_BASIC;
  return new ApiClient({
    url: values.url ?? process.env.CM_API_URL ?? 'http://127.0.0.1:8080',
    ...(token !== undefined && { token }),
    ...(basic !== undefined && { basic }),
    ...(options.timeoutMs !== undefined && { timeoutMs: options.timeoutMs }),
  });
}
