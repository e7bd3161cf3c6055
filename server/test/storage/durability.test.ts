import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SeededRandom } from '@arbor/raft';
import type { SqliteStorage } from '../../src/io/storage/index.js';
import { entryPayload, snapshotChunks } from './fixtures/kill-workload.mjs';
import { TIMING, cleanUpTempDirs, closeAllStorages, ensureWorkerBuilt, openStorage, tempDir, testEntries } from './helpers.js';

beforeAll(ensureWorkerBuilt);
afterEach(async () => {
  await closeAllStorages();
  cleanUpTempDirs();
});

const conf = { voters: [1, 2, 3], learners: [] };

async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return Buffer.concat(parts);
}

describe('reopening a data directory', () => {
  it('recovers the log, hard state, compaction boundary and latest snapshot', async () => {
    const dir = tempDir();
    const first = await openStorage(dir);
    first.log.append(testEntries(1, 50, 1));
    first.log.append(testEntries(40, 60, 2)); // overwrites 40..50
    first.stable.saveHardState({ term: 2, vote: 3, commit: 45 });
    expect(await first.saveSnapshot({ index: 30, term: 1, confState: conf }, [new Uint8Array([1, 2, 3])])).toBe(true);
    first.log.compact(25);
    await first.close();

    const reopened = await openStorage(dir);
    expect([reopened.log.firstIndex(), reopened.log.lastIndex(), reopened.log.term(25)]).toEqual([26, 60, 1]);
    expect(reopened.log.entries(26, 61, Number.MAX_SAFE_INTEGER)).toEqual([...testEntries(26, 39, 1), ...testEntries(40, 60, 2)]);
    expect(reopened.stable.loadHardState()).toEqual({ term: 2, vote: 3, commit: 45 });
    expect(reopened.snapshots.latest()).toEqual({ index: 30, term: 1, confState: conf });
    expect(await collect(reopened.readSnapshot(30))).toEqual(Buffer.from([1, 2, 3]));
  });

  it('recovers a log reset by a snapshot install', async () => {
    const dir = tempDir();
    const first = await openStorage(dir);
    first.log.append(testEntries(1, 10, 1));
    const meta = { index: 100, term: 5, confState: conf };
    first.persist({
      snapshotChunks: [{ snapshot: meta, offset: 0, data: new Uint8Array([9, 8, 7]), done: true }],
      snapshot: meta,
      entries: testEntries(101, 103, 5),
      hardState: { term: 5, vote: null, commit: 100 },
      persistMark: { seq: 1, lastIndex: 103, lastTerm: 5 },
    });
    await first.close();

    const reopened = await openStorage(dir);
    expect([reopened.log.firstIndex(), reopened.log.lastIndex(), reopened.log.term(100)]).toEqual([101, 103, 5]);
    expect(reopened.log.entries(101, 104, Number.MAX_SAFE_INTEGER)).toEqual(testEntries(101, 103, 5));
    expect(reopened.stable.loadHardState()).toEqual({ term: 5, vote: null, commit: 100 });
    expect(reopened.snapshots.latest()).toEqual(meta);
    expect(await collect(reopened.readSnapshot(100))).toEqual(Buffer.from([9, 8, 7]));
  });
});

interface ChildRun {
  reportedDurable: number;
  stderr: string;
}

/** Runs the child until it has reported `killAfterReports` durable marks, then SIGKILLs it. */
function runAndKill(dir: string, term: number, killAfterReports: number): Promise<ChildRun> {
  const script = fileURLToPath(new URL('./fixtures/kill-child.mjs', import.meta.url));
  const child = spawn(process.execPath, [script, dir, String(term)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let reportedDurable = 0;
  let reports = 0;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`child (term ${term}) made no progress for ${TIMING.childEventMs} ms; ${reports} reports; stderr: ${stderr}`));
    }, TIMING.childEventMs);
    createInterface({ input: child.stdout }).on('line', (line) => {
      const [word, value] = line.split(' ');
      if (word !== 'durable') return;
      reportedDurable = Math.max(reportedDurable, Number(value));
      if (++reports === killAfterReports) child.kill('SIGKILL');
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal === 'SIGKILL') resolve({ reportedDurable, stderr });
      else reject(new Error(`child (term ${term}) exited with ${code ?? signal} before the kill; stderr: ${stderr}`));
    });
  });
}

/** Everything the recovered storage holds must be what the workload wrote. */
async function checkRecovered(storage: SqliteStorage, reportedDurable: number, term: number): Promise<boolean> {
  const first = storage.log.firstIndex();
  const last = storage.log.lastIndex();
  expect(last).toBeGreaterThanOrEqual(reportedDurable);
  // open() already verified every checksum and that the log is contiguous; here: the content.
  const wrong: number[] = [];
  for (const entry of storage.log.entries(first, last + 1, Number.MAX_SAFE_INTEGER)) {
    if (entry.term > term || !Buffer.from(entryPayload(entry.index, entry.term)).equals(entry.data)) wrong.push(entry.index);
  }
  expect(wrong, 'entries whose term or payload is not what was written').toEqual([]);
  const hardState = storage.stable.loadHardState();
  expect(hardState.commit).toBeLessThanOrEqual(last);
  const snapshot = storage.latestSnapshot();
  if (snapshot !== null) {
    expect(first - 1).toBeLessThanOrEqual(snapshot.meta.index);
    expect(await collect(storage.readSnapshot(snapshot.meta.index))).toEqual(Buffer.concat([...snapshotChunks(snapshot.meta.index)]));
  }
  return snapshot !== null;
}

describe('kill -9', () => {
  it('loses nothing that was reported durable', { timeout: 60_000 }, async () => {
    const seed = Number(process.env.ARBOR_KILL_SEED ?? Date.now() % 1_000_000);
    // Seeded, so a failing run can be replayed from its seed.
    const random = new SeededRandom(seed);
    const dir = tempDir();
    let highestEver = 0;
    let runsWithSnapshot = 0;
    for (let term = 1; term <= 5; term++) {
      const killAfterReports = 1 + random.nextInt(80);
      const run = await runAndKill(dir, term, killAfterReports);
      const context = `seed ${seed}, term ${term}, killed after ${killAfterReports} reports (${run.reportedDurable})`;
      highestEver = Math.max(highestEver, run.reportedDurable);
      const storage = await openStorage(dir, { memberId: 7, clusterId: 'kill-test' }).catch((error: Error) => {
        throw new Error(`${context}: reopening failed: ${error.message}`);
      });
      try {
        if (await checkRecovered(storage, highestEver, term)) runsWithSnapshot++;
      } catch (error) {
        throw new Error(`${context}: ${(error as Error).message}`);
      } finally {
        await storage.close();
      }
    }
    expect(highestEver).toBeGreaterThan(0);
    // The workload reached its snapshot-and-compact phase, so kills also landed around those.
    expect(runsWithSnapshot).toBeGreaterThan(0);
  });
});
