/**
 * The page-cursor rule shared by every listing: what a cursor decodes to, what is refused, and the bound.
 */
import {
  CommandManagerError,
  MAX_PAGE_CURSOR_LENGTH,
  decodePageCursor,
  encodePageCursor,
  isPageCursorShaped,
} from '../src';

function refusal(run: () => unknown): CommandManagerError {
  try {
    run();
  } catch (e) {
    if (e instanceof CommandManagerError) return e;
    throw e;
  }
  throw new Error('expected a refusal');
}

describe('page cursors', () => {
  it('round-trip the sort values of each kind', () => {
    const values = [1_717_243_200_000, 'sidecar-a', -3, 0.5];
    expect(decodePageCursor(encodePageCursor(values), ['integer', 'string', 'integer', 'number'])).toEqual(
      values,
    );
    expect(decodePageCursor(encodePageCursor([0, 7]), ['natural', 'natural'])).toEqual([0, 7]);
  });

  it.each([
    ['not base64url', '%%%', ['integer']],
    ['not JSON', Buffer.from('[1,').toString('base64url'), ['integer']],
    ['not an array', Buffer.from('{"a":1}').toString('base64url'), ['integer']],
    ['too few values', encodePageCursor([1]), ['integer', 'integer']],
    ['too many values', encodePageCursor([1, 2, 3]), ['integer', 'integer']],
    ['a null', Buffer.from('[1,null]').toString('base64url'), ['integer', 'integer']],
    ['a fraction for an integer', encodePageCursor([1.5]), ['integer']],
    ['an unsafe integer', Buffer.from('[9007199254740993]').toString('base64url'), ['integer']],
    ['a negative natural', encodePageCursor([-1]), ['natural']],
    ['a number for a string', encodePageCursor([1]), ['string']],
    ['a string for a number', encodePageCursor(['1']), ['number']],
    ['empty', '', ['integer']],
  ] as const)('refuse %s with VALIDATION_FAILED naming the parameter', (_name, cursor, shape) => {
    const e = refusal(() => decodePageCursor(cursor, shape, '/query/cursor'));
    expect(e.code).toBe('VALIDATION_FAILED');
    expect(e.details).toEqual([
      { pointer: '/query/cursor', message: 'is not a cursor returned by a previous page' },
    ]);
  });

  it('name /cursor unless told otherwise', () => {
    expect(refusal(() => decodePageCursor('%%%', ['integer'])).details?.[0]?.pointer).toBe('/cursor');
  });

  it('are bounded in length before anything is decoded', () => {
    // A well-formed cursor just over the bound: a long string value, valid in every other respect.
    let name = 'x';
    while (encodePageCursor([1, name, 2]).length <= MAX_PAGE_CURSOR_LENGTH) name += 'x';
    const over = encodePageCursor([1, name, 2]);
    const under = encodePageCursor([1, name.slice(1), 2]);
    expect(under.length).toBeLessThanOrEqual(MAX_PAGE_CURSOR_LENGTH);
    expect(decodePageCursor(under, ['integer', 'string', 'integer'])).toEqual([1, name.slice(1), 2]);
    expect(isPageCursorShaped(over)).toBe(false);
    expect(refusal(() => decodePageCursor(over, ['integer', 'string', 'integer'])).code).toBe(
      'VALIDATION_FAILED',
    );
  });

  it('hold the longest sort values a listing makes: an audit position with a 256-character sidecar name', () => {
    const longest = encodePageCursor([8.64e15, 's'.repeat(256), Number.MAX_SAFE_INTEGER]);
    expect(isPageCursorShaped(longest)).toBe(true);
  });
});
