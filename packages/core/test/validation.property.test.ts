/**
 * Property-based tests (fast-check): valid bodies round-trip unchanged (but for the canonical case of
 * `source`); any body broken in one known way never validates, and the error names the broken command.
 */
import fc from 'fast-check';
import { ActionRegistry } from '../src/action-registry';
import { CommandManagerError, ErrorCodes } from '../src/errors';
import type { CommandRequest } from '../src/model';
import { SOURCES } from '../src/model';
import { CommandValidator } from '../src/validation';

const MAX = 20;
const validator = new CommandValidator({ registry: ActionRegistry.withDefaults(), maxBatchCommands: MAX });

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const text = (max: number) =>
  fc
    .string({ minLength: 1, maxLength: max, unit: 'grapheme' })
    .filter((s) => !CONTROL.test(s) && s.length <= max);

const onAgents = fc.record({
  target: fc.record({ type: fc.constantFrom('agent' as const, 'group' as const), id: text(256) }),
  action: fc.oneof(
    fc.record({ name: fc.constantFrom('restart', 'fetch-config'), args: fc.constant({}) }),
    fc.record({
      name: fc.constant('set-group'),
      args: fc.record({ groups: fc.array(text(30), { maxLength: 5 }) }),
    }),
  ),
});
const onServer = fc.record({
  target: fc.record({ type: fc.constant('server' as const), id: fc.constant('vulnerability-detector') }),
  action: fc.oneof(
    fc.record({ name: fc.constant('update'), args: fc.record({ index: text(40), offset: fc.string() }) }),
    fc.record({
      name: fc.constant('refresh'),
      args: fc.record(
        { index: fc.oneof(text(40), fc.array(text(40), { minLength: 1, maxLength: 3 })) },
        { requiredKeys: [] },
      ),
    }),
  ),
});

const validCommand: fc.Arbitrary<{ given: Record<string, unknown>; expected: CommandRequest }> = fc
  .record(
    {
      source: fc
        .constantFrom(...SOURCES)
        .chain((s) => fc.mixedCase(fc.constant(s)).map((given) => ({ given, canonical: s }))),
      user: text(256),
      dest: fc.oneof(onAgents, onServer),
      version: fc.string({ maxLength: 64 }).filter((s) => !CONTROL.test(s)),
      timeout: fc.integer({ min: 1, max: 32767 }),
      max_concurrency: fc.integer({ min: 1, max: 1_000_000 }),
      max_errors: fc.oneof(
        fc.nat(),
        fc.nat({ max: 999_999_999 }).map(String),
        fc.integer({ min: 0, max: 100 }).map((n) => `${n}%`),
      ),
    },
    { requiredKeys: ['source', 'user', 'dest', 'timeout'] },
  )
  .map((r) => {
    const action: Record<string, unknown> = { ...r.dest.action };
    if (r.version !== undefined) action.version = r.version;
    const base: Record<string, unknown> = { user: r.user, target: r.dest.target, action, timeout: r.timeout };
    if (r.max_concurrency !== undefined) base.max_concurrency = r.max_concurrency;
    if (r.max_errors !== undefined) base.max_errors = r.max_errors;
    return {
      given: { ...base, source: r.source.given },
      expected: { ...base, source: r.source.canonical } as unknown as CommandRequest,
    };
  });

const validBatch = fc.array(validCommand, { minLength: 1, maxLength: MAX });

describe('valid bodies', () => {
  it('validate and round-trip (source canonicalised), and validating the result again is the identity', () => {
    fc.assert(
      fc.property(validBatch, (cmds) => {
        const out = validator.validateBatch({ commands: cmds.map((c) => c.given) });
        expect(out).toEqual({ commands: cmds.map((c) => c.expected) });
        expect(validator.validateBatch(JSON.parse(JSON.stringify(out)))).toEqual(out);
      }),
      { numRuns: 200 },
    );
  });
});

type Mutation = (c: Record<string, unknown>) => void;
const KNOWN = new Set(['source', 'user', 'target', 'action', 'timeout', 'max_concurrency', 'max_errors']);

