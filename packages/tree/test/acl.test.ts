import { describe, expect, it } from 'vitest';
import { ErrorCode } from '@arbor/protocol';
import type { ACL, Id } from '@arbor/protocol';
import { validateTxnOp } from '@arbor/tree';
import type { TxnOp } from '@arbor/tree';
import { OPEN, Perms, acl, alice, bob, driver, enc, ip, worldAcl } from './harness.js';

const { READ, WRITE, CREATE, DELETE, ADMIN, ALL } = Perms;

/** Which op needs which permission on which node (SEMANTICS.md, ACLs). */
const needs: [string, number, 'node' | 'parent', (path: string) => TxnOp | 'read'][] = [
  ['getData', READ, 'node', () => 'read'],
  ['setData', WRITE, 'node', (p) => ({ type: 'setData', path: p, data: enc('x'), version: -1 })],
  ['create', CREATE, 'parent', (p) => ({ type: 'create', path: `${p}/new`, data: null, acl: OPEN, mode: 0 })],
  ['delete', DELETE, 'parent', (p) => ({ type: 'delete', path: `${p}/child`, version: -1 })],
  ['setACL', ADMIN, 'node', (p) => ({ type: 'setACL', path: p, acl: OPEN, version: -1 })],
  ['check', READ, 'node', (p) => ({ type: 'check', path: p, version: -1 })],
];

describe('permissions per op', () => {
  it.each(needs)('%s needs %i on the %s', (name, perm, _where, make) => {
    for (const granted of [perm, ALL & ~perm]) {
      const d = driver();
      d.create('/n', { acl: [acl(ALL, 'world', 'anyone')] });
      d.create('/n/child');
      d.ok({ type: 'setACL', path: '/n', acl: worldAcl(granted), version: -1 });
      const allowed = (granted & perm) !== 0;
      const op = make('/n');
      if (op === 'read') {
        if (allowed) expect(d.tree.getData('/n', []).stat).toBeTruthy();
        else expect(() => d.tree.getData('/n', [])).toThrow(expect.objectContaining({ code: ErrorCode.NOAUTH }));
        continue;
      }
      const { result } = d.apply(op);
      expect(result.err, `${name} with perms ${granted}`).toBe(allowed ? 0 : ErrorCode.NOAUTH);
      if (!allowed) expect('message' in result && result.message).toMatch(/permission on \/n denied/);
    }
  });

  it('getChildren needs READ', () => {
    const d = driver();
    d.create('/n', { acl: worldAcl(ALL & ~READ) });
    expect(() => d.tree.getChildren('/n', [])).toThrow(/getChildren \/n: READ permission denied/);
    expect(() => d.tree.getAllChildrenNumber('/n', [])).toThrow(expect.objectContaining({ code: ErrorCode.NOAUTH }));
  });

  it('exists needs no permission', () => {
    const d = driver();
    d.create('/n', { acl: worldAcl(0) });
    expect(d.tree.exists('/n')).not.toBeNull();
  });

  it('delete needs DELETE on the parent only, not on the node; ancestors are not checked', () => {
    const d = driver();
    d.create('/a', { acl: worldAcl(ALL) });
    d.create('/a/b', { acl: worldAcl(DELETE | CREATE) });
    d.create('/a/b/c', { acl: worldAcl(0) });
    d.ok({ type: 'setACL', path: '/a', acl: worldAcl(0), version: -1 });
    d.ok({ type: 'delete', path: '/a/b/c', version: -1 });
    expect(d.err({ type: 'delete', path: '/a/b', version: -1 })).toBe(ErrorCode.NOAUTH);
  });

  it('does not inherit ACLs: a child gets the ACL it was created with', () => {
    const d = driver();
    d.create('/locked', { acl: [acl(CREATE, 'world', 'anyone')] });
    d.create('/locked/open', { acl: OPEN });
    expect(d.tree.getData('/locked/open', []).stat).toBeTruthy();
    expect(() => d.tree.getData('/locked', [])).toThrow(/READ permission denied/);
  });
});

