import {
  CreateMode,
  ErrorCode,
  EventType,
  Perms,
  TTL_MS_MAX,
  ipMatches,
  isSequentialMode,
  isTtlMode,
  pathProblem,
  sequentialName,
} from '@arbor/protocol';
import type { ACL, Id, Stat, WatchTrigger } from '@arbor/protocol';
import type { MultiMemberOp, Txn, TxnOp, TxnResult } from '@arbor/tree';

/**
 * A deliberately naive second implementation of the tree (STYLE.md 13): one Map from path to
 * node, children found by scanning every path, ephemerals found by scanning every node, a multi
 * run on a full copy. Slow and obviously right, so the real tree can be checked against it.
 * It speaks only in results, triggers and reads; messages are not compared.
 */

interface MNode {
  data: Uint8Array | null;
  acl: ACL[];
  czxid: number;
  mzxid: number;
  pzxid: number;
  ctime: number;
  mtime: number;
  version: number;
  cversion: number;
  aversion: number;
  kind: 'persistent' | 'ephemeral' | 'container' | 'ttl';
  owner: number;
  ttlMs: number;
  /** Successful child creations: the sequential counter. */
  creations: number;
}

interface MSession {
  id: number;
  password: Uint8Array;
  timeoutMs: number;
  results: Map<number, TxnResult>;
  evictedUpTo: number;
}

class Refusal {
  constructor(readonly err: number) {}
}
const refuse = (err: number): never => {
  throw new Refusal(err);
};

const checkPath = (path: string, sequential = false): void => {
  if (pathProblem(path, { sequential }) !== undefined) refuse(ErrorCode.BADARGUMENTS);
};
const parentOf = (path: string): string => (path.lastIndexOf('/') === 0 ? '/' : path.slice(0, path.lastIndexOf('/')));

export class ReferenceModel {
  nodes = new Map<string, MNode>();
  sessions = new Map<number, MSession>();
  lastZxid = 0;

  constructor(readonly resultsPerSession: number) {
    this.nodes.set(
      '/',
      this.node({ data: new Uint8Array(0), acl: [{ perms: Perms.ALL, id: { scheme: 'world', id: 'anyone' } }], zxid: 0, time: 0 }),
    );
  }

  private node(o: { data: Uint8Array | null; acl: ACL[]; zxid: number; time: number }): MNode {
    return {
      data: o.data,
      acl: o.acl,
      czxid: o.zxid,
      mzxid: o.zxid,
      pzxid: o.zxid,
      ctime: o.time,
      mtime: o.time,
      version: 0,
      cversion: 0,
      aversion: 0,
      kind: 'persistent',
      owner: 0,
      ttlMs: 0,
      creations: 0,
    };
  }

  children(path: string): string[] {
    const names: string[] = [];
    for (const p of this.nodes.keys()) if (p !== '/' && parentOf(p) === path) names.push(p.slice(p.lastIndexOf('/') + 1));
    return names.sort();
  }

  stat(path: string): Stat {
    const n = this.nodes.get(path)!;
    return {
      czxid: n.czxid,
      mzxid: n.mzxid,
      pzxid: n.pzxid,
      ctime: n.ctime,
      mtime: n.mtime,
      version: n.version,
      cversion: n.cversion,
      aversion: n.aversion,
      ephemeralOwner: n.kind === 'ephemeral' ? n.owner : 0,
      dataLength: n.data?.length ?? 0,
      numChildren: this.children(path).length,
    };
  }

  allows(path: string, perm: number, who: readonly Id[]): boolean {
    return this.nodes
      .get(path)!
      .acl.some(
        (e) =>
          (e.perms & perm) !== 0 &&
          ((e.id.scheme === 'world' && e.id.id === 'anyone') ||
            who.some((w) =>
              e.id.scheme === 'ip' ? w.scheme === 'ip' && ipMatches(e.id.id, w.id) : w.scheme === e.id.scheme && w.id === e.id.id,
            )),
      );
  }

  ephemeralsOf(sessionId: number): string[] {
    return [...this.nodes.entries()]
      .filter(([, n]) => n.kind === 'ephemeral' && n.owner === sessionId)
      .map(([p]) => p)
      .sort();
  }

  isDue(path: string, nowMs: number): boolean {
    const n = this.nodes.get(path)!;
    if (this.children(path).length > 0) return false;
    if (n.kind === 'container') return n.cversion > 0;
    if (n.kind === 'ttl') return nowMs - n.mtime > n.ttlMs;
    return false;
  }

  dueForRemoval(nowMs: number): string[] {
    return [...this.nodes.keys()].filter((p) => this.isDue(p, nowMs)).sort();
  }

