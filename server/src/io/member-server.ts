import { resolve } from 'node:path';
import { DEFAULT_LIMITS, type Limits } from '@arbor/protocol';
import { startAdminHttp, type AdminHttp } from './admin-http.js';
import { startClientListener, type ClientListener } from './client-listener.js';
import type { Logger } from './logger.js';
import { startMember, type MemberRuntime, type MemberStatus } from './member-runtime.js';
import { MEMBER_SETTING_DEFAULTS as DEFAULTS, type MemberAddress } from './member-settings.js';

/**
 * A whole serving member: the runtime (storage, peers, ticks) with its client port and admin
 * port around it. `arbor server` runs one per process (server/src/cli/main.ts); an in-process
 * ensemble (@arbor/testing) runs several in one process through the same code.
 */

/**
 * The settings of one member. A MemberConfig (server/src/cli/config.ts) fits as it is; every
 * tuning field left out takes the documented default (docs/operations.md).
 */
export interface MemberServerOptions {
  id: number;
  members: MemberAddress[];
  dataDir: string;
  tickMs?: number;
  electionTicks?: number;
  heartbeatTicks?: number;
  sessionTimeoutMinMs?: number;
  sessionTimeoutMaxMs?: number;
  snapshotEveryEntries?: number;
  changeWindowEntries?: number;
  connectionsMax?: number;
  limits?: Partial<Limits>;
  peerRoutes?: Record<string, { host: string; port: number }>;
  /** The compiled storage worker; needed only when this module runs from TypeScript sources. */
  storageWorkerUrl?: URL;
}

export interface MemberServer {
  readonly id: number;
  /** The bound client port (the configured one, or the one the system chose for 0). */
  readonly clientPort: number;
  /** 0 when the member has no admin port. */
  readonly adminPort: number;
  status(): MemberStatus;
  /** What SIGTERM does: a leader hands leadership over, then clients get a closing notice and every port and the storage close. Idempotent. */
  stop(): Promise<void>;
  /**
   * The nearest an in-process member gets to kill -9: no leadership hand-over and no waiting
   * for one; ticks stop and peer links, client connections, the admin port and the storage close
   * at once. Unlike a killed process, clients still receive a closing notice (the core sends one
   * when it stops) and writes already queued for the disk are flushed. Idempotent.
   */
  crash(): Promise<void>;
}

/** Why a member did not come up: its storage and peer port ('start'), or its client or admin port ('listen'). */
export class MemberServerError extends Error {
  override name = 'MemberServerError';
  constructor(
    readonly stage: 'start' | 'listen',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

function clusterIdOf(members: readonly MemberAddress[]): string {
  return members.map((m) => `${m.id}@${m.host}:${m.peerPort}`).join(',');
}

/** Starts a member and its ports; resolves once it serves. Nothing is left open when it rejects. */
export async function startMemberServer(options: MemberServerOptions, logger: Logger): Promise<MemberServer> {
  const self = options.members.find((m) => m.id === options.id);
  if (self === undefined) throw new MemberServerError('start', `id ${options.id} is not one of the members`);
  const limits: Limits = { ...DEFAULT_LIMITS, ...options.limits };
  let runtime: MemberRuntime;
  try {
    runtime = await startMember({
      id: options.id,
      clusterId: clusterIdOf(options.members),
      dataDir: resolve(options.dataDir),
      members: options.members,
      tickMs: options.tickMs ?? DEFAULTS.tickMs,
      electionTicks: options.electionTicks ?? DEFAULTS.electionTicks,
      heartbeatTicks: options.heartbeatTicks ?? DEFAULTS.heartbeatTicks,
      sessionTimeoutMinMs: options.sessionTimeoutMinMs ?? DEFAULTS.sessionTimeoutMinMs,
      sessionTimeoutMaxMs: options.sessionTimeoutMaxMs ?? DEFAULTS.sessionTimeoutMaxMs,
      snapshotEveryEntries: options.snapshotEveryEntries ?? DEFAULTS.snapshotEveryEntries,
      changeWindowEntries: options.changeWindowEntries ?? DEFAULTS.changeWindowEntries,
      limits,
      logger,
      ...(options.peerRoutes === undefined ? {} : { peerRoutes: options.peerRoutes }),
      ...(options.storageWorkerUrl === undefined ? {} : { storageWorkerUrl: options.storageWorkerUrl }),
    });
  } catch (err) {
    logger.fatal({ err: (err as Error).message }, 'member failed to start');
    throw new MemberServerError('start', (err as Error).message, { cause: err });
  }
  const core = runtime;
  let listener: ClientListener | undefined;
  let admin: AdminHttp | undefined;
  try {
    listener = await startClientListener({
      service: core.clientService,
      host: self.host,
      port: self.clientPort,
      limits,
      connectionsMax: options.connectionsMax ?? DEFAULTS.connectionsMax,
      currentZxid: () => Number(core.status().lastZxid) || 0,
      logger: logger.child({ component: 'client-listener' }),
    });
    if (self.adminPort > 0) {
      admin = await startAdminHttp({
        source: core,
        host: self.host,
        port: self.adminPort,
        logger: logger.child({ component: 'admin' }),
      });
    }
  } catch (err) {
    await listener?.close();
    await core.stop();
    throw new MemberServerError('listen', (err as Error).message, { cause: err });
  }
  const clientListener = listener;
  const adminHttp = admin;
  logger.info({ clientPort: clientListener.port, adminPort: adminHttp?.port ?? 0 }, 'member serving');

  // One ending per member: a crash during a stop (or the reverse) waits for the first one.
  let ended: Promise<void> | null = null;
  return {
    id: options.id,
    clientPort: clientListener.port,
    adminPort: adminHttp?.port ?? 0,
    status: () => core.status(),
    stop(): Promise<void> {
      ended ??= (async () => {
        await core.transferLeadershipAndStop();
        await clientListener.close('member shutting down');
        await adminHttp?.close();
      })();
      return ended;
    },
    crash(): Promise<void> {
      ended ??= (async () => {
        await Promise.all([core.stop(), clientListener.close('member crashed'), adminHttp?.close()]);
      })();
      return ended;
    },
  };
}
