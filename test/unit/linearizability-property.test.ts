import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { checkHistory, formatCheckResult, sequenceParent } from '../src/linearizability/index.js';
import type { HistoryEntry } from '../src/linearizability/index.js';
import { SequentialStore, simulateHistory } from './linearizability-sim.js';
import type { SimOptions } from './linearizability-sim.js';

const simOptions = fc.record<SimOptions>({
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  clients: fc.integer({ min: 1, max: 6 }),
  opsPerClient: fc.integer({ min: 1, max: 25 }),
  keys: fc.integer({ min: 1, max: 3 }),
  unknownRate: fc.constantFrom(0, 0.05, 0.15),
  failedRate: fc.constantFrom(0, 0.05),
  readVersionRate: fc.constantFrom(0, 0.5, 1),
});

/** Entries that answered a read with a value. */
const valueReads = (h: readonly HistoryEntry[]) =>
  h.filter((e): e is HistoryEntry & { op: 'read' } => e.op === 'read' && e.outcome === 'ok' && e.output?.exists === true);
/** Sequential creates that answered a name. */
const namedSequentials = (h: readonly HistoryEntry[]) =>
  h.filter(
    (e): e is HistoryEntry & { op: 'createSequential' } =>
      e.op === 'createSequential' && e.outcome === 'ok' && typeof e.output === 'object',
  );

describe('linearizability checker properties', () => {
  it('accepts every history produced by a sequential store with valid real-time windows', () => {
    fc.assert(
      fc.property(simOptions, (o) => {
        const result = checkHistory(simulateHistory(o));
        if (result.verdict !== 'ok') throw new Error(formatCheckResult(result));
      }),
      { numRuns: 150 },
    );
  });

  it('rejects a history in which one read returns a value never written', () => {
    const withValueReads = simOptions.filter((o) => valueReads(simulateHistory(o)).length > 0);
    fc.assert(
      fc.property(withValueReads, fc.nat(), (o, pick) => {
        const h = simulateHistory(o);
        const reads = valueReads(h);
        const victim = reads[pick % reads.length]!;
        const mutated = h.map((e) => (e === victim ? ({ ...e, output: { exists: true, value: 'never-written' } } as HistoryEntry) : e));
        // Proving a violation means exhausting the search; with 6 clients on one key and 15 %
        // unknown outcomes that can take more than the default 2M steps (seed 671185818: 'unknown'
        // at 2M, 'violation' within 20M in about a second).
        const result = checkHistory(mutated, { maxStepsPerKey: 20_000_000 });
        expect(result.verdict).toBe('violation');
        expect(result.problems[0]!.key).toBe(victim.input.path);
      }),
      { numRuns: 100 },
    );
  });

  it('rejects a history in which two sequential creates under one parent got the same number', () => {
    const withTwoNames = simOptions.filter((o) => {
      const named = namedSequentials(simulateHistory(o));
      return named.some((a) => named.some((b) => a !== b && sequenceParent(a.input.prefix) === sequenceParent(b.input.prefix)));
    });
    fc.assert(
      fc.property(withTwoNames, (o) => {
        const h = simulateHistory(o);
        const named = namedSequentials(h);
        const [a, b] = named.flatMap((x) =>
          named.filter((y) => y !== x && sequenceParent(y.input.prefix) === sequenceParent(x.input.prefix)).map((y) => [x, y] as const),
        )[0]!;
        // b reports a's counter (under b's own prefix): the counter was reused.
        const reused = b.input.prefix + (a.output as { path: string }).path.slice(a.input.prefix.length);
        const mutated = h.map((e) => (e === b ? ({ ...e, output: { path: reused } } as HistoryEntry) : e));
        expect(checkHistory(mutated).verdict).toBe('violation');
      }),
      { numRuns: 50 },
    );
  });
});

describe('linearizability checker performance', () => {
  it('checks 10,000 ops over 20 keys from 8 clients in a few seconds', () => {
    const h = simulateHistory({
      seed: 7,
      clients: 8,
      opsPerClient: 1250,
      keys: 20,
      unknownRate: 0.01,
      failedRate: 0.01,
      readVersionRate: 0.8,
    });
    expect(h).toHaveLength(10_000);
    const result = checkHistory(h);
    console.log(`checked ${result.opCount} ops over ${result.keyCount} keys in ${result.elapsedMs.toFixed(0)} ms`);
    expect(result.verdict).toBe('ok');
    expect(result.elapsedMs).toBeLessThan(10_000);
  });
});

// ---------------------------------------------------------------------------------------------
// A deliberately naive second checker: try every subset of the possibly-applied ops and every
// order of the chosen ops that respects real time, replaying a plain store. Exponential, so only
// for tiny histories, where the real checker must agree with it exactly.

const precedes = (a: HistoryEntry, b: HistoryEntry): boolean => a.outcome === 'ok' && a.returnMs! < b.callMs;

function sameOutput(recorded: unknown, actual: unknown): boolean {
  if (typeof recorded !== 'object' || recorded === null || !('exists' in recorded))
    return JSON.stringify(recorded) === JSON.stringify(actual);
  const r = recorded as { exists: boolean; value?: unknown; version?: number };
  const a = actual as { exists: boolean; value?: unknown; version?: number };
  return r.exists === a.exists && (!r.exists || (r.value === a.value && (r.version === undefined || r.version === a.version)));
}

