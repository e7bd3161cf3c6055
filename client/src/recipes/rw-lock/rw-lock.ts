import type { ArborClient } from '../../client.js';
import type { ZnodeData } from '../../data.js';
import { listParticipants } from '../queue.js';
import type { Contender, Participant } from '../queue.js';
import { HeldNode, boundsOf, contend } from '../held-node.js';
import type { AcquireOptions, QueueDecision } from '../held-node.js';

/** Which side of a {@link ReadWriteLock} a contender is on. */
export type LockMode = 'read' | 'write';

/** Options of a {@link ReadWriteLock}. */
export interface ReadWriteLockOptions {
  /** Data of the contender nodes (shown by {@link ReadWriteLock.participants}). Default none. */
  data?: ZnodeData;
}

/** A contender of a read-write lock, with its side and whether it holds the lock now. */
export interface ReadWriteParticipant extends Participant {
  mode: LockMode;
  /** Holds the lock (a reader among the readers ahead of every writer, or the writer at the head). */
  holder: boolean;
}

const PREFIX: Record<LockMode, string> = { read: 'read-', write: 'write-' };

/** The side a child name belongs to, or undefined for a child that is not a read-write contender. */
export function lockModeOf(name: string): LockMode | undefined {
  if (name.includes(PREFIX.write)) return 'write';
  if (name.includes(PREFIX.read)) return 'read';
  return undefined;
}

/**
 * The pure decision of the read-write lock, over the queue in sequence order:
 * - a reader holds once no writer is ahead of it; until then it watches the nearest writer
 *   ahead (so a writer's release wakes the readers right behind it, which all get the lock,
 *   and nobody else);
 * - a writer holds at the head; until then it watches its predecessor, whatever its side.
 * Children that are not read-write contenders are ignored.
 */
export function decideReadWrite(queue: readonly Contender[], mine: Contender): QueueDecision {
  const rw = queue.filter((c) => lockModeOf(c.name) !== undefined);
  const index = rw.findIndex((c) => c.path === mine.path);
  if (index < 0) throw new Error(`decideReadWrite: ${mine.path} is not in the queue`);
  if (lockModeOf(mine.name) === 'write') {
    const predecessor = rw[index - 1];
    return predecessor === undefined ? { granted: true } : { granted: false, watch: predecessor };
  }
  for (let i = index - 1; i >= 0; i--) {
    const ahead = rw[i] as Contender;
    if (lockModeOf(ahead.name) === 'write') return { granted: false, watch: ahead };
  }
  return { granted: true };
}

/** The contenders that hold the lock now: the head if it is a writer, else every reader ahead of the first writer. */
export function readWriteHolders<C extends Contender>(queue: readonly C[]): C[] {
  const rw = queue.filter((c) => lockModeOf(c.name) !== undefined);
  const first = rw[0];
  if (first === undefined) return [];
  if (lockModeOf(first.name) === 'write') return [first];
  const firstWriter = rw.findIndex((c) => lockModeOf(c.name) === 'write');
  return firstWriter < 0 ? rw : rw.slice(0, firstWriter);
}

/**
 * A fair, distributed read-write lock under `lockPath`: readers share it, a writer excludes
 * readers and other writers. Each acquire creates a protected ephemeral-sequential child
 * (`read-…` or `write-…`); grants follow the sequence order, so a writer is not starved by a
 * stream of readers (a reader queued behind a writer waits for it). See docs/recipes.md.
 *
 * Guarantee: while the sessions are connected, a write lease is held by nobody else, and read
 * leases only alongside other read leases. A lease's `lost` signal aborts when its session is
 * suspended, lost or closed, or its node is deleted; use the fencing token or
 * {@link ReadWriteLease.commitIfHeld} to guard writes racing with that window.
 *
 * Not reentrant, and no upgrade: a write acquire while the same caller holds a read lease waits
 * for that read lease, forever. A downgrade works: acquire read while holding write, then
 * release the write lease.
 */
export class ReadWriteLock {
  constructor(
    readonly client: ArborClient,
    readonly lockPath: string,
    private readonly options: ReadWriteLockOptions = {},
  ) {}

  /** Waits for a shared (read) hold; resolves with its lease. */
  acquireRead(options: AcquireOptions = {}): Promise<ReadWriteLease> {
    return this.acquire('read', options);
  }

  /** Waits for the exclusive (write) hold; resolves with its lease. */
  acquireWrite(options: AcquireOptions = {}): Promise<ReadWriteLease> {
    return this.acquire('write', options);
  }

  /** Every contender in queue order, with its side, its session, when it queued and whether it holds. */
  async participants(): Promise<ReadWriteParticipant[]> {
    const all = (await listParticipants(this.client, this.lockPath, '')).filter((p) => lockModeOf(p.name) !== undefined);
    const holders = new Set(readWriteHolders(all).map((p) => p.path));
    return all.map((p) => ({ ...p, mode: lockModeOf(p.name) as LockMode, holder: holders.has(p.path) }));
  }

  /** The contenders that hold the lock now (several readers, or one writer). */
  async holders(): Promise<ReadWriteParticipant[]> {
    return (await this.participants()).filter((p) => p.holder);
  }

  /** The contenders waiting, in queue order. */
  async waiters(): Promise<ReadWriteParticipant[]> {
    return (await this.participants()).filter((p) => !p.holder);
  }

  private async acquire(mode: LockMode, options: AcquireOptions): Promise<ReadWriteLease> {
    const bounds = boundsOf(options, `acquire ${mode} ${this.lockPath}`);
    const path = await contend(this.client, this.lockPath, PREFIX[mode], '', this.options.data ?? null, bounds, decideReadWrite);
    return new ReadWriteLease(this.client, path, mode);
  }
}

/**
 * A read or write hold on a {@link ReadWriteLock}. Release it with release() or `await using`.
 * `fencingToken` is the node's sequence number: write tokens grow with every write grant, and
 * a read token lies between the tokens of the writers before and after it.
 */
export class ReadWriteLease extends HeldNode {
  /** @internal Made by {@link ReadWriteLock}. */
  constructor(
    client: ArborClient,
    path: string,
    /** Shared (read) or exclusive (write). */
    readonly mode: LockMode,
  ) {
    super(client, path, `${mode} lock`);
  }
}
