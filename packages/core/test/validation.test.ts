import { thrownBy } from '@command-manager/test-support';
import { ActionRegistry } from '../src/action-registry';
import { CommandManagerError, ErrorCodes } from '../src/errors';
import type { ErrorDetail } from '../src/errors';
import { MAX_ERROR_DETAILS } from '../src/internal/ajv';
import { canonicalSource, CommandValidator } from '../src/validation';
import { command } from './helpers/fixtures';

const validator = new CommandValidator({
  registry: ActionRegistry.withDefaults(),
  maxBatchCommands: 5,
  maxResultsPerReport: 3,
});

const errorOf = (fn: () => unknown): CommandManagerError => thrownBy(fn, CommandManagerError);

function detailsOf(body: unknown, v = validator): ErrorDetail[] {
  const e = errorOf(() => v.validateBatch(body));
  return e.details;
}

function pointers(body: unknown): string[] {
  return detailsOf(body).map((d) => d.pointer);
}

function cmd(patch: Record<string, unknown>): Record<string, unknown> {
  return { ...command(), ...patch };
}

describe('a valid batch', () => {
  it('validates and returns a copy, leaving the input untouched', () => {
    const body = { commands: [command(), command({ target: { type: 'group', id: 'web' } })] };
    const before = structuredClone(body);
    const out = validator.validateBatch(body);
    expect(out).toEqual(body);
    expect(out).not.toBe(body);
    expect(body).toEqual(before);
  });

  it('does not depend on field order (action after target, keys reversed)', () => {
    const reversed = Object.fromEntries(Object.entries(command()).reverse());
    expect(validator.validateBatch({ commands: [reversed] })).toEqual({ commands: [command()] });
    const badA = {
      commands: [
        {
          timeout: 0,
          target: { id: '', type: 'agent' },
          action: { args: {}, name: 'restart' },
          user: 'u',
          source: 'Engine',
        },
      ],
    };
    const badB = {
      commands: [
        {
          source: 'Engine',
          user: 'u',
          action: { name: 'restart', args: {} },
          target: { type: 'agent', id: '' },
          timeout: 0,
        },
      ],
    };
    expect(detailsOf(badA)).toEqual(detailsOf(badB));
  });
});

describe('source', () => {
  it.each([
    ['Content Manager', 'Content manager'],
    ['content manager', 'Content manager'],
    ['ENGINE', 'Engine'],
    ['users/services', 'Users/Services'],
    ['Users/Services', 'Users/Services'],
  ])('%s is accepted and stored as %s', (given, canonical) => {
    expect(validator.validateBatch({ commands: [cmd({ source: given })] }).commands[0]?.source).toBe(
      canonical,
    );
    expect(canonicalSource(given)).toBe(canonical);
  });

  it.each(['Manager', 'Content  manager', '', 'Engine '])('%j is rejected at /commands/0/source', (s) => {
    const d = detailsOf({ commands: [cmd({ source: s })] });
    expect(d).toEqual([
      { pointer: '/commands/0/source', message: expect.stringContaining('must be one of') },
    ]);
  });

  it('a non-string source says it must be a string', () => {
    expect(detailsOf({ commands: [cmd({ source: 3 })] })).toEqual([
      { pointer: '/commands/0/source', message: expect.stringContaining('string') },
      { pointer: '/commands/0/source', message: expect.stringContaining('one of') },
    ]);
  });
});

describe('target', () => {
  it.each(['agent', 'group', 'server'])('type %s is a known type', (type) => {
    const action = type === 'server' ? { name: 'refresh', args: {} } : { name: 'restart', args: {} };
    expect(() =>
      validator.validateBatch({ commands: [cmd({ target: { type, id: 'x' }, action })] }),
    ).not.toThrow();
  });

  it('an unknown type is rejected', () => {
    expect(detailsOf({ commands: [cmd({ target: { type: 'host', id: 'x' } })] })).toEqual([
      { pointer: '/commands/0/target/type', message: 'must be one of: "agent", "group", "server", "agents"' },
    ]);
  });

  it.each([
    ['', 'must not be empty'],
    ['x'.repeat(257), 'must be at most 256 characters long'],
    ['a\nb', 'must not contain control characters'],
    ['tab\there', 'must not contain control characters'],
    ['nul\u0000', 'must not contain control characters'],
    ['del\u007f', 'must not contain control characters'],
  ])('id %j is rejected: %s', (id, message) => {
    expect(detailsOf({ commands: [cmd({ target: { type: 'agent', id } })] })).toEqual([
      { pointer: '/commands/0/target/id', message },
    ]);
  });

  it('an id of 256 characters, unicode included, is fine', () => {
    expect(() =>
      validator.validateBatch({ commands: [cmd({ target: { type: 'agent', id: 'é'.repeat(256) } })] }),
    ).not.toThrow();
  });
});

