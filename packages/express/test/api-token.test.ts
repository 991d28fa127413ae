import { generateApiToken, hashApiToken } from '../src/auth/api-token';

describe('generateApiToken', () => {
  it('never starts with "-", so that a command line takes it as the value of --token', () => {
    // A bare base64url token starts with "-" once in 64: 2,000 of them all avoiding it is a 1 in 10^13 chance.
    const tokens = Array.from({ length: 2000 }, () => generateApiToken());
    expect(tokens.filter((t) => t.startsWith('-'))).toEqual([]);
  });

  it('carries 256 random bits after its prefix, and no two are alike', () => {
    const tokens = Array.from({ length: 1000 }, () => generateApiToken());
    for (const t of tokens) {
      expect(t).toMatch(/^cmt_[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(t.slice(4), 'base64url')).toHaveLength(32);
    }
    expect(new Set(tokens).size).toBe(tokens.length);
    expect(new Set(tokens.map(hashApiToken)).size).toBe(tokens.length);
  });
});