  apply(txn: Txn): { result: TxnResult; triggers: WatchTrigger[]; duplicate: boolean } {
    this.lastZxid = txn.zxid;
    const op = txn.op;
    const clientWrite = ['create', 'delete', 'setData', 'setACL', 'check', 'multi'].includes(op.type);
    let session: MSession | undefined;
    if (clientWrite) {
      session = this.sessions.get(txn.sessionId);
      if (session === undefined) return { result: { err: ErrorCode.SESSIONEXPIRED, message: '' }, triggers: [], duplicate: false };
      if (txn.requestId !== undefined) {
        const prior = session.results.get(txn.requestId);
        if (prior !== undefined) return { result: prior, triggers: [], duplicate: true };
        if (txn.requestId <= session.evictedUpTo)
          return { result: { err: ErrorCode.BADARGUMENTS, message: '' }, triggers: [], duplicate: false };
      }
    }
    const triggers: WatchTrigger[] = [];
    let result: TxnResult;
    try {
      result = this.run(txn, op, triggers);
    } catch (e) {
      if (!(e instanceof Refusal)) throw e;
      result = { err: e.err as never, message: '' };
      triggers.length = 0;
    }
    if (session !== undefined && txn.requestId !== undefined) {
      session.results.set(txn.requestId, result);
      if (session.results.size > this.resultsPerSession) {
        const oldest = [...session.results.keys()][0]!;
        session.results.delete(oldest);
        session.evictedUpTo = Math.max(session.evictedUpTo, oldest);
      }
    }
    return { result, triggers: result.err === 0 ? triggers : [], duplicate: false };
  }

  private run(txn: Txn, op: TxnOp, triggers: WatchTrigger[]): TxnResult {
    switch (op.type) {
      case 'createSession':
        if (this.sessions.has(op.sessionId)) refuse(ErrorCode.BADARGUMENTS);
        this.sessions.set(op.sessionId, {
          id: op.sessionId,
          password: op.password.slice(),
          timeoutMs: op.timeoutMs,
          results: new Map(),
          evictedUpTo: -1,
        });
        return { err: 0 };
      case 'closeSession': {
        if (!this.sessions.has(op.sessionId)) refuse(ErrorCode.SESSIONEXPIRED);
        for (const path of this.ephemeralsOf(op.sessionId)) this.remove(path, txn, triggers);
        this.sessions.delete(op.sessionId);
        return { err: 0 };
      }
      case 'reap': {
        checkPath(op.path);
        if (op.path === '/' || !this.nodes.has(op.path) || !this.isDue(op.path, txn.timeMs)) return { err: 0, removed: false };
        this.remove(op.path, txn, triggers);
        return { err: 0, removed: true };
      }
      case 'multi':
        return this.multi(txn, op.ops, triggers);
      case 'setACL': {
        checkPath(op.path);
        const acl = this.resolveAcl(op.acl, txn.identities);
        if (!this.nodes.has(op.path)) refuse(ErrorCode.NONODE);
        if (!this.allows(op.path, Perms.ADMIN, txn.identities)) refuse(ErrorCode.NOAUTH);
        const n = this.nodes.get(op.path)!;
        if (op.version !== -1 && op.version !== n.aversion) refuse(ErrorCode.BADVERSION);
        n.acl = acl;
        n.aversion++;
        return { err: 0, stat: this.stat(op.path) };
      }
      default:
        return this.member(txn, op, triggers);
    }
  }

