// The checker's entry points: split a history by key, search each key within a budget, and turn
// a failed search into a report a person can act on.
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { makeHistory, parseHistory } from './history.js';
import type { History, HistoryEntry } from './history.js';
import { partitionHistory } from './partition.js';
import type { Partition } from './partition.js';
import { searchLinearization } from './search.js';
import type { PartialLinearization } from './search.js';

export type Verdict = 'ok' | 'violation' | 'unknown';

export interface CheckOptions {
  /** Wall-clock budget for the whole history; keys not finished in time are `unknown`. Default 60 s. */
  timeoutMs?: number;
  /** Search iterations per key before that key is `unknown`. Default 2,000,000. */
  maxStepsPerKey?: number;
  /** Memory for the memo of one key before that key is `unknown`. Default 256 MiB. */
  maxMemoBytesPerKey?: number;
}

export const CHECK_DEFAULTS = { timeoutMs: 60_000, maxStepsPerKey: 2_000_000, maxMemoBytesPerKey: 256 * 1024 * 1024 } as const;

export interface PlacedOp {
  readonly entry: HistoryEntry;
  /** The model state right after this op in the linearization. */
  readonly stateAfter: string;
}

export interface UnplacedOp {
  readonly entry: HistoryEntry;
  /** Why it cannot be the next op after the longest linearizable prefix. */
  readonly reason: string;
}

export interface KeyReport {
  /** A znode path, or `sequence counter of <parent>`. */
  readonly key: string;
  readonly kind: 'znode' | 'sequence';
  readonly verdict: Verdict;
  readonly opCount: number;
  readonly steps: number;
  readonly elapsedMs: number;
  /** For `unknown`: which budget ran out. For a malformed output: what is wrong with it. */
  readonly reason?: string;
  /** For violation and unknown: the longest prefix of the key's history that linearizes. */
  readonly longestPrefix?: readonly PlacedOp[];
  /** For violation and unknown: the model state after that prefix. */
  readonly stateAfterPrefix?: string;
  /** For violation: the ops left over, by call time, each with why it cannot go next. */
  readonly unplaced?: readonly UnplacedOp[];
}

export interface CheckResult {
  /** violation if any key has one; else unknown if any key is unknown; else ok. */
  readonly verdict: Verdict;
  /** Operations that took part (definite failures and unanswered reads constrain nothing and are left out). */
  readonly opCount: number;
  readonly keyCount: number;
  readonly elapsedMs: number;
  /** Every key that is not ok, violations first. */
  readonly problems: readonly KeyReport[];
  /** Every key, in the order checked. A sequential create counts in two keys: its parent's counter and its node. */
  readonly keys: readonly KeyReport[];
}

/** Checks a history (or a bare list of entries, all znodes initially absent). */
export function checkHistory(history: History | readonly HistoryEntry[], options: CheckOptions = {}): CheckResult {
  const h = isEntryList(history) ? makeHistory(history) : history;
  const timeoutMs = options.timeoutMs ?? CHECK_DEFAULTS.timeoutMs;
  const maxSteps = options.maxStepsPerKey ?? CHECK_DEFAULTS.maxStepsPerKey;
  const maxMemoBytes = options.maxMemoBytesPerKey ?? CHECK_DEFAULTS.maxMemoBytesPerKey;
  const startMs = performance.now();
  const deadlineMs = startMs + timeoutMs;
  const keys: KeyReport[] = [];
  const opCount = h.entries.filter((e) => e.outcome === 'ok' || (e.outcome === 'unknown' && e.op !== 'read')).length;
  for (const partition of partitionHistory(h)) {
    keys.push(checkPartition(partition as Partition<unknown, unknown>, { maxSteps, maxMemoBytes, deadlineMs }));
  }
  const rank = { violation: 0, unknown: 1, ok: 2 } as const;
  const problems = keys.filter((k) => k.verdict !== 'ok').sort((a, b) => rank[a.verdict] - rank[b.verdict]);
  const verdict: Verdict = problems[0]?.verdict ?? 'ok';
  return { verdict, opCount, keyCount: keys.length, elapsedMs: performance.now() - startMs, problems, keys };
}