describe('timeout', () => {
  it.each([1, 30, 32767])('%d is accepted', (timeout) => {
    expect(validator.validateBatch({ commands: [cmd({ timeout })] }).commands[0]?.timeout).toBe(timeout);
  });
  it.each([
    [0, 'must be >= 1'],
    [32768, 'must be <= 32767'],
    [-5, 'must be >= 1'],
    [1.5, 'must be of type integer'],
    ['60', 'must be of type integer'],
    [null, 'must be of type integer'],
  ])('%j is rejected (%s)', (timeout, message) => {
    expect(detailsOf({ commands: [cmd({ timeout })] })).toEqual([
      { pointer: '/commands/0/timeout', message },
    ]);
  });
});

describe('delivery_window_s', () => {
  it.each([60, 86_400, 2_592_000])('%d is accepted with timeout 60', (w) => {
    const c = validator.validateBatch({ commands: [cmd({ timeout: 60, delivery_window_s: w })] }).commands[0];
    expect(c?.delivery_window_s).toBe(w);
  });
  it.each([
    [2_592_001, 'must be <= 2592000'],
    [0, 'must be >= 1'],
    [1.5, 'must be of type integer'],
    ['600', 'must be of type integer'],
    [59, 'must be at least timeout (60)'],
  ])('%j is rejected (%s), naming the field', (w, message) => {
    expect(detailsOf({ commands: [cmd({ timeout: 60, delivery_window_s: w })] })).toEqual([
      { pointer: '/commands/0/delivery_window_s', message },
    ]);
    expect(
      errorOf(() => validator.validateCommand(cmd({ timeout: 60, delivery_window_s: w }))).details,
    ).toEqual([{ pointer: '/delivery_window_s', message }]);
  });
});

describe('membership', () => {
  const group = { type: 'group', id: 'web' };
  it.each(['live', 'snapshot'])('%s is accepted for a group', (membership) => {
    const c = validator.validateBatch({ commands: [cmd({ target: group, membership })] }).commands[0];
    expect(c?.membership).toBe(membership);
  });
  it('live is refused for other targets, and an unknown value anywhere, naming the field', () => {
    expect(detailsOf({ commands: [cmd({ membership: 'live' })] })).toEqual([
      { pointer: '/commands/0/membership', message: 'live applies only to group targets' },
    ]);
    expect(pointers({ commands: [cmd({ target: group, membership: 'dynamic' })] })).toEqual([
      '/commands/0/membership',
    ]);
  });
});

describe('required and unknown fields', () => {
  it('names every missing field at its pointer', () => {
    expect(pointers({ commands: [{}] })).toEqual([
      '/commands/0/action',
      '/commands/0/source',
      '/commands/0/target',
      '/commands/0/timeout',
      '/commands/0/user',
    ]);
    // `action.args` absent is `{}` (wazuh-bodies.ts), so only the name is missing.
    expect(pointers({ commands: [cmd({ action: {}, target: {} })] })).toEqual([
      '/commands/0/action/name',
      '/commands/0/target/id',
      '/commands/0/target/type',
    ]);
  });

  it.each([
    [{ commands: [command()], extra: 1 }, '/extra'],
    [{ commands: [cmd({ priority: 1 })] }, '/commands/0/priority'],
    [{ commands: [cmd({ target: { type: 'agent', id: '1', name: 'x' } })] }, '/commands/0/target/name'],
    [{ commands: [cmd({ action: { name: 'restart', args: {}, when: 'now' } })] }, '/commands/0/action/when'],
    [{ commands: [cmd({ 'a/b~c': 1 })] }, '/commands/0/a~1b~0c'],
  ])('rejects an unknown field by name (%#)', (body, pointer) => {
    const d = detailsOf(body);
    expect(d).toHaveLength(1);
    expect(d[0]?.pointer).toBe(pointer);
    expect(d[0]?.message).toMatch(/^unknown field ".+" \(allowed: /);
  });

  it('names at most MAX_ERROR_DETAILS fields, then says how many more: a body of 5,000 unknown keys', () => {
    const extra = Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`k${i}`, 0]));
    const d = detailsOf({ commands: [cmd(extra)] });
    expect(d).toHaveLength(MAX_ERROR_DETAILS + 1);
    expect(d.slice(0, MAX_ERROR_DETAILS).every((x) => /^\/commands\/0\/k\d+$/.test(x.pointer))).toBe(true);
    expect(d[MAX_ERROR_DETAILS]).toEqual({
      pointer: '',
      message: `and ${5000 - MAX_ERROR_DETAILS} more errors not listed`,
    });
    // The same body gives the same answer (the first found are kept, then sorted).
    expect(detailsOf({ commands: [cmd(extra)] })).toEqual(d);
  });

  it('lists every error of every command at once, sorted by pointer (numerically)', () => {
    const commands = Array.from({ length: 5 }, () => command());
    commands[4] = { ...command(), timeout: 0 };
    commands[1] = { ...command(), user: '' };
    expect(pointers({ commands })).toEqual(['/commands/1/user', '/commands/4/timeout']);
  });

  it('the error message summarises the details and the code is VALIDATION_FAILED', () => {
    const e = errorOf(() => validator.validateBatch({ commands: [cmd({ timeout: 0 })] }));
    expect(e.code).toBe(ErrorCodes.VALIDATION_FAILED);
    expect(e.message).toContain('/commands/0/timeout must be >= 1');
  });
});

