// Arbor as a benchmark system: a real 3-member ensemble of `arbor server` processes on loopback
// (@arbor/testing's Ensemble), and the SDK as the client.
import { readFileSync } from 'node:fs';
import { connect, type ArborClient } from '@arbor/client';
import { Ensemble, waitFor } from '@arbor/testing';
import type { BenchSession, BenchSystem } from './system.js';

const MODES = { persistent: 'PERSISTENT', ephemeral: 'EPHEMERAL', ephemeralSequential: 'EPHEMERAL_SEQUENTIAL' } as const;

function arborSession(client: ArborClient): BenchSession {
  return {
    create: (path, data, mode = 'persistent') => client.create(path, data, { mode: MODES[mode] }),
    setData: async (path, data) => {
      await client.setData(path, data);
    },
    getData: async (path) => (await client.getData(path)).data ?? new Uint8Array(0),
    delete: (path) => client.delete(path),
    getChildren: async (path) => (await client.getChildren(path)).children,
    sync: (path) => client.sync(path),
    existsWatch: async (path) => {
      const { stat, changed } = await client.exists(path, { watch: true });
      return { exists: stat !== null, changed: changed.then(() => undefined) };
    },
    close: () => client.close(),
  };
}

/** VmRSS of a process, from /proc (Linux). */
export function rssBytes(pid: number | undefined): number {
  if (pid === undefined) return 0;
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match === null ? 0 : Number(match[1]) * 1024;
}

export async function startArbor(options: { snapshotEveryEntries?: number } = {}): Promise<BenchSystem> {
  const ensemble = await Ensemble.start({
    members: 3,
    logLevel: 'warn',
    ...(options.snapshotEveryEntries !== undefined ? { snapshotEveryEntries: options.snapshotEveryEntries } : {}),
  });
  const members = ensemble.slots.map((s) => `127.0.0.1:${s.clientPort}`);
  const sessionOptions = { sessionTimeoutMs: 10_000 };
  const indexOf = (id: number): number => ensemble.slots.findIndex((s) => s.id === id);
  const idOf = (member: number): number => {
    const slot = ensemble.slots[member];
    if (slot === undefined) throw new Error(`no member ${member}`);
    return slot.id;
  };
  return {
    name: 'arbor',
    members,
    session: async (member) => arborSession(await connect(members[member] as string, sessionOptions)),
    sessionOnAll: async () => arborSession(await connect(members.join(','), sessionOptions)),
    leader: async () => indexOf(await ensemble.waitForLeader()),
    kill: (member) => ensemble.kill(idOf(member)),
    restart: async (member) => {
      const id = idOf(member);
      await ensemble.restart(id);
      const leader = await ensemble.waitForLeader();
      const target = (await ensemble.status(leader)).appliedIndex;
      await waitFor(
        `member ${id} to catch up`,
        async () => ((await ensemble.status(id)).appliedIndex >= target ? true : undefined),
        120_000,
      );
    },
    memberRssBytes: async () => ensemble.slots.map((s) => rssBytes(s.process?.pid)),
    lastSnapshots: () => Promise.all(ensemble.slots.map(async (s) => (await ensemble.status(s.id)).lastSnapshot)),
    stop: () => ensemble.stop(),
  };
}
