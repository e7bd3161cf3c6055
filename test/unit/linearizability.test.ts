import { describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  HistoryFormatError,
  HistoryRecorder,
  checkHistory,
  checkHistoryFile,
  describeEntry,
  formatCheckResult,
  makeHistory,
  parseHistory,
  sequenceCounter,
  sequenceParent,
} from '../src/linearizability/index.js';
import type { CheckResult, HistoryEntry, OpInput, OpKind, OpOutput } from '../src/linearizability/index.js';
import { EXIT, runCheckCli } from '../src/linearizability/cli.js';

let nextId = 0;
/** One entry; returnMs undefined means possibly applied (timed out / connection lost). */
function op<K extends OpKind>(
  clientId: number,
  kind: K,
  input: OpInput[K],
  callMs: number,
  returnMs: number | undefined,
  output?: OpOutput[K],
): HistoryEntry {
  const base = { id: nextId++, clientId, op: kind, input, callMs };
  if (returnMs === undefined) return { ...base, outcome: 'unknown' } as HistoryEntry;
  return { ...base, returnMs, outcome: 'ok', output } as HistoryEntry;
}
const write = (c: number, path: string, value: string, call: number, ret: number | undefined, out: OpOutput['write'] = 'ok') =>
  op(c, 'write', { path, value }, call, ret, ret === undefined ? undefined : out);
const read = (c: number, path: string, seen: string | null | undefined, call: number, ret: number, version?: number) =>
  op(
    c,
    'read',
    { path },
    call,
    ret,
    seen === undefined ? { exists: false } : version === undefined ? { exists: true, value: seen } : { exists: true, value: seen, version },
  );
const create = (c: number, path: string, value: string, call: number, ret: number | undefined, out: OpOutput['create'] = 'ok') =>
  op(c, 'create', { path, value }, call, ret, ret === undefined ? undefined : out);
const cas = (
  c: number,
  path: string,
  expectedVersion: number,
  value: string,
  call: number,
  ret: number | undefined,
  out?: OpOutput['cas'],
) => op(c, 'cas', { path, expectedVersion, value }, call, ret, out);
const seq = (c: number, prefix: string, call: number, ret: number | undefined, name?: string) =>
  op(c, 'createSequential', { prefix, value: 'x' }, call, ret, name === undefined ? undefined : { path: name });
const del = (c: number, path: string, call: number, ret: number | undefined, out?: OpOutput['delete'], expectedVersion = -1) =>
  op(c, 'delete', { path, expectedVersion }, call, ret, out);

const verdictOf = (entries: HistoryEntry[]): CheckResult['verdict'] => checkHistory(entries).verdict;

