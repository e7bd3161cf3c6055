// Generates histories that are linearizable by construction: concurrent clients issue random
// operations, each takes effect at one random instant inside its [call, return] window, and the
// outputs come from a plain sequential znode store applied in the order of those instants. Some
// operations time out (possibly applied: their effect happens, or not, and the output is lost)
// and some fail definitely (no effect). Used by the property tests and the performance test.
import { SeededRandom } from '@arbor/raft';
import type { HistoryEntry, OpInput, OpKind, OpOutput, Value } from '../src/linearizability/index.js';

export interface SimOptions {
  seed: number;
  clients: number;
  opsPerClient: number;
  /** Keys are /k/0 … /k/(keys-1); sequential creates go under /k and /q. */
  keys: number;
  /** Chance that an op's outcome is unknown (possibly applied). */
  unknownRate: number;
  /** Chance that an op fails definitely (not applied). */
  failedRate: number;
  /** Chance that a read records Stat.version. */
  readVersionRate: number;
}

/**
 * The naive sequential store the outputs come from: a map of paths, with ZooKeeper's version and
 * sequential-counter rules. Every parent exists, so creates never answer NONODE and deletes never
 * NOTEMPTY.
 */
export class SequentialStore {
  private readonly nodes = new Map<string, { value: Value; version: number }>();
  private readonly counters = new Map<string, number>();

  clone(): SequentialStore {
    const copy = new SequentialStore();
    for (const [k, v] of this.nodes) copy.nodes.set(k, { ...v });
    for (const [k, v] of this.counters) copy.counters.set(k, v);
    return copy;
  }

  apply<K extends OpKind>(op: K, input: OpInput[K]): OpOutput[K] {
    return this.applyAny(op, input) as OpOutput[K];
  }

  private applyAny(op: OpKind, raw: OpInput[OpKind]): OpOutput[OpKind] {
    switch (op) {
      case 'read': {
        const n = this.nodes.get((raw as OpInput['read']).path);
        return n === undefined ? { exists: false } : { exists: true, value: n.value, version: n.version };
      }
      case 'write':
      case 'cas': {
        const input = raw as OpInput['cas'];
        const expected = op === 'write' ? -1 : input.expectedVersion;
        const n = this.nodes.get(input.path);
        if (n === undefined) return 'NONODE';
        if (expected !== -1 && expected !== n.version) return 'BADVERSION';
        this.nodes.set(input.path, { value: input.value, version: n.version + 1 });
        return 'ok';
      }
      case 'create': {
        const input = raw as OpInput['create'];
        if (this.nodes.has(input.path)) return 'NODEEXISTS';
        this.nodes.set(input.path, { value: input.value ?? null, version: 0 });
        this.bumpCounter(parentOf(input.path));
        return 'ok';
      }
      case 'createSequential': {
        const input = raw as OpInput['createSequential'];
        const parent = parentOf(input.prefix);
        const path = input.prefix + String(this.counters.get(parent) ?? 0).padStart(10, '0');
        if (this.nodes.has(path)) return 'NODEEXISTS';
        this.nodes.set(path, { value: input.value ?? null, version: 0 });
        this.bumpCounter(parent);
        return { path };
      }
      case 'delete': {
        const input = raw as OpInput['delete'];
        const n = this.nodes.get(input.path);
        if (n === undefined) return 'NONODE';
        const expected = input.expectedVersion ?? -1;
        if (expected !== -1 && expected !== n.version) return 'BADVERSION';
        this.nodes.delete(input.path);
        return 'ok';
      }
    }
  }

  private bumpCounter(parent: string): void {
    this.counters.set(parent, (this.counters.get(parent) ?? 0) + 1);
  }
}

function parentOf(path: string): string {
  return path.slice(0, path.lastIndexOf('/')) || '/';
}

interface SimOp {
  id: number;
  clientId: number;
  op: OpKind;
  input: OpInput[OpKind];
  callMs: number;
  returnMs: number;
  linMs: number;
  fate: 'ok' | 'unknown-applied' | 'unknown-lost' | 'failed';
}

export function simulateHistory(o: SimOptions): HistoryEntry[] {
  const random = new SeededRandom(o.seed);
  const rand = (): number => random.nextFloat();
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const ops: SimOp[] = [];
  let valueSeq = 0;
  for (let c = 0; c < o.clients; c++) {
    let t = rand() * 5;
    for (let k = 0; k < o.opsPerClient; k++) {
      const callMs = t + rand() * 2;
      const linMs = callMs + rand() * 3;
      const returnMs = linMs + rand() * 3;
      const r = rand();
      const fate =
        r < o.unknownRate ? (rand() < 0.5 ? 'unknown-applied' : 'unknown-lost') : r < o.unknownRate + o.failedRate ? 'failed' : 'ok';
      const path = `/k/${Math.floor(rand() * o.keys)}`;
      const value = `c${c}-${valueSeq++}`;
      const [op, input] = randomOp(rand, pick, path, value);
      ops.push({ id: ops.length, clientId: c, op, input, callMs, returnMs, linMs, fate });
      // A client that timed out moves on before the op's window closes, as a real one would.
      t = fate.startsWith('unknown') ? linMs : returnMs;
    }
  }
  const store = new SequentialStore();
  const outputs = new Map<number, OpOutput[OpKind]>();
  for (const op of [...ops].sort((a, b) => a.linMs - b.linMs)) {
    if (op.fate === 'ok' || op.fate === 'unknown-applied') outputs.set(op.id, store.apply(op.op, op.input));
  }
  return ops.map((op): HistoryEntry => {
    const base = { id: op.id, clientId: op.clientId, op: op.op, input: op.input, callMs: op.callMs };
    if (op.fate === 'ok') {
      const output = outputs.get(op.id)!;
      const shown = op.op === 'read' && rand() >= o.readVersionRate ? stripVersion(output as OpOutput['read']) : output;
      return { ...base, returnMs: op.returnMs, outcome: 'ok', output: shown } as HistoryEntry;
    }
    if (op.fate === 'failed') return { ...base, returnMs: op.returnMs, outcome: 'failed' } as HistoryEntry;
    return { ...base, outcome: 'unknown' } as HistoryEntry;
  });
}

function stripVersion(out: OpOutput['read']): OpOutput['read'] {
  return out.exists ? { exists: true, value: out.value } : out;
}

function randomOp(rand: () => number, pick: <T>(xs: readonly T[]) => T, path: string, value: string): [OpKind, OpInput[OpKind]] {
  const r = rand();
  if (r < 0.35) return ['read', { path }];
  if (r < 0.55) return ['write', { path, value }];
  if (r < 0.7) return ['cas', { path, expectedVersion: pick([-1, 0, 1, 2, 3]), value }];
  if (r < 0.8) return ['create', { path, value }];
  if (r < 0.9) return ['delete', { path, expectedVersion: pick([-1, -1, 0, 1]) }];
  return ['createSequential', { prefix: pick(['/k/s-', '/q/job-']), value }];
}