  private member(txn: Txn, op: MultiMemberOp, triggers: WatchTrigger[]): TxnResult {
    const zxid = txn.zxid;
    checkPath(op.path, op.type === 'create' && isSequentialMode(op.mode));
    switch (op.type) {
      case 'create': {
        if (isTtlMode(op.mode) ? !(Number.isInteger(op.ttlMs) && op.ttlMs! >= 1 && op.ttlMs! <= TTL_MS_MAX) : (op.ttlMs ?? 0) !== 0) {
          refuse(ErrorCode.BADARGUMENTS);
        }
        const acl = this.resolveAcl(op.acl, txn.identities);
        const sequential = isSequentialMode(op.mode);
        if (op.path === '/' && !sequential) refuse(ErrorCode.NODEEXISTS);
        const parent = parentOf(sequential ? `${op.path}0` : op.path);
        if (!this.nodes.has(parent)) refuse(ErrorCode.NONODE);
        if (!this.allows(parent, Perms.CREATE, txn.identities)) refuse(ErrorCode.NOAUTH);
        const p = this.nodes.get(parent)!;
        const path = sequential ? sequentialName(op.path, p.creations) : op.path;
        if (this.nodes.has(path)) refuse(ErrorCode.NODEEXISTS);
        if (p.kind === 'ephemeral') refuse(ErrorCode.NOCHILDRENFOREPHEMERALS);
        const n = this.node({ data: op.data === null ? null : op.data.slice(), acl, zxid, time: txn.timeMs });
        if (op.mode === CreateMode.EPHEMERAL || op.mode === CreateMode.EPHEMERAL_SEQUENTIAL) {
          n.kind = 'ephemeral';
          n.owner = txn.sessionId;
        } else if (op.mode === CreateMode.CONTAINER) n.kind = 'container';
        else if (isTtlMode(op.mode)) {
          n.kind = 'ttl';
          n.ttlMs = op.ttlMs!;
        }
        this.nodes.set(path, n);
        p.creations++;
        p.cversion++;
        p.pzxid = zxid;
        triggers.push({ type: EventType.NodeCreated, path, zxid }, { type: EventType.NodeChildrenChanged, path: parent, zxid });
        return { err: 0, path, stat: this.stat(path) };
      }
      case 'delete': {
        if (op.path === '/') refuse(ErrorCode.BADARGUMENTS);
        const parent = parentOf(op.path);
        if (!this.nodes.has(parent)) refuse(ErrorCode.NONODE);
        if (!this.allows(parent, Perms.DELETE, txn.identities)) refuse(ErrorCode.NOAUTH);
        const n = this.nodes.get(op.path);
        if (n === undefined) return refuse(ErrorCode.NONODE);
        if (op.version !== -1 && op.version !== n.version) refuse(ErrorCode.BADVERSION);
        if (this.children(op.path).length > 0) refuse(ErrorCode.NOTEMPTY);
        this.remove(op.path, txn, triggers);
        return { err: 0 };
      }
      case 'setData': {
        const n = this.nodes.get(op.path);
        if (n === undefined) return refuse(ErrorCode.NONODE);
        if (!this.allows(op.path, Perms.WRITE, txn.identities)) refuse(ErrorCode.NOAUTH);
        if (op.version !== -1 && op.version !== n.version) refuse(ErrorCode.BADVERSION);
        n.data = op.data === null ? null : op.data.slice();
        n.version++;
        n.mzxid = zxid;
        n.mtime = txn.timeMs;
        triggers.push({ type: EventType.NodeDataChanged, path: op.path, zxid });
        return { err: 0, stat: this.stat(op.path) };
      }
      case 'check': {
        const n = this.nodes.get(op.path);
        if (n === undefined) return refuse(ErrorCode.NONODE);
        if (!this.allows(op.path, Perms.READ, txn.identities)) refuse(ErrorCode.NOAUTH);
        if (op.version !== -1 && op.version !== n.version) refuse(ErrorCode.BADVERSION);
        return { err: 0 };
      }
    }
  }

  private multi(txn: Txn, ops: MultiMemberOp[], triggers: WatchTrigger[]): TxnResult {
    const saved = new Map([...this.nodes].map(([p, n]) => [p, { ...n }]));
    const results: unknown[] = [];
    const local: WatchTrigger[] = [];
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]!;
      try {
        const r = this.member(txn, op, local) as Record<string, unknown>;
        if (op.type === 'create') results.push({ op: 'create', err: 0, path: r['path'] });
        else if (op.type === 'setData') results.push({ op: 'setData', err: 0, stat: r['stat'] });
        else results.push({ op: op.type, err: 0 });
      } catch (e) {
        if (!(e instanceof Refusal)) throw e;
        this.nodes = saved;
        results.push({ op: op.type, err: e.err, message: '' });
        for (let j = i + 1; j < ops.length; j++) results.push({ op: ops[j]!.type, err: ErrorCode.RUNTIMEINCONSISTENCY, message: '' });
        return { err: e.err as never, message: '', results: results as never };
      }
    }
    triggers.push(...local);
    return { err: 0, results: results as never };
  }

  private remove(path: string, txn: Txn, triggers: WatchTrigger[]): void {
    const parent = parentOf(path);
    this.nodes.delete(path);
    const p = this.nodes.get(parent)!;
    p.cversion++;
    p.pzxid = txn.zxid;
    triggers.push(
      { type: EventType.NodeDeleted, path, zxid: txn.zxid },
      { type: EventType.NodeChildrenChanged, path: parent, zxid: txn.zxid },
    );
  }

  private resolveAcl(acl: ACL[], who: readonly Id[]): ACL[] {
    const out: ACL[] = [];
    const add = (perms: number, id: Id) => {
      if (!out.some((e) => e.perms === perms && e.id.scheme === id.scheme && e.id.id === id.id)) out.push({ perms, id: { ...id } });
    };
    for (const e of acl) {
      if (e.id.scheme !== 'auth') add(e.perms, e.id);
      else {
        const mine = who.filter((w) => w.scheme !== 'ip' && w.scheme !== 'world');
        if (mine.length === 0) refuse(ErrorCode.INVALIDACL);
        for (const w of mine) add(e.perms, w);
      }
    }
    return out;
  }
}
