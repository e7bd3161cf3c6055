import { describe, expect, it } from 'vitest';
import { ErrorCode, EventType } from '@arbor/protocol';
import type { CreateResult, MultiResult, TxnOp } from '@arbor/tree';
import { CreateMode, Driver, OPEN, driver, enc } from './harness.js';

const ephemeral = (path: string, mode: CreateMode = CreateMode.EPHEMERAL): TxnOp => ({ type: 'create', path, data: null, acl: OPEN, mode });

describe('sessions', () => {
  it('are part of the state: id, password, timeout, ephemerals', () => {
    const d = new Driver();
    d.ok({ type: 'createSession', sessionId: 7, password: enc('secret'), timeoutMs: 4000 }, { session: 0 });
    d.ok({ type: 'createSession', sessionId: 3, password: enc('other'), timeoutMs: 9000 }, { session: 0 });
    d.create('/e', { mode: CreateMode.EPHEMERAL, session: 7 });
    const s = d.tree.getSession(7)!;
    expect(s).toMatchObject({ id: 7, password: enc('secret'), timeoutMs: 4000 });
    expect([...s.ephemerals]).toEqual(['/e']);
    expect([...d.tree.sessions()].map((x) => x.id)).toEqual([7, 3]);
    expect(d.tree.getSession(99)).toBeUndefined();
  });

  it('refuses a session id that exists', () => {
    const d = driver();
    expect(d.err({ type: 'createSession', sessionId: 1, password: enc('x'), timeoutMs: 1 }, { session: 0 })).toBe(ErrorCode.BADARGUMENTS);
  });

  it('refuses writes from an unknown or closed session with SESSIONEXPIRED', () => {
    const d = driver();
    expect(d.err(ephemeral('/x'), { session: 42 })).toBe(ErrorCode.SESSIONEXPIRED);
    d.ok({ type: 'closeSession', sessionId: 2, reason: 'close' }, { session: 2 });
    for (const op of [
      ephemeral('/y', CreateMode.PERSISTENT),
      { type: 'setData', path: '/', data: null, version: -1 },
      { type: 'multi', ops: [] },
      { type: 'check', path: '/', version: -1 },
    ] as TxnOp[]) {
      expect(d.err(op, { session: 2 })).toBe(ErrorCode.SESSIONEXPIRED);
    }
    expect(d.err({ type: 'closeSession', sessionId: 2, reason: 'close' }, { session: 2 })).toBe(ErrorCode.SESSIONEXPIRED);
  });

  it.each(['close', 'expire'] as const)('%s deletes every ephemeral in one change, in path order, firing child events first', (reason) => {
    const d = driver();
    d.create('/app');
    d.create('/app/z', { mode: CreateMode.EPHEMERAL });
    d.create('/app/a', { mode: CreateMode.EPHEMERAL });
    d.create('/b', { mode: CreateMode.EPHEMERAL_SEQUENTIAL });
    d.create('/app/other', { mode: CreateMode.EPHEMERAL, session: 2 });
    const { result, triggers } = d.apply({ type: 'closeSession', sessionId: 1, reason }, { session: reason === 'close' ? 1 : 0 });
    const z = d.zxid;
    expect(result.err).toBe(0);
    expect(triggers).toEqual([
      { type: EventType.NodeDeleted, path: '/app/a', zxid: z },
      { type: EventType.NodeChildrenChanged, path: '/app', zxid: z },
      { type: EventType.NodeDeleted, path: '/app/z', zxid: z },
      { type: EventType.NodeChildrenChanged, path: '/app', zxid: z },
      { type: EventType.NodeDeleted, path: '/b0000000001', zxid: z },
      { type: EventType.NodeChildrenChanged, path: '/', zxid: z },
    ]);
    expect(d.tree.getChildren('/app', []).children).toEqual(['other']);
    expect(d.tree.exists('/app')).toMatchObject({ pzxid: z, cversion: 5 });
    expect(d.tree.getSession(1)).toBeUndefined();
    expect(d.tree.getEphemerals(2, '/')).toEqual(['/app/other']);
  });

  it('forgets an ephemeral deleted by anyone', () => {
    const d = driver();
    d.create('/e', { mode: CreateMode.EPHEMERAL });
    d.ok({ type: 'delete', path: '/e', version: -1 }, { session: 2 });
    expect(d.tree.getEphemerals(1, '/')).toEqual([]);
    expect(d.apply({ type: 'closeSession', sessionId: 1, reason: 'expire' }, { session: 0 }).triggers).toEqual([]);
  });
});

