import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode } from '@arbor/protocol';
import { NoNodeError, OperationTimeoutError } from '../src/index.js';
import type { ArborClient } from '../src/index.js';
import type { FakeEnsemble, LoggedRequest } from './helpers/fake-ensemble.js';
import { advanceUntil, connected, flush, until } from './helpers/harness.js';

const MARKED = /^_c_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}-lock-\d{10}$/;

describe('protected create', () => {
  let ensemble: FakeEnsemble;
  let client: ArborClient;
  beforeEach(async () => {
    vi.useFakeTimers();
    ({ ensemble, client } = await connected({ chroot: '/app' }));
    ensemble.seed('/app/locks');
  });
  afterEach(async () => {
    await client.close();
    vi.useRealTimers();
  });

  const children = (): string[] => [...(ensemble.nodes.get('/app/locks')?.children ?? [])];

  it("puts a '_c_<uuid>-' marker in the last segment", async () => {
    const path = await client.create('/locks/lock-', null, { mode: 'EPHEMERAL_SEQUENTIAL', protected: true });
    expect(path.startsWith('/locks/')).toBe(true);
    expect(path.slice('/locks/'.length)).toMatch(MARKED);
    expect(children()).toEqual([path.slice('/locks/'.length)]);
  });

  const creates = (): LoggedRequest[] => ensemble.allRequests().filter((r) => r.op === 'create');

  it('after a lost answer, resends the create under its requestId and gets the first answer: one node', async () => {
    let lose = true;
    ensemble.intercept = (r) => (r.op === 'create' && lose ? ((lose = false), 'loseAnswer') : undefined);
    const path = await client.create('/locks/lock-', null, { mode: 'EPHEMERAL_SEQUENTIAL', protected: true });
    expect(children()).toEqual([path.slice('/locks/'.length)]);
    const sent = creates();
    expect(sent).toHaveLength(2);
    expect(sent[1]?.args['path']).toBe(sent[0]?.args['path']);
    expect(sent[1]?.requestId).toBe(sent[0]?.requestId);
    // No listing of the parent: it could miss a create still on its way and make a second node.
    expect(ensemble.allRequests().some((r) => r.op === 'getChildren2')).toBe(false);
    expect(client.state).toBe('reconnected');
  });

  it('after a request dropped before it applied, the resend creates it once', async () => {
    let drop = true;
    ensemble.intercept = (r) => (r.op === 'create' && drop ? ((drop = false), 'drop') : undefined);
    const path = await client.create('/locks/lock-', null, { mode: 'EPHEMERAL_SEQUENTIAL', protected: true });
    expect(children()).toEqual([path.slice('/locks/'.length)]);
    const sent = creates();
    expect(sent).toHaveLength(2);
    expect(sent[1]?.requestId).toBe(sent[0]?.requestId);
  });

  it('a CONNECTIONLOSS answer after a failover is retried, after a back-off, under the same requestId', async () => {
    // The failover case that used to duplicate a node: the old member applied the create but its
    // answer was lost; the new member has no leader yet and answers CONNECTIONLOSS to the resend.
    let seen = 0;
    ensemble.intercept = (r, connection) => {
      if (r.op !== 'create') return undefined;
      seen++;
      if (seen === 1) return 'loseAnswer';
      if (seen === 2) {
        connection.sendRaw({ xid: r.xid, zxid: 0, err: ErrorCode.CONNECTIONLOSS, message: 'create: no leader; retry on another member' });
        return 'hold';
      }
      return undefined;
    };
    const outcome = client.create('/locks/lock-', null, { mode: 'EPHEMERAL_SEQUENTIAL', protected: true });
    await until(() => seen === 2, 'the resend');
    await flush();
    expect(creates()).toHaveLength(2); // the third attempt waits for its back-off
    let path: string | undefined;
    void outcome.then((p) => (path = p));
    await advanceUntil(() => path !== undefined, 'the protected create');
    const sent = creates();
    expect(sent).toHaveLength(3);
    expect(new Set(sent.map((r) => r.requestId)).size).toBe(1);
    expect(children()).toEqual([(path as string).slice('/locks/'.length)]);
  });

  it('create2 recovers the stat as well', async () => {
    let lose = true;
    ensemble.intercept = (r) => (r.op === 'create2' && lose ? ((lose = false), 'loseAnswer') : undefined);
    const { path, stat } = await client.create2('/locks/lock-', 'me', { mode: 'PERSISTENT_SEQUENTIAL', protected: true });
    expect(stat.dataLength).toBe(2);
    expect(ensemble.dataOf(`/app${path}`)).toBe('me');
  });

  it('semantic errors are not recovered from', async () => {
    await expect(client.create('/missing/lock-', null, { mode: 'EPHEMERAL_SEQUENTIAL', protected: true })).rejects.toBeInstanceOf(
      NoNodeError,
    );
    expect(ensemble.allRequests().map((r) => r.op)).toEqual(['create']);
  });

  it('works with createParents: after the NONODE (kept under its requestId) the create goes out under a fresh one', async () => {
    const path = await client.create('/deep/er/lock-', null, { mode: 'PERSISTENT_SEQUENTIAL', protected: true, createParents: true });
    expect(path).toMatch(/^\/deep\/er\/_c_.*-lock-0000000000$/);
    const marked = creates().filter((r) => String(r.args['path']).includes('_c_'));
    expect(marked).toHaveLength(2);
    expect(marked[1]?.requestId).not.toBe(marked[0]?.requestId);
  });

  it('gives up at its timeout, naming the marker to look for', async () => {
    ensemble.intercept = (r) => (r.op === 'create' ? 'drop' : undefined);
    const outcome = client
      .create('/locks/lock-', null, { mode: 'EPHEMERAL_SEQUENTIAL', protected: true, timeoutMs: 2000 })
      .catch((e: unknown) => e);
    let settled = false;
    void outcome.then(() => (settled = true));
    await advanceUntil(() => settled, 'protected create to give up', 10_000);
    const error = await outcome;
    expect(error).toBeInstanceOf(OperationTimeoutError);
    expect((error as Error).message).toMatch(/look for '_c_[0-9a-f-]{36}-' under \/locks/);
    // A member that drops every connection at the create: the session resends it on each new
    // connection, and connections that drop right after their handshake back off on the clock
    // instead of spinning. 2 s of back-off starting at 100 ms and doubling leaves room for a
    // handful of attempts, not thousands.
    const sent = creates();
    expect(sent.length).toBeGreaterThanOrEqual(2);
    expect(sent.length).toBeLessThanOrEqual(10);
    expect(new Set(sent.map((r) => r.requestId)).size).toBe(1);
    ensemble.intercept = () => undefined;
  });
});
