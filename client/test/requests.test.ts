import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode, STAT_FIELDS } from '@arbor/protocol';
import type { Stat } from '@arbor/protocol';
import { BadArgumentsError, ConnectionLossError, NoNodeError, OperationTimeoutError, SessionExpiredError } from '../src/index.js';
import type { LoggedRequest } from './helpers/fake-ensemble.js';
import { advanceUntil, connected, flush, until } from './helpers/harness.js';

const zeroStat = Object.fromEntries(STAT_FIELDS.map((f) => [f, 0])) as unknown as Stat;

describe('requests', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('pipelines requests on one connection, xids increasing, and matches answers in order', async () => {
    const { ensemble, client } = await connected();
    ensemble.intercept = () => 'hold';
    const calls = ['/a', '/b', '/c', '/d'].map((p) => client.getData(p));
    await flush();
    const [connection] = ensemble.open(0);
    const held = connection?.requests ?? [];
    expect(held.map((r) => r.args['path'])).toEqual(['/a', '/b', '/c', '/d']);
    const xids = held.map((r) => r.xid);
    expect(xids).toEqual([...xids].sort((a, b) => a - b));
    expect(new Set(xids).size).toBe(4);
    // The member answers in order; each answer settles its own call.
    held.forEach((r, i) => connection?.sendRaw({ xid: r.xid, zxid: 10 + i, err: 0, res: { data: new Uint8Array([i]), stat: zeroStat } }));
    const results = await Promise.all(calls);
    expect(results.map((r) => r.data?.[0])).toEqual([0, 1, 2, 3]);
    expect(client.lastZxid).toBe(13);
    ensemble.intercept = () => undefined;
    await client.close();
  });

  it('an answer out of order is a protocol error: the connection is dropped and its reads fail with ConnectionLossError', async () => {
    const { ensemble, client } = await connected();
    ensemble.intercept = () => 'hold';
    const a = client.getData('/a').catch((e: unknown) => e);
    const b = client.getData('/b').catch((e: unknown) => e);
    await flush();
    const [connection] = ensemble.open(0);
    const second = connection?.requests[1] as LoggedRequest;
    connection?.sendRaw({ xid: second.xid, zxid: 1, err: 0, res: { data: null, stat: zeroStat } });
    await until(() => client.state === 'suspended' || client.state === 'reconnected');
    expect(await a).toBeInstanceOf(ConnectionLossError);
    expect(await b).toBeInstanceOf(ConnectionLossError);
    expect(((await a) as Error).message).toMatch(/^getData \/a: /);
    expect(connection?.closed).toBe(true);
    ensemble.intercept = () => undefined;
    await until(() => client.state === 'reconnected');
    await client.close();
  });

  it('a malformed frame drops the connection; the session resumes elsewhere', async () => {
    const { ensemble, client } = await connected();
    const [connection] = ensemble.open(0);
    (connection as unknown as { peer: { send(b: Uint8Array): void } }).peer.send(new Uint8Array([0xc1, 0xff]));
    await until(() => client.state === 'reconnected');
    expect(connection?.closed).toBe(true);
    await client.close();
  });

  it('reads in flight when the connection drops fail with ConnectionLossError; they are not resent', async () => {
    const { ensemble, client } = await connected();
    ensemble.seed('/a', 'x');
    ensemble.intercept = (r) => (r.op === 'getData' ? 'loseAnswer' : undefined);
    await expect(client.getData('/a')).rejects.toBeInstanceOf(ConnectionLossError);
    ensemble.intercept = () => undefined;
    await until(() => client.state === 'reconnected');
    await flush();
    expect(ensemble.allRequests().filter((r) => r.op === 'getData')).toHaveLength(1);
    await client.close();
  });

  it('a write whose answer is lost is resent after the reconnect with the same requestId, and applied once', async () => {
    const { ensemble, client } = await connected();
    ensemble.seed('/q');
    let lose = true;
    ensemble.intercept = (r) => (r.op === 'create' && lose ? ((lose = false), 'loseAnswer') : undefined);
    const path = await client.create('/q/job-', 'payload', { mode: 'PERSISTENT_SEQUENTIAL' });
    expect(path).toBe('/q/job-0000000000');
    expect([...(ensemble.nodes.get('/q')?.children ?? [])]).toEqual(['job-0000000000']);
    const creates = ensemble.allRequests().filter((r) => r.op === 'create');
    expect(creates).toHaveLength(2);
    expect(creates[0]?.requestId).toBeDefined();
    expect(creates[1]?.requestId).toBe(creates[0]?.requestId);
    expect(creates[1]?.xid).not.toBe(creates[0]?.xid);
    expect(client.state).toBe('reconnected');
    await client.close();
  });

  it('resends writes in their original order, after setWatches, before requests queued meanwhile; reads in between fail', async () => {
    const { ensemble, client } = await connected();
    ensemble.seed('/n', '0');
    await client.exists('/n', { watch: true });
    ensemble.intercept = () => 'hold';
    const w1 = client.setData('/n', '1');
    const r = client.getData('/n').catch((e: unknown) => e);
    const w2 = client.setData('/n', '2');
    await flush();
    const held = ensemble.open(0)[0]?.requests.slice(-3) ?? [];
    expect(held.map((x) => x.op)).toEqual(['setData', 'getData', 'setData']);
    for (const m of [0, 1, 2]) ensemble.kill(m);
    await until(() => client.state === 'suspended');
    expect(await r).toBeInstanceOf(ConnectionLossError);
    ensemble.intercept = () => undefined;
    const later = client.getData('/n');
    ensemble.revive(1);
    await vi.advanceTimersByTimeAsync(1000);
    await until(() => client.state === 'reconnected');
    await Promise.all([w1, w2]);
    expect(new TextDecoder().decode((await later).data ?? new Uint8Array())).toBe('2');
    const resumed = ensemble.open(1)[0]?.requests ?? [];
    expect(resumed.map((x) => x.op)).toEqual(['setWatches', 'setData', 'setData', 'getData']);
    expect(resumed.slice(1, 3).map((x) => x.requestId)).toEqual([held[0]?.requestId, held[2]?.requestId]);
    await client.close();
  });

  it('requestIds increase strictly over the session, across reconnects, and only writes carry one', async () => {
    const { ensemble, client } = await connected();
    await client.create('/a');
    await client.setData('/a', 'x');
    await client.getData('/a');
    ensemble.kill(0);
    await until(() => client.state === 'reconnected');
    await client.delete('/a');
    await client.transaction().create('/b').create('/c').commit();
    const ids = ensemble.allRequests().map((r) => [r.op, r.requestId] as const);
    expect(ids.filter(([op]) => op === 'getData' || op === 'setWatches').every(([, id]) => id === undefined)).toBe(true);
    const writeIds = ids.filter(([, id]) => id !== undefined).map(([, id]) => id as number);
    expect(writeIds).toHaveLength(4);
    expect(writeIds).toEqual([...writeIds].sort((x, y) => x - y));
    expect(new Set(writeIds).size).toBe(4);
    await client.close();
  });

  it('requests made while suspended wait for the reconnect, then go out', async () => {
    const { ensemble, client } = await connected();
    ensemble.seed('/a', 'v');
    for (const m of [0, 1, 2]) ensemble.kill(m);
    await until(() => client.state === 'suspended');
    const read = client.getData('/a');
    const write = client.create('/b');
    ensemble.revive(0);
    await vi.advanceTimersByTimeAsync(1000);
    expect((await read).stat.version).toBe(0);
    expect(await write).toBe('/b');
    await client.close();
  });

  it('a request that cannot be sent within its timeout fails with OperationTimeoutError, never sent', async () => {
    const { ensemble, client } = await connected();
    for (const m of [0, 1, 2]) ensemble.kill(m);
    await until(() => client.state === 'suspended');
    const before = ensemble.allRequests().length;
    const outcome = client.create('/late', null, { timeoutMs: 500 }).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(500);
    const error = await outcome;
    expect(error).toBeInstanceOf(OperationTimeoutError);
    expect((error as Error).message).toBe('create /late: not sent within 500 ms: no connection to any member');
    ensemble.revive(0);
    await advanceUntil(() => client.state === 'reconnected');
    await flush();
    expect(
      ensemble
        .allRequests()
        .slice(before)
        .map((r) => r.op),
    ).not.toContain('create');
    await client.close();
  });

  it('a request in flight past its timeout fails; its late answer is matched and discarded, and later requests work', async () => {
    const { ensemble, client } = await connected();
    ensemble.intercept = () => 'hold';
    const outcome = client.setData('/x', 'v', { timeoutMs: 100 }).catch((e: unknown) => e);
    await flush();
    await vi.advanceTimersByTimeAsync(100);
    const error = await outcome;
    expect(error).toBeInstanceOf(OperationTimeoutError);
    expect((error as Error).message).toMatch(/no answer within 100 ms; the request was sent and may still be applied/);
    const next = client.exists('/');
    await flush();
    const [connection] = ensemble.open(0);
    const [late, second] = connection?.requests ?? [];
    // The late answer takes the timed-out call's slot, then `exists` gets its own.
    connection?.sendRaw({ xid: late?.xid, zxid: 5, err: 0, res: { stat: zeroStat } });
    connection?.sendRaw({ xid: second?.xid, zxid: 5, err: 0, res: { stat: { ...zeroStat, version: 7 } } });
    expect((await next)?.version).toBe(7);
    expect(client.state).toBe('connected');
    ensemble.intercept = () => undefined;
    await client.close();
  });

  it('AbortSignal: aborted before the call, while queued, or in flight', async () => {
    const { ensemble, client } = await connected();
    const pre = new AbortController();
    pre.abort(new Error('pre'));
    await expect(client.getData('/', { signal: pre.signal })).rejects.toThrow('pre');
    expect(ensemble.allRequests()).toHaveLength(0);

    for (const m of [0, 1, 2]) ensemble.kill(m);
    await until(() => client.state === 'suspended');
    const queued = new AbortController();
    const q = client.create('/q', null, { signal: queued.signal }).catch((e: unknown) => e);
    queued.abort(new Error('queued'));
    expect(((await q) as Error).message).toBe('queued');
    ensemble.revive(0);
    await advanceUntil(() => client.state === 'reconnected');
    expect(ensemble.allRequests()).toHaveLength(0); // the aborted create was never sent

    ensemble.intercept = () => 'hold';
    const inflight = new AbortController();
    const f = client.getData('/', { signal: inflight.signal }).catch((e: unknown) => e);
    await flush();
    inflight.abort(new Error('inflight'));
    expect(((await f) as Error).message).toBe('inflight');
    const [held] = ensemble.allRequests();
    expect(held?.op).toBe('getData');
    ensemble.open(0)[0]?.sendRaw({ xid: held?.xid, zxid: 1, err: 0, res: { data: null, stat: zeroStat } });
    ensemble.intercept = () => undefined;
    expect((await client.getChildren('/')).children).toEqual([]);
    await client.close();
  });

  it('honours the member outstanding-request limit', async () => {
    const { ensemble, client } = await connected();
    ensemble.intercept = () => 'hold';
    ensemble.kill(0); // reconnect so that the new limits apply
    ensemble.limits = { ...ensemble.limits, outstandingRequestsMax: 2 };
    await until(() => client.state === 'reconnected');
    const calls = [1, 2, 3, 4].map((i) => client.getData(`/${i}`).catch(() => undefined));
    await flush();
    const [connection] = ensemble.open(1);
    expect(connection?.requests).toHaveLength(2);
    const first = connection?.requests[0] as LoggedRequest;
    connection?.sendRaw({ xid: first.xid, zxid: 1, err: ErrorCode.NONODE });
    await flush();
    expect(connection?.requests).toHaveLength(3);
    ensemble.intercept = () => undefined;
    ensemble.kill(1);
    // The second connection in a row to drop at once: the client backs off before member 2.
    await advanceUntil(() => client.state === 'reconnected');
    await Promise.all(calls);
    await client.close();
  });

  it('checks sizes before sending: data over the limit and frames over the limit fail with BadArgumentsError', async () => {
    const { ensemble, client } = await connected();
    ensemble.kill(0);
    ensemble.limits = { ...ensemble.limits, dataBytesMax: 100, frameBytesMax: 400 };
    await until(() => client.state === 'reconnected');
    await expect(client.create('/big', new Uint8Array(101))).rejects.toThrow(/create \/big: data is 101 bytes; the limit is 100/);
    const many = client.transaction();
    for (let i = 0; i < 10; i++) many.create(`/n${i}`, new Uint8Array(50));
    const error = await many.commit().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadArgumentsError);
    expect((error as Error).message).toMatch(/frame limit is 400/);
    expect(ensemble.open(1)[0]?.requests.filter((r) => r.op !== 'setWatches')).toHaveLength(0);
    await client.close();
  });

  it('an answer of SESSIONEXPIRED ends the session', async () => {
    const { ensemble, client } = await connected();
    ensemble.intercept = () => 'hold';
    const call = client.getData('/').catch((e: unknown) => e);
    const other = client.getData('/other').catch((e: unknown) => e);
    await flush();
    const [connection] = ensemble.open(0);
    connection?.sendRaw({ xid: connection.requests[0]?.xid, zxid: 1, err: ErrorCode.SESSIONEXPIRED, message: 'expired' });
    await until(() => client.state === 'lost');
    expect(await call).toBeInstanceOf(SessionExpiredError);
    expect(await other).toBeInstanceOf(SessionExpiredError);
  });

  it('maps error answers to their class, naming the op and path', async () => {
    const { client } = await connected();
    const error = await client.getData('/missing').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NoNodeError);
    expect(error).toMatchObject({ code: ErrorCode.NONODE, op: 'getData', path: '/missing', name: 'NoNodeError' });
    expect((error as Error).message).toMatch(/^getData \/missing: /);
    await client.close();
  });
});
