import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { XID_NOTICE } from '@arbor/protocol';
import {
  ArborClient,
  AuthFailedError,
  ClosedError,
  ConnectionLossError,
  OperationTimeoutError,
  SessionExpiredError,
  connect,
} from '../src/index.js';
import type { ConnectionState } from '../src/index.js';
import { BASE_PORT, FakeEnsemble, connectString } from './helpers/fake-ensemble.js';
import { connected, flush, inOrder, until } from './helpers/harness.js';

const T = 9000; // sessionTimeoutMs the harness asks for; the fake grants it

function recordStates(client: ArborClient): ConnectionState[] {
  const states: ConnectionState[] = [];
  client.on('state', (s) => states.push(s));
  return states;
}

describe('connection and session', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('a refused member is skipped for the next one after a back-off', async () => {
    const ensemble = new FakeEnsemble(3);
    ensemble.kill(0);
    const client = new ArborClient(connectString(3), { transport: ensemble.transport, random: inOrder });
    const states = recordStates(client);
    await flush();
    expect(client.state).toBe('connecting');
    await vi.advanceTimersByTimeAsync(100);
    await until(() => client.state === 'connected');
    expect(ensemble.open(1)).toHaveLength(1);
    expect(states).toEqual(['connected']);
    await client.close();
  });

  it('connect() resolves connected, with a session id and the negotiated timeout', async () => {
    const ensemble = new FakeEnsemble(1);
    ensemble.maxSessionTimeoutMs = 5000;
    const client = await connect(connectString(1), { transport: ensemble.transport, sessionTimeoutMs: 30_000 });
    expect(client.state).toBe('connected');
    expect(client.sessionId).toBeGreaterThan(0);
    expect(client.sessionTimeoutMs).toBe(5000);
    expect(ensemble.open(0)[0]?.handshakes[0]).toMatchObject({ sessionId: 0, password: null, timeoutMs: 30_000, lastZxid: 0 });
    await client.close();
  });

  it('connect() rejects with ConnectionLossError when no member answers in connectTimeoutMs, and the client is closed', async () => {
    const ensemble = new FakeEnsemble(2);
    ensemble.kill(0);
    ensemble.kill(1);
    const pending = connect(connectString(2), { transport: ensemble.transport, random: inOrder, connectTimeoutMs: 1000 });
    const outcome = pending.catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(1000);
    const error = await outcome;
    expect(error).toBeInstanceOf(ConnectionLossError);
    expect((error as Error).message).toMatch(/could not connect within 1000 ms: connection refused by member/);
  });

  it('connect() rejects with the signal reason when aborted', async () => {
    const ensemble = new FakeEnsemble(1);
    ensemble.kill(0);
    const controller = new AbortController();
    const outcome = connect(connectString(1), { transport: ensemble.transport, signal: controller.signal }).catch((e: unknown) => e);
    controller.abort(new Error('gave up'));
    expect(((await outcome) as Error).message).toBe('gave up');
  });

  it('drop → suspended → reconnected on another member, same session, resumed with id, password and last zxid', async () => {
    const { ensemble, client } = await connected();
    const states = recordStates(client);
    await client.create('/a', 'x');
    const sessionId = client.sessionId;
    const lastZxid = client.lastZxid;
    expect(lastZxid).toBeGreaterThan(0);
    ensemble.kill(0);
    await until(() => client.state === 'reconnected');
    expect(states).toEqual(['suspended', 'reconnected']);
    expect(client.sessionId).toBe(sessionId);
    const [connection] = ensemble.open(1);
    const handshake = connection?.handshakes[0];
    expect(handshake?.sessionId).toBe(sessionId);
    expect(handshake?.lastZxid).toBe(lastZxid);
    expect([...(handshake?.password ?? [])]).toEqual([...(ensemble.sessions.get(sessionId)?.password ?? [])]);
    expect((await client.getData('/a')).stat.version).toBe(0);
    await client.close();
  });

  it('state-change reasons name the member by its address from the connect string', async () => {
    const { ensemble, client } = await connected();
    const reasons: string[] = [];
    client.on('state', (_, change) => reasons.push(change.reason));
    ensemble.kill(0);
    await until(() => client.state === 'reconnected');
    expect(reasons.at(-1)).toBe(`session held by 127.0.0.1:${BASE_PORT + 1}`);
    await client.close();
  });

  it('the ensemble expires the session: lost; every call then fails with SessionExpiredError without a round trip', async () => {
    const { ensemble, client } = await connected();
    const states = recordStates(client);
    ensemble.expireSession(client.sessionId);
    await until(() => client.state === 'lost');
    expect(states).toEqual(['lost']);
    const sent = ensemble.allRequests().length;
    await expect(client.getData('/')).rejects.toBeInstanceOf(SessionExpiredError);
    await expect(client.create('/x')).rejects.toThrow(/create \/x: the session is lost/);
    expect(ensemble.allRequests().length).toBe(sent);
    await client.close();
    expect(client.state).toBe('lost');
  });

  it('a resume refused because the session expired meanwhile: lost', async () => {
    const { ensemble, client } = await connected();
    for (const m of [0, 1, 2]) ensemble.kill(m);
    await until(() => client.state === 'suspended');
    ensemble.expireSession(client.sessionId);
    ensemble.revive(1);
    ensemble.revive(2);
    await vi.advanceTimersByTimeAsync(300);
    await until(() => client.state === 'lost');
  });

  it('the local deadline passes while partitioned from every member: lost before the ensemble expires it', async () => {
    const { ensemble, client } = await connected();
    const queued = client.getData('/').catch((e: unknown) => e);
    for (const m of [0, 1, 2]) ensemble.kill(m);
    await until(() => client.state === 'suspended');
    const before = performance.now();
    await vi.advanceTimersByTimeAsync(T - 1);
    expect(client.state).toBe('suspended');
    await vi.advanceTimersByTimeAsync(1);
    expect(client.state).toBe('lost');
    expect(performance.now() - before).toBeLessThanOrEqual(T);
    // The ensemble never expired it: the client stepped down on its own.
    expect(ensemble.sessions.get(client.sessionId)?.expired).toBe(false);
    const error = await queued;
    expect(error instanceof SessionExpiredError || error instanceof ConnectionLossError).toBe(true);
    await expect(client.exists('/')).rejects.toBeInstanceOf(SessionExpiredError);
  });

  it('the deadline follows sessionRemainingMs from ping replies', async () => {
    const { ensemble, client } = await connected();
    ensemble.sessionRemainingMs = 4000;
    await vi.advanceTimersByTimeAsync(T / 3); // first ping at T/3, answered with 4000 ms left
    for (const m of [0, 1, 2]) ensemble.kill(m);
    await until(() => client.state === 'suspended');
    await vi.advanceTimersByTimeAsync(3999);
    expect(client.state).toBe('suspended');
    await vi.advanceTimersByTimeAsync(1);
    expect(client.state).toBe('lost');
  });

  it('pings every T/3 while connected', async () => {
    const { ensemble, client } = await connected();
    const [connection] = ensemble.open(0);
    await vi.advanceTimersByTimeAsync(T / 3 - 1);
    expect(connection?.pings).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(connection?.pings).toBe(1);
    await vi.advanceTimersByTimeAsync(T);
    expect(connection?.pings).toBe(4);
    expect(client.state).toBe('connected');
    await client.close();
  });

  it('a member silent for 2T/3 is abandoned for another', async () => {
    const { ensemble, client } = await connected();
    const states = recordStates(client);
    ensemble.silence(0);
    await vi.advanceTimersByTimeAsync((2 * T) / 3);
    await until(() => client.state === 'reconnected');
    expect(states).toEqual(['suspended', 'reconnected']);
    expect(ensemble.open(1)).toHaveLength(1);
    await client.close();
  });

  it("a member's 'closing' notice moves the session to another member", async () => {
    const { ensemble, client } = await connected();
    ensemble.open(0)[0]?.sendRaw({ xid: XID_NOTICE, notice: 'closing', reason: 'shutting down' });
    await until(() => client.state === 'reconnected');
    expect(ensemble.open(1)[0]?.session?.id).toBe(client.sessionId);
    await client.close();
  });

  it('close(): closeSession is sent, ephemerals go, state closed; later calls fail with ClosedError without a round trip', async () => {
    const { ensemble, client } = await connected();
    await client.create('/e', null, { mode: 'EPHEMERAL' });
    const states = recordStates(client);
    await client.close();
    expect(states).toEqual(['closed']);
    expect(ensemble.nodes.has('/e')).toBe(false);
    expect(ensemble.allRequests().map((r) => r.op)).toEqual(['create', 'closeSession']);
    await expect(client.getData('/')).rejects.toBeInstanceOf(ClosedError);
    await expect(client.getData('/')).rejects.toBeInstanceOf(SessionExpiredError);
    await expect(client.getData('/')).rejects.toThrow('getData /: the client is closed');
    expect(ensemble.allRequests()).toHaveLength(2);
    await client.close(); // idempotent
  });

  it('close() while suspended ends locally', async () => {
    const { ensemble, client } = await connected();
    for (const m of [0, 1, 2]) ensemble.kill(m);
    await until(() => client.state === 'suspended');
    const queued = client.getData('/').catch((e: unknown) => e);
    await client.close();
    expect(client.state).toBe('closed');
    expect(await queued).toBeInstanceOf(ClosedError);
  });

  it('refused credentials: authFailed, and connect() rejects with AuthFailedError', async () => {
    const ensemble = new FakeEnsemble(1);
    const outcome = connect(connectString(1), { transport: ensemble.transport, auth: [{ scheme: 'kerberos', credentials: 'x' }] }).catch(
      (e: unknown) => e,
    );
    const error = await outcome;
    expect(error).toBeInstanceOf(AuthFailedError);
    expect((error as Error).message).toMatch(/unknown auth scheme 'kerberos'/);
  });

  it('states() yields the current state, then each change, and ends after a final state', async () => {
    const { ensemble, client } = await connected();
    const seen: ConnectionState[] = [];
    const done = (async () => {
      for await (const state of client.states()) seen.push(state);
    })();
    ensemble.kill(0);
    await until(() => client.state === 'reconnected');
    await client.close();
    await done;
    expect(seen).toEqual(['connected', 'suspended', 'reconnected', 'closed']);
    const after: ConnectionState[] = [];
    for await (const state of client.states()) after.push(state);
    expect(after).toEqual(['closed']);
  });

  it('leaving a states() loop removes its listener', async () => {
    const { client } = await connected();
    for await (const state of client.states()) {
      expect(state).toBe('connected');
      break;
    }
    // The internal emitter has no listener left.
    expect((client as unknown as { emitter: { listenerCount(e: string): number } }).emitter.listenerCount('state')).toBe(0);
    await client.close();
  });

  it('a listener that throws does not break the client or other listeners', async () => {
    const errors: unknown[] = [];
    const logger = { debug() {}, info() {}, warn() {}, error: (fields: object) => errors.push(fields) };
    const { ensemble, client } = await connected({ logger });
    const seen: ConnectionState[] = [];
    client.on('state', () => {
      throw new Error('boom');
    });
    client.on('state', (s) => seen.push(s));
    ensemble.kill(0);
    await until(() => client.state === 'reconnected');
    expect(seen).toEqual(['suspended', 'reconnected']);
    expect(errors).toHaveLength(2);
    await client.close();
  });

  it('waitUntilConnected resolves on reconnect and rejects on a final state', async () => {
    const { ensemble, client } = await connected();
    await client.waitUntilConnected();
    for (const m of [0, 1, 2]) ensemble.kill(m);
    await until(() => client.state === 'suspended');
    const waiting = client.waitUntilConnected();
    ensemble.revive(2);
    await vi.advanceTimersByTimeAsync(1000);
    await waiting;
    expect(client.state).toBe('reconnected');
    ensemble.kill(2);
    await until(() => client.state === 'suspended');
    const bounded = client.waitUntilConnected({ timeoutMs: 50 }).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(50);
    expect(await bounded).toBeInstanceOf(OperationTimeoutError);
    expect(((await bounded) as Error).message).toMatch(/not connected within 50 ms/);
    const final = client.waitUntilConnected().catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(T);
    expect(await final).toBeInstanceOf(SessionExpiredError);
  });
});
