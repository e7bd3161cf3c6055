import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addChroot, isPathUnder, parentPath, pathProblem, stripChroot, validatePath } from '@arbor/protocol';

const good = ['/', '/a', '/a/b', '/a-b/c_d.e', '/..a', '/a.', '/é/日本', '/a b'];
const bad: [string, RegExp][] = [
  ['', /empty/],
  ['a', /start with '\/'/],
  ['/a/', /end with/],
  ['//', /end with|empty segment/],
  ['/a//b', /empty segment at index 3/],
  ['/a/./b', /relative segment '\.'/],
  ['/a/..', /relative segment '\.\.'/],
  ['/a\u0000b', /NUL character at index 2/],
  ['/a\u0001', /control character U\+0001/],
  ['/a\u007f', /control character/],
  ['/a\ud800', /disallowed character/],
  ['/a\ufff0', /disallowed character/],
];

describe('path rules', () => {
  it.each(good)('accepts %j', (p) => expect(pathProblem(p)).toBeUndefined());
  it.each(bad)('rejects %j', (p, why) => {
    expect(pathProblem(p)).toMatch(why);
    expect(() => validatePath(p)).toThrow(why);
  });
  it('lets a sequential create end in /', () => {
    expect(pathProblem('/q/', { sequential: true })).toBeUndefined();
    expect(pathProblem('/q/')).toMatch(/end with/);
  });
  it('enforces the length limit', () => {
    expect(pathProblem('/' + 'a'.repeat(10), { pathLengthMax: 5 })).toMatch(/limit is 5/);
  });
  it('rejects non-strings', () => expect(pathProblem(42)).toMatch(/must be a string/));
  it('knows ancestry and parents', () => {
    expect(isPathUnder('/rx', '/r')).toBe(false);
    expect(isPathUnder('/r/x', '/r')).toBe(true);
    expect(isPathUnder('/r', '/r')).toBe(true);
    expect(parentPath('/a')).toBe('/');
    expect(parentPath('/a/b')).toBe('/a');
  });
  it('adds and strips a chroot', () => {
    expect(addChroot('/app', '/')).toBe('/app');
    expect(addChroot('/app', '/x')).toBe('/app/x');
    expect(stripChroot('/app', '/app')).toBe('/');
    expect(stripChroot('/app', '/app/x')).toBe('/x');
  });
});

/** The rules read literally off SEMANTICS.md, one at a time: the naive second version. */
function naiveValid(path: string, sequential = false): boolean {
  if (!path.startsWith('/')) return false;
  if (path === '/') return true;
  const subject = sequential && path.endsWith('/') ? path + '0' : path;
  const segments = subject.slice(1).split('/');
  for (const segment of segments) {
    if (segment === '' || segment === '.' || segment === '..') return false;
    for (const ch of segment) {
      for (let i = 0; i < ch.length; i++) {
        const c = ch.charCodeAt(i);
        const control = c < 0x20 || (c >= 0x7f && c <= 0x9f);
        const disallowed = (c >= 0xd800 && c <= 0xf8ff) || c >= 0xfff0;
        if (control || disallowed) return false;
      }
    }
  }
  return true;
}

describe('pathProblem agrees with the naive rules', () => {
  const unit = fc.constantFrom(
    '/',
    '/',
    '/',
    '.',
    'a',
    'b',
    '\u0000',
    '\u0001',
    '\u001f',
    '\u007f',
    '\u0085',
    '\u00a0',
    'é',
    '\ud83d',
    '\ude00',
    '\ue000',
    '\uf8ff',
    '\uf900',
    '\ufff0',
    '\ufffd',
  );
  it('on strings made of the characters that matter', () => {
    fc.assert(
      fc.property(fc.string({ unit, maxLength: 12 }), fc.boolean(), (path, sequential) => {
        expect(pathProblem(path, { sequential }) === undefined).toBe(naiveValid(path, sequential));
      }),
      { numRuns: 3000 },
    );
  });
});
