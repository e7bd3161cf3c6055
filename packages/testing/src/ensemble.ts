// A real ensemble for a test: member processes (the built `arbor server` command) on 127.0.0.1,
// free ports outside the kernel's ephemeral range (ports.ts), a temporary directory; kill -9,
// SIGSTOP, restarts, wiped disks and, with peerMesh, partitions between members. Every wait is
// bounded; every process it starts is stopped by PID in stop(), and stops itself if this process
// dies first (--parent-pid). Arbor's own end-to-end and fault suites use it; so can users
// (docs/testing.md).

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import type { MemberSettings, SnapshotReport } from '@arbor/server';
import { createPeerMesh, type PeerMesh } from './proxy/index.js';
import { freePorts } from './ports.js';

/** The built `arbor` command of @arbor/server, which each member process runs. */
const CLI = createRequire(import.meta.url).resolve('@arbor/server/cli');

export interface MemberSlot {
  id: number;
  clientPort: number;
  peerPort: number;
  adminPort: number;
  dataDir: string;
  configFile: string;
  process: ChildProcess | null;
  /** stderr of the current and earlier lives (JSON logs), for failure messages. */
  log: string[];
  /** Every time the member's process ended without the harness killing it. */
  unexpectedExits: UnexpectedExit[];
}

/** A member process that ended by itself (a crash, a fatal error), not by kill() or stop(). */
export interface UnexpectedExit {
  id: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Date.now() when it was noticed. */
  atMs: number;
  /** The last lines the member wrote to stderr before it ended. */
  logTail: string;
}

/** The subset of /status the harness reads. */
export interface StatusView {
  id: number;
  role: string;
  term: number;
  leaderId: number;
  commitIndex: number;
  appliedIndex: number;
  sessions: number;
  znodes: number;
  digest: string;
  /** The last snapshot the member saved since it started, or null. */
  lastSnapshot: SnapshotReport | null;
  /** Its storage started empty and no leader has caught it up yet (docs/operations.md). */
  rejoinGuarded: boolean;
}

export type { MemberSettings };

export interface EnsembleOptions {
  members: number;
  /** Shorthand for settings.tickMs (the harness's default is 50). */
  tickMs?: number;
  /** Shorthand for settings.sessionTimeoutMinMs. */
  sessionTimeoutMinMs?: number;
  /** Shorthand for settings.snapshotEveryEntries. */
  snapshotEveryEntries?: number;
  /** Shorthand for settings.logLevel (the harness's default is 'info'). */
  logLevel?: MemberSettings['logLevel'];
  /**
   * Member settings for every member, written into each member's config file: any setting the
   * `arbor server` config accepts except who the member is and where (id, members, dataDir and
   * peerRoutes are the harness's). They win over the shorthands above; docs/operations.md lists them.
   */
  settings?: MemberSettings;
  /**
   * Settings for single members, by member id (1-based), over `settings`; `limits` merge key by
   * key. Say `{ 3: { snapshotEveryEntries: 100 } }`.
   */
  memberSettings?: Record<number, MemberSettings>;
  /**
   * Members reach each other through a fault proxy per ordered pair ({@link Ensemble.mesh}), so
   * tests can partition them, cut one direction or delay links.
   */
  peerMesh?: boolean;
  /**
   * Extra Node.js options for every member process, before the script (say
   * `['--cpu-prof', '--cpu-prof-dir=/tmp/prof']` to profile the members; NODE_OPTIONS does not
   * accept every flag).
   */
  nodeArgs?: string[];
}

/**
 * The settings the harness writes into member `id`'s config file: its defaults, then the
 * shorthands, then `settings`, then `memberSettings[id]`; `limits` merged key by key.
 */
export function memberSettingsFor(id: number, options: EnsembleOptions): MemberSettings {
  for (const key of Object.keys(options.memberSettings ?? {})) {
    if (!(Number(key) >= 1 && Number(key) <= options.members && Number.isInteger(Number(key))))
      throw new RangeError(`memberSettings names member ${key}, but the ensemble has members 1..${options.members}`);
  }
  const shorthands: MemberSettings = {
    logLevel: options.logLevel ?? 'info',
    tickMs: options.tickMs ?? 50,
    ...(options.sessionTimeoutMinMs === undefined ? {} : { sessionTimeoutMinMs: options.sessionTimeoutMinMs }),
    ...(options.snapshotEveryEntries === undefined ? {} : { snapshotEveryEntries: options.snapshotEveryEntries }),
  };
  const own = options.memberSettings?.[id];
  const merged: MemberSettings = { ...shorthands, ...options.settings, ...own };
  const limits = { ...options.settings?.limits, ...own?.limits };
  if (Object.keys(limits).length > 0) merged.limits = limits;
  else delete merged.limits;
  return merged;
}

