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
