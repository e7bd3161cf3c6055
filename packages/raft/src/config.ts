// Configuration of one RawNode. Time is counted in ticks (the host calls tick() at a fixed
// interval, e.g. every 100 ms); randomness comes from `random` (STYLE.md 3).

import { nullLogger, type Logger } from './logger.js';
import type { RandomSource } from './random.js';
import type { RaftStorage } from './storage.js';
import type { LogPosition, NodeId } from './types.js';

/**
 * How the leader confirms it is still leader before answering a ReadIndex request.
 * - `safe`: a heartbeat round acknowledged by a majority after the request arrived (thesis
 *   §6.4). Needs no assumption about clocks.
 * - `lease`: answer at once while a majority acknowledged a heartbeat sent within the last
 *   leaseTicks ticks (thesis §6.4.1). Safe only if every member's tick rate is within the
 *   factor (electionTimeoutTicks - 2) / leaseTicks of the leader's: a follower that acknowledged
 *   a heartbeat refuses to vote for electionTimeoutTicks of its own ticks (check-quorum's leader
 *   stickiness, thesis §4.2.3), minus up to one tick of granularity at each end. Without a lease
 *   the leader falls back to the `safe` round. Requires checkQuorum.
 */
export type ReadOnlyMode = 'safe' | 'lease';

export interface RaftConfig {
  /** This member's id (positive integer). */
  readonly id: NodeId;
  readonly storage: RaftStorage;
  /** Jitter for election timeouts; seed it per member. */
  readonly random: RandomSource;
  readonly logger?: Logger;
  /**
   * A follower or candidate that hears from no leader for a random number of ticks in
   * [electionTimeoutTicks, 2 * electionTimeoutTicks) starts an election (thesis §3.4, §9.3).
   * Default 10.
   */
  readonly electionTimeoutTicks?: number;
  /** A leader sends heartbeats every heartbeatIntervalTicks. Must be < electionTimeoutTicks. Default 1. */
  readonly heartbeatIntervalTicks?: number;
  /**
   * Last index the host's state machine has applied when this node starts (its restored
   * snapshot's index after a restart). Committed entries after it are handed out again.
   * Default: the latest snapshot's index.
   */
  readonly applied?: number;
  /** Pre-vote phase before a real election (thesis §9.6). Default true. */
  readonly preVote?: boolean;
  /**
   * A leader steps down when it has not heard from a majority for an election timeout, and
   * followers that heard from a leader within an election timeout ignore vote requests
   * (thesis §6.2, §4.2.3). Default true.
   */
  readonly checkQuorum?: boolean;
  readonly readOnlyMode?: ReadOnlyMode;
  /** Lease length for readOnlyMode 'lease'. Default floor(0.8 * (electionTimeoutTicks - 2)). */
  readonly leaseTicks?: number;
  /** Entries per AppendEntries. Default 1024. */
  readonly maxEntriesPerAppend?: number;
  /** Bytes (entryBytes) per AppendEntries, at least one entry. Default 1 MiB. */
  readonly maxBytesPerAppend?: number;
  /** Pipelined AppendEntries in flight per follower. Default 256. */
  readonly maxInflightAppends?: number;
  /** Bytes in flight per follower; 0 for no limit. Default 0. */
  readonly maxInflightBytes?: number;
  /** Bytes of uncommitted entries the leader accepts before rejecting proposals; 0 for no limit. Default 64 MiB. */
  readonly maxUncommittedBytes?: number;
  /** Bytes of committed entries per Ready (at least one entry). Default 16 MiB. */
  readonly maxCommittedBytesPerReady?: number;
  /** Snapshot bytes per chunk message. Default 1 MiB. */
  readonly snapshotChunkBytes?: number;
  /** Snapshot chunks in flight per follower. Default 4. */
  readonly maxInflightSnapshotChunks?: number;
  /**
   * Set when this member's storage was created empty (a founding member's first start, or a
   * member whose data directory was lost) and no leader has caught it up since: the log position
   * a new data directory has (after the founding entries). Until a leader catches it up, or the
   * host confirms the ensemble is brand new (RawNode.confirmNewEnsemble), the member neither votes
   * nor campaigns (rejoin-guard.ts); Ready.liftsRejoinGuard tells the host when to stop passing
   * it. Default null: the member's storage has been caught up.
   */
  readonly rejoinGuard?: LogPosition | null;
}

