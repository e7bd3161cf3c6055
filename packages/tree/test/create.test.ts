import { describe, expect, it } from 'vitest';
import { ErrorCode, EventType } from '@arbor/protocol';
import { validateTxnOp } from '@arbor/tree';
import type { CreateOp } from '@arbor/tree';
import { CreateMode, OPEN, driver, enc, sameBytes } from './harness.js';

const createOp = (path: string, mode: CreateMode = CreateMode.PERSISTENT, extra: Partial<CreateOp> = {}): CreateOp => ({
  type: 'create',
  path,
  data: null,
  acl: OPEN,
  mode,
  ...extra,
});

describe('paths', () => {
  const bad = ['', 'a', '/a/', '/a//b', '/a/./b', '/a/..', '/a\u0000b', '/a\u0001'];
  it.each(bad)('rejects %j before the log (validate) and at apply, with BADARGUMENTS', (path) => {
    expect(() => validateTxnOp(createOp(path))).toThrow(expect.objectContaining({ code: ErrorCode.BADARGUMENTS }));
    const d = driver();
    const before = d.tree.digest();
    const { result, triggers } = d.apply(createOp(path), { requestId: null });
    expect(result.err).toBe(ErrorCode.BADARGUMENTS);
    expect('message' in result && result.message).toMatch(/path|segment|character|start/);
    expect(triggers).toEqual([]);
    expect(d.tree.digest()).toBe(before);
  });

  it('enforces the configured path length before the log only', () => {
    const long = `/${'a'.repeat(50)}`;
    expect(() => validateTxnOp(createOp(long), { pathLengthMax: 20 })).toThrow(/limit is 20/);
    expect(driver().apply(createOp(long)).result.err).toBe(0);
  });

  it('has a root that always exists and cannot be deleted', () => {
    const d = driver();
    expect(d.tree.exists('/')).toMatchObject({ czxid: 0, numChildren: 0, dataLength: 0 });
    expect(d.err({ type: 'delete', path: '/', version: -1 })).toBe(ErrorCode.BADARGUMENTS);
    expect(() => validateTxnOp({ type: 'delete', path: '/', version: -1 })).toThrow(/root cannot be deleted/);
    expect(d.err(createOp('/'))).toBe(ErrorCode.NODEEXISTS);
    expect(d.tree.getData('/', []).data).toEqual(new Uint8Array(0));
  });
});

