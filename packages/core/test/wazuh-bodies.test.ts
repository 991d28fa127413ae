import { ActionRegistry } from '../src/action-registry';
import { CommandManagerError, ErrorCodes } from '../src/errors';
import { CommandValidator } from '../src/validation';
import { isBareCommand, rebaseBareCommandError } from '../src/wazuh-bodies';

const validator = new CommandValidator({ registry: ActionRegistry.withDefaults(), maxBatchCommands: 5 });

const restart = {
  source: 'Users/Services',
  target: { id: '001', type: 'agent' },
  action: { name: 'restart', version: '5.0.0' },
  timeout: 100,
};

describe('Wazuh body shapes (wazuh-bodies.ts)', () => {
  it('user absent: the default user; without one it stays required', () => {
    const [c] = validator.validateBatch({ commands: [restart] }, { defaultUser: 'caller' }).commands;
    expect(c?.user).toBe('caller');
    expect(() => validator.validateBatch({ commands: [restart] })).toThrow(CommandManagerError);
  });

  it('a given user is kept, even with a default', () => {
    const [c] = validator.validateBatch(
      { commands: [{ ...restart, user: 'Management API' }] },
      { defaultUser: 'caller' },
    ).commands;
    expect(c?.user).toBe('Management API');
  });

  it('args absent: {}', () => {
    const c = validator.validateCommand({ ...restart, user: 'u' });
    expect(c.action).toEqual({ name: 'restart', version: '5.0.0', args: {} });
  });

  it('set-group args as a list of names: {groups}', () => {
    const c = validator.validateCommand({
      ...restart,
      user: 'u',
      action: { name: 'set-group', version: '5.0.0', args: ['g1', 'g2'] },
    });
    expect(c.action.args).toEqual({ groups: ['g1', 'g2'] });
    const empty = validator.validateCommand({
      ...restart,
      user: 'u',
      action: { name: 'set-group', args: [] },
    });
    expect(empty.action.args).toEqual({ groups: [] });
  });

  it('target.type in any case: lower case; an unknown type is still refused', () => {
    expect(
      validator.validateCommand({ ...restart, user: 'u', target: { id: '1', type: 'GROUP' } }).target,
    ).toEqual({ id: '1', type: 'group' });
    expect(() =>
      validator.validateCommand({ ...restart, user: 'u', target: { id: '1', type: 'cluster' } }),
    ).toThrow(CommandManagerError);
  });

  it('the input is never mutated', () => {
    const body = { commands: [structuredClone(restart)] };
    validator.validateBatch(body, { defaultUser: 'caller' });
    expect(body).toEqual({ commands: [restart] });
  });

  it('a bare command is recognised; a batch and non-commands are not', () => {
    expect(isBareCommand(restart)).toBe(true);
    expect(isBareCommand({ commands: [restart] })).toBe(false);
    expect(isBareCommand({ other: 1 })).toBe(false);
    expect(isBareCommand([restart])).toBe(false);
  });

  it('errors about a bare command point into the body as sent', () => {
    const e = rebaseBareCommandError(
      new CommandManagerError(
        ErrorCodes.VALIDATION_FAILED,
        'the request is invalid: /commands/0/timeout is required',
        {
          details: [
            { pointer: '/commands/0/timeout', message: 'is required' },
            { pointer: '/commands/0', message: 'must be object' },
          ],
        },
      ),
    ) as CommandManagerError;
    expect(e.code).toBe(ErrorCodes.VALIDATION_FAILED);
    expect(e.details).toEqual([
      { pointer: '/timeout', message: 'is required' },
      { pointer: '', message: 'must be object' },
    ]);
    expect(e.message).toBe('the request is invalid: /timeout is required');
  });
});
