// The workload a fault run checks: several sessions doing writes, compare-and-sets (setData with
// a version), linearizable reads and sequential creates on a few keys, every operation recorded
// in a history for the linearizability checker. Each value written is unique, so the checker can
// tell every write apart and a duplicate sequential node betrays a write applied twice.

import { BadVersionError, NoNodeError, NodeExistsError, connect, fromUtf8, utf8, type ArborClient } from '@arbor/client';
import type { HistoryRecorder } from '../linearizability/index.js';
import { type InitialZnodes, type OpId } from '../linearizability/index.js';
import type { Rng } from './random.js';

export const REGISTER_ROOT = '/lin';
export const SEQUENCE_PARENT = `${REGISTER_ROOT}/seq`;
const SEQUENCE_PREFIX = `${SEQUENCE_PARENT}/s-`;
const INITIAL_VALUE = 'init';

export interface RegisterWorkloadOptions {
  connectString: string;
  /** Concurrent sessions, each doing one operation at a time. */
  clients: number;
  keys: number;
  sessionTimeoutMs: number;
  requestTimeoutMs: number;
  rng: Rng;
  log?: (message: string) => void;
}

export interface WorkloadStats {
  ok: number;
  /** Timed out or lost their connection: possibly applied. */
  indefinite: number;
  /** Answers no fault explains (a bug): the run fails if there is any. */
  unexpected: string[];
  sessionsLost: number;
}

export function keyPaths(keys: number): string[] {
  return Array.from({ length: keys }, (_, i) => `${REGISTER_ROOT}/k${i}`);
}

/** Creates the keys and the sequence parent; returns the state the history starts from. */
export async function setupRegisters(client: ArborClient, keys: number): Promise<InitialZnodes> {
  await client.create(REGISTER_ROOT, null);
  await client.create(SEQUENCE_PARENT, null);
  const initial: InitialZnodes = {};
  for (const path of keyPaths(keys)) {
    await client.create(path, utf8(INITIAL_VALUE));
    initial[path] = { value: INITIAL_VALUE, version: 0 };
  }
  return initial;
}

/** Errors after which the operation may or may not have been applied. */
function isIndefinite(error: unknown): boolean {
  const name = (error as { name?: string }).name ?? '';
  return [
    'ConnectionLossError',
    'OperationTimeoutError',
    'RequestTimeoutError',
    'SessionExpiredError',
    'SessionMovedError',
    'ThrottledError',
    'ClosedError',
  ].includes(name);
}

export class RegisterWorkload {
  readonly stats: WorkloadStats = { ok: 0, indefinite: 0, unexpected: [], sessionsLost: 0 };
  /** Every sequential create that was answered: path → value. */
  readonly sequentialCreated = new Map<string, string>();
  private readonly keys: string[];

  constructor(
    private readonly options: RegisterWorkloadOptions,
    readonly recorder: HistoryRecorder,
  ) {
    this.keys = keyPaths(options.keys);
  }

  /** Runs every session until `shouldStop()`; each finishes its operation in flight first. */
  async run(shouldStop: () => boolean): Promise<void> {
    await Promise.all(Array.from({ length: this.options.clients }, (_, i) => this.session(i, this.options.rng.fork(i + 1), shouldStop)));
  }

  private async newClient(): Promise<ArborClient> {
    const client = await connect(this.options.connectString, {
      sessionTimeoutMs: this.options.sessionTimeoutMs,
      requestTimeoutMs: this.options.requestTimeoutMs,
      connectTimeoutMs: 60_000,
    });
    client.on('state', (state, change) => {
      if (state === 'lost') this.options.log?.(`session ${client.sessionId} lost: ${change.reason}`);
    });
    return client;
  }

  private async session(index: number, rng: Rng, shouldStop: () => boolean): Promise<void> {
    let client = await this.newClient();
    let generation = 0;
    let counter = 0;
    /** The last version this worker saw per key: its compare-and-sets aim at it, so some succeed. */
    const seenVersion = new Map<string, number>();
    try {
      while (!shouldStop()) {
        if (client.state === 'lost' || client.state === 'closed') {
          this.stats.sessionsLost++;
          await client.close().catch(() => undefined);
          client = await this.newClient();
          generation++;
        }
        const clientId = `c${index}.${generation}`;
        const value = `${clientId}:${counter++}`;
        const path = rng.pick(this.keys);
        const dice = rng.next();
        if (dice < 0.3) await this.write(client, clientId, path, value);
        else if (dice < 0.55) await this.cas(client, clientId, path, seenVersion.get(path) ?? 0, value);
        else if (dice < 0.85) {
          const version = await this.read(client, clientId, path);
          if (version !== undefined) seenVersion.set(path, version);
        } else await this.createSequential(client, clientId, value);
      }
    } finally {
      await client.close().catch(() => undefined);
    }
  }

