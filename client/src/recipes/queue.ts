import { NoNodeError } from '../index.js';
import type { ArborClient, Stat } from '../index.js';

/**
 * The contender queue shared by the mutex and the leader latch: each contender owns one
 * ephemeral-sequential child of a parent node; the child with the lowest sequence number is at
 * the head. A contender waits only for the deletion of the child just ahead of it, so a
 * departure wakes exactly one waiter (no herd).
 */

/** A contender's child, as listed. */
export interface Contender {
  /** The child's name (with the protected-create marker, if any). */
  name: string;
  /** The child's full path. */
  path: string;
  /** The sequence number the ensemble appended: the queue order and the fencing token. */
  sequence: number;
}

/** One contender with its stat: who holds the child and since when. */
export interface Participant extends Contender {
  /** The session that owns the ephemeral child. */
  sessionId: number;
  /** When the child was created (the ensemble's clock, ms): the start of its wait. */
  createdAtMs: number;
  /** The child's data (the contender's payload). */
  data: Uint8Array | null;
  /** At the head of the queue: the holder, or the leader. */
  head: boolean;
}

const SEQUENCE = /(\d{10})$/;

/** The sequence suffix of a child name made by a sequential create, or undefined if it has none. */
export function sequenceOf(name: string): number | undefined {
  const match = SEQUENCE.exec(name);
  return match === null ? undefined : Number(match[1]);
}

/** The sequential children of `parent` whose name contains `prefix`, in queue order. */
export async function listContenders(client: ArborClient, parent: string, prefix: string): Promise<Contender[]> {
  let names: string[];
  try {
    names = [];
    for await (const page of client.childrenPages(parent)) names.push(...page);
  } catch (error) {
    if (error instanceof NoNodeError) return [];
    throw error;
  }
  const list: Contender[] = [];
  for (const name of names) {
    const sequence = sequenceOf(name);
    if (sequence !== undefined && name.includes(prefix)) list.push({ name, path: joinChild(parent, name), sequence });
  }
  return list.sort((a, b) => a.sequence - b.sequence);
}

/** The contenders with their stats and data, in queue order; a child gone meanwhile is left out. */
export async function listParticipants(client: ArborClient, parent: string, prefix: string): Promise<Participant[]> {
  const contenders = await listContenders(client, parent, prefix);
  const found = await Promise.all(
    contenders.map(async (c) => {
      try {
        const { data, stat } = await client.getData(c.path);
        return { c, data, stat };
      } catch (error) {
        if (error instanceof NoNodeError) return undefined;
        throw error;
      }
    }),
  );
  const present = found.filter((f): f is { c: Contender; data: Uint8Array | null; stat: Stat } => f !== undefined);
  return present.map(({ c, data, stat }, i) => ({
    ...c,
    sessionId: stat.ephemeralOwner,
    createdAtMs: stat.ctime,
    data,
    head: i === 0,
  }));
}

export function joinChild(parent: string, name: string): string {
  return parent === '/' ? `/${name}` : `${parent}/${name}`;
}

/** Bounds of one wait: a deadline on the monotonic clock (Infinity for none) and an abort signal. */
export interface WaitBounds {
  deadlineMs: number;
  signal?: AbortSignal;
  /** What to call the operation in errors. */
  what: string;
}

/** Raised when a contender's own node vanished while it waited (its session expired, or someone deleted it). */
export class ContenderGoneError extends Error {
  override readonly name = 'ContenderGoneError';
}

/** Raised when a wait's deadline passes. */
export class RecipeTimeoutError extends Error {
  override readonly name = 'RecipeTimeoutError';
}

/**
 * Resolves when `path` is deleted (at once if it is already gone) or changes otherwise (the
 * caller re-examines the queue either way); rejects on the deadline, the abort, or the end of
 * the session (the watch's own rejection).
 */
export async function waitForChange(client: ArborClient, path: string, bounds: WaitBounds): Promise<void> {
  const { stat, changed } = await client.exists(path, { watch: true, ...callBounds(bounds) });
  if (stat === null) return;
  await bounded(changed, bounds);
}

/** The remaining time and the signal, as call options. */
export function callBounds(bounds: WaitBounds): { timeoutMs?: number; signal?: AbortSignal } {
  const left = bounds.deadlineMs - performance.now();
  if (left <= 0) throw new RecipeTimeoutError(`${bounds.what}: timed out`);
  return {
    ...(Number.isFinite(left) ? { timeoutMs: left } : {}),
    ...(bounds.signal !== undefined ? { signal: bounds.signal } : {}),
  };
}

/** Races a promise against the deadline and the signal; cleans up its timer and listener. */
export function bounded<T>(promise: Promise<T>, bounds: WaitBounds): Promise<T> {
  // Whoever gives up first, `promise` is observed: given up on (deadline, abort) it may still
  // reject later — a call made with the signal that has just aborted rejects with its reason —
  // and that rejection is nobody's to see; unobserved it would surface as an unhandled
  // rejection, which ends a Node process by default.
  promise.catch(() => undefined);
  return new Promise<T>((resolve, reject) => {
    const cleanup: (() => void)[] = [];
    const settle = (f: () => void): void => {
      for (const c of cleanup) c();
      f();
    };
    const left = bounds.deadlineMs - performance.now();
    if (left <= 0) return reject(new RecipeTimeoutError(`${bounds.what}: timed out`));
    if (Number.isFinite(left)) {
      const handle = setTimeout(() => settle(() => reject(new RecipeTimeoutError(`${bounds.what}: timed out`))), left);
      cleanup.push(() => clearTimeout(handle));
    }
    const { signal } = bounds;
    if (signal !== undefined) {
      if (signal.aborted) return reject(signal.reason);
      const onAbort = (): void => settle(() => reject(signal.reason));
      signal.addEventListener('abort', onAbort, { once: true });
      cleanup.push(() => signal.removeEventListener('abort', onAbort));
    }
    promise.then(
      (value) => settle(() => resolve(value)),
      (error: unknown) => settle(() => reject(error)),
    );
  });
}
