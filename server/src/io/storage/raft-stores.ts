import { join } from 'node:path';
import {
  EMPTY_SNAPSHOT,
  type Entry,
  type HardState,
  type LogPosition,
  type LogStore,
  type SnapshotMeta,
  type SnapshotRead,
  type SnapshotSource,
  type StableStore,
} from '@arbor/raft';
import type { GroupCommit } from './group-commit.js';
import type { LogMirror } from './log-mirror.js';
import type { StoredSnapshot } from './recovery.js';
import { SnapshotChunkReader } from './snapshot-files.js';

// The three stores of @arbor/raft's RaftStorage as the server implements them: reads are served
// from memory (the log mirror, the current hard state, the kept snapshot files); every write is
// applied to memory at once and queued for the storage worker (GroupCommit).

/**
 * Copies bytes that are a view into a larger buffer. Structured clone (postMessage) copies a
 * view's whole underlying ArrayBuffer, so an entry decoded out of a 1 MiB network frame would
 * otherwise cost 1 MiB per entry on its way to the worker.
 */
export function detached(data: Uint8Array): Uint8Array {
  return data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? data : data.slice();
}

/** The LogStore the consensus core reads: the mirror, with every write also queued for disk. */
export class SqliteLogStore implements LogStore {
  constructor(
    private readonly mirror: LogMirror,
    private readonly queue: GroupCommit,
  ) {}

  firstIndex(): number {
    return this.mirror.firstIndex();
  }

  lastIndex(): number {
    return this.mirror.lastIndex();
  }

  term(index: number): number | undefined {
    return this.mirror.term(index);
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    return this.mirror.entries(lo, hi, maxBytes);
  }

  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    this.queue.checkWritable();
    this.mirror.append(entries);
    const copies = entries.map((e) => ({ index: e.index, term: e.term, type: e.type, data: detached(e.data) }));
    this.queue.enqueue({ kind: 'append', entries: copies });
  }

  compact(index: number): void {
    this.queue.checkWritable();
    const before = this.mirror.compactedThrough();
    this.mirror.compact(index);
    const after = this.mirror.compactedThrough();
    if (after.index !== before.index) this.queue.enqueue({ kind: 'compact', boundary: after });
  }

  reset(boundary: LogPosition): void {
    this.queue.checkWritable();
    this.mirror.reset(boundary);
    this.queue.enqueue({ kind: 'resetLog', boundary: { index: boundary.index, term: boundary.term } });
  }
}

/** The hard state: the last one saved (durable or queued), and a queue to make it durable. */
export class SqliteStableStore implements StableStore {
  constructor(
    private current: HardState,
    private readonly queue: GroupCommit,
  ) {}

  loadHardState(): HardState {
    return this.current;
  }

  /** `lazy`: only the commit index moved, so the write need not be synced by itself (GroupCommit.enqueueLazy). */
  saveHardState(state: HardState, lazy = false): void {
    const op = { kind: 'hardState', state: { term: state.term, vote: state.vote, commit: state.commit } } as const;
    if (lazy) this.queue.enqueueLazy(op);
    else this.queue.enqueue(op);
    this.current = state;
  }
}

interface KeptSnapshot {
  readonly snapshot: StoredSnapshot;
  readonly reader: SnapshotChunkReader;
}

/**
 * SnapshotSource over the snapshot files: the latest, plus the previous ones the worker still
 * keeps (so a transfer that started before a newer snapshot arrived can finish). latest()
 * changes only once a new snapshot is durably recorded, so it never names a file that a crash
 * could take away.
 */
export class SqliteSnapshotSource implements SnapshotSource {
  private readonly kept = new Map<number, KeptSnapshot>();
  private latestStored: StoredSnapshot | null = null;

  constructor(private readonly dir: string) {}

  latest(): SnapshotMeta {
    return this.latestStored?.meta ?? EMPTY_SNAPSHOT;
  }

  readChunk(index: number, offset: number, maxBytes: number): SnapshotRead | null {
    const kept = this.kept.get(index);
    if (kept === undefined) return null;
    try {
      return kept.reader.read(offset, maxBytes);
    } catch (error) {
      // Deleted under us by the worker's pruning: superseded, as far as the core is concerned.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  /** The latest snapshot's record, or null before the first. */
  latestStoredSnapshot(): StoredSnapshot | null {
    return this.latestStored;
  }

  /** A kept snapshot's record by index, or null. */
  storedSnapshot(index: number): StoredSnapshot | null {
    return this.kept.get(index)?.snapshot ?? null;
  }

  filePath(snapshot: StoredSnapshot): string {
    return join(this.dir, snapshot.fileName);
  }

  setLatest(snapshot: StoredSnapshot): void {
    this.kept.get(snapshot.meta.index)?.reader.close();
    this.kept.set(snapshot.meta.index, { snapshot, reader: new SnapshotChunkReader(this.filePath(snapshot), snapshot) });
    this.latestStored = snapshot;
  }

  /** The worker deleted these files. */
  forget(fileNames: readonly string[]): void {
    for (const [index, kept] of this.kept) {
      if (fileNames.includes(kept.snapshot.fileName) && kept.snapshot !== this.latestStored) {
        kept.reader.close();
        this.kept.delete(index);
      }
    }
  }

  close(): void {
    for (const kept of this.kept.values()) kept.reader.close();
    this.kept.clear();
  }
}
