import { ActionRegistry } from '../src/action-registry';
import { CommandService } from '../src/command-service';
import type { CommandServiceLimits } from '../src/command-service';
import { CommandManagerError, ErrorCodes } from '../src/errors';
import type { ErrorCode } from '../src/errors';
import { InProcessIdAllocator } from '../src/in-process-id-allocator';
import { InMemoryAgentDirectory, InMemoryOrderStore, InMemoryRequestStore } from '../src/memory';
import type { CommandRequest } from '../src/model';
import { command, ManualClock, principal } from './helpers/fixtures';

function setup(limits: Partial<CommandServiceLimits> = {}, options: { permissive?: boolean } = {}) {
  const clock = new ManualClock();
  const orders = new InMemoryOrderStore({ clock });
  const requests = new InMemoryRequestStore({ orders });
  const agents = new InMemoryAgentDirectory();
  for (let i = 1; i <= 300; i++) {
    agents.addAgent({ id: `a${String(i).padStart(5, '0')}`, groups: ['big'], status: 'active' });
  }
  for (let i = 1; i <= 5; i++) agents.addAgent({ id: `s${i}`, groups: ['small'], status: 'active' });
  const service = new CommandService({
    orders,
    requests,
    ids: new InProcessIdAllocator(),
    agents,
    registry: ActionRegistry.withDefaults({ permissive: options.permissive ?? false }),
    clock,
    limits: { maxBatchCommands: 100, maxFanOut: 100_000, maxResultsPerReport: 50, ...limits },
    indexName: 'wazuh-commands',
  });
  return { service, orders, requests };
}

async function rejection(p: Promise<unknown>, code: ErrorCode): Promise<CommandManagerError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof CommandManagerError) {
      expect(e.code).toBe(code);
      return e;
    }
    throw e;
  }
  throw new Error('expected a rejection');
}

const alice = principal();
const setGroup = (groups: string[], group = 'big'): CommandRequest =>
  command({ target: { type: 'group', id: group }, action: { name: 'set-group', args: { groups } } });
/** `n` distinct group names of `len` characters each. */
const names = (n: number, len = 40): string[] =>
  Array.from({ length: n }, (_, i) => `g${i}`.padEnd(len, 'x'));

async function expectNothingWritten(s: ReturnType<typeof setup>): Promise<void> {
  expect(s.orders.size).toBe(0);
  expect(await s.requests.getRequest(1)).toBeUndefined();
  // No request id was consumed: the next accepted submission gets the first one.
  const next = await s.service
    .submit(
      {
        commands: [
          command({
            target: { type: 'server', id: 'x' },
            action: { name: 'update', args: { index: 'i', offset: '1' } },
          }),
        ],
      },
      alice,
    )
    .catch(() => undefined);
  if (next) expect(next.commands[0]?.request_id).toBe(1);
}

