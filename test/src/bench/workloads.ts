// The workloads of issue 8, on a 3-member ensemble on loopback, and with `--compare zookeeper`
// the same workloads, with the same concurrency, the same seeded key choices and the same lock
// recipe, against a 3-member Apache ZooKeeper ensemble — one system at a time, so that they
// never share the 2 cores.
//
//   npm run bench -- workloads [--compare zookeeper] [--quick] [--ops N] [--znodes N] [--out FILE]
//                              [--only create,mixed,read,lock,watch,large,failover] [--warm-up ROUNDS]
//
// Workloads: create 100% (100-byte values); mixed create 10 / setData 40 / getData 40 /
// delete 10; read-heavy (getData 45 / getChildren 45 / setData 10) — each at 1, 64 and 512
// outstanding requests from 8 sessions spread over the members; lock acquire/release with 8
// contenders; watch notification latency; a large tree (memory per member, snapshot, restart);
// failover (kill -9 of the leader to the first successful write). Every phase is bounded by a
// fixed number of operations, after the same untimed warm-up for both systems (warmUp). Prints a
// table and one JSON document with the machine and the command.
import os from 'node:os';
import { writeFileSync } from 'node:fs';
import { startArbor } from './workload/arbor-system.js';
import type { BenchSession, BenchSystem } from './workload/system.js';
import { lockCycles } from './workload/lock.js';
import { percentiles, runCell, type Cell } from './workload/stats.js';
import { Rng } from '../faults/random.js';

interface Options {
  compare: boolean;
  ops: number;
  znodes: number;
  lockCycles: number;
  watchRounds: number;
  /** Rounds of the untimed warm-up (five requests each), at 1 and at 64 outstanding. */
  warmUpRounds: number;
  out: string | undefined;
  only: readonly (typeof WORKLOADS)[number][];
}

function parseOnly(list: string | undefined): (typeof WORKLOADS)[number][] {
  if (list === undefined) return [...WORKLOADS];
  const names = list.split(',');
  for (const name of names)
    if (!(WORKLOADS as readonly string[]).includes(name)) throw new Error(`--only: unknown workload '${name}' (${WORKLOADS.join(', ')})`);
  return names as (typeof WORKLOADS)[number][];
}

function parseOptions(argv: readonly string[]): Options {
  const value = (flag: string): string | undefined => {
    const i = argv.indexOf(flag);
    return i < 0 ? undefined : argv[i + 1];
  };
  const quick = argv.includes('--quick');
  const compareWith = value('--compare');
  if (compareWith !== undefined && compareWith !== 'zookeeper')
    throw new Error(`--compare: only 'zookeeper' is supported, not '${compareWith}'`);
  return {
    compare: compareWith === 'zookeeper',
    ops: Number(value('--ops') ?? (quick ? 1_000 : 6_000)),
    znodes: Number(value('--znodes') ?? (quick ? 100_000 : 1_000_000)),
    lockCycles: quick ? 300 : 2_000,
    watchRounds: quick ? 200 : 1_000,
    warmUpRounds: Number(value('--warm-up') ?? (quick ? 500 : 2_000)),
    out: value('--out'),
    only: parseOnly(value('--only')),
  };
}

const SESSIONS = 8;
const OUTSTANDING = [1, 64, 512] as const;
const PAYLOAD = new Uint8Array(100).fill(7);

/** One line of the report: a cell and what it ran. */
export interface Row extends Cell {
  system: string;
  workload: string;
  outstanding: number | string;
}

/** Creates `paths` (not timed), 256 at a time. */
async function populate(session: BenchSession, paths: readonly string[], data: Uint8Array): Promise<void> {
  for (let i = 0; i < paths.length; i += 256) await Promise.all(paths.slice(i, i + 256).map((p) => session.create(p, data)));
}

const KEYS = 1_000;
const DIRS = 10;