describe('linearizability checker: histories that are linearizable', () => {
  it('accepts a sequential history', () => {
    expect(
      verdictOf([
        create(1, '/a', 'v0', 0, 1),
        write(1, '/a', 'v1', 2, 3),
        read(1, '/a', 'v1', 4, 5, 1),
        del(1, '/a', 6, 7, 'ok'),
        read(1, '/a', undefined, 8, 9),
      ]),
    ).toBe('ok');
  });

  it('accepts a read concurrent with a write seeing either the old or the new value', () => {
    const before = [create(1, '/a', 'old', 0, 1)];
    expect(verdictOf([...before, write(1, '/a', 'new', 2, 10), read(2, '/a', 'old', 3, 4)])).toBe('ok');
    expect(verdictOf([...before, write(1, '/a', 'new', 2, 10), read(2, '/a', 'new', 3, 4)])).toBe('ok');
  });

  it('accepts overlapping writes and reads that need a non-obvious order', () => {
    // w1 and w2 overlap; a reader sees w2 then w1, so w2 must linearize first, though it was called later.
    const h = [
      create(0, '/a', '0', 0, 1),
      write(1, '/a', 'w1', 2, 20),
      write(2, '/a', 'w2', 3, 20),
      read(3, '/a', 'w2', 4, 5),
      read(3, '/a', 'w1', 6, 7),
    ];
    expect(verdictOf(h)).toBe('ok');
  });

  it('treats equal return and call timestamps as concurrent', () => {
    expect(verdictOf([create(1, '/a', 'x', 0, 5), read(2, '/a', undefined, 5, 6)])).toBe('ok');
  });

  it('accepts one CAS winner from a version and a BADVERSION for the other', () => {
    const h = [
      create(0, '/a', 'v0', 0, 1),
      cas(1, '/a', 0, 'p', 2, 6, 'ok'),
      cas(2, '/a', 0, 'q', 3, 7, 'BADVERSION'),
      read(3, '/a', 'p', 8, 9, 1),
    ];
    expect(verdictOf(h)).toBe('ok');
  });

  it('accepts a possibly-applied write that a later read observes', () => {
    const h = [create(0, '/a', 'v0', 0, 1), write(1, '/a', 'maybe', 2, undefined), read(2, '/a', 'maybe', 10, 11, 1)];
    expect(verdictOf(h)).toBe('ok');
  });

  it('accepts a possibly-applied write that is never observed', () => {
    const h = [
      create(0, '/a', 'v0', 0, 1),
      write(1, '/a', 'maybe', 2, undefined),
      read(2, '/a', 'v0', 10, 11, 0),
      read(2, '/a', 'v0', 12, 13, 0),
    ];
    expect(verdictOf(h)).toBe('ok');
  });

  it('accepts a possibly-applied write taking effect long after its call', () => {
    const h = [
      create(0, '/a', 'v0', 0, 1),
      write(1, '/a', 'late', 2, undefined),
      read(2, '/a', 'v0', 50, 51),
      read(2, '/a', 'late', 100, 101),
    ];
    expect(verdictOf(h)).toBe('ok');
  });

  it('ignores definite failures and unanswered reads', () => {
    const failed: HistoryEntry = {
      id: nextId++,
      clientId: 1,
      op: 'write',
      input: { path: '/a', value: 'never' },
      callMs: 2,
      returnMs: 3,
      outcome: 'failed',
    };
    const lostRead: HistoryEntry = { id: nextId++, clientId: 2, op: 'read', input: { path: '/a' }, callMs: 2, outcome: 'unknown' };
    const result = checkHistory([create(0, '/a', 'v0', 0, 1), failed, lostRead, read(2, '/a', 'v0', 4, 5, 0)]);
    expect(result.verdict).toBe('ok');
    expect(result.opCount).toBe(2);
  });

  it('accepts create/delete outcomes that fit the node state', () => {
    const h = [
      create(1, '/a', 'x', 0, 1),
      create(2, '/a', 'y', 2, 3, 'NODEEXISTS'),
      del(1, '/a', 4, 5, 'BADVERSION', 7),
      del(1, '/a', 6, 7, 'NOTEMPTY', 0),
      del(1, '/a', 8, 9, 'ok', 0),
      del(2, '/a', 10, 11, 'NONODE'),
      write(2, '/a', 'z', 12, 13, 'NONODE'),
      cas(2, '/a', 0, 'z', 14, 15, 'NONODE'),
      create(3, '/a', 'again', 16, 17),
      read(3, '/a', 'again', 18, 19, 0),
    ];
    expect(verdictOf(h)).toBe('ok');
  });

  it('accepts sequential names that increase with gaps, and concurrent ones in either order', () => {
    const h = [
      seq(1, '/q/n-', 0, 1, '/q/n-0000000000'),
      seq(1, '/q/n-', 2, 3, '/q/n-0000000004'),
      seq(2, '/q/n-', 4, 10, '/q/n-0000000007'),
      seq(3, '/q/m-', 5, 10, '/q/m-0000000006'),
    ];
    expect(verdictOf(h)).toBe('ok');
  });

  it('starts from the initial znodes of the history', () => {
    const h = makeHistory([read(1, '/pre', 'seed', 0, 1, 4), cas(1, '/pre', 4, 'next', 2, 3, 'ok')], {
      '/pre': { value: 'seed', version: 4 },
    });
    expect(checkHistory(h).verdict).toBe('ok');
  });

  it('offers a possibly-applied sequential create to the paths it may have created', () => {
    const h = [seq(1, '/q/n-', 0, undefined), read(2, '/q/n-0000000003', 'x', 5, 6, 0)];
    expect(verdictOf(h)).toBe('ok');
  });
});

