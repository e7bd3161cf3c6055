// A real ensemble inside the test's own process: every member runs the code of `arbor server`
// (startMemberServer of @arbor/server) on real sockets on 127.0.0.1 and real SQLite files in a
// temporary directory, without a child process. It starts in a fraction of the time of
// {@link Ensemble}; what it cannot do is what needs a process: kill -9, SIGSTOP, partitions.
// Its members share the test's event loop, so a test that blocks the loop stalls them all.

import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createRootLogger, startMemberServer, type Logger, type MemberAddress, type MemberServer } from '@arbor/server';
import { freePorts } from './ports.js';
import { fetchStatus, waitForAgreedLeader, waitForSameState, type StatusView } from './ensemble.js';

/**
 * The compiled storage worker of @arbor/server. A worker thread cannot load TypeScript, so a
 * test run that takes the server from its sources (vitest aliases) still needs the built one.
 */
const STORAGE_WORKER_URL = new URL(
  './io/storage/storage-worker.js',
  pathToFileURL(createRequire(import.meta.url).resolve('@arbor/server')),
);

export interface InProcessEnsembleOptions {
  members: number;
  /** Default 50, as in {@link Ensemble}: members share one event loop, so shorter ticks only add jitter. */
  tickMs?: number;
  sessionTimeoutMinMs?: number;
  snapshotEveryEntries?: number;
  /** pino level of the members' logs, written to stderr (not to the test reporter). Default 'warn'; 'silent' for none. */
  logLevel?: string;
}

export interface InProcessMemberSlot {
  id: number;
  clientPort: number;
  peerPort: number;
  adminPort: number;
  dataDir: string;
  /** The running member, or null while it is stopped or crashed. */
  server: MemberServer | null;
}

export class InProcessEnsemble {
  readonly slots: InProcessMemberSlot[];
  private constructor(
    readonly dir: string,
    private readonly addresses: MemberAddress[],
    private readonly options: InProcessEnsembleOptions,
    private readonly logger: Logger,
  ) {
    this.slots = addresses.map((m) => ({ ...m, dataDir: join(dir, `member-${m.id}`), server: null }));
  }

  static async start(options: InProcessEnsembleOptions): Promise<InProcessEnsemble> {
    const dir = mkdtempSync(join(tmpdir(), 'arbor-inproc-'));
    const ports = await freePorts(options.members * 3);
    const addresses: MemberAddress[] = Array.from({ length: options.members }, (_, i) => ({
      id: i + 1,
      host: '127.0.0.1',
      clientPort: ports[i * 3]!,
      peerPort: ports[i * 3 + 1]!,
      adminPort: ports[i * 3 + 2]!,
    }));
    // One pino root for the whole ensemble (each member a child bound to its id): one stderr stream, not one per life of a member.
    const logger = createRootLogger({ level: options.logLevel ?? 'warn' });
    const ensemble = new InProcessEnsemble(dir, addresses, options, logger);
    try {
      for (const slot of ensemble.slots) mkdirSync(slot.dataDir, { recursive: true });
      // Settled, not raced: a member still opening its storage when another fails must be stopped too.
      const launched = await Promise.allSettled(ensemble.slots.map((slot) => ensemble.launch(slot)));
      const failed = launched.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
      await ensemble.waitForLeader();
    } catch (error) {
      await ensemble.stop();
      throw error;
    }
    return ensemble;
  }

  get connectString(): string {
    return this.slots.map((s) => `127.0.0.1:${s.clientPort}`).join(',');
  }

  slot(id: number): InProcessMemberSlot {
    const slot = this.slots.find((s) => s.id === id);
    if (slot === undefined) throw new Error(`no member ${id}`);
    return slot;
  }

  private async launch(slot: InProcessMemberSlot): Promise<void> {
    slot.server = await startMemberServer(
      {
        id: slot.id,
        members: this.addresses,
        dataDir: slot.dataDir,
        tickMs: this.options.tickMs ?? 50,
        ...(this.options.sessionTimeoutMinMs === undefined ? {} : { sessionTimeoutMinMs: this.options.sessionTimeoutMinMs }),
        ...(this.options.snapshotEveryEntries === undefined ? {} : { snapshotEveryEntries: this.options.snapshotEveryEntries }),
        storageWorkerUrl: STORAGE_WORKER_URL,
      },
      this.logger.child({ member: slot.id }),
    );
  }

  /** /status over the member's admin port, as a client of the ensemble would read it. */
  status(id: number): Promise<StatusView> {
    return fetchStatus(id, this.slot(id).adminPort);
  }

  running(): InProcessMemberSlot[] {
    return this.slots.filter((s) => s.server !== null);
  }

  /** Every running member answers: nothing here can freeze one (see {@link Ensemble.responsive}). */
  responsive(): InProcessMemberSlot[] {
    return this.running();
  }

  /** Waits until every running member agrees on one leader, which is running; returns its id. */
  waitForLeader(timeoutMs = 20_000): Promise<number> {
    return waitForAgreedLeader(() => Promise.all(this.running().map((s) => this.status(s.id))), timeoutMs);
  }

  /** Waits until every running member has applied the same index and has the same digest; returns the digest. */
  waitForConvergence(timeoutMs = 20_000): Promise<string> {
    return waitForSameState(() => Promise.all(this.running().map((s) => this.status(s.id))), timeoutMs);
  }

  /** The in-process kill -9 (MemberServer.crash): no hand-over, every socket and the storage closed at once. */
  async crash(id: number): Promise<void> {
    const slot = this.slot(id);
    const server = slot.server;
    if (server === null) return;
    slot.server = null;
    await server.crash();
  }

  /** What SIGTERM does to `arbor server` (a leader hands over first); {@link Ensemble.terminate} without the exit code. */
  async terminate(id: number): Promise<void> {
    const slot = this.slot(id);
    const server = slot.server;
    if (server === null) return;
    slot.server = null;
    await server.stop();
  }

  /** Starts a stopped or crashed member again on its data directory (or an emptied one with wipe). */
  async restart(id: number, options: { wipe?: boolean } = {}): Promise<void> {
    const slot = this.slot(id);
    if (slot.server !== null) throw new Error(`member ${id} is running`);
    if (options.wipe === true) {
      rmSync(slot.dataDir, { recursive: true, force: true });
      mkdirSync(slot.dataDir, { recursive: true });
    }
    await this.launch(slot);
  }

  /**
   * Makes the ensemble elect another leader: the leader is stopped the SIGTERM way (it hands
   * leadership to the most caught-up follower), the others agree on the new one, and the old
   * leader starts again as a follower. Returns the new leader's id. Unlike
   * {@link Ensemble.forceLeaderChange} (a freeze), the old leader's clients are told it closes.
   */
  async forceLeaderChange(timeoutMs = 20_000): Promise<number> {
    const old = await this.waitForLeader(timeoutMs);
    await this.terminate(old);
    try {
      return await this.waitForLeader(timeoutMs);
    } finally {
      await this.restart(old);
    }
  }

  /** Stops every member at once (crash: nothing to hand over to) and removes the temporary directory. */
  async stop(): Promise<void> {
    await Promise.all(this.slots.map((s) => this.crash(s.id)));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