describe('batch envelope', () => {
  it.each([
    [null, '', 'must be of type object'],
    [[], '', 'must be of type object'],
    ['text', '', 'must be of type object'],
    [{}, '/commands', 'is required'],
    [{ commands: {} }, '/commands', 'must be of type array'],
    [{ commands: [] }, '/commands', 'must have at least 1 item(s)'],
  ])('%j is rejected', (body, pointer, message) => {
    expect(detailsOf(body)).toEqual([{ pointer, message }]);
  });

  it('more commands than configured is BATCH_TOO_LARGE, checked before anything else', () => {
    const e = errorOf(() => validator.validateBatch({ commands: Array.from({ length: 6 }, () => ({})) }));
    expect(e.code).toBe(ErrorCodes.BATCH_TOO_LARGE);
    expect(e.details).toEqual([{ pointer: '/commands', message: 'must have at most 5 item(s)' }]);
    expect(() =>
      validator.validateBatch({ commands: Array.from({ length: 5 }, () => command()) }),
    ).not.toThrow();
  });

  it('a body that is not JSON-serialisable is a validation error', () => {
    const loop: Record<string, unknown> = {};
    loop.self = loop;
    expect(errorOf(() => validator.validateBatch(loop)).code).toBe(ErrorCodes.VALIDATION_FAILED);
  });
});

describe('rollout keys', () => {
  it.each([
    { max_concurrency: 1 },
    { max_concurrency: 500 },
    { max_errors: 0 },
    { max_errors: 5 },
    { max_errors: '5' },
    { max_errors: '10%' },
    { max_errors: '2.5%' },
    { max_errors: '100%' },
    { max_errors: '0%' },
  ])('%j is accepted', (patch) => {
    expect(validator.validateBatch({ commands: [cmd(patch)] }).commands[0]).toMatchObject(patch);
  });

  it.each([{ max_concurrency: 0 }, { max_concurrency: 2.5 }, { max_concurrency: '3' }])(
    '%j is rejected',
    (patch) => {
      expect(pointers({ commands: [cmd(patch)] })).toEqual(['/commands/0/max_concurrency']);
    },
  );

  it.each([-1, 1.5, 'abc', '101%', '10 %', '%', '-5', '', null])(
    'max_errors %j is rejected with one reason',
    (v) => {
      const d = detailsOf({ commands: [cmd({ max_errors: v })] });
      expect(d).toEqual([
        { pointer: '/commands/0/max_errors', message: expect.stringContaining('is invalid: Error budget') },
      ]);
    },
  );
});