describe('linearizability checker: histories that are not', () => {
  it('rejects a stale read', () => {
    const h = [create(0, '/a', 'v0', 0, 1), write(1, '/a', 'v1', 2, 3), write(1, '/a', 'v2', 4, 5), read(2, '/a', 'v1', 6, 7)];
    expect(verdictOf(h)).toBe('violation');
  });

  it('rejects a lost write', () => {
    const h = [create(0, '/a', 'v0', 0, 1), write(1, '/a', 'v1', 2, 3), read(2, '/a', 'v0', 4, 5)];
    expect(verdictOf(h)).toBe('violation');
  });

  it('rejects a lost create', () => {
    expect(verdictOf([create(1, '/a', 'x', 0, 1), read(2, '/a', undefined, 2, 3)])).toBe('violation');
  });

  it('rejects two CAS from the same version both succeeding', () => {
    const h = [create(0, '/a', 'v0', 0, 1), cas(1, '/a', 0, 'p', 2, 6, 'ok'), cas(2, '/a', 0, 'q', 3, 7, 'ok')];
    expect(verdictOf(h)).toBe('violation');
  });

  it('rejects a reused sequential number', () => {
    const h = [seq(1, '/q/n-', 0, 5, '/q/n-0000000002'), seq(2, '/q/m-', 1, 6, '/q/m-0000000002')];
    const result = checkHistory(h);
    expect(result.verdict).toBe('violation');
    expect(result.problems[0]!.key).toBe('sequence counter of /q');
  });

  it('rejects sequential numbers that go backwards in real time', () => {
    expect(verdictOf([seq(1, '/q/n-', 0, 1, '/q/n-0000000005'), seq(2, '/q/n-', 2, 3, '/q/n-0000000003')])).toBe('violation');
  });

  it('rejects a sequential name that does not extend the prefix', () => {
    const result = checkHistory([seq(1, '/q/n-', 0, 1, '/q/x-0000000001')]);
    expect(result.verdict).toBe('violation');
    expect(result.problems[0]!.reason).toMatch(/not "\/q\/n-" followed by 10 digits/);
  });

  it('rejects a read of a value never written', () => {
    expect(verdictOf([create(0, '/a', 'v0', 0, 1), write(1, '/a', 'v1', 2, 10), read(2, '/a', 'ghost', 3, 4)])).toBe('violation');
  });

  it('rejects a read of a value written only by a definitely failed op', () => {
    const failed: HistoryEntry = {
      id: nextId++,
      clientId: 1,
      op: 'write',
      input: { path: '/a', value: 'never' },
      callMs: 2,
      returnMs: 3,
      outcome: 'failed',
    };
    expect(verdictOf([create(0, '/a', 'v0', 0, 1), failed, read(2, '/a', 'never', 4, 5)])).toBe('violation');
  });

  it('rejects a read that sees a write from the future', () => {
    expect(verdictOf([create(0, '/a', 'v0', 0, 1), read(2, '/a', 'v1', 2, 3), write(1, '/a', 'v1', 4, 5)])).toBe('violation');
  });

  it('rejects a possibly-applied write observed and then unobserved', () => {
    const h = [
      create(0, '/a', 'v0', 0, 1),
      write(1, '/a', 'maybe', 2, undefined),
      read(2, '/a', 'maybe', 10, 11),
      read(2, '/a', 'v0', 12, 13),
    ];
    expect(verdictOf(h)).toBe('violation');
  });

  it('rejects a read whose version does not match the value', () => {
    expect(verdictOf([create(0, '/a', 'v0', 0, 1), write(1, '/a', 'v1', 2, 3), read(2, '/a', 'v1', 4, 5, 0)])).toBe('violation');
  });

  it('rejects NODEEXISTS for a node that cannot exist', () => {
    expect(verdictOf([create(1, '/a', 'x', 0, 1, 'NODEEXISTS')])).toBe('violation');
  });

  it('rejects a delete that succeeds with the wrong version', () => {
    expect(verdictOf([create(1, '/a', 'x', 0, 1), write(1, '/a', 'y', 2, 3), del(2, '/a', 4, 5, 'ok', 0)])).toBe('violation');
  });

  it('checks keys independently and reports only the broken one', () => {
    const h = [create(0, '/good', 'g', 0, 1), read(1, '/good', 'g', 2, 3), create(0, '/bad', 'b', 0, 1), read(1, '/bad', 'other', 2, 3)];
    const result = checkHistory(h);
    expect(result.verdict).toBe('violation');
    expect(result.keyCount).toBe(2);
    expect(result.problems.map((p) => p.key)).toEqual(['/bad']);
  });
});

