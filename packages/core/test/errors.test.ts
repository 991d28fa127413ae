import { CommandManagerError, ErrorCodes, isCommandManagerError } from '../src/errors';

describe('error codes', () => {
  it('are unique and each equals its key', () => {
    const values = Object.values(ErrorCodes);
    expect(new Set(values).size).toBe(values.length);
    for (const [key, value] of Object.entries(ErrorCodes)) expect(value).toBe(key);
  });

  it('CommandManagerError carries code, details, cause and retry hint', () => {
    const cause = new Error('root');
    const e = new CommandManagerError(ErrorCodes.STORE_UNAVAILABLE, 'down', {
      details: [{ pointer: '/a', message: 'b' }],
      cause,
      retryAfterSec: 3,
    });
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('CommandManagerError');
    expect(e.code).toBe('STORE_UNAVAILABLE');
    expect(e.details).toEqual([{ pointer: '/a', message: 'b' }]);
    expect(e.cause).toBe(cause);
    expect(e.retryAfterSec).toBe(3);
    expect(isCommandManagerError(e)).toBe(true);
    expect(isCommandManagerError(e, ErrorCodes.STORE_UNAVAILABLE)).toBe(true);
    expect(isCommandManagerError(e, ErrorCodes.NOT_FOUND)).toBe(false);
    expect(isCommandManagerError(new Error('x'))).toBe(false);
  });
});