/** The last lines a member wrote to stderr, for a report. */
function logTail(slot: MemberSlot): string {
  return slot.log.join('').slice(-4_000);
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 15_000,
  stepMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((r) => setTimeout(r, stepMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${(lastError as Error).message}` : ''}`);
}

/** A member's /status over its admin port. */
export async function fetchStatus(id: number, adminPort: number): Promise<StatusView> {
  const res = await fetch(`http://127.0.0.1:${adminPort}/status`, { signal: AbortSignal.timeout(2_000) });
  if (!res.ok) throw new Error(`member ${id} /status answered ${res.status}`);
  return (await res.json()) as StatusView;
}

/** Until the members whose statuses `status` reads agree on one leader that is among them and leading: its id. */
export function waitForAgreedLeader(status: () => Promise<StatusView[]>, timeoutMs: number): Promise<number> {
  return waitFor(
    'a leader every running member agrees on',
    async () => {
      const statuses = await status();
      const leader = statuses[0]?.leaderId ?? 0;
      if (leader === 0 || !statuses.every((st) => st.leaderId === leader)) return undefined;
      return statuses.find((st) => st.id === leader)?.role === 'leader' ? leader : undefined;
    },
    timeoutMs,
  );
}

/** Until every member has applied all it committed, at the same index with the same digest: that digest. */
export function waitForSameState(status: () => Promise<StatusView[]>, timeoutMs: number): Promise<string> {
  return waitFor(
    'every running member applying the same state',
    async () => {
      const statuses = await status();
      const first = statuses[0];
      if (first === undefined) return undefined;
      const same = statuses.every(
        (st) => st.appliedIndex === first.appliedIndex && st.digest === first.digest && st.commitIndex === st.appliedIndex,
      );
      return same ? first.digest : undefined;
    },
    timeoutMs,
  );
}

export class Ensemble {
  readonly slots: MemberSlot[];
  /** Present when started with `peerMesh`: the proxies between members. */
  readonly mesh: PeerMesh | undefined;
  private readonly paused = new Set<number>();
  private constructor(
    readonly dir: string,
    slots: MemberSlot[],
    mesh: PeerMesh | undefined,
    private readonly nodeArgs: readonly string[],
  ) {
    this.slots = slots;
    this.mesh = mesh;
  }

  static async start(options: EnsembleOptions): Promise<Ensemble> {
    const dir = mkdtempSync(join(tmpdir(), 'arbor-e2e-'));
    const ports = await freePorts(options.members * 3);
    const members = Array.from({ length: options.members }, (_, i) => ({
      id: i + 1,
      host: '127.0.0.1',
      clientPort: ports[i * 3]!,
      peerPort: ports[i * 3 + 1]!,
      adminPort: ports[i * 3 + 2]!,
    }));
    const mesh = options.peerMesh === true ? await createPeerMesh(members.map((m) => ({ id: m.id, peerPort: m.peerPort }))) : undefined;
    const slots = members.map((m): MemberSlot => {
      const dataDir = join(dir, `member-${m.id}`);
      mkdirSync(dataDir, { recursive: true });
      const configFile = join(dir, `member-${m.id}.json`);
      const config: Record<string, unknown> = { ...memberSettingsFor(m.id, options), id: m.id, members, dataDir };
      if (mesh !== undefined) {
        config['peerRoutes'] = Object.fromEntries([...mesh.peersOf(m.id)].map(([to, address]) => [String(to), address]));
      }
      writeFileSync(configFile, JSON.stringify(config, null, 2));
      return { ...m, dataDir, configFile, process: null, log: [], unexpectedExits: [] };
    });
    const ensemble = new Ensemble(dir, slots, mesh, options.nodeArgs ?? []);
    for (const slot of slots) ensemble.launch(slot);
    try {
      await ensemble.waitForLeader();
    } catch (error) {
      // The caller gets no ensemble to stop: stop the members it would have leaked, keeping
      // what they logged in the error.
      const logs = slots.map((slot) => `member ${slot.id}:\n${ensemble.logs(slot.id)}`).join('\n');
      await ensemble.stop();
      throw new Error(`${(error as Error).message}\n${logs}`, { cause: error });
    }
    return ensemble;
  }

  get connectString(): string {
    return this.slots.map((s) => `127.0.0.1:${s.clientPort}`).join(',');
  }

  slot(id: number): MemberSlot {
    const slot = this.slots.find((s) => s.id === id);
    if (slot === undefined) throw new Error(`no member ${id}`);
    return slot;
  }

  private launch(slot: MemberSlot): void {
    // --parent-pid: if this process dies without stopping them (kill -9, a crash), the members
    // stop themselves instead of running on with nobody to end them.
    const args = [...this.nodeArgs, CLI, 'server', '--config', slot.configFile, '--parent-pid', String(process.pid)];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      slot.log.push(chunk);
      if (slot.log.length > 2000) slot.log.splice(0, 1000);
    });
    // kill() forgets the process before it signals it, so an exit of the current process is one
    // the harness did not ask for. Forgetting it here keeps kill() and stop() from waiting for an
    // 'exit' that has already been emitted, and lets a run report the crash instead of hanging.
    child.once('exit', (code, signal) => {
      if (slot.process !== child) return;
      this.forget(slot);
      const exit: UnexpectedExit = { id: slot.id, code, signal, atMs: Date.now(), logTail: logTail(slot) };
      slot.unexpectedExits.push(exit);
      // What it wrote last may still be in the pipe at 'exit'; 'close' comes once stderr is drained.
      child.once('close', () => (exit.logTail = logTail(slot)));
    });
    slot.process = child;
  }

  /** Every member exit the harness did not cause, in the order they happened. */
  unexpectedExits(): UnexpectedExit[] {
    return this.slots.flatMap((s) => s.unexpectedExits).sort((a, b) => a.atMs - b.atMs);
  }

  status(id: number): Promise<StatusView> {
    return fetchStatus(id, this.slot(id).adminPort);
  }

  /** Running and not paused: the members that can answer. */
  responsive(): MemberSlot[] {
    return this.running().filter((s) => !this.paused.has(s.id));
  }

  running(): MemberSlot[] {
    return this.slots.filter((s) => s.process !== null);
  }

  /** Waits until every running member agrees on one leader, which is running; returns its id. */
  waitForLeader(timeoutMs = 20_000): Promise<number> {
    return waitForAgreedLeader(() => Promise.all(this.responsive().map((s) => this.status(s.id))), timeoutMs);
  }

  /** Waits until every running member has applied the same index and has the same digest; returns the digest. */
  waitForConvergence(timeoutMs = 20_000): Promise<string> {
    return waitForSameState(() => Promise.all(this.responsive().map((s) => this.status(s.id))), timeoutMs);
  }

  /**
   * Stops tracking the slot's process and returns it (null if none). kill() and terminate() call
   * it before they signal, so the exit that follows is not taken for one the harness did not ask for.
   */
  private forget(slot: MemberSlot): ChildProcess | null {
    const child = slot.process;
    slot.process = null;
    this.paused.delete(slot.id);
    return child;
  }

  /** kill -9: no chance to flush or hand anything over. */
  async kill(id: number): Promise<void> {
    const child = this.forget(this.slot(id));
    if (child === null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }

  /** kill -9 of every running member at the same instant (no member outlives another). */
  async killAll(): Promise<void> {
    await Promise.all(this.running().map((s) => this.kill(s.id)));
  }

  /** SIGSTOP: the member freezes with its sockets open, as in a long GC pause or a stalled VM. */
  pause(id: number): void {
    const child = this.slot(id).process;
    if (child === null) throw new Error(`member ${id} is not running`);
    child.kill('SIGSTOP');
    this.paused.add(id);
  }

  /** SIGCONT after {@link pause}. */
  resume(id: number): void {
    const child = this.slot(id).process;
    if (child === null || !this.paused.has(id)) return;
    child.kill('SIGCONT');
    this.paused.delete(id);
  }

  isPaused(id: number): boolean {
    return this.paused.has(id);
  }

  /**
   * Makes the ensemble elect another leader without restarting anything: the leader is frozen
   * (SIGSTOP) until the others agree on a new one, then resumed (it rejoins as a follower).
   * Returns the new leader's id. Clients of the old leader fail over as after a crash.
   */
  async forceLeaderChange(timeoutMs = 20_000): Promise<number> {
    const old = await this.waitForLeader(timeoutMs);
    this.pause(old);
    try {
      return await this.waitForLeader(timeoutMs);
    } finally {
      this.resume(old);
    }
  }

  /** SIGTERM and wait for a clean exit (bounded). Returns the exit code. */
  async terminate(id: number, timeoutMs = 10_000): Promise<number | null> {
    const child = this.forget(this.slot(id));
    if (child === null) return null;
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const code = await exited;
    clearTimeout(timer);
    return code;
  }

  /** Starts a stopped member again on its data directory (or an emptied one with wipe). */
  async restart(id: number, options: { wipe?: boolean } = {}): Promise<void> {
    const slot = this.slot(id);
    if (slot.process !== null) throw new Error(`member ${id} is running`);
    if (options.wipe === true) {
      rmSync(slot.dataDir, { recursive: true, force: true });
      mkdirSync(slot.dataDir, { recursive: true });
    }
    this.launch(slot);
    await waitFor(`member ${id} serving its admin port`, async () => ((await this.status(id)) ? true : undefined));
  }

  /** The member logs, for a failing test's message. */
  logs(id: number): string {
    return this.slot(id).log.join('').slice(-8_000);
  }

  async stop(): Promise<void> {
    await Promise.all(this.slots.map((s) => this.kill(s.id)));
    await this.mesh?.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