describe('linearizability checker: reports', () => {
  it('names the key, the longest linearizable prefix and the op that cannot be placed', () => {
    const h = [create(0, '/a', 'v0', 0, 1), write(1, '/a', 'v1', 2, 3), write(1, '/a', 'v2', 4, 5), read(2, '/a', 'v1', 6, 7)];
    const result = checkHistory(h);
    const report = result.problems[0]!;
    expect(report.key).toBe('/a');
    expect(report.longestPrefix!.map((p) => p.entry.id)).toEqual([h[0]!.id, h[1]!.id, h[2]!.id]);
    expect(report.stateAfterPrefix).toBe('present "v2"'); // no op observes versions, so none are shown
    expect(report.unplaced!.map((u) => u.entry.id)).toEqual([h[3]!.id]);
    expect(report.unplaced![0]!.reason).toMatch(/must come next; read saw "v1" but the node is present "v2"$/);
    const text = formatCheckResult(result);
    expect(text).toContain('VIOLATION on /a');
    expect(text).toContain('longest linearizable prefix: 3 of 4 ops');
    expect(text).toContain(describeEntry(h[3]!));
  });

  it('describes every kind of entry on one line', () => {
    expect(describeEntry(cas(3, '/k', 2, 'x', 1, 2, 'BADVERSION'))).toMatch(
      /^#\d+ c3 cas\(\/k, expect v2, "x"\) → BADVERSION {2}\[1\.000, 2\.000\] ms$/,
    );
    expect(describeEntry(write(1, '/k', 'y', 1, undefined))).toMatch(/write\(\/k, "y"\) → \? \(possibly applied\) {2}\[1\.000, ∞\) ms$/);
    expect(describeEntry(seq(1, '/q/n-', 1, 2, '/q/n-0000000001'))).toContain('createSequential(/q/n-, "x") → /q/n-0000000001');
    expect(describeEntry(read(1, '/k', undefined, 1, 2))).toContain('read(/k) → absent');
  });

  it('gives up with unknown when the search budget runs out instead of hanging', () => {
    // 24 concurrent possibly-applied writes and a read of a value none wrote: the search must try
    // every subset of writes before it can call this a violation.
    const h = [create(0, '/a', 'v0', 0, 1)];
    for (let i = 0; i < 24; i++) h.push(write(i + 1, '/a', `w${i}`, 2, undefined));
    h.push(read(99, '/a', 'ghost', 3, 4));
    const result = checkHistory(h, { maxStepsPerKey: 20_000 });
    expect(result.verdict).toBe('unknown');
    expect(result.problems[0]!.reason).toMatch(/20000 steps/);
    expect(formatCheckResult(result)).toContain('gave up: search budget of 20000 steps exhausted');
    expect(checkHistory(h, { timeoutMs: 50 }).verdict).toBe('unknown');
  });
});

describe('sequential names', () => {
  it('finds the parent and the counter', () => {
    expect(sequenceParent('/q/lock-')).toBe('/q');
    expect(sequenceParent('/q/')).toBe('/q');
    expect(sequenceParent('/lock-')).toBe('/');
    expect(sequenceCounter('/q/lock-', '/q/lock-0000000042')).toBe(42);
    expect(sequenceCounter('/q/lock-', '/q/lock-42')).toBeUndefined();
    expect(sequenceCounter('/q/lock-', '/q/other-0000000042')).toBeUndefined();
  });
});

