// Storage round trip (issue 8): one SqliteStorage in a temporary directory, batches persisted one
// at a time, each waiting for its onDurable before the next — what a member with one request
// outstanding asks of its disk. For each batch size it reports the round trip persist → onDurable,
// the worker's SQLite transaction alone (BatchTimings.transactionMs, BEGIN..COMMIT with the WAL
// fsync), and their difference: the hop between the threads, the encoding and the group-commit
// scheduling — and that hop in parts (BatchStats): queued (waiting for the flush), to the worker,
// in the worker besides the transaction (decoding, bookkeeping), back to the main thread.
//
//   npx tsc -b test/tsconfig.json && node test/dist/bench/storage.js [--quick] [--runs N] [--batches N]
//   (or `node test/dist/bench/run.js storage …`)
//
// Each run opens a fresh directory; the table shows every run and the median of the runs.
import os from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Entry, PersistMark } from '@arbor/raft';
import { createRootLogger } from '@arbor/server';
// The storage is not part of @arbor/server's public surface; the bench reaches into the build.
import { SqliteStorage, type BatchStats } from '../../../server/dist/io/storage/index.js';

const argv = process.argv.slice(2);
const value = (flag: string): string | undefined => {
  const i = argv.indexOf(flag);
  return i < 0 ? undefined : argv[i + 1];
};
const quick = argv.includes('--quick');
const RUNS = Number(value('--runs') ?? 3);
const BATCHES = Number(value('--batches') ?? (quick ? 1_000 : 3_000));
const WARM_UP_BATCHES = quick ? 100 : 300;
const ENTRY_DATA_BYTES = 200;
const BATCH_SIZES = [1, 64] as const;
/** Bounds the wait for one batch; a batch that takes longer means the storage is stuck. */
const BATCH_TIMEOUT_MS = 30_000;

interface Summary {
  entriesPerBatch: number;
  batches: number;
  roundTripMedianMs: number;
  roundTripP99Ms: number;
  transactionMedianMs: number;
  transactionP99Ms: number;
  /** Median over the batches of (round trip − transaction − file work). */
  hopMedianMs: number;
  /** Medians of the hop's parts (BatchStats): waiting for the flush, to the worker, in the worker besides the transaction, back. */
  queuedMedianMs: number;
  toWorkerMedianMs: number;
  workerOtherMedianMs: number;
  fromWorkerMedianMs: number;
  batchesPerSec: number;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
}

function median(values: readonly number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    0.5,
  );
}

function entry(index: number): Entry {
  const data = new Uint8Array(ENTRY_DATA_BYTES);
  for (let i = 0; i < data.length; i++) data[i] = (index * 131 + i) & 0xff;
  return { index, term: 1, type: 'normal', data };
}

