import winston from 'winston';
import type { Logger } from '@command-manager/core';

/** Keys whose values never reach a log, whatever component logs them. */
const SECRET_KEY = /pass(word)?|secret|token|authori[sz]ation|api[-_]?key|private[-_]?key|cookie|credential/i;

function redact(value: unknown, depth = 0): unknown {
  // Any string may carry a URL with credentials (a configured URL, an error message quoting one).
  if (typeof value === 'string') return redactUrl(value);
  if (depth > 6 || typeof value !== 'object' || value === null) return value;
  if (value instanceof Error)
    return {
      name: value.name,
      message: redactUrl(value.message),
      code: (value as { code?: unknown }).code,
    };
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value))
    out[k] = SECRET_KEY.test(k) ? '[redacted]' : redact(v, depth + 1);
  return out;
}

/**
 * Strips credentials from every URL in a text (`https://user:pass@host` → `https://***@host`). The
 * userinfo runs from `//` to the LAST `@` of the authority (which ends at `/`, `?`, `#` or a blank), so a
 * password holding an unescaped `@` is removed whole.
 */
export function redactUrl(text: string): string {
  return text.replace(/\/\/[^/?#\s]*@/g, '//***@');
}

const redactFormat = winston.format((info) => {
  for (const key of Object.keys(info)) {
    if (key === 'level' || key === 'message') continue;
    info[key] = SECRET_KEY.test(key) ? '[redacted]' : redact(info[key]);
  }
  if (typeof info.message === 'string') info.message = redactUrl(info.message);
  return info;
});

/**
 * Calls below the logger's level return before reaching winston, which would otherwise build and pipe each
 * record through its stream only to drop it there (a debug call per submission on the hot path).
 */
class WinstonLogger implements Logger {
  constructor(private readonly inner: winston.Logger) {}
  debug(message: string, meta?: Record<string, unknown>): void {
    if (this.inner.isDebugEnabled()) this.inner.debug(message, meta);
  }
  info(message: string, meta?: Record<string, unknown>): void {
    if (this.inner.isInfoEnabled()) this.inner.info(message, meta);
  }
  warn(message: string, meta?: Record<string, unknown>): void {
    this.inner.warn(message, meta);
  }
  error(message: string, meta?: Record<string, unknown>): void {
    this.inner.error(message, meta);
  }
  child(bindings: Record<string, unknown>): Logger {
    return new WinstonLogger(this.inner.child(bindings));
  }
}

export interface LoggerOptions {
  level: 'error' | 'warn' | 'info' | 'debug';
  /** Where JSON lines go; stderr by default so that CLI output on stdout stays clean. */
  stream?: NodeJS.WritableStream;
}

/** JSON logs with secrets redacted; children carry `{component}` and `{requestId, orderId}`. */
export function createLogger(options: LoggerOptions): Logger {
  const inner = winston.createLogger({
    level: options.level,
    format: winston.format.combine(redactFormat(), winston.format.timestamp(), winston.format.json()),
    transports: [new winston.transports.Stream({ stream: options.stream ?? process.stderr })],
  });
  return new WinstonLogger(inner);
}