  private async write(client: ArborClient, clientId: string, path: string, value: string): Promise<void> {
    const id = this.recorder.invoke(clientId, 'write', { path, value });
    try {
      await client.setData(path, utf8(value));
      this.recorder.ok(id, 'ok');
      this.stats.ok++;
    } catch (error) {
      this.failed(id, error, 'write', path, error instanceof NoNodeError ? 'NONODE' : undefined);
    }
  }

  private async cas(client: ArborClient, clientId: string, path: string, expectedVersion: number, value: string): Promise<void> {
    const id = this.recorder.invoke(clientId, 'cas', { path, expectedVersion, value });
    try {
      await client.setData(path, utf8(value), { version: expectedVersion });
      this.recorder.ok(id, 'ok');
      this.stats.ok++;
    } catch (error) {
      const definite = error instanceof BadVersionError ? 'BADVERSION' : error instanceof NoNodeError ? 'NONODE' : undefined;
      this.failed(id, error, 'cas', path, definite);
    }
  }

  /** A linearizable read; returns the version seen. */
  private async read(client: ArborClient, clientId: string, path: string): Promise<number | undefined> {
    const id = this.recorder.invoke(clientId, 'read', { path });
    try {
      const { data, stat } = await client.getData(path, { linearizable: true });
      this.recorder.ok(id, { exists: true, value: data === null ? null : fromUtf8(data), version: stat.version });
      this.stats.ok++;
      return stat.version;
    } catch (error) {
      if (error instanceof NoNodeError) {
        this.recorder.ok(id, { exists: false });
        return undefined;
      }
      this.failed(id, error, 'read', path, undefined);
      return undefined;
    }
  }

  private async createSequential(client: ArborClient, clientId: string, value: string): Promise<void> {
    const id = this.recorder.invoke(clientId, 'createSequential', { prefix: SEQUENCE_PREFIX, value });
    try {
      const path = await client.create(SEQUENCE_PREFIX, utf8(value), { mode: 'PERSISTENT_SEQUENTIAL' });
      this.recorder.ok(id, { path });
      this.sequentialCreated.set(path, value);
      this.stats.ok++;
    } catch (error) {
      const definite = error instanceof NodeExistsError ? 'NODEEXISTS' : error instanceof NoNodeError ? 'NONODE' : undefined;
      this.failed(id, error, 'createSequential', SEQUENCE_PREFIX, definite);
    }
  }

  /** Records a failure: a definite answer, possibly applied, or a bug. */
  private failed(
    id: OpId,
    error: unknown,
    op: string,
    path: string,
    definiteOutput: 'BADVERSION' | 'NONODE' | 'NODEEXISTS' | undefined,
  ): void {
    if (definiteOutput !== undefined) {
      // BADVERSION etc. are answers, part of the history like any other.
      this.recorder.ok(id as OpId<'cas'>, definiteOutput as 'BADVERSION');
      this.stats.ok++;
      return;
    }
    this.recorder.fail(id, false);
    if (isIndefinite(error)) {
      this.stats.indefinite++;
      return;
    }
    const message = `${op} ${path}: ${(error as Error).name}: ${(error as Error).message}`;
    this.stats.unexpected.push(message);
    this.options.log?.(`unexpected error: ${message}`);
  }
}

/** After the run: reads every key once, linearizably, through a fresh session, into the same history. */
export async function finalReads(connectString: string, keys: number, recorder: HistoryRecorder): Promise<void> {
  const client = await connect(connectString, { sessionTimeoutMs: 10_000, requestTimeoutMs: 10_000, connectTimeoutMs: 30_000 });
  try {
    for (const path of keyPaths(keys)) {
      const id = recorder.invoke('final', 'read', { path });
      const { data, stat } = await client.getData(path, { linearizable: true });
      recorder.ok(id, { exists: true, value: data === null ? null : fromUtf8(data), version: stat.version });
    }
  } finally {
    await client.close();
  }
}

/**
 * Exactly-once: every sequential create's value was unique, so two nodes with one value mean a
 * create applied twice; and every create that was answered must still be there with its value.
 */
export async function checkSequentialCreates(connectString: string, answered: ReadonlyMap<string, string>): Promise<string[]> {
  const problems: string[] = [];
  const client = await connect(connectString, { sessionTimeoutMs: 10_000, requestTimeoutMs: 10_000, connectTimeoutMs: 30_000 });
  try {
    const byValue = new Map<string, string[]>();
    for await (const page of client.childrenPages(SEQUENCE_PARENT, { pageSize: 500 })) {
      for (const name of page) {
        const path = `${SEQUENCE_PARENT}/${name}`;
        const { data } = await client.getData(path);
        const value = data === null ? '' : fromUtf8(data);
        byValue.set(value, [...(byValue.get(value) ?? []), path]);
      }
    }
    for (const [value, paths] of byValue)
      if (paths.length > 1) problems.push(`value ${value} created ${paths.length} times: ${paths.join(', ')}`);
    for (const [path, value] of answered) {
      const found = byValue.get(value);
      if (found === undefined || !found.includes(path)) problems.push(`acknowledged create ${path} (${value}) is missing`);
    }
  } finally {
    await client.close();
  }
  return problems;
}