/** One cell per outstanding level, each in a fresh directory under /b prepared by `prepare`. */
async function perLevel(
  name: string,
  sessions: BenchSession[],
  prepare: (base: string) => Promise<void>,
  cell: (base: string, outstanding: number) => Promise<Cell>,
): Promise<{ workload: string; outstanding: number; cell: Cell }[]> {
  const setup = sessions[0] as BenchSession;
  const out = [];
  for (const outstanding of OUTSTANDING) {
    const base = `/b/${name}-${outstanding}`;
    await setup.create(base, new Uint8Array(0));
    await prepare(base);
    // The setup went through one session; reads through the others' members must see all of it
    // (reads are served by the session's own member, which may not have applied it yet).
    await Promise.all(sessions.map((s) => s.sync(base)));
    out.push({ workload: name, outstanding, cell: await cell(base, outstanding) });
  }
  return out;
}

/** The three throughput workloads, by the name `--only` takes. */
const THROUGHPUT: Record<string, { title: string; run: (sessions: BenchSession[], ops: number) => ReturnType<typeof perLevel> }> = {
  create: {
    title: 'create',
    run: (sessions, ops) =>
      perLevel(
        'create',
        sessions,
        async () => {},
        (base, outstanding) => runCell(sessions, outstanding, ops, (s, i) => s.create(`${base}/n${i}`, PAYLOAD)),
      ),
  },
  mixed: {
    title: 'mixed c10/s40/g40/d10',
    run: (sessions, ops) =>
      perLevel(
        'mixed',
        sessions,
        (base) =>
          populate(
            sessions[0] as BenchSession,
            Array.from({ length: KEYS }, (_, k) => `${base}/k${k}`),
            PAYLOAD,
          ),
        (base, outstanding) => {
          const rng = new Rng(outstanding);
          const choices = Array.from({ length: ops }, () => [rng.next(), rng.next()] as const);
          // Deletes take nodes this cell created (and whose create was answered), so none fails for want of a node.
          const created: string[] = [];
          return runCell(sessions, outstanding, ops, async (s, i) => {
            const [kind, key] = choices[i] as readonly [number, number];
            const path = `${base}/k${Math.floor(key * KEYS)}`;
            if (kind < 0.4) return s.setData(path, PAYLOAD);
            if (kind < 0.8) return s.getData(path);
            const victim = kind >= 0.9 ? created.pop() : undefined;
            if (victim !== undefined) return s.delete(victim);
            created.push(await s.create(`${base}/new-${i}`, PAYLOAD));
            return undefined;
          });
        },
      ),
  },
  read: {
    title: 'read-heavy g45/ls45/s10',
    run: (sessions, ops) =>
      perLevel(
        'read',
        sessions,
        async (base) => {
          const setup = sessions[0] as BenchSession;
          await populate(
            setup,
            Array.from({ length: DIRS }, (_, d) => `${base}/d${d}`),
            new Uint8Array(0),
          );
          await populate(
            setup,
            Array.from({ length: KEYS }, (_, k) => `${base}/d${k % DIRS}/k${k}`),
            PAYLOAD,
          );
        },
        (base, outstanding) => {
          const rng = new Rng(1_000 + outstanding);
          const choices = Array.from({ length: ops }, () => [rng.next(), rng.next()] as const);
          return runCell(sessions, outstanding, ops, (s, i) => {
            const [kind, key] = choices[i] as readonly [number, number];
            const k = Math.floor(key * KEYS);
            if (kind < 0.45) return s.getData(`${base}/d${k % DIRS}/k${k}`);
            if (kind < 0.9) return s.getChildren(`${base}/d${k % DIRS}`);
            return s.setData(`${base}/d${k % DIRS}/k${k}`, PAYLOAD);
          });
        },
      ),
  },
};

/**
 * Untimed, and the same for both systems: every kind of request, sequential and pipelined, until
 * the members' JIT compilers (V8's, HotSpot's) have compiled their hot paths, as in an ensemble
 * that has been up for a while. Without it the first cell measures the compiler: an Arbor
 * member's single-request latency falls from about 3.5 ms to about 1 ms over its first 2,000
 * writes (docs/benchmarks.md).
 */
