import { thrownBy } from '@command-manager/test-support';
import { ActionRegistry, builtInActions, DEFAULT_UPDATE_SERVER_IDS } from '../src/action-registry';
import { CommandManagerError, ErrorCodes } from '../src/errors';
import type { Action, Target } from '../src/model';

const agent: Target = { type: 'agent', id: '001' };
const group: Target = { type: 'group', id: 'web' };
const vd: Target = { type: 'server', id: 'vulnerability-detector' };

function check(registry: ActionRegistry, action: Action, target: Target) {
  return registry.check(action, target, '/commands/0');
}

const errorOf = (fn: () => unknown): CommandManagerError => thrownBy(fn, CommandManagerError);

describe('built-in actions', () => {
  const registry = ActionRegistry.withDefaults();

  it('ships exactly set-group, fetch-config, restart, update, refresh', () => {
    expect(registry.names()).toEqual(['fetch-config', 'refresh', 'restart', 'set-group', 'update']);
    expect(builtInActions().map((a) => a.name)).toHaveLength(5);
  });

  it.each([
    ['set-group', { groups: ['a', 'b'] }],
    ['set-group', { groups: [] }],
    ['fetch-config', {}],
    ['restart', {}],
  ])('%s %j goes to agents and groups, not servers', (name, args) => {
    expect(check(registry, { name, args }, agent).details).toEqual([]);
    expect(check(registry, { name, args }, group).details).toEqual([]);
    expect(check(registry, { name, args }, vd).details).toEqual([
      { pointer: '/commands/0/target/type', message: expect.stringContaining('(allowed: agent, group)') },
    ]);
  });

  it.each([
    ['update', { index: 'wazuh-cve', offset: '0' }],
    ['refresh', { index: 'wazuh-cve' }],
    ['refresh', { index: ['a', 'b'] }],
    ['refresh', {}],
  ])('%s %j goes to servers only', (name, args) => {
    expect(check(registry, { name, args }, vd).details).toEqual([]);
    expect(check(registry, { name, args }, agent).details[0]?.pointer).toBe('/commands/0/target/type');
  });

  it.each([
    ['set-group', {}, '/commands/0/action/args/groups'],
    ['set-group', { groups: 'web' }, '/commands/0/action/args/groups'],
    ['set-group', { groups: [''] }, '/commands/0/action/args/groups/0'],
    ['set-group', { groups: ['a'], extra: 1 }, '/commands/0/action/args/extra'],
    ['fetch-config', { now: true }, '/commands/0/action/args'],
    ['restart', { delay: 5 }, '/commands/0/action/args'],
    ['update', { index: 'i' }, '/commands/0/action/args/offset'],
    ['update', { offset: '1' }, '/commands/0/action/args/index'],
    ['update', { index: 'i', offset: 1 }, '/commands/0/action/args/offset'],
    ['refresh', { index: 3 }, '/commands/0/action/args/index'],
    ['refresh', { index: [] }, '/commands/0/action/args/index'],
  ])('%s with args %j is rejected at %s', (name, args, pointer) => {
    const target = name === 'update' || name === 'refresh' ? vd : agent;
    const result = check(registry, { name, args }, target);
    expect(result.unknownAction).toBe(false);
    expect(result.details.map((d) => d.pointer)).toContain(pointer);
  });

  it('update goes only to the configured server ids (default vulnerability-detector)', () => {
    expect(DEFAULT_UPDATE_SERVER_IDS).toEqual(['vulnerability-detector']);
    const update = { name: 'update', args: { index: 'i', offset: '0' } };
    expect(check(registry, update, { type: 'server', id: 'other' }).details).toEqual([
      {
        pointer: '/commands/0/target/id',
        message: expect.stringContaining('(allowed: vulnerability-detector)'),
      },
    ]);
    const custom = ActionRegistry.withDefaults({ updateServerIds: ['content-updater', 'vd2'] });
    expect(check(custom, update, { type: 'server', id: 'vd2' }).details).toEqual([]);
    expect(check(custom, update, vd).details[0]?.pointer).toBe('/commands/0/target/id');
  });

  it('any version of a built-in action is accepted', () => {
    expect(check(registry, { name: 'restart', args: {}, version: 'v5.0.0' }, agent).details).toEqual([]);
  });
});

describe('unknown actions', () => {
  it('are flagged with a pointer to the name and the registered names', () => {
    const result = check(ActionRegistry.withDefaults(), { name: 'wipe', args: {} }, agent);
    expect(result.unknownAction).toBe(true);
    expect(result.details).toEqual([
      {
        pointer: '/commands/0/action/name',
        message: expect.stringMatching(/unknown action "wipe".*restart/),
      },
    ]);
  });

  it('pass in permissive mode', () => {
    const result = check(
      ActionRegistry.withDefaults({ permissive: true }),
      { name: 'wipe', args: { x: 1 } },
      vd,
    );
    expect(result).toEqual({ unknownAction: false, details: [] });
  });
});

