import { ArborClient } from '../../src/index.js';
import type { ClientOptions } from '../../src/index.js';
import { XID_WATCH_EVENT } from '@arbor/protocol';
import { FakeEnsemble, connectString } from './fake-ensemble.js';

/**
 * Lets every queued microtask run (the fake transport delivers frames through microtasks), so
 * that a test can observe the settled outcome without sleeping.
 */
export async function flush(rounds = 200): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
}

/** Waits, by running microtasks only (no time passes), until `condition` holds; fails after a bounded number of rounds. */
export async function until(condition: () => boolean, what = 'condition', rounds = 20_000): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    if (condition()) return;
    await Promise.resolve();
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * Advances fake time in steps until `condition` holds (for waits that involve back-off timers),
 * failing after `maxMs` of fake time.
 */
export async function advanceUntil(condition: () => boolean, what = 'condition', maxMs = 60_000, stepMs = 50): Promise<void> {
  const { vi } = await import('vitest');
  for (let elapsed = 0; elapsed <= maxMs; elapsed += stepMs) {
    await flush();
    if (condition()) return;
    await vi.advanceTimersByTimeAsync(stepMs);
  }
  throw new Error(`timed out waiting for ${what} after ${maxMs} ms of fake time`);
}

/**
 * A deterministic uniform [0, 1) source (mulberry32). Its own copy: the client depends on
 * protocol and ws only, so its tests do not reach for @arbor/raft's SeededRandom.
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random source that always yields the identity shuffle (members tried in written order) and minimal jitter. */
export const inOrder = (): number => 0.999_999;

export interface Setup {
  ensemble: FakeEnsemble;
  client: ArborClient;
}

/** A fake ensemble and a connected client on it (members tried in order, so member 0 first). */
export async function connected(options: ClientOptions & { members?: number; chroot?: string } = {}): Promise<Setup> {
  const { members = 3, chroot = '', ...clientOptions } = options;
  const ensemble = new FakeEnsemble(members);
  if (chroot !== '') ensemble.seed(chroot);
  const client = new ArborClient(connectString(members, chroot), {
    transport: ensemble.transport,
    random: inOrder,
    sessionTimeoutMs: 9000,
    ...clientOptions,
  });
  await until(() => client.state === 'connected', 'connected');
  return { ensemble, client };
}

/** Several sessions on one fake ensemble. */
export async function sessions(ensemble: FakeEnsemble, count: number): Promise<ArborClient[]> {
  const clients = Array.from(
    { length: count },
    () => new ArborClient(connectString(3), { transport: ensemble.transport, random: inOrder, sessionTimeoutMs: 9000 }),
  );
  await until(() => clients.every((c) => c.state === 'connected'), 'all connected');
  return clients;
}

/** Records every watch event the ensemble sends, with the session it goes to. */
export function watchEvents(ensemble: FakeEnsemble): { session: number; path: string }[] {
  const seen: { session: number; path: string }[] = [];
  for (const connection of ensemble.open()) {
    const send = connection.sendRaw.bind(connection);
    connection.sendRaw = (value: unknown): void => {
      const frame = value as { xid?: number; path?: string };
      if (frame.xid === XID_WATCH_EVENT) seen.push({ session: connection.session?.id ?? 0, path: frame.path ?? '' });
      send(value);
    };
  }
  return seen;
}