function bruteForceLinearizable(history: readonly HistoryEntry[]): boolean {
  const ops = history.filter((e) => e.outcome === 'ok' || (e.outcome === 'unknown' && e.op !== 'read'));
  const placeFrom = (store: SequentialStore, remaining: readonly HistoryEntry[]): boolean => {
    if (remaining.every((e) => e.outcome === 'unknown')) return true; // the rest never took effect
    return remaining.some((e, i) => {
      if (remaining.some((other) => other !== e && precedes(other, e))) return false;
      const next = store.clone();
      const out = next.apply(e.op, e.input);
      if (e.outcome === 'ok' && !sameOutput(e.output, out)) return false;
      return placeFrom(
        next,
        remaining.filter((_, j) => j !== i),
      );
    });
  };
  return placeFrom(new SequentialStore(), ops);
}

const tinyEntry = (id: number) =>
  fc
    .record({
      clientId: fc.integer({ min: 0, max: 2 }),
      path: fc.constantFrom('/x', '/y'),
      value: fc.constantFrom<string | null>('a', 'b', null),
      expectedVersion: fc.constantFrom(-1, 0, 1),
      callMs: fc.integer({ min: 0, max: 8 }),
      durationMs: fc.integer({ min: 0, max: 4 }),
      outcome: fc.constantFrom('ok', 'ok', 'ok', 'ok', 'unknown', 'failed'),
      kind: fc.constantFrom('read', 'read', 'write', 'cas', 'create', 'delete'),
      exists: fc.boolean(),
      version: fc.constantFrom(undefined, 0, 1, 2),
      code: fc.nat(),
    })
    .map((r): HistoryEntry => {
      const base = { id, clientId: r.clientId, callMs: r.callMs };
      const end = r.outcome === 'unknown' ? {} : { returnMs: r.callMs + r.durationMs };
      const pickCode = <T>(codes: readonly T[]): T => codes[r.code % codes.length]!;
      const output = (o: unknown) => (r.outcome === 'ok' ? { output: o } : {});
      switch (r.kind) {
        case 'read': {
          const seen = r.exists
            ? r.version === undefined
              ? { exists: true, value: r.value }
              : { exists: true, value: r.value, version: r.version }
            : { exists: false };
          return { ...base, ...end, op: 'read', input: { path: r.path }, outcome: r.outcome, ...output(seen) } as HistoryEntry;
        }
        case 'write':
          return {
            ...base,
            ...end,
            op: 'write',
            input: { path: r.path, value: r.value },
            outcome: r.outcome,
            ...output(pickCode(['ok', 'NONODE'])),
          } as HistoryEntry;
        case 'cas':
          return {
            ...base,
            ...end,
            op: 'cas',
            input: { path: r.path, expectedVersion: r.expectedVersion, value: r.value },
            outcome: r.outcome,
            ...output(pickCode(['ok', 'BADVERSION', 'NONODE'])),
          } as HistoryEntry;
        case 'create':
          return {
            ...base,
            ...end,
            op: 'create',
            input: { path: r.path, value: r.value },
            outcome: r.outcome,
            ...output(pickCode(['ok', 'NODEEXISTS'])),
          } as HistoryEntry;
        default:
          return {
            ...base,
            ...end,
            op: 'delete',
            input: { path: r.path, expectedVersion: r.expectedVersion },
            outcome: r.outcome,
            ...output(pickCode(['ok', 'NONODE', 'BADVERSION'])),
          } as HistoryEntry;
      }
    });

const tinyHistory = fc.integer({ min: 1, max: 6 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => tinyEntry(i))));

describe('linearizability checker against a brute-force checker', () => {
  it('agrees on every tiny history, linearizable or not', () => {
    let violations = 0;
    fc.assert(
      fc.property(tinyHistory, (h) => {
        const expected = bruteForceLinearizable(h);
        const result = checkHistory(h);
        if (!expected) violations++;
        if (result.verdict !== (expected ? 'ok' : 'violation')) {
          throw new Error(`brute force says ${expected ? 'ok' : 'violation'}\n${formatCheckResult(result)}\n${JSON.stringify(h)}`);
        }
      }),
      { numRuns: 1500 },
    );
    // The generator must produce both kinds, or the agreement means little.
    expect(violations).toBeGreaterThan(100);
    expect(violations).toBeLessThan(1400);
  });

  it('agrees that simulated histories with sequential creates are linearizable', () => {
    const small = fc.record<SimOptions>({
      seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
      clients: fc.integer({ min: 1, max: 3 }),
      opsPerClient: fc.integer({ min: 1, max: 3 }),
      keys: fc.constant(1),
      unknownRate: fc.constantFrom(0, 0.2),
      failedRate: fc.constant(0),
      readVersionRate: fc.constant(1),
    });
    fc.assert(
      fc.property(small, (o) => {
        const h = simulateHistory(o);
        expect(bruteForceLinearizable(h)).toBe(true);
        expect(checkHistory(h).verdict).toBe('ok');
      }),
      { numRuns: 100 },
    );
  });
});
