import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { pathProblem, validateAcl } from '@arbor/protocol';
import { isPlainWorldAcl } from '../src/acl-table.js';
import { isPlainValidPath } from '../src/validate.js';

/**
 * The apply path's shortcuts must agree with the checks they skip: a path the one-pass check
 * accepts is one pathProblem accepts (and the other way round), and an ACL list taken as the
 * plain world list is one validateAcl accepts.
 */

/** Code units around every boundary pathProblem cares about. */
const UNITS = [
  0x2f, 0x2f, 0x2e, 0x2e, 0x61, 0x7a, 0x30, 0x2d, 0x00, 0x01, 0x1f, 0x20, 0x7e, 0x7f, 0x9f, 0xa0, 0xe9, 0xd7ff, 0xd800, 0xdc00, 0xf8ff,
  0xf900, 0xffef, 0xfff0, 0xfffe, 0xffff,
];
const pathLike = fc.array(fc.constantFrom(...UNITS), { maxLength: 12 }).map((units) => String.fromCharCode(...units));
const rooted = pathLike.map((s) => `/${s}`);

describe('isPlainValidPath', () => {
  it('agrees with pathProblem on strings of awkward code units', () => {
    fc.assert(
      fc.property(fc.oneof(pathLike, rooted), fc.constantFrom(Infinity, 4, 8), (path, max) => {
        expect(isPlainValidPath(path, max)).toBe(pathProblem(path, { pathLengthMax: max }) === undefined);
      }),
      { numRuns: 5000 },
    );
  });

  it('agrees on the usual cases and on values that are not strings', () => {
    const cases: unknown[] = ['/', '/a', '/a/b', '/a/', '//', '/.', '/..', '/.a', '/a..', '/a/./b', '/a/../b', 'a', '', '/a b', 3, null];
    for (const path of cases) expect(isPlainValidPath(path, Infinity)).toBe(pathProblem(path, { pathLengthMax: Infinity }) === undefined);
  });
});

describe('isPlainWorldAcl', () => {
  const valid = (acl: unknown): boolean => {
    try {
      validateAcl(acl as never);
      return true;
    } catch {
      return false;
    }
  };
  it('accepts only lists validateAcl accepts', () => {
    const entry = fc.record({
      perms: fc.oneof(fc.integer({ min: -2, max: 40 }), fc.constant(1.5), fc.constant('31')),
      id: fc.oneof(
        fc.record({ scheme: fc.constantFrom('world', 'auth', 'digest', 'ip', 'World'), id: fc.constantFrom('anyone', '', 'x', 'anyone ') }),
        fc.constant(null),
      ),
    });
    fc.assert(
      fc.property(fc.oneof(fc.array(entry, { maxLength: 3 }), fc.constant(null), fc.constant({})), (acl) => {
        if (isPlainWorldAcl(acl)) expect(valid(acl)).toBe(true);
      }),
      { numRuns: 3000 },
    );
    expect(isPlainWorldAcl([{ perms: 31, id: { scheme: 'world', id: 'anyone' } }])).toBe(true);
  });
});