describe('create', () => {
  it.each([
    ['PERSISTENT', CreateMode.PERSISTENT, undefined, 0],
    ['EPHEMERAL', CreateMode.EPHEMERAL, undefined, 1],
    ['CONTAINER', CreateMode.CONTAINER, undefined, 0],
    ['PERSISTENT_WITH_TTL', CreateMode.PERSISTENT_WITH_TTL, 5000, 0],
  ] as const)('creates a %s node with its stat', (_name, mode, ttlMs, owner) => {
    const d = driver();
    d.zxid = 41;
    const res = d.create('/n', { mode, data: enc('hello'), ...(ttlMs ? { ttlMs } : {}) });
    expect(res.path).toBe('/n');
    expect(res.stat).toEqual({
      czxid: 42,
      mzxid: 42,
      pzxid: 42,
      ctime: d.nowMs,
      mtime: d.nowMs,
      version: 0,
      cversion: 0,
      aversion: 0,
      ephemeralOwner: owner,
      dataLength: 5,
      numChildren: 0,
    });
    expect(d.tree.exists('/n')).toEqual(res.stat);
  });

  it.each([
    ['PERSISTENT_SEQUENTIAL', CreateMode.PERSISTENT_SEQUENTIAL, undefined],
    ['EPHEMERAL_SEQUENTIAL', CreateMode.EPHEMERAL_SEQUENTIAL, undefined],
    ['PERSISTENT_SEQUENTIAL_WITH_TTL', CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL, 100],
  ] as const)('appends a 10-digit counter for %s', (_name, mode, ttlMs) => {
    const d = driver();
    d.create('/q');
    const extra = ttlMs ? { ttlMs } : {};
    expect(d.create('/q/job-', { mode, ...extra }).path).toBe('/q/job-0000000000');
    expect(d.create('/q/job-', { mode, ...extra }).path).toBe('/q/job-0000000001');
    expect(d.create('/q/', { mode, ...extra }).path).toBe('/q/0000000002');
  });

  it('counts every successful child creation, not deletes or failures, and never reuses a number', () => {
    const d = driver();
    d.create('/q');
    d.create('/q/plain'); // 0: a non-sequential create advances the counter too
    expect(d.err(createOp('/q/plain'))).toBe(ErrorCode.NODEEXISTS); // a failure does not
    expect(d.create('/q/s-', { mode: CreateMode.PERSISTENT_SEQUENTIAL }).path).toBe('/q/s-0000000001');
    d.ok({ type: 'delete', path: '/q/s-0000000001', version: -1 });
    d.ok({ type: 'delete', path: '/q/plain', version: -1 });
    expect(d.create('/q/s-', { mode: CreateMode.PERSISTENT_SEQUENTIAL }).path).toBe('/q/s-0000000002');
    // cversion counts creates and deletes, so it is not the counter
    expect(d.tree.exists('/q')!.cversion).toBe(5);
  });

  it('fails with NODEEXISTS when the generated name exists, without advancing the counter', () => {
    const d = driver();
    d.create('/q');
    d.create('/q/x-0000000001'); // the counter is now 1: the next generated name is taken
    expect(d.err(createOp('/q/x-', CreateMode.PERSISTENT_SEQUENTIAL))).toBe(ErrorCode.NODEEXISTS);
    expect(d.err(createOp('/q/x-', CreateMode.EPHEMERAL_SEQUENTIAL))).toBe(ErrorCode.NODEEXISTS);
    expect(d.tree.getChildren('/q', []).children).toEqual(['x-0000000001']);
    d.create('/q/other');
    expect(d.create('/q/x-', { mode: CreateMode.PERSISTENT_SEQUENTIAL }).path).toBe('/q/x-0000000002');
  });

  it('refuses a missing parent, an existing path and children of ephemerals', () => {
    const d = driver();
    expect(d.err(createOp('/a/b'))).toBe(ErrorCode.NONODE);
    d.create('/a');
    expect(d.err(createOp('/a'))).toBe(ErrorCode.NODEEXISTS);
    d.create('/e', { mode: CreateMode.EPHEMERAL });
    expect(d.err(createOp('/e/child'))).toBe(ErrorCode.NOCHILDRENFOREPHEMERALS);
    expect(d.err(createOp('/e/s-', CreateMode.PERSISTENT_SEQUENTIAL))).toBe(ErrorCode.NOCHILDRENFOREPHEMERALS);
  });

  it('checks in ZooKeeper order: NODEEXISTS before NOCHILDRENFOREPHEMERALS', () => {
    const d = driver();
    d.create('/e', { mode: CreateMode.EPHEMERAL });
    expect(d.err(createOp('/e'))).toBe(ErrorCode.NODEEXISTS);
  });

  it('keeps null and empty data apart (dataLength 0 for both)', () => {
    const d = driver();
    d.create('/null', { data: null });
    d.create('/empty', { data: new Uint8Array(0) });
    expect(d.tree.getData('/null', []).data).toBeNull();
    expect(d.tree.getData('/empty', []).data).toEqual(new Uint8Array(0));
    expect(d.tree.exists('/null')!.dataLength).toBe(0);
    expect(d.tree.exists('/empty')!.dataLength).toBe(0);
    expect(d.tree.digest()).not.toBe(
      (() => {
        const e = driver();
        e.create('/null', { data: new Uint8Array(0) });
        e.create('/empty', { data: new Uint8Array(0) });
        return e.tree.digest();
      })(),
    );
  });

  it('copies the data it is given', () => {
    const d = driver();
    const data = enc('abc');
    d.create('/c', { data });
    data[0] = 0x7a;
    expect(d.tree.getData('/c', []).data).toEqual(enc('abc'));
    d.tree.getData('/c', []).data![1] = 0x7a;
    expect(d.tree.getData('/c', []).data).toEqual(enc('abc'));
  });

  it('limits data size before the log (1 MiB default, a setting)', () => {
    const big = new Uint8Array(1024 * 1024 + 1);
    expect(() => validateTxnOp(createOp('/big', CreateMode.PERSISTENT, { data: big }))).toThrow(/1048577 bytes; the limit is 1048576/);
    expect(() => validateTxnOp({ type: 'setData', path: '/big', data: new Uint8Array(11), version: -1 }, { dataBytesMax: 10 })).toThrow(
      expect.objectContaining({ code: ErrorCode.BADARGUMENTS }),
    );
    expect(() => validateTxnOp(createOp('/ok', CreateMode.PERSISTENT, { data: new Uint8Array(1024 * 1024) }))).not.toThrow();
  });

  it('stores values of every size, including large ones, intact', () => {
    const d = driver();
    const sizes = [1, 7, 8, 9, 100, 4095, 4096, 4097, 70_000, 1024 * 1024];
    for (const size of sizes) {
      const data = new Uint8Array(size);
      for (let i = 0; i < size; i++) data[i] = (i * 31 + size) & 0xff;
      d.create(`/v${size}`, { data });
      expect(sameBytes(d.tree.getData(`/v${size}`, []).data, data)).toBe(true);
    }
  });

  it.each([
    [CreateMode.PERSISTENT_WITH_TTL, 0, /out of range/],
    [CreateMode.PERSISTENT_WITH_TTL, 2 ** 40, /out of range/],
    [CreateMode.PERSISTENT_WITH_TTL, undefined, /out of range/],
    [CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL, 1.5, /out of range/],
    [CreateMode.PERSISTENT, 100, /has no TTL/],
    [CreateMode.EPHEMERAL, 100, /has no TTL/],
    [CreateMode.CONTAINER, 5, /has no TTL/],
  ])('validates TTLs: mode %i with ttl %s is BADARGUMENTS', (mode, ttlMs, why) => {
    const op = createOp('/t', mode, ttlMs === undefined ? {} : { ttlMs });
    expect(() => validateTxnOp(op)).toThrow(why);
    expect(driver().err(op)).toBe(ErrorCode.BADARGUMENTS);
  });

  it('accepts TTLs 1 and 2^40-1', () => {
    const d = driver();
    d.create('/t1', { mode: CreateMode.PERSISTENT_WITH_TTL, ttlMs: 1 });
    d.create('/t2', { mode: CreateMode.PERSISTENT_WITH_TTL, ttlMs: 2 ** 40 - 1 });
  });

  it('fires NodeCreated then the parent NodeChildrenChanged, with the txn zxid', () => {
    const d = driver();
    d.create('/a');
    const { triggers } = d.apply(createOp('/a/s-', CreateMode.PERSISTENT_SEQUENTIAL));
    expect(triggers).toEqual([
      { type: EventType.NodeCreated, path: '/a/s-0000000000', zxid: d.zxid },
      { type: EventType.NodeChildrenChanged, path: '/a', zxid: d.zxid },
    ]);
  });

  it('updates the parent: cversion, pzxid, numChildren', () => {
    const d = driver();
    d.create('/p');
    d.create('/p/a');
    const z = d.zxid;
    expect(d.tree.exists('/p')).toMatchObject({ cversion: 1, pzxid: z, numChildren: 1, version: 0 });
    d.create('/p/b');
    d.ok({ type: 'delete', path: '/p/a', version: -1 });
    expect(d.tree.exists('/p')).toMatchObject({ cversion: 3, pzxid: d.zxid, numChildren: 1, mzxid: z - 1 });
  });
});
