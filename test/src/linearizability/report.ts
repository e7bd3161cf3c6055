// Text for people: one line per operation, and a per-key account of a failed check.
import type { CheckResult, KeyReport } from './check.js';
import type { HistoryEntry, OpOutput } from './history.js';

export interface FormatOptions {
  /** Ops of the longest prefix to show (the last ones, nearest the failure). Default 12. */
  prefixOps?: number;
  /** Unplaced ops to show per key. Default 20. */
  unplacedOps?: number;
  /** Keys with problems to show. Default 5. */
  keys?: number;
}

const ms = (t: number): string => t.toFixed(3);

/** `#17 c3 cas(/k1, expect v2, "x") → BADVERSION  [12.301, 14.220] ms` */
export function describeEntry(entry: HistoryEntry): string {
  const window = entry.outcome === 'unknown' ? `[${ms(entry.callMs)}, ∞) ms` : `[${ms(entry.callMs)}, ${ms(entry.returnMs ?? NaN)}] ms`;
  return `#${entry.id} c${entry.clientId} ${describeCall(entry)} → ${describeOutcome(entry)}  ${window}`;
}

function describeCall(entry: HistoryEntry): string {
  const v = JSON.stringify;
  switch (entry.op) {
    case 'read':
      return `read(${entry.input.path})`;
    case 'write':
      return `write(${entry.input.path}, ${v(entry.input.value)})`;
    case 'cas':
      return `cas(${entry.input.path}, expect v${entry.input.expectedVersion}, ${v(entry.input.value)})`;
    case 'create':
      return `create(${entry.input.path}, ${v(entry.input.value ?? null)})`;
    case 'createSequential':
      return `createSequential(${entry.input.prefix}, ${v(entry.input.value ?? null)})`;
    case 'delete':
      return `delete(${entry.input.path}, expect v${entry.input.expectedVersion ?? -1})`;
  }
}

function describeOutcome(entry: HistoryEntry): string {
  if (entry.outcome === 'unknown') return '? (possibly applied)';
  if (entry.outcome === 'failed') return 'failed (not applied)';
  const out: OpOutput[keyof OpOutput] | undefined = entry.output;
  if (out === undefined) return '?';
  if (typeof out === 'string') return out;
  if ('exists' in out) return out.exists ? `${JSON.stringify(out.value)}${out.version === undefined ? '' : ` v${out.version}`}` : 'absent';
  return out.path;
}

export function formatKeyReport(k: KeyReport, options: FormatOptions = {}): string {
  const prefixOps = options.prefixOps ?? 12;
  const unplacedOps = options.unplacedOps ?? 20;
  const lines = [`${k.verdict.toUpperCase()} on ${k.key} (${k.opCount} ops, ${k.steps} search steps, ${k.elapsedMs.toFixed(1)} ms)`];
  if (k.reason !== undefined) lines.push(`  ${k.verdict === 'unknown' ? 'gave up' : 'reason'}: ${k.reason}`);
  if (k.longestPrefix !== undefined) {
    const prefix = k.longestPrefix;
    lines.push(
      `  longest linearizable prefix: ${prefix.length} of ${k.opCount} ops${prefix.length > prefixOps ? ` (last ${prefixOps} shown)` : ''}`,
    );
    for (const p of prefix.slice(-prefixOps)) lines.push(`    ${describeEntry(p.entry)}   ⇒ ${p.stateAfter}`);
    lines.push(`  state after the prefix: ${k.stateAfterPrefix ?? '?'}`);
  }
  if (k.unplaced !== undefined) {
    lines.push(`  could not be placed next (${k.unplaced.length}):`);
    for (const u of k.unplaced.slice(0, unplacedOps)) lines.push(`    ${describeEntry(u.entry)}\n        ${u.reason}`);
    if (k.unplaced.length > unplacedOps) lines.push(`    … and ${k.unplaced.length - unplacedOps} more`);
  }
  return lines.join('\n');
}

/** A one-line summary, then an account of each key that is not ok. */
export function formatCheckResult(result: CheckResult, options: FormatOptions = {}): string {
  const maxKeys = options.keys ?? 5;
  const summary = `linearizability: ${result.verdict.toUpperCase()} — ${result.opCount} ops over ${result.keyCount} ${result.keyCount === 1 ? 'key' : 'keys'} in ${result.elapsedMs.toFixed(1)} ms`;
  if (result.problems.length === 0) return summary;
  const shown = result.problems.slice(0, maxKeys).map((k) => formatKeyReport(k, options));
  const more = result.problems.length > maxKeys ? [`… and ${result.problems.length - maxKeys} more keys with problems`] : [];
  return [summary, ...shown, ...more].join('\n\n');
}
