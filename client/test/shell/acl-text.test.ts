import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Perms } from '../../src/index.js';
import type { ACL } from '../../src/index.js';
import { formatAclText, formatPerms, parseAclText, parsePerms } from '../../src/shell/acl-text.js';

describe('ACL text', () => {
  it("reads zkCli's scheme:id:perms lists, ids with colons included", () => {
    expect(parseAclText('world:anyone:cdrwa,digest:user:hash=:r, ip:10.0.0.0/8:rw,auth::a,ip:::1:c')).toEqual([
      { perms: Perms.ALL, id: { scheme: 'world', id: 'anyone' } },
      { perms: Perms.READ, id: { scheme: 'digest', id: 'user:hash=' } },
      { perms: Perms.READ | Perms.WRITE, id: { scheme: 'ip', id: '10.0.0.0/8' } },
      { perms: Perms.ADMIN, id: { scheme: 'auth', id: '' } },
      { perms: Perms.CREATE, id: { scheme: 'ip', id: '::1' } },
    ]);
  });

  it('writes perms in the order c d r w a, and reads them in any order and case', () => {
    expect(formatPerms(Perms.ALL)).toBe('cdrwa');
    expect(formatPerms(Perms.READ | Perms.ADMIN)).toBe('ra');
    expect(formatPerms(0)).toBe('');
    expect(parsePerms('AWRDC')).toBe(Perms.ALL);
  });

  it('rejects malformed entries, saying which', () => {
    expect(() => parseAclText('')).toThrow(/at least one/);
    expect(() => parseAclText('world:anyone')).toThrow(/'world:anyone' is not scheme:id:perms/);
    expect(() => parseAclText(':x:r')).toThrow(/no scheme/);
    expect(() => parseAclText('world:anyone:rx')).toThrow(/unknown permission 'x'/);
    expect(() => parseAclText('world:anyone:rr')).toThrow(/repeated/);
    expect(() => parseAclText('world:anyone:r,')).toThrow(/is not scheme:id:perms/);
  });

  it('reads back what it writes (property)', () => {
    const scheme = fc.string({ minLength: 1, maxLength: 8 }).filter((s) => !/[:,\s]/.test(s));
    const id = fc.string({ maxLength: 20 }).filter((s) => !s.includes(',') && s.trim() === s);
    const acl = fc.array(fc.record({ perms: fc.integer({ min: 0, max: Perms.ALL }), id: fc.record({ scheme, id }) }), {
      minLength: 1,
      maxLength: 5,
    });
    fc.assert(
      fc.property(acl, (entries: ACL[]) => {
        expect(parseAclText(formatAclText(entries))).toEqual(entries);
      }),
    );
  });
});
