import { CreateMode, OPEN_ACL_UNSAFE, Perms } from '@arbor/protocol';
import type { ACL, Id } from '@arbor/protocol';
import { ZnodeTree } from '@arbor/tree';
import type { ApplyOutcome, CreateResult, TxnOp, TxnResult, ZnodeTreeOptions } from '@arbor/tree';

/** Shared helpers for the tree tests: a tree with a clock, zxids, sessions and request ids. */

export const OPEN: ACL[] = OPEN_ACL_UNSAFE.map((e) => ({ perms: e.perms, id: { ...e.id } }));
/** Byte equality without a deep-equal walk (slow for megabytes). */
export function sameBytes(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === null || b === null) return a === b;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
export const enc = (s: string): Uint8Array => new Uint8Array([...s].map((c) => c.charCodeAt(0)));

/** A digest id as addAuth computes it (the tree never hashes; tests use fixed strings). */
export const alice: Id = { scheme: 'digest', id: 'alice:AAAAAAAAAAAAAAAAAAAAAAAAAAA=' };
export const bob: Id = { scheme: 'digest', id: 'bob:BBBBBBBBBBBBBBBBBBBBBBBBBBB=' };
export const ip = (address: string): Id => ({ scheme: 'ip', id: address });
export const acl = (perms: number, scheme: string, id: string): ACL => ({ perms, id: { scheme, id } });
export const worldAcl = (perms: number): ACL[] => [acl(perms, 'world', 'anyone')];

export interface Call {
  session?: number;
  /** Default: a fresh id per call; null: none (so that a refused op changes nothing at all). */
  requestId?: number | null;
  identities?: Id[];
}

export class Driver {
  readonly tree: ZnodeTree;
  zxid = 0;
  nowMs = 1_000_000;
  private nextRequest = 1;

  constructor(options: ZnodeTreeOptions = {}) {
    this.tree = new ZnodeTree(options);
  }

  /** Applies an op as session `session` (default 1) at the current time, one zxid later. */
  apply(op: TxnOp, call: Call = {}): ApplyOutcome {
    this.zxid++;
    return this.tree.apply({
      zxid: this.zxid,
      timeMs: this.nowMs,
      sessionId: call.session ?? 1,
      requestId: call.requestId === null ? undefined : (call.requestId ?? this.nextRequest++),
      identities: call.identities ?? [],
      op,
    });
  }

  /** Applies and returns the result, failing the test when it is not OK. */
  ok<R extends TxnResult = TxnResult>(op: TxnOp, call?: Call): R {
    const { result } = this.apply(op, call);
    if (result.err !== 0) throw new Error(`expected OK, got ${result.err}: ${'message' in result ? result.message : ''}`);
    return result as R;
  }

  /** The error code of an op expected to fail. */
  err(op: TxnOp, call?: Call): number {
    return this.apply(op, call).result.err;
  }

  openSession(sessionId: number, timeoutMs = 10_000): void {
    this.ok({ type: 'createSession', sessionId, password: enc(`pw${sessionId}`), timeoutMs }, { session: 0 });
  }

  create(path: string, options: { data?: Uint8Array | null; mode?: CreateMode; acl?: ACL[]; ttlMs?: number } & Call = {}): CreateResult {
    const { data = null, mode = CreateMode.PERSISTENT, acl: list = OPEN, ttlMs, ...call } = options;
    return this.ok<CreateResult>({ type: 'create', path, data, acl: list, mode, ...(ttlMs === undefined ? {} : { ttlMs }) }, call);
  }

  advance(ms: number): void {
    this.nowMs += ms;
  }
}

/** A driver with sessions 1 and 2 open. */
export function driver(options?: ZnodeTreeOptions): Driver {
  const d = new Driver(options);
  d.openSession(1);
  d.openSession(2);
  return d;
}

export { CreateMode, Perms };