describe('byte bounds on args, checked before anything is written', () => {
  it('one command whose args are over maxArgsBytes: 413-class ARGS_TOO_LARGE naming /commands/i/action/args', async () => {
    const s = setup({ maxArgsBytes: 1024 });
    const e = await rejection(
      s.service.submit({ commands: [setGroup(['a']), setGroup(names(20, 60), 'small')] }, alice),
      ErrorCodes.ARGS_TOO_LARGE,
    );
    expect(e.details).toEqual([
      {
        pointer: '/commands/1/action/args',
        message: expect.stringContaining('more than the maximum of 1024'),
      },
    ]);
    expect(s.orders.size).toBe(0);
    expect(await s.requests.getRequest(1)).toBeUndefined();
  });

  it('is checked before the action schema: a ~900 KB set-group is refused for its size', async () => {
    const s = setup();
    const e = await rejection(
      s.service.submit({ commands: [setGroup(names(900, 1000))] }, alice),
      ErrorCodes.ARGS_TOO_LARGE,
    );
    expect(e.details.map((d) => d.pointer)).toEqual(['/commands/0/action/args']);
    await expectNothingWritten(s);
  });

  it('the default bound is 16 KiB, and it holds for unregistered actions in permissive mode', async () => {
    const s = setup({}, { permissive: true });
    const big = command({ action: { name: 'anything', args: { blob: 'x'.repeat(17 * 1024) } } });
    const e = await rejection(s.service.submit({ commands: [big] }, alice), ErrorCodes.ARGS_TOO_LARGE);
    expect(e.details[0]?.pointer).toBe('/commands/0/action/args');
    await expectNothingWritten(s);
  });

  it('a leaf of args larger than one index term may be is refused whatever maxArgsBytes allows, named by its pointer', async () => {
    const s = setup({ maxArgsBytes: 1024 * 1024 }, { permissive: true });
    // Path `a/b.c.d` (7 bytes with its dots) plus the value: 16,384 bytes is the largest leaf.
    const args = (valueBytes: number): Record<string, unknown> => ({
      'a/b': { c: [{ d: 'x'.repeat(valueBytes) }] },
      other: 'y'.repeat(20_000),
    });
    const e = await rejection(
      s.service.submit(
        {
          commands: [
            command({ action: { name: 'anything', args: { fine: 'ok' } } }),
            command({ action: { name: 'anything', args: { 'a/b': { c: [{ d: 'x'.repeat(16_377) }] } } } }),
            command({ action: { name: 'anything', args: args(100) } }),
          ],
        },
        alice,
      ),
      ErrorCodes.ARGS_TOO_LARGE,
    );
    expect(e.details).toEqual([
      {
        pointer: '/commands/2/action/args/other',
        message: expect.stringContaining('20005 bytes') as unknown,
      },
    ]);
    expect(e.message).toContain('a value larger than 16384 bytes');
    await expectNothingWritten(s);
    // `~` and `/` in keys are escaped in the pointer (RFC 6901); an array item shares its array's path.
    const escaped = await rejection(
      s.service.submit(
        {
          commands: [
            command({ action: { name: 'anything', args: { 'a/b': { c: [{ d: 'x'.repeat(16_378) }] } } } }),
          ],
        },
        alice,
      ),
      ErrorCodes.ARGS_TOO_LARGE,
    );
    expect(escaped.details.map((d) => d.pointer)).toEqual(['/commands/0/action/args/a~1b/c/d']);
    expect(escaped.details[0]?.message).toContain('16385 bytes');
    // 16,384 bytes of path and value is accepted.
    const ok = await s.service.submit(
      {
        commands: [
          command({
            target: { type: 'agent', id: 's1' },
            action: { name: 'anything', args: { 'a/b': { c: [{ d: 'x'.repeat(16_377) }] } } },
          }),
        ],
      },
      alice,
    );
    expect(ok.commands).toHaveLength(1);
  });

  it('args × fan-out over maxRequestWriteBytes: REQUEST_WRITE_TOO_LARGE, no record, no orders, no id consumed', async () => {
    // ~3 KB of args to a 300-agent group: ~900 KB to write, against a 512 KiB bound.
    const s = setup({ maxRequestWriteBytes: 512 * 1024 });
    const e = await rejection(
      s.service.submit({ commands: [setGroup(names(60, 45))] }, alice),
      ErrorCodes.REQUEST_WRITE_TOO_LARGE,
    );
    expect(e.details).toEqual([
      { pointer: '/commands/0/action/args', message: expect.stringContaining('300 order(s)') },
    ]);
    await expectNothingWritten(s);
  });

  it('the write bound sums over the commands of one submission', async () => {
    const s = setup({ maxRequestWriteBytes: 40 * 1024 });
    const cmd = setGroup(names(20, 40), 'small'); // ~900 bytes × 5 orders each
    await rejection(
      s.service.submit({ commands: Array.from({ length: 10 }, () => cmd) }, alice),
      ErrorCodes.REQUEST_WRITE_TOO_LARGE,
    );
    await expectNothingWritten(s);
    const ok = await s.service.submit({ commands: [cmd, cmd] }, alice);
    expect(ok.commands.map((c) => c.orders)).toEqual([5, 5]);
  });
});

describe('maxFanOut bounds a whole submission', () => {
  it('commands each under the bound but over it together: FANOUT_EXCEEDED at /commands', async () => {
    const s = setup({ maxFanOut: 8 });
    const e = await rejection(
      s.service.submit({ commands: [setGroup(['a'], 'small'), setGroup(['b'], 'small')] }, alice),
      ErrorCodes.FANOUT_EXCEEDED,
    );
    expect(e.details).toEqual([{ pointer: '/commands', message: expect.stringContaining('10 orders') }]);
    expect(s.orders.size).toBe(0);
  });
});

describe('built-in action schemas bound every string and array', () => {
  const invalidAt = async (c: CommandRequest, pointer: string): Promise<void> => {
    const s = setup();
    const e = await rejection(s.service.submit({ commands: [c] }, alice), ErrorCodes.VALIDATION_FAILED);
    expect(e.details.map((d) => d.pointer)).toContain(pointer);
  };
  const server = (name: string, args: Record<string, unknown>): CommandRequest =>
    command({ target: { type: 'server', id: 'vulnerability-detector' }, action: { name, args } });

  it('set-group: at most 128 groups of at most 255 characters', async () => {
    await invalidAt(setGroup(names(129, 5)), '/commands/0/action/args/groups');
    await invalidAt(setGroup(['y'.repeat(256)]), '/commands/0/action/args/groups/0');
  });

  it('update: index and offset bounded', async () => {
    await invalidAt(
      server('update', { index: 'i'.repeat(256), offset: '1' }),
      '/commands/0/action/args/index',
    );
    await invalidAt(
      server('update', { index: 'i', offset: '9'.repeat(65) }),
      '/commands/0/action/args/offset',
    );
  });

  it('refresh: index names and their count bounded', async () => {
    await invalidAt(server('refresh', { index: 'i'.repeat(256) }), '/commands/0/action/args/index');
    await invalidAt(
      server('refresh', { index: Array.from({ length: 65 }, (_, i) => `i${i}`) }),
      '/commands/0/action/args/index',
    );
  });
});
