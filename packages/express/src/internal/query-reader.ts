import { CommandManagerError, ErrorCodes, type ErrorDetail } from '@command-manager/core';

/**
 * Reads a listing's query string: every bad or unknown parameter is named by a pointer `/query/<name>` (the
 * virtual document of request-parsing.ts), and `done` throws one 400 naming them all.
 */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}(?:[Tt]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[Zz]|[+-]\d{2}:\d{2})?)?$/;
// Control characters are what this pattern exists to refuse (core's NO_CONTROL_CHARS_PATTERN).
// eslint-disable-next-line no-control-regex
const NO_CONTROL = /^[^\u0000-\u001F\u007F-\u009F]*$/;

export interface QueryReader {
  bad(name: string, message: string): void;
  /** A parameter given at most once. */
  single(name: string): string | undefined;
  /** 1..256 characters without control characters. */
  text(name: string): string | undefined;
  /** `size`: an integer in 1..max, `fallback` when absent. */
  size(fallback: number, max: number): number;
  /** `from` and `to`: ISO-8601 date-times (normalised), `to` not before `from`. */
  timeRange(): { from?: string; to?: string };
  /** Throws the 400 naming every bad parameter, if any. */
  done(): void;
}

export function readQuery(query: Record<string, unknown>, params: readonly string[]): QueryReader {
  const details: ErrorDetail[] = [];
  const bad = (name: string, message: string): void => {
    details.push({ pointer: `/query/${name.replace(/~/g, '~0').replace(/\//g, '~1')}`, message });
  };
  for (const name of Object.keys(query)) {
    if (!params.includes(name)) bad(name, `unknown parameter (allowed: ${params.join(', ')})`);
  }
  const single = (name: string): string | undefined => {
    const v = query[name];
    if (v === undefined) return undefined;
    if (typeof v !== 'string') {
      bad(name, 'must be given once');
      return undefined;
    }
    return v;
  };
  return {
    bad,
    single,
    text: (name) => {
      const v = single(name);
      if (v === undefined) return undefined;
      if (v.length === 0 || v.length > 256 || !NO_CONTROL.test(v)) {
        bad(name, 'must be 1..256 characters without control characters');
        return undefined;
      }
      return v;
    },
    size: (fallback, max) => {
      const sizeText = single('size');
      if (sizeText === undefined) return fallback;
      const n = /^[0-9]{1,9}$/.test(sizeText) ? Number(sizeText) : NaN;
      if (!(n >= 1 && n <= max)) {
        bad('size', `must be an integer in 1..${max}`);
        return fallback;
      }
      return n;
    },
    timeRange: () => {
      const range: { from?: string; to?: string } = {};
      for (const name of ['from', 'to'] as const) {
        const v = single(name);
        if (v === undefined) continue;
        if (!ISO_TIME.test(v) || Number.isNaN(Date.parse(v))) bad(name, 'must be an ISO-8601 date-time');
        else range[name] = new Date(v).toISOString();
      }
      if (range.from !== undefined && range.to !== undefined && range.from > range.to) {
        bad('to', 'must not be before from');
      }
      return range;
    },
    done: () => {
      if (details.length === 0) return;
      const first = details
        .slice(0, 3)
        .map((d) => `${d.pointer} ${d.message}`)
        .join('; ');
      throw new CommandManagerError(ErrorCodes.VALIDATION_FAILED, `the request is invalid: ${first}`, {
        details,
      });
    },
  };
}