describe('actions', () => {
  it('an unknown action is UNKNOWN_ACTION naming /commands/i/action/name, with the other errors listed too', () => {
    const e = errorOf(() =>
      validator.validateBatch({
        commands: [
          command(),
          cmd({ action: { name: 'format-disk', args: {} } }),
          cmd({ action: { name: 'set-group', args: {} } }),
        ],
      }),
    );
    expect(e.code).toBe(ErrorCodes.UNKNOWN_ACTION);
    expect(e.details).toEqual([
      {
        pointer: '/commands/1/action/name',
        message: expect.stringContaining('unknown action "format-disk"'),
      },
      { pointer: '/commands/2/action/args/groups', message: 'is required' },
    ]);
  });

  it('permissive mode accepts unknown actions with any args and target', () => {
    const permissive = new CommandValidator({
      registry: ActionRegistry.withDefaults({ permissive: true }),
      maxBatchCommands: 5,
    });
    const body = {
      commands: [
        cmd({ action: { name: 'format-disk', args: { force: true } }, target: { type: 'server', id: 'x' } }),
      ],
    };
    expect(permissive.validateBatch(body)).toEqual(body);
    // Registered actions are still checked.
    expect(() =>
      permissive.validateBatch({ commands: [cmd({ action: { name: 'restart', args: { now: 1 } } })] }),
    ).toThrow(CommandManagerError);
  });

  it('args errors point inside args; target type and server id are checked', () => {
    expect(
      detailsOf({ commands: [cmd({ action: { name: 'set-group', args: { groups: ['ok', ''] } } })] }),
    ).toEqual([{ pointer: '/commands/0/action/args/groups/1', message: 'must not be empty' }]);
    expect(
      detailsOf({ commands: [cmd({ action: { name: 'update', args: { index: 'i', offset: '0' } } })] }),
    ).toEqual([
      {
        pointer: '/commands/0/target/type',
        message: expect.stringContaining('cannot be sent to target type "agent" (allowed: server)'),
      },
    ]);
    expect(
      detailsOf({
        commands: [
          cmd({
            target: { type: 'server', id: 'other' },
            action: { name: 'update', args: { index: 'i', offset: '0' } },
          }),
        ],
      }),
    ).toEqual([
      {
        pointer: '/commands/0/target/id',
        message: expect.stringContaining('(allowed: vulnerability-detector)'),
      },
    ]);
  });

  it('action.version must be a string', () => {
    expect(pointers({ commands: [cmd({ action: { name: 'restart', args: {}, version: 5 } })] })).toEqual([
      '/commands/0/action/version',
    ]);
  });
});

describe('validateCommand (one command, no envelope)', () => {
  it('validates and canonicalises like a batch element, pointers from the root', () => {
    expect(validator.validateCommand(cmd({ source: 'ENGINE' })).source).toBe('Engine');
    expect(errorOf(() => validator.validateCommand(cmd({ timeout: 0 }))).details).toEqual([
      { pointer: '/timeout', message: 'must be >= 1' },
    ]);
    expect(
      errorOf(() => validator.validateCommand(cmd({ action: { name: 'nope', args: {} } }))).details[0]
        ?.pointer,
    ).toBe('/action/name');
  });
});

describe('result reports', () => {
  const report = { id: '3-1', status: 'success', result: { code: 0, message: 'ok' } };

  it('accepts a single report and a bulk one', () => {
    expect(validator.validateResultReports(report)).toEqual([report]);
    expect(validator.validateResultReports({ results: [report, { ...report, id: '3-2' }] })).toHaveLength(2);
  });

  it.each([
    [{ ...report, status: 'sent' }, '/status'],
    [{ ...report, id: '' }, '/id'],
    [{ ...report, result: { code: 'x', message: 'm' } }, '/result/code'],
    [{ ...report, result: { code: 1 } }, '/result/message'],
    [{ ...report, extra: true }, '/extra'],
    [{ results: [report, { ...report, status: 'pending' }] }, '/results/1/status'],
    [{ results: [] }, '/results'],
  ])('%j is rejected at %s', (body, pointer) => {
    const e = errorOf(() => validator.validateResultReports(body));
    expect(e.code).toBe(ErrorCodes.VALIDATION_FAILED);
    expect(e.details.map((d) => d.pointer)).toContain(pointer);
  });

  it('more reports than configured is BATCH_TOO_LARGE', () => {
    const e = errorOf(() => validator.validateResultReports({ results: [report, report, report, report] }));
    expect(e.code).toBe(ErrorCodes.BATCH_TOO_LARGE);
  });
});

describe('rerun_of', () => {
  it('is an optional positive integer: the id of the request re-run', () => {
    expect(validator.validateBatch({ commands: [cmd({ rerun_of: 7 })] }).commands[0]?.rerun_of).toBe(7);
    expect(validator.validateBatch({ commands: [command()] }).commands[0]).not.toHaveProperty('rerun_of');
  });

  it.each([0, -1, 1.5, '3', null, Number.MAX_SAFE_INTEGER + 2])('refuses %p, naming the field', (value) => {
    expect(pointers({ commands: [cmd({ rerun_of: value })] })).toContain('/commands/0/rerun_of');
  });
});
