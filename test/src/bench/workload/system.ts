// What a benchmark workload needs from the system under test, so that the same workloads, with
// the same concurrency and the same recipe code, run against Arbor and against ZooKeeper.
// Implementations: arbor-system.ts (the SDK on a real ensemble) and zookeeper-system.ts (a
// minimal jute client on a ZooKeeper ensemble of the Debian package).
import type { SnapshotReport } from '@arbor/server';

/** One client session on one member. Calls may be pipelined: many can be outstanding at once. */
export interface BenchSession {
  /** Creates a node; resolves with the path created (sequential suffix included). */
  create(path: string, data: Uint8Array, mode?: 'persistent' | 'ephemeral' | 'ephemeralSequential'): Promise<string>;
  setData(path: string, data: Uint8Array): Promise<void>;
  getData(path: string): Promise<Uint8Array>;
  delete(path: string): Promise<void>;
  getChildren(path: string): Promise<string[]>;
  /** Waits until this session's member has applied every write made before the call (any session's). */
  sync(path: string): Promise<void>;
  /**
   * exists with a one-shot watch: whether the node exists now, and a promise that resolves at
   * the first change of it (created, data changed, deleted).
   */
  existsWatch(path: string): Promise<{ exists: boolean; changed: Promise<void> }>;
  close(): Promise<void>;
}

/** A running ensemble of 3 members on loopback. */
export interface BenchSystem {
  readonly name: 'arbor' | 'zookeeper';
  /** host:port of each member's client port. */
  readonly members: readonly string[];
  /** A session on member `member` (an index into `members`). */
  session(member: number): Promise<BenchSession>;
  /** A session that may use any member (for failover: it must move after the leader dies). */
  sessionOnAll(): Promise<BenchSession>;
  /** Index of the current leader in `members`. */
  leader(): Promise<number>;
  /** kill -9 of member `member`. */
  kill(member: number): Promise<void>;
  /**
   * Optional: restarts a killed member and resolves once it serves again with everything the
   * others have applied (the 1,000,000-znode workload times it).
   */
  restart?(member: number): Promise<void>;
  /** Optional: the last snapshot each member saved (ZooKeeper does not report one). */
  lastSnapshots?(): Promise<(SnapshotReport | null)[]>;
  /** Resident set size of every member process, in bytes. */
  memberRssBytes(): Promise<number[]>;
  stop(): Promise<void>;
}
