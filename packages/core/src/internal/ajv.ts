/**
 * One place that builds ajv (draft 2020-12) and turns its errors into `ErrorDetail`s that name the JSON
 * pointer of the bad field and say why in words an API caller understands.
 */
import Ajv2020 from 'ajv/dist/2020';
import type { ErrorObject } from 'ajv/dist/2020';
import type { ErrorDetail } from '../errors';
import { MAX_ERRORS_PATTERN, NO_CONTROL_CHARS_PATTERN } from '../schemas';

// RFC 3339 date-time (what `Date.prototype.toISOString` writes and OpenSearch's `date` mapping reads).
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/;

export function createAjv(): Ajv2020 {
  const ajv = new Ajv2020({
    allErrors: true, // list every bad field, not just the first
    verbose: true, // parentSchema, to name the allowed fields of an object
    strict: true,
    allowUnionTypes: true, // `type: ['string', 'null']` in the order schema
  });
  ajv.addFormat('date-time', {
    type: 'string',
    validate: (s: string) => DATE_TIME.test(s) && !Number.isNaN(Date.parse(s)),
  });
  return ajv;
}

/** Escapes one reference token of a JSON pointer (RFC 6901 §3). */
export function escapePointerToken(token: string): string {
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}

const PATTERN_MESSAGES: Record<string, string> = {
  [NO_CONTROL_CHARS_PATTERN]: 'must not contain control characters',
  [MAX_ERRORS_PATTERN]: 'must be a count such as "5" or a percentage such as "10%"',
};

function describe(e: ErrorObject): { pointer: string; message: string } {
  const at = e.instancePath;
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return {
        pointer: `${at}/${escapePointerToken(String(params.missingProperty))}`,
        message: 'is required',
      };
    case 'additionalProperties':
    case 'unevaluatedProperties': {
      const name = String(params.additionalProperty ?? params.unevaluatedProperty);
      const props = (e.parentSchema as { properties?: Record<string, unknown> } | undefined)?.properties;
      const allowed = props ? Object.keys(props) : [];
      return {
        pointer: `${at}/${escapePointerToken(name)}`,
        message:
          allowed.length > 0
            ? `unknown field "${name}" (allowed: ${allowed.join(', ')})`
            : `unknown field "${name}" (no fields allowed here)`,
      };
    }
    case 'enum':
      return {
        pointer: at,
        message: `must be one of: ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`,
      };
    case 'const':
      return { pointer: at, message: `must be ${JSON.stringify(params.allowedValue)}` };
    case 'type':
      return { pointer: at, message: `must be of type ${String(params.type).replace(/,/g, ' or ')}` };
    case 'pattern':
      return {
        pointer: at,
        message: PATTERN_MESSAGES[String(params.pattern)] ?? `must match pattern ${String(params.pattern)}`,
      };
    case 'minLength':
      return {
        pointer: at,
        message:
          params.limit === 1
            ? 'must not be empty'
            : `must be at least ${String(params.limit)} characters long`,
      };
    case 'maxLength':
      return { pointer: at, message: `must be at most ${String(params.limit)} characters long` };
    case 'minItems':
      return { pointer: at, message: `must have at least ${String(params.limit)} item(s)` };
    case 'maxItems':
      return { pointer: at, message: `must have at most ${String(params.limit)} item(s)` };
    case 'maxProperties':
      return {
        pointer: at,
        message: params.limit === 0 ? 'must be empty' : `must have at most ${String(params.limit)} field(s)`,
      };
    case 'format':
      return { pointer: at, message: `must be a valid ${String(params.format)}` };
    case 'false schema':
      return { pointer: at, message: 'is not allowed here' };
    case 'oneOf':
    case 'anyOf': {
      const description = (e.parentSchema as { description?: string } | undefined)?.description;
      return {
        pointer: at,
        message: description ? `is invalid: ${description}` : `${e.message ?? 'is invalid'}`,
      };
    }
    default:
      return { pointer: at, message: e.message ?? `fails ${e.keyword}` };
  }
}

/**
 * Turns ajv errors into details. `prefix` is the pointer of the validated value inside the request body
 * (e.g. `/commands/0/action/args`). Errors inside a failed `oneOf`/`anyOf` branch are folded into the one
 * error of that keyword, so that a caller reads one reason per field.
 */
export function toErrorDetails(
  errors: readonly ErrorObject[] | null | undefined,
  prefix = '',
): ErrorDetail[] {
  if (!errors) return [];
  const compound = errors.filter((e) => e.keyword === 'oneOf' || e.keyword === 'anyOf');
  // An `if` error only says that its `then`/`else` failed: those errors name the field.
  const kept = errors.filter(
    (e) =>
      e.keyword !== 'if' &&
      !compound.some(
        (c) =>
          c !== e && e.schemaPath.startsWith(`${c.schemaPath}/`) && e.instancePath.startsWith(c.instancePath),
      ),
  );
  const seen = new Set<string>();
  const details: ErrorDetail[] = [];
  for (const e of kept) {
    const d = describe(e);
    const detail = { pointer: `${prefix}${d.pointer}`, message: d.message };
    const key = `${detail.pointer}\u0000${detail.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    details.push(detail);
  }
  return details;
}

/**
 * Fields one error names at most. A body within the byte limit can still be wrong in tens of thousands of
 * places (an object of 90,000 unknown keys); naming them all would make an answer many times the body's size
 * and cost a sort of them all.
 */
export const MAX_ERROR_DETAILS = 100;

/**
 * The details of one error, bounded and in a stable order: at most `MAX_ERROR_DETAILS` of them (the first
 * found), sorted by pointer (numeric segments in numeric order) so that output never depends on field order,
 * then, if some were left out, one more detail (pointer `""`) saying how many.
 */
export function sortDetails(details: ErrorDetail[]): ErrorDetail[] {
  const kept = details.length > MAX_ERROR_DETAILS ? details.slice(0, MAX_ERROR_DETAILS) : details;
  kept.sort(
    (a, b) =>
      a.pointer.localeCompare(b.pointer, 'en', { numeric: true }) || a.message.localeCompare(b.message, 'en'),
  );
  const left = details.length - kept.length;
  if (left > 0) kept.push({ pointer: '', message: `and ${left} more errors not listed` });
  return kept;
}