export interface ResolvedConfig {
  readonly id: NodeId;
  readonly storage: RaftStorage;
  readonly random: RandomSource;
  readonly logger: Logger;
  readonly electionTimeoutTicks: number;
  readonly heartbeatIntervalTicks: number;
  readonly applied: number | undefined;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly readOnlyMode: ReadOnlyMode;
  readonly leaseTicks: number;
  readonly maxEntriesPerAppend: number;
  readonly maxBytesPerAppend: number;
  readonly maxInflightAppends: number;
  readonly maxInflightBytes: number;
  readonly maxUncommittedBytes: number;
  readonly maxCommittedBytesPerReady: number;
  readonly snapshotChunkBytes: number;
  readonly maxInflightSnapshotChunks: number;
  readonly rejoinGuard: LogPosition | null;
}

/** Fills in defaults and rejects nonsensical settings with a RangeError naming the setting. */
export function resolveConfig(config: RaftConfig): ResolvedConfig {
  const electionTimeoutTicks = config.electionTimeoutTicks ?? 10;
  const resolved: ResolvedConfig = {
    id: config.id,
    storage: config.storage,
    random: config.random,
    logger: config.logger ?? nullLogger,
    electionTimeoutTicks,
    heartbeatIntervalTicks: config.heartbeatIntervalTicks ?? 1,
    applied: config.applied,
    preVote: config.preVote ?? true,
    checkQuorum: config.checkQuorum ?? true,
    readOnlyMode: config.readOnlyMode ?? 'safe',
    leaseTicks: config.leaseTicks ?? Math.floor(0.8 * (electionTimeoutTicks - 2)),
    maxEntriesPerAppend: config.maxEntriesPerAppend ?? 1024,
    maxBytesPerAppend: config.maxBytesPerAppend ?? 1024 * 1024,
    maxInflightAppends: config.maxInflightAppends ?? 256,
    maxInflightBytes: config.maxInflightBytes ?? 0,
    maxUncommittedBytes: config.maxUncommittedBytes ?? 64 * 1024 * 1024,
    maxCommittedBytesPerReady: config.maxCommittedBytesPerReady ?? 16 * 1024 * 1024,
    snapshotChunkBytes: config.snapshotChunkBytes ?? 1024 * 1024,
    maxInflightSnapshotChunks: config.maxInflightSnapshotChunks ?? 4,
    rejoinGuard: config.rejoinGuard ?? null,
  };
  requireInt('id', resolved.id, 1);
  requireInt('electionTimeoutTicks', resolved.electionTimeoutTicks, 3);
  requireInt('heartbeatIntervalTicks', resolved.heartbeatIntervalTicks, 1);
  if (resolved.heartbeatIntervalTicks >= resolved.electionTimeoutTicks) {
    throw new RangeError('heartbeatIntervalTicks must be less than electionTimeoutTicks');
  }
  if (resolved.applied !== undefined) requireInt('applied', resolved.applied, 0);
  requireInt('maxEntriesPerAppend', resolved.maxEntriesPerAppend, 1);
  requireInt('maxBytesPerAppend', resolved.maxBytesPerAppend, 1);
  requireInt('maxInflightAppends', resolved.maxInflightAppends, 1);
  requireInt('maxInflightBytes', resolved.maxInflightBytes, 0);
  requireInt('maxUncommittedBytes', resolved.maxUncommittedBytes, 0);
  requireInt('maxCommittedBytesPerReady', resolved.maxCommittedBytesPerReady, 1);
  requireInt('snapshotChunkBytes', resolved.snapshotChunkBytes, 1);
  requireInt('maxInflightSnapshotChunks', resolved.maxInflightSnapshotChunks, 1);
  if (resolved.readOnlyMode === 'lease') {
    if (!resolved.checkQuorum) throw new RangeError('readOnlyMode "lease" requires checkQuorum');
    requireInt('leaseTicks', resolved.leaseTicks, 1);
    if (resolved.leaseTicks > resolved.electionTimeoutTicks - 2) {
      throw new RangeError('leaseTicks must be at most electionTimeoutTicks - 2');
    }
  }
  return resolved;
}

function requireInt(name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${value}`);
}
