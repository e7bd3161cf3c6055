import { randomBytes } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Limits } from '@arbor/protocol';
import { SeededRandom, bootstrapEntries, type Ready, type SnapshotMeta } from '@arbor/raft';
import { ZnodeTree, restoreFromChunks, restoreFromChunksSync } from '@arbor/tree';
import type { ClientService } from '../core/client-port.js';
import { Member, type MemberHost, type SnapshotReport } from '../core/member.js';
import type { Logger } from './logger.js';
import { PeerOutbox } from './peer-outbox.js';
import { PeerTransport } from './peer-transport.js';
import { SqliteStorage } from './storage/index.js';

/**
 * A running member: the core Member (server/src/core/member.ts) wired to its edges — SQLite
 * storage (a worker thread does the fsyncs; durability comes back as onPersisted), the peer
 * transport, the tick timer and the clocks. The client listener and admin port are started by
 * the CLI around it (server/src/cli/main.ts).
 */

/** Settings of one running member; a subset of MemberConfig (server/src/cli/config.ts) plus the cluster id. */
export interface MemberRuntimeOptions {
  id: number;
  clusterId: string;
  dataDir: string;
  members: { id: number; host: string; clientPort: number; peerPort: number; adminPort?: number }[];
  tickMs: number;
  electionTicks: number;
  heartbeatTicks: number;
  sessionTimeoutMinMs: number;
  sessionTimeoutMaxMs: number;
  snapshotEveryEntries: number;
  limits?: Partial<Limits>;
  /** pino logger (server/src/io/logger.ts). */
  logger: Logger;
  /** Where to reach each peer's peer port when it differs from `members` (fault proxy). Keyed by member id. */
  peerRoutes?: Record<string, { host: string; port: number }>;
  changeWindowEntries?: number;
  /** The storage worker script (tests running from sources pass the compiled one). */
  storageWorkerUrl?: URL;
}

export type MemberRole = 'leader' | 'follower' | 'candidate' | 'preCandidate';

/** Plain JSON for the admin status endpoint. */
export interface MemberStatus {
  id: number;
  role: MemberRole;
  term: number;
  leaderId: number;
  commitIndex: number;
  appliedIndex: number;
  /** Only on the leader: replication progress of each other member. */
  followers: { id: number; match: number; lag: number }[];
  sessions: number;
  watches: number;
  znodes: number;
  /** Digest of the tree at appliedIndex (hex). */
  digest: string;
  lastZxid: string;
  /** The last snapshot this member saved since it started, or null. */
  lastSnapshot: SnapshotReport | null;
  /**
   * Its storage started empty and no leader has caught it up yet (the rejoin guard): it neither
   * votes nor counts toward any quorum (docs/operations.md).
   */
  rejoinGuarded: boolean;
}

/** Plain numbers for the admin metrics endpoint. */
export interface MemberMetrics {
  /** Requests answered, by op name. */
  requests: Record<string, number>;
  /** Sum of latencies in ms, by op name (divide by requests for the mean). */
  latencyMsSum: Record<string, number>;
  fsyncCount: number;
  fsyncMsSum: number;
  commitCount: number;
  commitMsSum: number;
  elections: number;
  pendingProposals: number;
  pendingReads: number;
  connections: number;
  eventLoopLagMs: number;
}

export interface MemberRuntime {
  readonly clientService: ClientService;
  status(): MemberStatus;
  metrics(): MemberMetrics;
  /** SIGTERM path: a leader hands leadership over first, then stops. */
  transferLeadershipAndStop(): Promise<void>;
  stop(): Promise<void>;
}

const PEER_FRAME_BYTES_MAX = 64 * 1024 * 1024;
const PEER_SEND_QUEUE_BYTES_MAX = 128 * 1024 * 1024;