describe('operator-defined actions (JSON, no code)', () => {
  const scan = {
    name: 'scan',
    description: 'Runs a scan.',
    versions: {
      '1': {
        targets: ['agent'],
        args: {
          type: 'object',
          properties: { path: { type: 'string' } },
          required: ['path'],
          additionalProperties: false,
        },
      },
      '2': {
        targets: ['agent', 'group'],
        args: {
          type: 'object',
          properties: { paths: { type: 'array', items: { type: 'string' } } },
          required: ['paths'],
        },
      },
    },
  };

  it('are registered from the text of a JSON file, in any of its three shapes', () => {
    for (const text of [JSON.stringify(scan), JSON.stringify([scan]), JSON.stringify({ actions: [scan] })]) {
      const registry = ActionRegistry.withDefaults();
      registry.registerJson(text);
      expect(registry.has('scan')).toBe(true);
      expect(registry.get('scan')).toEqual(scan);
    }
  });

  it('are checked per version: args schema and targets', () => {
    const registry = ActionRegistry.withDefaults({ definitions: { actions: [scan] } });
    expect(check(registry, { name: 'scan', version: '1', args: { path: '/' } }, agent).details).toEqual([]);
    expect(
      check(registry, { name: 'scan', version: '1', args: { path: '/' } }, group).details[0]?.pointer,
    ).toBe('/commands/0/target/type');
    expect(check(registry, { name: 'scan', version: '2', args: { paths: ['/'] } }, group).details).toEqual(
      [],
    );
    expect(
      check(registry, { name: 'scan', version: '2', args: { path: '/' } }, agent).details[0]?.pointer,
    ).toBe('/commands/0/action/args/paths');
    expect(check(registry, { name: 'scan', version: '3', args: {} }, agent).details).toEqual([
      { pointer: '/commands/0/action/version', message: 'action "scan" has no version "3" (known: 1, 2)' },
    ]);
    expect(check(registry, { name: 'scan', args: {} }, agent).details).toEqual([
      { pointer: '/commands/0/action/version', message: 'is required for action "scan" (one of: 1, 2)' },
    ]);
  });

  it('a single version needs no action.version; "*" matches any', () => {
    const registry = new ActionRegistry();
    registry.register({
      name: 'ping',
      versions: { '1.0': { targets: ['agent'], args: { type: 'object' } } },
    });
    registry.register({
      name: 'pong',
      versions: { '*': { targets: ['server'], serverIds: ['s1'], args: { type: 'object' } } },
    });
    expect(check(registry, { name: 'ping', args: {} }, agent).details).toEqual([]);
    expect(
      check(registry, { name: 'pong', args: {}, version: 'anything' }, { type: 'server', id: 's1' }).details,
    ).toEqual([]);
    expect(
      check(registry, { name: 'pong', args: {} }, { type: 'server', id: 's2' }).details[0]?.pointer,
    ).toBe('/commands/0/target/id');
  });

  it('may replace a built-in action', () => {
    const registry = ActionRegistry.withDefaults({
      definitions: [
        {
          name: 'restart',
          versions: {
            '*': { targets: ['agent'], args: { type: 'object', properties: { delay: { type: 'integer' } } } },
          },
        },
      ],
    });
    expect(check(registry, { name: 'restart', args: { delay: 5 } }, agent).details).toEqual([]);
    expect(check(registry, { name: 'restart', args: {} }, group).details[0]?.pointer).toBe(
      '/commands/0/target/type',
    );
  });

  it.each([
    ['not JSON', '{', ''],
    ['no name', JSON.stringify({ versions: { '*': { targets: ['agent'], args: {} } } }), '/name'],
    ['no versions', JSON.stringify({ name: 'x', versions: {} }), '/versions'],
    [
      'bad target',
      JSON.stringify({ name: 'x', versions: { '*': { targets: ['host'], args: {} } } }),
      '/versions/*/targets/0',
    ],
    [
      'unknown key',
      JSON.stringify({ name: 'x', versions: { '*': { targets: ['agent'], args: {}, extra: 1 } } }),
      '/versions/*/extra',
    ],
    [
      'bad schema',
      JSON.stringify({ name: 'x', versions: { '*': { targets: ['agent'], args: { type: 'objekt' } } } }),
      '/versions/*/args',
    ],
    [
      'second of an array',
      JSON.stringify([{ name: 'ok', versions: { '*': { targets: ['agent'], args: {} } } }, { name: '' }]),
      '/1/name',
    ],
  ])('a bad definition (%s) is CONFIG_INVALID naming the field', (_what, text, pointer) => {
    const registry = new ActionRegistry();
    const e = errorOf(() => registry.registerJson(text));
    expect(e.code).toBe(ErrorCodes.CONFIG_INVALID);
    expect(e.details.map((d) => d.pointer)).toContain(pointer);
  });

  it('a bad definition registers nothing', () => {
    const registry = new ActionRegistry();
    expect(() =>
      registry.register({ name: 'x', versions: { '*': { targets: ['agent'], args: { type: 'objekt' } } } }),
    ).toThrow(CommandManagerError);
    expect(registry.has('x')).toBe(false);
  });
});
