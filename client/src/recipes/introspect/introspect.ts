import type { ArborClient } from '../../client.js';
import { decodeJSON } from '../../data.js';
import { NoNodeError } from '../../errors.js';
import { listParticipants } from '../queue.js';
import type { Participant } from '../queue.js';
import { lockModeOf, readWriteHolders } from '../rw-lock/rw-lock.js';
import type { LockMode } from '../rw-lock/rw-lock.js';
import { Semaphore } from '../semaphore/semaphore.js';

/** What a recipe path holds, judged from its children's names. */
export type RecipeKind = 'mutex' | 'readWriteLock' | 'semaphore' | 'election' | 'empty' | 'unknown';

/**
 * One holder or waiter: the {@link Participant} shape of Mutex.participants() (name, path,
 * sequence, sessionId, createdAtMs, data, head) plus its role and how long it has been there.
 */
export interface ParticipantView extends Participant {
  role: 'holder' | 'waiter';
  /**
   * Now minus the node's ctime: for a waiter, how long it has waited; for a holder, how long
   * since it queued (its wait plus its hold). ctime is the ensemble leader's clock and "now" the
   * local one, so clock skew between the two is included; never below 0.
   */
  waitedMs: number;
  /** A read-write lock's side. */
  mode?: LockMode;
  /** An election participant's id (as LeaderLatch.participants() shows it). */
  id?: string;
  /** An election participant's payload, or a semaphore acquirer's. */
  payload?: unknown;
}

/** The holders and waiters of a lock, semaphore or election path. */
export interface PathParticipants {
  path: string;
  kind: RecipeKind;
  /** The holders (a mutex's holder, the readers or the writer, the semaphore's leases, the leader), in queue order. */
  holders: ParticipantView[];
  /** The waiters, in the order they will be served. */
  waiters: ParticipantView[];
  /** A semaphore's number of leases, when known. */
  maxLeases?: number;
}

/** Options of {@link participantsOf}. */
export interface ParticipantsOfOptions {
  /** "Now" on the ensemble's wall clock, in ms since the epoch. Default Date.now(). */
  nowMs?: number;
}

/**
 * Lists the holders and waiters of any recipe path — a Mutex, a ReadWriteLock, a Semaphore, a
 * LeaderLatch or LeaderSelector — with their sessions and how long they have waited. The kind is
 * recognised from the children: `leases`/`gate` (semaphore), `read-…`/`write-…` (read-write
 * lock), `latch-…` (election), `lock-…` (mutex); other sequential children are shown as a
 * queue whose head holds ('unknown'). A path that does not exist is 'empty'.
 *
 * A snapshot made of several reads: a participant that leaves meanwhile is left out, one that
 * arrives may be missed.
 */
export async function participantsOf(client: ArborClient, path: string, options: ParticipantsOfOptions = {}): Promise<PathParticipants> {
  const nowMs = options.nowMs ?? Date.now();
  const names = await childNames(client, path);
  const view = (p: Participant, role: 'holder' | 'waiter', extra: Partial<ParticipantView> = {}): ParticipantView => ({
    ...p,
    role,
    waitedMs: Math.max(0, nowMs - p.createdAtMs),
    ...extra,
  });
  if (names.includes('leases') || names.includes('gate')) {
    const { maxLeases, holders, waiters } = await Semaphore.participants(client, path);
    const withPayload = (p: Participant, role: 'holder' | 'waiter'): ParticipantView =>
      view(p, role, { payload: jsonField(p.data, 'payload') });
    return {
      path,
      kind: 'semaphore',
      holders: holders.map((p) => withPayload(p, 'holder')),
      waiters: waiters.map((p) => withPayload(p, 'waiter')),
      ...(maxLeases !== undefined ? { maxLeases } : {}),
    };
  }
  const all = await listParticipants(client, path, '');
  if (all.length === 0) return { path, kind: 'empty', holders: [], waiters: [] };
  if (all.some((p) => lockModeOf(p.name) !== undefined)) {
    const rw = all.filter((p) => lockModeOf(p.name) !== undefined);
    const holding = new Set(readWriteHolders(rw).map((p) => p.path));
    const views = rw.map((p) => view(p, holding.has(p.path) ? 'holder' : 'waiter', { mode: lockModeOf(p.name) as LockMode }));
    return split(path, 'readWriteLock', views);
  }
  const queueOf = (prefix: string): Participant[] => all.filter((p) => p.name.includes(prefix)).map((p, i) => ({ ...p, head: i === 0 }));
  const election = queueOf('latch-');
  if (election.length > 0) {
    const views = election.map((p, i) =>
      view(p, i === 0 ? 'holder' : 'waiter', { id: String(jsonField(p.data, 'id') ?? ''), payload: jsonField(p.data, 'payload') ?? null }),
    );
    return split(path, 'election', views);
  }
  const locks = queueOf('lock-');
  const queue = locks.length > 0 ? locks : all;
  return split(
    path,
    locks.length > 0 ? 'mutex' : 'unknown',
    queue.map((p, i) => view(p, i === 0 ? 'holder' : 'waiter')),
  );
}

function split(path: string, kind: RecipeKind, views: ParticipantView[]): PathParticipants {
  return { path, kind, holders: views.filter((v) => v.role === 'holder'), waiters: views.filter((v) => v.role === 'waiter') };
}

async function childNames(client: ArborClient, path: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const page of client.childrenPages(path)) names.push(...page);
  } catch (error) {
    if (error instanceof NoNodeError) return [];
    throw error;
  }
  return names;
}

/** A field of a JSON object stored as node data, or undefined (no data, not JSON, no such field). */
function jsonField(data: Uint8Array | null, field: string): unknown {
  if (data === null) return undefined;
  try {
    const value = decodeJSON(data) as unknown;
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[field] : undefined;
  } catch {
    return undefined;
  }
}