async function warmUp(sessions: BenchSession[], rounds: number): Promise<void> {
  await (sessions[0] as BenchSession).create('/warm', new Uint8Array(0));
  for (const outstanding of [1, 64]) {
    await runCell(sessions, outstanding, rounds, async (s, i) => {
      const path = `/warm/o${outstanding}-${i}`;
      await s.create(path, PAYLOAD);
      await s.setData(path, PAYLOAD);
      await s.getData(path);
      await s.getChildren('/warm');
      await s.delete(path);
    });
  }
}

/** From a setData on one member to the watch notification on a session of another. */
async function watchLatency(system: BenchSystem, rounds: number): Promise<Cell> {
  const watcher = await system.session(0);
  const writer = await system.session(1);
  try {
    await writer.create('/watched', PAYLOAD);
    const latencies: number[] = [];
    const started = performance.now();
    for (let i = 0; i < rounds; i++) {
      const { changed } = await watcher.existsWatch('/watched');
      const t0 = performance.now();
      await writer.setData('/watched', PAYLOAD);
      await changed;
      latencies.push(performance.now() - t0);
    }
    const seconds = (performance.now() - started) / 1000;
    return { ops: rounds, opsPerSec: Math.round(rounds / seconds), ...percentiles(latencies), errors: 0 };
  } finally {
    await watcher.close();
    await writer.close();
  }
}

interface LargeTree {
  znodes: number;
  createPerSec: number;
  rssMiB: number[];
  snapshot: { znodes: number; bytes: number; serializeMs: number; saveMs: number } | null;
  restartMs: number | null;
}

/** N znodes in 1,000 directories, created at 512 outstanding; then memory, snapshot and the restart of a follower. */
async function largeTree(system: BenchSystem, sessions: BenchSession[], znodes: number): Promise<LargeTree> {
  const setup = sessions[0] as BenchSession;
  const DIRS = 1_000;
  await setup.create('/big', new Uint8Array(0));
  await populate(
    setup,
    Array.from({ length: DIRS }, (_, d) => `/big/d${d}`),
    new Uint8Array(0),
  );
  const cell = await runCell(sessions, 512, znodes, (s, i) => s.create(`/big/d${i % DIRS}/n${i}`, PAYLOAD));
  console.error(`${system.name} large tree: ${znodes} znodes at ${cell.opsPerSec}/s, ${cell.errors} errors`);
  const rssMiB = (await system.memberRssBytes()).map((b) => Math.round(b / 2 ** 20));
  let snapshot: LargeTree['snapshot'] = null;
  if (system.lastSnapshots !== undefined) {
    // The biggest snapshot any member took while the tree grew (intervals grow with the tree,
    // so the last one holds at least half of it).
    for (const last of await system.lastSnapshots()) {
      if (last !== null && (snapshot === null || last.znodes > snapshot.znodes))
        snapshot = { znodes: last.znodes, bytes: last.bytes, serializeMs: last.serializeMs, saveMs: last.saveMs };
    }
  }
  let restartMs: number | null = null;
  if (system.restart !== undefined) {
    const leader = await system.leader();
    const follower = [0, 1, 2].find((m) => m !== leader) as number;
    await system.kill(follower);
    const t0 = performance.now();
    await system.restart(follower);
    restartMs = Math.round(performance.now() - t0);
  }
  return { znodes, createPerSec: cell.opsPerSec, rssMiB, snapshot, restartMs };
}

