import { afterEach, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Mode, describeMode, startProxy, validateMode } from '../src/proxy/index.js';
import type { FaultProxy, LinkMode, ProxyOptions } from '../src/proxy/index.js';
import { connectClient, freePort, startEchoServer, staysFalse, waitFor } from './proxy-support.js';
import type { TestClient, TestServer } from './proxy-support.js';

// Everything a test starts is closed after it, pass or fail.
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

async function echo(greeting?: string): Promise<TestServer> {
  const server = await startEchoServer(greeting);
  cleanups.push(() => server.close());
  return server;
}

async function proxyTo(server: TestServer, options: Partial<ProxyOptions> = {}): Promise<FaultProxy> {
  const proxy = await startProxy({ targetPort: server.port, ...options });
  cleanups.push(() => proxy.close());
  return proxy;
}

function client(proxy: FaultProxy): TestClient {
  const c = connectClient(proxy.port);
  cleanups.push(() => void c.socket.destroy());
  return c;
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Sends `payload` through the proxy to the echo server and checks every byte comes back in order. */
async function roundTrip(proxy: FaultProxy, payload: Buffer): Promise<void> {
  const c = client(proxy);
  c.socket.write(payload);
  const back = await c.waitForBytes(payload.length);
  expect(back.length).toBe(payload.length);
  expect(sha(back)).toBe(sha(payload));
}

async function rttMs(c: TestClient, probe = 'x'): Promise<number> {
  const before = c.receivedBytes();
  const startMs = performance.now();
  c.socket.write(probe);
  await c.waitForBytes(before + probe.length);
  return performance.now() - startMs;
}

describe('fault proxy: pass', () => {
  it('carries a large transfer intact in both directions', async () => {
    const server = await echo();
    const proxy = await proxyTo(server);
    expect(proxy.host).toBe('127.0.0.1');
    const payload = randomBytes(8 * 1024 * 1024);
    await roundTrip(proxy, payload);
    const stats = proxy.stats();
    expect(stats.clientToTarget.forwardedBytes).toBe(payload.length);
    expect(stats.targetToClient.forwardedBytes).toBe(payload.length);
    expect(stats.accepted).toBe(1);
  });

  it('listens on the port it is given', async () => {
    const server = await echo();
    const port = await freePort();
    const proxy = await proxyTo(server, { listenPort: port });
    expect(proxy.port).toBe(port);
    await roundTrip(proxy, Buffer.from('hello'));
  });

  it('propagates the end of the stream and then closes both sides', async () => {
    const server = await echo();
    const proxy = await proxyTo(server);
    const c = client(proxy);
    c.socket.end('last words');
    await waitFor(() => c.ended(), 'the echo server to end its side');
    expect(c.received().toString()).toBe('last words');
    await c.waitForClose();
    await waitFor(() => proxy.stats().open === 0 && server.open === 0, 'both connections to close');
    expect(proxy.stats().reset).toBe(0);
  });

  it('resets the client when the target is not listening', async () => {
    const proxy = await startProxy({ targetPort: await freePort() });
    cleanups.push(() => proxy.close());
    const c = client(proxy);
    await c.waitForClose();
    expect(c.receivedBytes()).toBe(0);
    expect(proxy.stats().reset).toBe(1);
  });
});

describe('fault proxy: delay', () => {
  it('adds a measurable delay to each direction', async () => {
    const server = await echo();
    const proxy = await proxyTo(server);
    const c = client(proxy);
    const passMs = await rttMs(c);
    proxy.setMode(Mode.delay(60));
    const delayedMs = await rttMs(c);
    // A request and its echo are each held 60 ms (timers may fire up to 1 ms early).
    expect(delayedMs).toBeGreaterThanOrEqual(118);
    expect(delayedMs).toBeLessThan(118 + 1_000);
    expect(passMs).toBeLessThan(delayedMs - 100);
    proxy.setMode(Mode.pass);
    expect(await rttMs(c)).toBeLessThan(delayedMs);
  });

  it('keeps jitter within bounds and never reorders bytes', async () => {
    const server = await echo();
    const proxy = await proxyTo(server, { mode: Mode.delay(10, 20), seed: 42 });
    const c = client(proxy);
    for (let i = 0; i < 5; i++) {
      const ms = await rttMs(c);
      expect(ms).toBeGreaterThanOrEqual(19);
      expect(ms).toBeLessThan(60 + 1_000);
    }
    // Many small writes, each with its own random hold: they must come back in order.
    const before = c.receivedBytes();
    const messages = Array.from({ length: 300 }, (_, i) => `<${i}>`);
    for (const m of messages) c.socket.write(m);
    const expected = messages.join('');
    const back = await c.waitForBytes(before + expected.length);
    expect(back.subarray(before).toString()).toBe(expected);
  });

  it('stays intact under delay with a small queue limit (back-pressure)', async () => {
    const server = await echo();
    const proxy = await proxyTo(server, { mode: Mode.delay(1, 2), queueBytesMax: 64 * 1024 });
    await roundTrip(proxy, randomBytes(2 * 1024 * 1024));
  });

  it('delivers bytes queued under delay in order after switching back to pass', async () => {
    const server = await echo();
    const proxy = await proxyTo(server, { mode: Mode.delay(200) });
    const c = client(proxy);
    await waitFor(() => server.accepted === 1, 'the upstream connection');
    c.socket.write('first;');
    await waitFor(() => proxy.stats().clientToTarget.receivedBytes === 6, 'the proxy to queue the first write');
    expect(proxy.stats().clientToTarget.forwardedBytes).toBe(0);
    proxy.setMode(Mode.pass);
    c.socket.write('second;'); // due at once, but behind the delayed bytes
    const back = await c.waitForBytes('first;second;'.length);
    expect(back.toString()).toBe('first;second;');
  });
});

describe('fault proxy: blackhole', () => {
  it('silences an open connection without closing it', async () => {
    const server = await echo();
    const proxy = await proxyTo(server);
    const c = client(proxy);
    await rttMs(c);
    const serverBytes = server.receivedBytes;
    proxy.setMode(Mode.blackhole);
    c.socket.write('into the void');
    await waitFor(() => proxy.stats().clientToTarget.discardedBytes === 'into the void'.length, 'the proxy to discard the bytes');
    // The one place a test watches for silence: nothing comes back and nothing closes.
    await staysFalse(() => c.receivedBytes() > 1 || c.closed() || c.ended(), 'traffic or a close through a blackhole');
    expect(server.receivedBytes).toBe(serverBytes);
    expect(server.open).toBe(1);
    expect(proxy.stats().open).toBe(1);
  });

  it('accepts new connections but never reaches the target', async () => {
    const server = await echo();
    const proxy = await proxyTo(server, { mode: Mode.blackhole });
    const c = client(proxy);
    await waitFor(() => c.connected(), 'the client to connect');
    c.socket.write('hello?');
    await waitFor(() => proxy.stats().clientToTarget.discardedBytes === 6, 'the proxy to discard the bytes');
    expect(server.accepted).toBe(0);
    expect(c.closed()).toBe(false);
  });

  it('on heal, resets connections that lost bytes and forwards those that did not', async () => {
    const server = await echo();
    const proxy = await proxyTo(server);
    const lossy = client(proxy);
    await rttMs(lossy);
    proxy.setMode(Mode.blackhole);
    const quiet = client(proxy); // connects during the partition, sends nothing
    await waitFor(() => quiet.connected(), 'the quiet client to connect');
    lossy.socket.write('lost');
    await waitFor(() => proxy.stats().clientToTarget.discardedBytes === 4, 'the bytes to be discarded');
    proxy.setMode(Mode.pass);
    await lossy.waitForClose();
    expect(lossy.errorCode()).toBe('ECONNRESET');
    expect(await rttMs(quiet)).toBeGreaterThanOrEqual(0);
    await roundTrip(proxy, Buffer.from('after the heal'));
  });

  it('can silence one direction only', async () => {
    const server = await echo();
    const proxy = await proxyTo(server);
    const a = client(proxy);
    const b = client(proxy);
    await rttMs(a);
    await rttMs(b);
    // Requests arrive, replies are lost.
    proxy.setMode(Mode.perDirection(Mode.pass, Mode.blackhole));
    expect(describeMode(proxy.mode)).toBe('c→t pass / t→c blackhole');
    a.socket.write('one-way');
    await waitFor(() => proxy.stats().targetToClient.discardedBytes === 7, 'the echo to be discarded');
    expect(server.receivedBytes).toBe(2 + 7);
    expect(a.receivedBytes()).toBe(1);
    // Now requests are lost and replies pass: `a` lost replies, so it is reset; `b` lost nothing and stays.
    proxy.setMode(Mode.perDirection(Mode.blackhole, Mode.pass));
    await a.waitForClose();
    b.socket.write('unheard');
    await waitFor(() => proxy.stats().clientToTarget.discardedBytes === 7, 'the request to be discarded');
    expect(server.receivedBytes).toBe(2 + 7);
    expect(b.closed()).toBe(false);
  });
});

describe('fault proxy: hold', () => {
  it('holds bytes and delivers them, in order, when released', async () => {
    const server = await echo();
    const proxy = await proxyTo(server);
    const c = client(proxy);
    await rttMs(c);
    proxy.setMode(Mode.hold);
    c.socket.write('held;');
    c.socket.write('still held;');
    await staysFalse(() => server.receivedBytes > 1, 'bytes passing a held link');
    proxy.setMode(Mode.pass);
    const back = await c.waitForBytes(1 + 'held;still held;'.length);
    expect(back.subarray(1).toString()).toBe('held;still held;');
    expect(proxy.stats().reset).toBe(0);
  });
});

describe('fault proxy: drop', () => {
  it('resets open connections at once and every new one', async () => {
    const server = await echo();
    const proxy = await proxyTo(server);
    const open = client(proxy);
    await rttMs(open);
    proxy.setMode(Mode.drop);
    await open.waitForClose();
    expect(open.errorCode()).toBe('ECONNRESET');
    await waitFor(() => server.open === 0, 'the upstream connection to close');
    const late = client(proxy);
    await late.waitForClose();
    expect(late.receivedBytes()).toBe(0);
    expect(server.accepted).toBe(1);
    proxy.setMode(Mode.pass);
    await roundTrip(proxy, Buffer.from('back again'));
  });

  it('resets connections on demand without changing the mode', async () => {
    const server = await echo();
    const proxy = await proxyTo(server);
    const c = client(proxy);
    await rttMs(c);
    proxy.resetConnections();
    await c.waitForClose();
    expect(proxy.mode).toEqual(Mode.pass);
    await roundTrip(proxy, Buffer.from('still passing'));
  });
});

describe('fault proxy: lifecycle', () => {
  it('rejects invalid modes', () => {
    expect(() => validateMode(Mode.delay(-1))).toThrow(RangeError);
    expect(() => validateMode(Mode.delay(5, Number.NaN))).toThrow(RangeError);
    expect(() => validateMode({ kind: 'teleport' } as unknown as LinkMode)).toThrow(/unknown mode/);
  });
});