describe('exactly-once writes', () => {
  it('answers a repeated (session, requestId) with the original result, changing and firing nothing', () => {
    const d = driver();
    d.create('/q');
    const first = d.apply(ephemeral('/q/s-', CreateMode.EPHEMERAL_SEQUENTIAL), { requestId: 500 });
    expect((first.result as CreateResult).path).toBe('/q/s-0000000000');
    const digest = d.tree.digest();
    const again = d.apply(ephemeral('/q/s-', CreateMode.EPHEMERAL_SEQUENTIAL), { requestId: 500 });
    expect(again.duplicate).toBe(true);
    // kept compactly and rebuilt: an equal frozen value (a restored member answers the same), not the same object
    expect(again.result).toStrictEqual(first.result);
    expect(Object.isFrozen(again.result) && Object.isFrozen((again.result as CreateResult).stat)).toBe(true);
    expect(again.triggers).toEqual([]);
    expect(d.tree.digest()).toBe(digest);
    expect(d.tree.getChildren('/q', []).children).toEqual(['s-0000000000']);
    // the same id from another session is another request
    expect((d.apply(ephemeral('/q/s-', CreateMode.EPHEMERAL_SEQUENTIAL), { requestId: 500, session: 2 }).result as CreateResult).path).toBe(
      '/q/s-0000000001',
    );
  });

  it('remembers failures too, and multis as a whole', () => {
    const d = driver();
    d.create('/n');
    const failed = d.apply({ type: 'setData', path: '/n', data: null, version: 5 }, { requestId: 9 });
    expect(failed.result.err).toBe(ErrorCode.BADVERSION);
    d.ok({ type: 'setData', path: '/n', data: null, version: 0 });
    const retry = d.apply({ type: 'setData', path: '/n', data: null, version: 5 }, { requestId: 9 });
    expect(retry.result).toBe(failed.result);
    const multi = d.apply({ type: 'multi', ops: [{ type: 'create', path: '/m', data: null, acl: OPEN, mode: 0 }] }, { requestId: 10 });
    const multiAgain = d.apply({ type: 'multi', ops: [{ type: 'create', path: '/m', data: null, acl: OPEN, mode: 0 }] }, { requestId: 10 });
    expect((multiAgain.result as MultiResult).err).toBe(0);
    expect(multiAgain.result).toBe(multi.result);
  });

  it('keeps a bounded window per session, oldest out first, and refuses ids older than it', () => {
    const d = driver({ requestResultsPerSession: 4 });
    for (let r = 1; r <= 6; r++) d.create(`/n${r}`, { requestId: r });
    // 1 and 2 were evicted: a retry of them cannot be told from a new request, so it is refused
    const old = d.apply({ type: 'create', path: '/n1', data: null, acl: OPEN, mode: 0 }, { requestId: 2 });
    expect(old.result.err).toBe(ErrorCode.BADARGUMENTS);
    expect('message' in old.result && old.result.message).toMatch(/older than the kept results/);
    expect(d.apply({ type: 'create', path: '/n3', data: null, acl: OPEN, mode: 0 }, { requestId: 3 }).duplicate).toBe(true);
    expect(d.tree.state.sessions.get(1)!.results.size).toBe(4);
  });

  it('drops a session’s results with it', () => {
    const d = driver();
    d.create('/a', { requestId: 1, session: 2 });
    d.ok({ type: 'closeSession', sessionId: 2, reason: 'expire' }, { session: 0 });
    d.ok({ type: 'createSession', sessionId: 2, password: enc('new'), timeoutMs: 1000 }, { session: 0 });
    const fresh = d.apply({ type: 'create', path: '/a', data: null, acl: OPEN, mode: 0 }, { requestId: 1, session: 2 });
    expect(fresh.duplicate).toBe(false);
    expect(fresh.result.err).toBe(ErrorCode.NODEEXISTS);
  });

  it('answers retries of every kept shape with the original stat, after later writes changed the node, in any id order', () => {
    const d = driver({ requestResultsPerSession: 40 });
    d.create('/k');
    const firsts = new Map<number, unknown>();
    // ids above 2^32 and out of order (pairs swapped), enough to grow the ring and wrap it past its window
    const ids = Array.from({ length: 100 }, (_, i) => 2 ** 40 + (i ^ 1));
    ids.forEach((requestId, i) => {
      const op: TxnOp =
        i % 4 === 0
          ? { type: 'create', path: `/k/c${i}`, data: enc('v'), acl: OPEN, mode: CreateMode.PERSISTENT_SEQUENTIAL }
          : i % 4 === 1
            ? { type: 'setData', path: '/k', data: enc(`d${i}`), version: -1 }
            : i % 4 === 2
              ? { type: 'check', path: '/k', version: -1 }
              : { type: 'setData', path: '/k', data: null, version: 12345 };
      firsts.set(requestId, d.apply(op, { requestId }).result);
      // every kept one answers with what it answered first, whatever happened since
      for (const back of ids.slice(Math.max(0, i - 39), i + 1)) {
        const again = d.apply({ type: 'check', path: '/nope', version: -1 }, { requestId: back });
        expect(again.duplicate).toBe(true);
        expect(again.result).toStrictEqual(firsts.get(back));
      }
    });
    expect(d.tree.state.sessions.get(1)!.results.size).toBe(40);
  });

  it('counts kept results in the digest', () => {
    const a = driver();
    const b = driver();
    a.create('/x', { requestId: 1 });
    b.create('/x', { requestId: null });
    expect(a.tree.digest()).not.toBe(b.tree.digest());
  });
});