/** Milliseconds from kill -9 of the leader to the first successful write of a session that may use any member. */
async function failover(system: BenchSystem): Promise<number> {
  const writer = await system.sessionOnAll();
  try {
    await writer.create('/failover', PAYLOAD);
    const leader = await system.leader();
    const killedAt = performance.now();
    await system.kill(leader);
    const deadline = killedAt + 60_000;
    while (performance.now() < deadline) {
      try {
        await writer.setData('/failover', PAYLOAD);
        return Math.round(performance.now() - killedAt);
      } catch {
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    throw new Error('no write succeeded within 60 s of the kill');
  } finally {
    await writer.close().catch(() => undefined);
  }
}

interface SystemReport {
  rows: Row[];
  largeTree?: LargeTree;
  failoverMs?: number;
}

const WORKLOADS = ['create', 'mixed', 'read', 'lock', 'watch', 'large', 'failover'] as const;

async function benchmark(system: BenchSystem, options: Options): Promise<SystemReport> {
  const report: SystemReport = { rows: [] };
  const add = (workload: string, outstanding: number | string, cell: Cell): void => {
    report.rows.push({ system: system.name, workload, outstanding, ...cell });
    console.error(`${system.name} ${workload} @${outstanding}: ${cell.opsPerSec}/s p99 ${cell.p99Ms} ms, ${cell.errors} errors`);
  };
  const wanted = (name: (typeof WORKLOADS)[number]): boolean => options.only.includes(name);
  try {
    const sessions = await Promise.all(Array.from({ length: SESSIONS }, (_, k) => system.session(k % system.members.length)));
    await warmUp(sessions, options.warmUpRounds);
    await (sessions[0] as BenchSession).create('/b', new Uint8Array(0));
    for (const [name, workload] of Object.entries(THROUGHPUT)) {
      if (!options.only.includes(name as (typeof WORKLOADS)[number])) continue;
      for (const { outstanding, cell } of await workload.run(sessions, options.ops)) add(workload.title, outstanding, cell);
    }
    if (wanted('lock')) add('lock acquire+release', '8 contenders', await lockCycles(sessions, '/lock', options.lockCycles));
    if (wanted('watch')) add('watch notification', 1, await watchLatency(system, options.watchRounds));
    if (wanted('large')) report.largeTree = await largeTree(system, sessions, options.znodes);
    await Promise.all(sessions.map((s) => s.close().catch(() => undefined)));
    if (wanted('failover')) report.failoverMs = await failover(system);
    return report;
  } finally {
    await system.stop();
  }
}

/** Arbor / ZooKeeper for each row both have: throughput (above 1 is better) and p99 (below 1 is better). */
function ratios(arbor: Row[], zookeeper: Row[]): { workload: string; outstanding: number | string; throughput: number; p99: number }[] {
  return arbor.flatMap((a) => {
    const z = zookeeper.find((r) => r.workload === a.workload && r.outstanding === a.outstanding);
    if (z === undefined || z.opsPerSec === 0 || z.p99Ms === 0) return [];
    return [
      {
        workload: a.workload,
        outstanding: a.outstanding,
        throughput: +(a.opsPerSec / z.opsPerSec).toFixed(2),
        p99: +(a.p99Ms / z.p99Ms).toFixed(2),
      },
    ];
  });
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const machine = {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
  };
  const command = `node ${process.argv.slice(1).join(' ')}`;
  const reports: Record<string, SystemReport> = {};
  reports['arbor'] = await benchmark(await startArbor(), options);
  if (options.compare) {
    // Loaded only when asked for: it needs the Debian package and says how to install it.
    const { startZooKeeper } = await import('./workload/zookeeper-system.js');
    reports['zookeeper'] = await benchmark(await startZooKeeper(), options);
  }
  const rows = Object.values(reports).flatMap((r) => r.rows);
  console.table(
    rows.map(({ system, workload, outstanding, opsPerSec, p50Ms, p99Ms, p999Ms, errors }) => ({
      system,
      workload,
      outstanding,
      opsPerSec,
      p50Ms,
      p99Ms,
      p999Ms,
      errors,
    })),
  );
  for (const [name, r] of Object.entries(reports)) {
    if (r.largeTree !== undefined) console.log(`${name}: large tree ${JSON.stringify(r.largeTree)}`);
    if (r.failoverMs !== undefined)
      console.log(`${name}: failover ${r.failoverMs} ms from kill -9 of the leader to the first successful write`);
  }
  const compared = reports['zookeeper'] !== undefined ? ratios(reports['arbor'].rows, reports['zookeeper'].rows) : undefined;
  if (compared !== undefined) {
    console.log('Arbor / ZooKeeper (throughput: above 1 is better; p99: below 1 is better)');
    console.table(compared);
  }
  const document = { bench: 'workloads', machine, command, options, reports, ...(compared !== undefined ? { ratios: compared } : {}) };
  if (options.out !== undefined) writeFileSync(options.out, JSON.stringify(document, null, 2) + '\n');
  console.log(JSON.stringify(document));
}

await main();