export async function startMember(options: MemberRuntimeOptions): Promise<MemberRuntime> {
  const logger = options.logger;
  let member: Member | null = null;
  let fatalError: Error | null = null;
  let fsyncCount = 0;
  let fsyncMsSum = 0;
  const storage = await SqliteStorage.open({
    dir: options.dataDir,
    memberId: options.id,
    clusterId: options.clusterId,
    logger: logger.child({ component: 'storage' }),
    onDurable: (mark) => member?.onPersisted(mark),
    onFatal: (error) => {
      fatalError = error;
      logger.fatal({ err: error.message }, 'storage failed; the member stops');
      member?.stop('storage failure');
    },
    onBatch: (stats) => {
      fsyncCount++;
      fsyncMsSum += stats.transactionMs;
    },
    ...(options.storageWorkerUrl === undefined ? {} : { workerUrl: options.storageWorkerUrl }),
  });
  const voters = options.members.map((m) => m.id);
  const latest = storage.snapshots.latest();
  let rejoinGuard = storage.rejoinGuard;
  if (storage.log.lastIndex() === 0 && latest.index === 0) {
    // Storage created empty: every founder — and a member whose data directory was lost, which
    // cannot tell itself from one — writes the same configuration entries (bootstrapEntries),
    // and starts under the rejoin guard in the same transaction.
    const { entries, hardState } = bootstrapEntries(voters);
    rejoinGuard = { index: entries.length, term: hardState.term };
    storage.startRejoinGuard(rejoinGuard);
    storage.persist({ hardState, snapshotChunks: [], snapshot: null, entries, persistMark: null });
    await storage.sync();
    logger.info(
      { voters },
      'bootstrapped with empty storage: under the rejoin guard until the ensemble is found new or catches this member up',
    );
  } else if (rejoinGuard !== null) {
    logger.info({ founding: rejoinGuard }, 'storage started empty and was never caught up: under the rejoin guard');
  }
  let tree: ZnodeTree;
  if (latest.index > 0) {
    tree = await restoreFromChunks(storage.readSnapshot(latest.index));
    logger.info({ index: latest.index, znodes: tree.nodeCount }, 'restored the latest snapshot');
  } else {
    tree = new ZnodeTree();
  }

  let incoming: { index: number; parts: Uint8Array[] } | null = null;
  let transport: PeerTransport | null = null;
  const outbox = new PeerOutbox(() => transport);
  const start = performance.now();
  const host: MemberHost = {
    nowMs: () => performance.now() - start,
    wallMs: () => Date.now(),
    random: new SeededRandom(randomBytes(4).readUInt32LE(0)),
    randomBytes: (n) => new Uint8Array(randomBytes(n)),
    persist: (rd: Ready) => {
      for (const chunk of rd.snapshotChunks) {
        if (chunk.offset === 0) incoming = { index: chunk.snapshot.index, parts: [] };
        if (incoming !== null && incoming.index === chunk.snapshot.index) incoming.parts.push(chunk.data);
      }
      storage.persist(rd);
    },
    installSnapshot: (meta: SnapshotMeta) => {
      const data = incoming;
      if (data === null || data.index !== meta.index) throw new Error(`no received data for snapshot ${meta.index}`);
      incoming = null;
      return restoreFromChunksSync(data.parts);
    },
    saveSnapshot: async (meta, chunks) => {
      await storage.saveSnapshot(meta, chunks);
    },
    yieldTurn: (next) => void setImmediate(next),
    deferProcess: (run) => queueMicrotask(run),
    sendPeer: (to, envelopes) => outbox.add(to, envelopes),
    flushPeers: () => outbox.flush(),
    fatal: (error) => {
      fatalError = error;
      logger.fatal({ err: error.message }, 'the member cannot go on');
      member?.stop(error.message);
    },
  };
  member = new Member(host, {
    id: options.id,
    storage,
    tree,
    appliedIndex: latest.index,
    electionTicks: options.electionTicks,
    heartbeatTicks: options.heartbeatTicks,
    tickMs: options.tickMs,
    sessionTimeoutMinMs: options.sessionTimeoutMinMs,
    sessionTimeoutMaxMs: options.sessionTimeoutMaxMs,
    snapshotEveryEntries: options.snapshotEveryEntries,
    rejoinGuard,
    ...(options.limits === undefined ? {} : { limits: options.limits }),
    ...(options.changeWindowEntries === undefined ? {} : { changeWindowEntries: options.changeWindowEntries }),
    logger: logger.child({ component: 'member' }),
  });
  const core = member;
  const self = options.members.find((m) => m.id === options.id);
  if (self === undefined) throw new Error(`member ${options.id} is not in the members list`);
  transport = await PeerTransport.start({
    selfId: options.id,
    clusterId: options.clusterId,
    listenHost: self.host,
    listenPort: self.peerPort,
    peers: options.members.map((m) => {
      const route = options.peerRoutes?.[String(m.id)];
      return { id: m.id, host: route?.host ?? m.host, port: route?.port ?? m.peerPort };
    }),
    frameBytesMax: PEER_FRAME_BYTES_MAX,
    sendQueueBytesMax: PEER_SEND_QUEUE_BYTES_MAX,
    logger: logger.child({ component: 'peers' }),
    onMessages: (from, messages) => core.onPeerEnvelopes(from, messages),
    onLinkChange: (peer, up) => {
      if (!up) core.onPeerLinkLost(peer);
    },
  });
  outbox.flush();
  const lag = monitorEventLoopDelay({ resolution: 20 });
  lag.enable();
  const timer = setInterval(() => {
    try {
      core.tick();
    } catch (error) {
      host.fatal(error as Error);
    }
  }, options.tickMs);
  core.process();

  let stopped: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      clearInterval(timer);
      lag.disable();
      core.stop('member shutting down');
      await transport?.close();
      await storage.close().catch(() => undefined);
    })();
    return stopped;
  };

  return {
    clientService: core,
    status(): MemberStatus {
      const st = core.node.status();
      const progress = core.node.progress();
      const followers: MemberStatus['followers'] = [];
      if (progress !== null) {
        for (const [id, p] of progress)
          if (id !== options.id) followers.push({ id, match: p.match, lag: Math.max(0, st.lastIndex - p.match) });
      }
      const counts = core.watches.counts();
      return {
        id: options.id,
        role: st.role,
        term: st.term,
        leaderId: st.leader ?? 0,
        commitIndex: st.commit,
        appliedIndex: core.appliedIndex,
        followers,
        sessions: core.sessionsCount(),
        watches: counts.watches,
        znodes: core.tree.nodeCount,
        digest: core.tree.digest(),
        lastZxid: String(core.appliedIndex),
        lastSnapshot: core.lastSnapshot,
        rejoinGuarded: st.rejoinGuard !== null,
      };
    },
    metrics(): MemberMetrics {
      const pending = core.pendingCounts();
      return {
        requests: { ...core.counters.requests },
        latencyMsSum: { ...core.counters.latencyMsSum },
        fsyncCount,
        fsyncMsSum,
        commitCount: core.counters.commits,
        commitMsSum: core.counters.commitMsSum,
        elections: core.counters.elections,
        pendingProposals: pending.writes,
        pendingReads: pending.reads,
        connections: core.connectionCount(),
        eventLoopLagMs: lag.max / 1e6,
      };
    },
    async transferLeadershipAndStop(): Promise<void> {
      if (fatalError === null && core.isLeader && options.members.length > 1) {
        const progress = core.node.progress();
        let best = 0;
        let bestMatch = -1;
        for (const [id, p] of progress ?? []) {
          if (id !== options.id && p.match > bestMatch) {
            best = id;
            bestMatch = p.match;
          }
        }
        if (best !== 0) {
          core.node.transferLeadership(best);
          core.process();
          const deadline = Date.now() + options.tickMs * options.electionTicks * 2;
          while (core.isLeader && Date.now() < deadline) await new Promise((r) => setTimeout(r, options.tickMs));
          logger.info({ to: best, handedOver: !core.isLeader }, 'leadership transfer before stopping');
        }
      }
      await stop();
    },
    stop,
  };
}