const mutation: fc.Arbitrary<{ name: string; apply: Mutation }> = fc.oneof(
  fc.constantFrom('source', 'user', 'target', 'action', 'timeout').map((k) => ({
    name: `delete ${k}`,
    apply: (c: Record<string, unknown>) => void delete c[k],
  })),
  fc
    .string({ minLength: 1, maxLength: 10 })
    .filter((k) => !KNOWN.has(k) && k !== '__proto__')
    .map((k) => ({
      name: `unknown field ${k}`,
      apply: (c: Record<string, unknown>) => void (c[k] = 1),
    })),
  fc
    .oneof(
      fc.integer({ max: 0 }),
      fc.integer({ min: 32768 }),
      fc.double({ noInteger: true, noNaN: true }),
      fc.string(),
    )
    .map((t) => ({
      name: `timeout ${String(t)}`,
      apply: (c: Record<string, unknown>) => void (c.timeout = t),
    })),
  fc
    .string()
    .filter((t) => !['agent', 'group', 'server'].includes(t.toLowerCase()))
    .map((t) => ({
      name: `target.type ${t}`,
      apply: (c: Record<string, unknown>) => void ((c.target as Record<string, unknown>).type = t),
    })),
  fc.tuple(fc.string({ maxLength: 5 }), fc.integer({ min: 0, max: 31 })).map(([s, code]) => ({
    name: 'control char in target.id',
    apply: (c: Record<string, unknown>) =>
      void ((c.target as Record<string, unknown>).id = s + String.fromCharCode(code)),
  })),
  fc.constant({
    name: 'empty target.id',
    apply: (c: Record<string, unknown>) => void ((c.target as Record<string, unknown>).id = ''),
  }),
  fc
    .string()
    .filter((s) => !SOURCES.some((x) => x.toLowerCase() === s.toLowerCase()))
    .map((s) => ({
      name: `source ${s}`,
      apply: (c: Record<string, unknown>) => void (c.source = s),
    })),
  fc
    .string({ minLength: 1 })
    .filter(
      (n) => !['set-group', 'fetch-config', 'restart', 'update', 'refresh'].includes(n) && !CONTROL.test(n),
    )
    .map((n) => ({
      name: `action ${n}`,
      apply: (c: Record<string, unknown>) => void ((c.action as Record<string, unknown>).name = n),
    })),
  fc.oneof(fc.integer({ max: 0 }), fc.string(), fc.constant(null)).map((v) => ({
    name: `max_concurrency ${String(v)}`,
    apply: (c: Record<string, unknown>) => void (c.max_concurrency = v),
  })),
  // A list of group names is `set-group`'s older args shape (wazuh-bodies.ts): a list of numbers is not.
  fc.oneof(fc.constant([1]), fc.string(), fc.integer(), fc.constant(null)).map((v) => ({
    name: `args ${JSON.stringify(v)}`,
    apply: (c: Record<string, unknown>) => void ((c.action as Record<string, unknown>).args = v),
  })),
);

describe('invalid bodies', () => {
  it('a valid batch with one command broken in one known way never validates, and the error names that command', () => {
    fc.assert(
      fc.property(validBatch, fc.nat(), mutation, (cmds, pick, m) => {
        const commands = cmds.map((c) => structuredClone(c.given));
        const i = pick % commands.length;
        m.apply(commands[i] as Record<string, unknown>);
        let error: unknown;
        try {
          validator.validateBatch({ commands });
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(CommandManagerError);
        const e = error as CommandManagerError;
        expect([ErrorCodes.VALIDATION_FAILED, ErrorCodes.UNKNOWN_ACTION]).toContain(e.code);
        expect(e.details.length).toBeGreaterThan(0);
        expect(e.details.some((d) => d.pointer.startsWith(`/commands/${i}`))).toBe(true);
        // Only the broken command is blamed.
        expect(
          e.details.every((d) => d.pointer.startsWith(`/commands/${i}/`) || d.pointer === `/commands/${i}`),
        ).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('arbitrary JSON values never validate, and fail with a typed validation error', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.jsonValue(), fc.record({ commands: fc.array(fc.jsonValue(), { maxLength: 3 }) })),
        (body) => {
          expect(() => validator.validateBatch(body)).toThrow(CommandManagerError);
        },
      ),
      { numRuns: 500 },
    );
  });
});