/** Loads a history saved by HistoryRecorder.save() (or any file in the same format) and checks it. */
export async function checkHistoryFile(path: string, options: CheckOptions = {}): Promise<CheckResult> {
  return checkHistory(await loadHistoryFile(path), options);
}

export async function loadHistoryFile(path: string): Promise<History> {
  return parseHistory(JSON.parse(await readFile(path, 'utf8')) as unknown);
}

function isEntryList(h: History | readonly HistoryEntry[]): h is readonly HistoryEntry[] {
  return Array.isArray(h);
}

interface KeyBudget {
  readonly maxSteps: number;
  readonly maxMemoBytes: number;
  readonly deadlineMs: number;
}

function checkPartition<S, O>(p: Partition<S, O>, budget: KeyBudget): KeyReport {
  const startMs = performance.now();
  const base = { key: p.key, kind: p.kind, opCount: p.ops.length + p.malformed.length };
  const [bad] = p.malformed;
  if (bad !== undefined) {
    return {
      ...base,
      verdict: 'violation',
      steps: 0,
      elapsedMs: 0,
      reason: bad.message,
      unplaced: p.malformed.map((m) => ({ entry: m.entry, reason: m.message })),
    };
  }
  if (startMs > budget.deadlineMs) {
    return { ...base, verdict: 'unknown', steps: 0, elapsedMs: 0, reason: 'time budget exhausted before this key was checked' };
  }
  const result = searchLinearization(p.model, p.ops, {
    maxSteps: budget.maxSteps,
    maxMemoBytes: budget.maxMemoBytes,
    deadlineMs: budget.deadlineMs,
    nowMs: () => performance.now(),
  });
  const elapsedMs = performance.now() - startMs;
  if (result.status === 'ok') return { ...base, verdict: 'ok', steps: result.steps, elapsedMs };
  if (result.status === 'unknown') {
    // The search stopped early, so the leftover ops are not known to be unplaceable: no explanation.
    const { longestPrefix, stateAfterPrefix } = explainFailure(p, result.longest);
    return { ...base, verdict: 'unknown', steps: result.steps, elapsedMs, reason: result.reason, longestPrefix, stateAfterPrefix };
  }
  return { ...base, verdict: 'violation', steps: result.steps, elapsedMs, ...explainFailure(p, result.longest) };
}

/** Describes the longest prefix, and why each remaining op cannot come next. */
function explainFailure<S, O>(
  p: Partition<S, O>,
  longest: PartialLinearization<S>,
): Pick<KeyReport, 'longestPrefix' | 'stateAfterPrefix' | 'unplaced'> {
  const longestPrefix = longest.order.map((i, k) => ({ entry: p.entries[i]!, stateAfter: p.model.describeState(longest.states[k]!) }));
  const state = longest.states.at(-1) ?? p.model.init;
  const placed = new Set(longest.order);
  const rest = p.ops.map((_, i) => i).filter((i) => !placed.has(i));
  // The op that returns first must be placed no later than its return; anything called after
  // that return cannot go before it.
  let firstReturn: number | undefined;
  for (const i of rest) {
    const r = p.ops[i]!.returnMs;
    if (r !== undefined && (firstReturn === undefined || r < p.ops[firstReturn]!.returnMs!)) firstReturn = i;
  }
  const deadline = firstReturn === undefined ? Infinity : p.ops[firstReturn]!.returnMs!;
  rest.sort((a, b) => p.ops[a]!.callMs - p.ops[b]!.callMs || a - b);
  const unplaced = rest.map((i): UnplacedOp => {
    const op = p.ops[i]!;
    let reason: string;
    if (op.callMs > deadline) reason = `called after #${p.entries[firstReturn!]!.id} returned, which had to be placed first`;
    else reason = p.model.explain(state, op.op) ?? 'fits here, but no order of the remaining ops linearizes after it';
    if (op.returnMs === undefined) reason += ' (possibly applied: it may also never have taken effect)';
    if (i === firstReturn) reason = `returned first of the remaining ops, so it must come next; ${reason}`;
    return { entry: p.entries[i]!, reason };
  });
  return { longestPrefix, stateAfterPrefix: p.model.describeState(state), unplaced };
}
