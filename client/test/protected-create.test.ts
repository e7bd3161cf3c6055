import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { NoNodeError, OperationTimeoutError } from '../src/index.js';
import type { ArborClient } from '../src/index.js';
import type { FakeEnsemble } from './helpers/fake-ensemble.js';
import { advanceUntil, connected } from './helpers/harness.js';

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

  it('after a lost answer, finds the node by its marker instead of creating a second one', async () => {
    let lose = true;
    ensemble.intercept = (r) => (r.op === 'create' && lose ? ((lose = false), 'loseAnswer') : undefined);
    const path = await client.create('/locks/lock-', null, { mode: 'EPHEMERAL_SEQUENTIAL', protected: true });
    expect(children()).toEqual([path.slice('/locks/'.length)]);
    const ops = ensemble.allRequests().map((r) => r.op);
    // The create is not resent by the session: the recovery lists the parent instead.
    expect(ops).toEqual(['create', 'getChildren2']);
    expect(client.state).toBe('reconnected');
  });

  it('after a request lost before it applied, creates it again with the same marker', async () => {
    let drop = true;
    ensemble.intercept = (r) => (r.op === 'create' && drop ? ((drop = false), 'drop') : undefined);
    const path = await client.create('/locks/lock-', null, { mode: 'EPHEMERAL_SEQUENTIAL', protected: true });
    expect(children()).toEqual([path.slice('/locks/'.length)]);
    const creates = ensemble.allRequests().filter((r) => r.op === 'create');
    expect(creates).toHaveLength(2);
    expect(creates[1]?.args['path']).toBe(creates[0]?.args['path']);
    expect(creates[1]?.requestId).toBeGreaterThan(creates[0]?.requestId as number);
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

  it('works with createParents', async () => {
    const path = await client.create('/deep/er/lock-', null, { mode: 'PERSISTENT_SEQUENTIAL', protected: true, createParents: true });
    expect(path).toMatch(/^\/deep\/er\/_c_.*-lock-0000000000$/);
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
    // Repeated losses back off on the clock instead of spinning: 2 s of back-off starting at
    // 100 ms and doubling leaves room for a handful of attempts, not thousands.
    const creates = ensemble.allRequests().filter((r) => r.op === 'create').length;
    expect(creates).toBeGreaterThanOrEqual(2);
    expect(creates).toBeLessThanOrEqual(10);
    ensemble.intercept = () => undefined;
  });
});
