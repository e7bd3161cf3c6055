import { describe, expect, it } from 'vitest';
import { ErrorCode, EventType } from '@arbor/protocol';
import type { MultiMemberOp, MultiResult } from '@arbor/tree';
import { CreateMode, OPEN, driver, enc } from './harness.js';

const create = (path: string, mode: CreateMode = CreateMode.PERSISTENT): MultiMemberOp => ({
  type: 'create',
  path,
  data: null,
  acl: OPEN,
  mode,
});
const del = (path: string, version = -1): MultiMemberOp => ({ type: 'delete', path, version });
const set = (path: string, data: string, version = -1): MultiMemberOp => ({ type: 'setData', path, data: enc(data), version });
const check = (path: string, version: number): MultiMemberOp => ({ type: 'check', path, version });

describe('multi', () => {
  it('applies every op in one zxid, later ops seeing earlier ones', () => {
    const d = driver();
    const { result, triggers } = d.apply({
      type: 'multi',
      ops: [
        create('/a'),
        create('/a/s-', CreateMode.PERSISTENT_SEQUENTIAL),
        set('/a', 'x'),
        check('/a', 1),
        del('/a/s-0000000000'),
        create('/a/b'),
      ],
    });
    const z = d.zxid;
    const r = result as MultiResult;
    expect(r.err).toBe(0);
    expect(r.results).toEqual([
      { op: 'create', err: 0, path: '/a' },
      { op: 'create', err: 0, path: '/a/s-0000000000' },
      { op: 'setData', err: 0, stat: expect.objectContaining({ version: 1, mzxid: z, czxid: z }) },
      { op: 'check', err: 0 },
      { op: 'delete', err: 0 },
      { op: 'create', err: 0, path: '/a/b' },
    ]);
    expect(d.tree.exists('/a')).toMatchObject({ czxid: z, mzxid: z, pzxid: z, cversion: 3, numChildren: 1, version: 1 });
    expect(d.tree.exists('/a/b')!.czxid).toBe(z);
    expect(triggers.every((t) => t.zxid === z)).toBe(true);
    expect(triggers).toEqual([
      { type: EventType.NodeCreated, path: '/a', zxid: z },
      { type: EventType.NodeChildrenChanged, path: '/', zxid: z },
      { type: EventType.NodeCreated, path: '/a/s-0000000000', zxid: z },
      { type: EventType.NodeChildrenChanged, path: '/a', zxid: z },
      { type: EventType.NodeDataChanged, path: '/a', zxid: z },
      { type: EventType.NodeDeleted, path: '/a/s-0000000000', zxid: z },
      { type: EventType.NodeChildrenChanged, path: '/a', zxid: z },
      { type: EventType.NodeCreated, path: '/a/b', zxid: z },
      { type: EventType.NodeChildrenChanged, path: '/a', zxid: z },
    ]);
  });

  it.each([
    ['a missing node', [create('/x'), set('/x', 'v'), del('/missing'), create('/y')], 2, ErrorCode.NONODE],
    ['a version check', [create('/x'), check('/x', 3), create('/y')], 1, ErrorCode.BADVERSION],
    ['an existing path', [create('/x'), create('/x')], 1, ErrorCode.NODEEXISTS],
    ['a non-empty delete', [create('/x'), create('/x/c'), del('/x')], 2, ErrorCode.NOTEMPTY],
    ['a child of an ephemeral', [create('/e', CreateMode.EPHEMERAL), create('/e/c')], 1, ErrorCode.NOCHILDRENFOREPHEMERALS],
    ['a bad path', [create('/x'), create('bad')], 1, ErrorCode.BADARGUMENTS],
    ['the first op', [del('/none'), create('/x')], 0, ErrorCode.NONODE],
  ])('on %s: nothing applies, no trigger, results OK / error / RUNTIMEINCONSISTENCY', (_name, ops, failing, code) => {
    const d = driver();
    d.create('/keep', { data: enc('k') });
    const digest = d.tree.digest();
    const { result, triggers } = d.apply({ type: 'multi', ops }, { requestId: null });
    const r = result as MultiResult;
    expect(r.err).toBe(code);
    expect(r.message).toMatch(new RegExp(`multi op ${failing}`));
    expect(r.results).toHaveLength(ops.length);
    r.results.forEach((res, i) => {
      expect(res.op).toBe(ops[i]!.type);
      expect(res.err).toBe(i < failing ? 0 : i === failing ? code : ErrorCode.RUNTIMEINCONSISTENCY);
    });
    expect(triggers).toEqual([]);
    expect(d.tree.digest()).toBe(digest);
    expect(d.tree.getChildren('/', []).children).toEqual(['keep']);
    expect(d.tree.exists('/')).toMatchObject({ cversion: 1, numChildren: 1 });
  });

  it('rolls back every kind of change exactly (stats, counters, data, ephemerals)', () => {
    const d = driver();
    d.create('/p', { data: enc('before') });
    d.create('/p/gone', { data: enc('g'), mode: CreateMode.EPHEMERAL });
    const before = {
      digest: d.tree.digest(),
      p: d.tree.getData('/p', []),
      gone: d.tree.getData('/p/gone', []),
      ephemerals: d.tree.getEphemerals(1, '/'),
    };
    const r = d.apply(
      {
        type: 'multi',
        ops: [
          set('/p', 'after'),
          del('/p/gone'),
          create('/p/s-', CreateMode.EPHEMERAL_SEQUENTIAL),
          create('/p/gone'),
          set('/p/gone', 'again'),
          check('/p', 0),
        ],
      },
      { requestId: null },
    ).result as MultiResult;
    expect(r.err).toBe(ErrorCode.BADVERSION);
    expect(d.tree.digest()).toBe(before.digest);
    expect(d.tree.getData('/p', [])).toEqual(before.p);
    expect(d.tree.getData('/p/gone', [])).toEqual(before.gone);
    expect(d.tree.getEphemerals(1, '/')).toEqual(before.ephemerals);
    // the sequential counter did not move
    expect(d.create('/p/s-', { mode: CreateMode.PERSISTENT_SEQUENTIAL }).path).toBe('/p/s-0000000001');
  });

  it('reports an empty multi as OK with no results', () => {
    const d = driver();
    expect(d.ok<MultiResult>({ type: 'multi', ops: [] }).results).toEqual([]);
  });

  it('refuses ops that may not be in a multi, and enforces the op limit before the log', async () => {
    const { validateTxnOp, TxnValidationError } = await import('@arbor/tree');
    const d = driver();
    const bad = { type: 'multi', ops: [create('/x'), { type: 'setACL', path: '/x', acl: OPEN, version: -1 }] } as never;
    expect(d.err(bad)).toBe(ErrorCode.BADARGUMENTS);
    try {
      validateTxnOp(bad);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(TxnValidationError);
      expect((e as InstanceType<typeof TxnValidationError>).opIndex).toBe(1);
    }
    expect(() => validateTxnOp({ type: 'multi', ops: [create('/a'), create('/b'), create('/c')] }, { multiOpsMax: 2 })).toThrow(
      /limit is 2/,
    );
  });

  it('needs the same permissions as the ops alone', () => {
    const d = driver();
    d.create('/locked', { acl: [{ perms: 1, id: { scheme: 'world', id: 'anyone' } }] });
    const r = d.apply({ type: 'multi', ops: [create('/ok'), set('/locked', 'x')] }).result as MultiResult;
    expect(r.err).toBe(ErrorCode.NOAUTH);
    expect(r.results.map((x) => x.err)).toEqual([0, ErrorCode.NOAUTH]);
    expect(d.tree.exists('/ok')).toBeNull();
  });
});

describe('multiRead', () => {
  it('answers each read on its own', () => {
    const d = driver();
    d.create('/a', { data: enc('A') });
    d.create('/a/x');
    d.create('/secret', { acl: [{ perms: 31, id: { scheme: 'digest', id: 'u:AAAAAAAAAAAAAAAAAAAAAAAAAAA=' } }] });
    const results = d.tree.multiRead(
      [
        { op: 'getData', args: { path: '/a' } },
        { op: 'getChildren', args: { path: '/missing' } },
        { op: 'getChildren', args: { path: '/a' } },
        { op: 'getData', args: { path: '/secret' } },
        { op: 'getData', args: { path: 'bad' } },
      ],
      [],
    );
    expect(results).toEqual([
      { op: 'getData', err: 0, data: enc('A'), stat: d.tree.exists('/a') },
      { op: 'getChildren', err: ErrorCode.NONODE, message: expect.stringContaining('/missing') },
      { op: 'getChildren', err: 0, children: ['x'] },
      { op: 'getData', err: ErrorCode.NOAUTH, message: expect.stringContaining('/secret') },
      { op: 'getData', err: ErrorCode.BADARGUMENTS, message: expect.any(String) },
    ]);
  });
});