describe('HistoryRecorder', () => {
  it('records calls, answers and failures with its clock', () => {
    let now = 100;
    const h = new HistoryRecorder({ nowMs: () => now });
    now = 101;
    const c = h.invoke('a', 'create', { path: '/x', value: 'v' });
    now = 102;
    const w = h.invoke('b', 'write', { path: '/x', value: 'w' });
    const f = h.invoke('b', 'write', { path: '/x', value: 'never' });
    const p = h.invoke('c', 'read', { path: '/x' });
    now = 103;
    h.ok(c, 'ok');
    h.fail(w, false);
    h.fail(f, true);
    expect(h.pendingCount).toBe(1);
    const history = h.toHistory();
    expect(history.entries).toEqual([
      { id: 0, clientId: 'a', op: 'create', input: { path: '/x', value: 'v' }, callMs: 1, returnMs: 3, outcome: 'ok', output: 'ok' },
      { id: 1, clientId: 'b', op: 'write', input: { path: '/x', value: 'w' }, callMs: 2, outcome: 'unknown' },
      { id: 2, clientId: 'b', op: 'write', input: { path: '/x', value: 'never' }, callMs: 2, returnMs: 3, outcome: 'failed' },
      { id: 3, clientId: 'c', op: 'read', input: { path: '/x' }, callMs: 2, outcome: 'unknown' },
    ]);
    expect(checkHistory(history).verdict).toBe('ok');
    expect(() => h.ok(c, 'ok')).toThrow(/already completed/);
    expect(() => h.fail(99, true)).toThrow(/no operation with id 99/);
    expect(p).toBe(3);
  });

  it('uses a monotonic clock by default', () => {
    const h = new HistoryRecorder();
    const ids = Array.from({ length: 50 }, (_, i) => h.invoke(1, 'write', { path: '/m', value: String(i) }));
    for (const id of ids) h.fail(id, true);
    const times = h.toHistory().entries.flatMap((e) => [e.callMs, e.returnMs!]);
    for (let i = 1; i < ids.length; i++) expect(h.toHistory().entries[i]!.callMs).toBeGreaterThanOrEqual(times[2 * (i - 1)]!);
    for (const e of h.toHistory().entries) expect(e.returnMs!).toBeGreaterThanOrEqual(e.callMs);
  });

  it('saves a history that checkHistoryFile replays with the same verdict', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'arbor-history-'));
    try {
      const h = new HistoryRecorder({ initial: { '/pre': { value: null, version: 2 } } });
      h.ok(h.invoke(1, 'create', { path: '/a', value: 'v0' }), 'ok');
      h.ok(h.invoke(1, 'write', { path: '/a', value: 'v1' }), 'ok');
      h.ok(h.invoke(2, 'read', { path: '/pre' }), { exists: true, value: null, version: 2 });
      h.ok(h.invoke(2, 'createSequential', { prefix: '/q/n-' }), { path: '/q/n-0000000000' });
      const good = join(dir, 'good.json');
      await h.save(good);
      expect((await checkHistoryFile(good)).verdict).toBe('ok');

      h.ok(h.invoke(2, 'read', { path: '/a' }), { exists: true, value: 'v0' }); // stale
      const bad = join(dir, 'bad.json');
      await h.save(bad);
      const result = await checkHistoryFile(bad);
      expect(result.verdict).toBe('violation');
      expect(result.problems[0]!.key).toBe('/a');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('rejects malformed files with the entry and field at fault', async () => {
    const entry = {
      id: 0,
      clientId: 1,
      op: 'write',
      input: { path: '/a', value: 'v' },
      callMs: 5,
      returnMs: 6,
      outcome: 'ok',
      output: 'ok',
    };
    expect(parseHistory([entry]).entries).toHaveLength(1);
    expect(() => parseHistory([{ ...entry, returnMs: 4 }])).toThrow(/entries\[0\]\.returnMs: 4 is before callMs 5/);
    expect(() => parseHistory([{ ...entry, output: 'BADVERSION' }])).toThrow(/entries\[0\]\.output: expected one of ok, NONODE/);
    expect(() => parseHistory([{ ...entry, op: 'frobnicate' }])).toThrow(HistoryFormatError);
    expect(() => parseHistory([{ ...entry, input: { path: 'a', value: 'v' } }])).toThrow(/input\.path: expected an absolute path/);
    expect(() => parseHistory([entry, entry])).toThrow(/duplicate id 0/);
    expect(() => parseHistory([{ ...entry, outcome: 'unknown' }])).toThrow(/unknown outcome has no return time/);
    expect(() => parseHistory({ format: 'arbor-history', formatVersion: 2, entries: [] })).toThrow(/formatVersion 2/);
    const dir = await mkdtemp(join(tmpdir(), 'arbor-history-'));
    try {
      const file = join(dir, 'truncated.json');
      await writeFile(file, '{"format":"arbor-history","formatVersion":1,"entries":[');
      await expect(checkHistoryFile(file)).rejects.toThrow(SyntaxError);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('check command', () => {
  it('prints the verdict and exits 0 ok, 1 violation, 3 bad input', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'arbor-history-'));
    try {
      const good = join(dir, 'good.json');
      const bad = join(dir, 'bad.json');
      await writeFile(good, JSON.stringify(makeHistory([create(1, '/a', 'x', 0, 1), read(2, '/a', 'x', 2, 3)])));
      await writeFile(bad, JSON.stringify(makeHistory([create(1, '/a', 'x', 0, 1), read(2, '/a', 'y', 2, 3)])));
      const run = async (...args: string[]) => {
        let out = '';
        const code = await runCheckCli(args, (t) => (out += t));
        return { code, out };
      };
      expect(await run(good)).toEqual({ code: EXIT.ok, out: expect.stringMatching(/^linearizability: OK — 2 ops over 1 key/) });
      const failed = await run(bad, '--max-steps', '1000');
      expect(failed.code).toBe(EXIT.violation);
      expect(failed.out).toContain('VIOLATION on /a');
      expect((await run(join(dir, 'missing.json'))).code).toBe(EXIT.badInput);
      expect((await run(good, '--max-steps', 'lots')).out).toMatch(/--max-steps needs a positive integer/);
      expect((await run()).out).toMatch(/^usage:/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