describe('schemes', () => {
  const cases: [string, ACL[], Id[], boolean][] = [
    ['world:anyone admits everybody', worldAcl(READ), [], true],
    ['digest admits the same id', [acl(READ, 'digest', alice.id)], [alice], true],
    ['digest refuses another user', [acl(READ, 'digest', alice.id)], [bob], false],
    [
      'digest refuses a wrong password (a different hash)',
      [acl(READ, 'digest', alice.id)],
      [{ scheme: 'digest', id: 'alice:ZZZZZZZZZZZZZZZZZZZZZZZZZZZ=' }],
      false,
    ],
    ['digest refuses the anonymous', [acl(READ, 'digest', alice.id)], [], false],
    ['ip admits the address', [acl(READ, 'ip', '10.1.2.3')], [ip('10.1.2.3')], true],
    ['ip admits a CIDR member', [acl(READ, 'ip', '10.0.0.0/8')], [ip('10.200.0.9')], true],
    ['ip admits an IPv4-mapped IPv6 address', [acl(READ, 'ip', '10.0.0.0/8')], [ip('::ffff:10.0.0.1')], true],
    ['ip refuses outside the range', [acl(READ, 'ip', '10.0.0.0/8')], [ip('11.0.0.1')], false],
    ['ip refuses a digest identity', [acl(READ, 'ip', '10.0.0.0/8')], [alice], false],
    ['an entry without the permission does not help', [acl(WRITE, 'digest', alice.id)], [alice], false],
    ['any matching entry is enough', [acl(WRITE, 'world', 'anyone'), acl(READ, 'digest', bob.id)], [alice, bob, ip('1.2.3.4')], true],
  ];
  it.each(cases)('%s', (_name, list, identities, allowed) => {
    const d = driver();
    d.create('/n', { acl: list });
    if (allowed) expect(d.tree.getData('/n', identities).stat).toBeTruthy();
    else expect(() => d.tree.getData('/n', identities)).toThrow(expect.objectContaining({ code: ErrorCode.NOAUTH }));
  });

  it('expands auth to the caller’s authenticated identities (not ip), deduplicated', () => {
    const d = driver();
    const callerIds = [alice, ip('10.0.0.1'), bob, alice];
    d.create('/n', { acl: [acl(ALL, 'auth', ''), acl(ALL, 'digest', bob.id)], identities: callerIds });
    expect(d.tree.getACL('/n', [alice]).acl).toEqual([acl(ALL, 'digest', alice.id), acl(ALL, 'digest', bob.id)]);
    expect(() => d.tree.getData('/n', [ip('10.0.0.1')])).toThrow(expect.objectContaining({ code: ErrorCode.NOAUTH }));
    expect(d.tree.getData('/n', [bob]).stat).toBeTruthy();
  });

  it('refuses auth without an authenticated identity with INVALIDACL, at apply (state of the caller)', () => {
    const d = driver();
    const op: TxnOp = { type: 'create', path: '/n', data: null, acl: [acl(ALL, 'auth', '')], mode: 0 };
    expect(() => validateTxnOp(op)).not.toThrow();
    expect(d.err(op, { identities: [ip('10.0.0.1')] })).toBe(ErrorCode.INVALIDACL);
    d.create('/m');
    expect(d.err({ type: 'setACL', path: '/m', acl: [acl(ALL, 'auth', '')], version: -1 })).toBe(ErrorCode.INVALIDACL);
  });

  it.each([
    ['an empty list', []],
    ['an unknown scheme', [acl(ALL, 'sasl2', 'x')]],
    ['perms out of range', [acl(64, 'world', 'anyone')]],
    ['a malformed digest', [acl(ALL, 'digest', 'alice')]],
    ['a bad ip', [acl(ALL, 'ip', '300.1.1.1')]],
    ['a world id other than anyone', [acl(ALL, 'world', 'me')]],
  ])('refuses %s with INVALIDACL (validate and apply)', (_name, list) => {
    const create: TxnOp = { type: 'create', path: '/n', data: null, acl: list as ACL[], mode: 0 };
    expect(() => validateTxnOp(create)).toThrow(expect.objectContaining({ code: ErrorCode.INVALIDACL }));
    const d = driver();
    expect(d.err(create)).toBe(ErrorCode.INVALIDACL);
    d.create('/m');
    expect(d.err({ type: 'setACL', path: '/m', acl: list as ACL[], version: -1 })).toBe(ErrorCode.INVALIDACL);
  });
});

describe('getACL', () => {
  const list = [acl(READ, 'digest', alice.id), acl(ADMIN, 'digest', bob.id), acl(READ, 'ip', '10.0.0.0/8'), acl(READ, 'world', 'anyone')];

  it('shows digest ids in full to a caller with ADMIN', () => {
    const d = driver();
    d.create('/n', { acl: list });
    expect(d.tree.getACL('/n', [bob]).acl).toEqual(list);
  });

  it('hides digest ids (user:x) from a caller with READ only', () => {
    const d = driver();
    d.create('/n', { acl: list });
    expect(d.tree.getACL('/n', [alice]).acl).toEqual([
      acl(READ, 'digest', 'alice:x'),
      acl(ADMIN, 'digest', 'bob:x'),
      acl(READ, 'ip', '10.0.0.0/8'),
      acl(READ, 'world', 'anyone'),
    ]);
  });

  it('needs READ or ADMIN', () => {
    const d = driver();
    d.create('/n', { acl: [acl(ADMIN, 'digest', bob.id), acl(WRITE, 'world', 'anyone')] });
    expect(() => d.tree.getACL('/n', [alice])).toThrow(expect.objectContaining({ code: ErrorCode.NOAUTH }));
    expect(d.tree.getACL('/n', [bob]).stat.aversion).toBe(0);
  });

  it('returns copies', () => {
    const d = driver();
    d.create('/n');
    const got = d.tree.getACL('/n', []);
    got.acl[0]!.perms = 0;
    expect(d.tree.getACL('/n', []).acl[0]!.perms).toBe(ALL);
  });

  it('never hands out a freed list id that was reused for another list', () => {
    const d = driver();
    const first = [acl(Perms.READ, 'world', 'anyone')];
    const second = [acl(Perms.ALL, 'digest', alice.id), acl(Perms.CREATE, 'world', 'anyone')];
    // a multi that creates with `first`, then fails: the interned list is freed on rollback
    d.apply({
      type: 'multi',
      ops: [
        { type: 'create', path: '/x', data: null, acl: first, mode: 0 },
        { type: 'check', path: '/none', version: -1 },
      ],
    });
    d.create('/y', { acl: second }); // takes the freed id
    d.create('/z', { acl: first });
    expect(d.tree.getACL('/z', []).acl).toEqual(first);
    expect(d.tree.getACL('/y', [alice]).acl).toEqual(second);
  });

  it('shares one interned list between nodes and drops it with its last user', () => {
    const d = driver();
    const digestBefore = d.tree.digest();
    const special = [acl(READ, 'digest', alice.id)];
    d.create('/a', { acl: special, requestId: null });
    d.create('/b', { acl: special, requestId: null });
    d.ok({ type: 'delete', path: '/a', version: -1 }, { requestId: null });
    d.ok({ type: 'delete', path: '/b', version: -1 }, { requestId: null });
    // the state is back where it started except the root's cversion/pzxid
    expect(d.tree.digest()).not.toBe(digestBefore);
    expect(d.tree.state.acls.size).toBe(1);
  });
});