async function measure(entriesPerBatch: number): Promise<Summary> {
  const dir = mkdtempSync(join(tmpdir(), 'arbor-bench-storage-'));
  let durable: ((stats: BatchStats) => void) | null = null;
  let lastBatch: BatchStats | null = null;
  const storage = await SqliteStorage.open({
    dir,
    memberId: 1,
    clusterId: 'bench-storage',
    logger: createRootLogger({ level: 'silent' }),
    onBatch: (stats) => {
      lastBatch = stats;
    },
    onDurable: () => {
      const resolve = durable;
      durable = null;
      resolve?.(lastBatch!);
    },
  });
  try {
    let index = 0;
    let seq = 0;
    const roundTrips: number[] = [];
    const transactions: number[] = [];
    const hops: number[] = [];
    const parts = { queued: [] as number[], toWorker: [] as number[], workerOther: [] as number[], fromWorker: [] as number[] };
    const total = WARM_UP_BATCHES + BATCHES;
    const started = performance.now();
    let timedFrom = started;
    for (let batch = 0; batch < total; batch++) {
      if (batch === WARM_UP_BATCHES) timedFrom = performance.now();
      const entries: Entry[] = [];
      for (let i = 0; i < entriesPerBatch; i++) entries.push(entry(++index));
      const mark: PersistMark = { seq: ++seq, lastIndex: index, lastTerm: 1 };
      const done = new Promise<BatchStats>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`batch ${seq} not durable within ${BATCH_TIMEOUT_MS} ms`)), BATCH_TIMEOUT_MS);
        durable = (stats) => {
          clearTimeout(timer);
          resolve(stats);
        };
      });
      const t0 = performance.now();
      // What a follower's Ready usually carries: new entries and the commit index they moved.
      storage.persist({
        hardState: { term: 1, vote: 1, commit: index - entriesPerBatch },
        snapshotChunks: [],
        snapshot: null,
        entries,
        persistMark: mark,
      });
      const stats = await done;
      const roundTripMs = performance.now() - t0;
      if (stats.mark?.seq !== mark.seq) throw new Error(`batch ${seq} reported mark ${stats.mark?.seq}`);
      if (batch < WARM_UP_BATCHES) continue;
      roundTrips.push(roundTripMs);
      transactions.push(stats.transactionMs);
      hops.push(roundTripMs - stats.transactionMs - stats.fileMs);
      parts.queued.push(stats.queuedMs);
      parts.toWorker.push(stats.toWorkerMs);
      parts.workerOther.push(stats.workerMs - stats.transactionMs - stats.fileMs);
      parts.fromWorker.push(stats.fromWorkerMs);
    }
    const elapsedMs = performance.now() - timedFrom;
    const sortedRoundTrips = [...roundTrips].sort((a, b) => a - b);
    const sortedTransactions = [...transactions].sort((a, b) => a - b);
    return {
      entriesPerBatch,
      batches: BATCHES,
      roundTripMedianMs: percentile(sortedRoundTrips, 0.5),
      roundTripP99Ms: percentile(sortedRoundTrips, 0.99),
      transactionMedianMs: percentile(sortedTransactions, 0.5),
      transactionP99Ms: percentile(sortedTransactions, 0.99),
      hopMedianMs: median(hops),
      queuedMedianMs: median(parts.queued),
      toWorkerMedianMs: median(parts.toWorker),
      workerOtherMedianMs: median(parts.workerOther),
      fromWorkerMedianMs: median(parts.fromWorker),
      batchesPerSec: Math.round((BATCHES / elapsedMs) * 1000),
    };
  } finally {
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const ms = (v: number): string => v.toFixed(3).padStart(8);

function row(label: string, s: Summary): string {
  return [
    label.padEnd(8),
    String(s.entriesPerBatch).padStart(7),
    ms(s.roundTripMedianMs),
    ms(s.roundTripP99Ms),
    ms(s.transactionMedianMs),
    ms(s.transactionP99Ms),
    ms(s.hopMedianMs),
    ms(s.queuedMedianMs),
    ms(s.toWorkerMedianMs),
    ms(s.workerOtherMedianMs),
    ms(s.fromWorkerMedianMs),
    String(s.batchesPerSec).padStart(9),
  ].join('  ');
}

const results: Record<number, Summary[]> = {};
for (let run = 1; run <= RUNS; run++) {
  for (const size of BATCH_SIZES) (results[size] ??= []).push(await measure(size));
}

console.log(`storage round trip: ${BATCHES} sequential batches of ${ENTRY_DATA_BYTES}-byte entries, ${RUNS} runs (ms)`);
console.log(
  [
    'run'.padEnd(8),
    'entries',
    '  rt p50',
    '  rt p99',
    ' txn p50',
    ' txn p99',
    ' hop p50',
    ' queued',
    'toWorker',
    'wrkOther',
    'fromWrkr',
    'batches/s',
  ].join('  '),
);
const medians: Summary[] = [];
for (const size of BATCH_SIZES) {
  const runs = results[size]!;
  runs.forEach((s, i) => console.log(row(`#${i + 1}`, s)));
  const m: Summary = {
    entriesPerBatch: size,
    batches: BATCHES,
    roundTripMedianMs: median(runs.map((s) => s.roundTripMedianMs)),
    roundTripP99Ms: median(runs.map((s) => s.roundTripP99Ms)),
    transactionMedianMs: median(runs.map((s) => s.transactionMedianMs)),
    transactionP99Ms: median(runs.map((s) => s.transactionP99Ms)),
    hopMedianMs: median(runs.map((s) => s.hopMedianMs)),
    queuedMedianMs: median(runs.map((s) => s.queuedMedianMs)),
    toWorkerMedianMs: median(runs.map((s) => s.toWorkerMedianMs)),
    workerOtherMedianMs: median(runs.map((s) => s.workerOtherMedianMs)),
    fromWorkerMedianMs: median(runs.map((s) => s.fromWorkerMedianMs)),
    batchesPerSec: median(runs.map((s) => s.batchesPerSec)),
  };
  medians.push(m);
  console.log(row('median', m));
}
console.log(
  JSON.stringify({
    bench: 'storage',
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version, platform: `${os.platform()} ${os.release()}` },
    command: `node ${process.argv.slice(1).join(' ')}`,
    medians,
    runs: results,
  }),
);
