import { ArborError, TTL_MS_MAX, pathProblem, unpackValue, validateAcl } from '@arbor/protocol';
import type { ACL } from '@arbor/protocol';
import { deepFreeze } from '../apply.js';
import { Hasher } from '../hash.js';
import { F, I, NodeKind, ROOT_ID } from '../node-store.js';
import { Session } from '../session.js';
import { TreeState, childPathHash, pathHash } from '../state.js';
import { ZnodeTree } from '../tree.js';
import type { TxnResult } from '../txn.js';
import {
  CHECKSUM_SEED,
  SNAPSHOT_FORMAT,
  SNAPSHOT_FRAME_BYTES_MAX_DEFAULT,
  SNAPSHOT_VERSION,
  SnapshotError,
  TAG_ACL,
  TAG_END,
  TAG_NODE,
  TAG_RESULT,
  TAG_SESSION,
} from './format.js';

export interface SnapshotReaderOptions {
  /** Largest frame accepted; a damaged length beyond it is reported instead of allocated. */
  frameBytesMax?: number;
}

/** Splits a byte stream cut anywhere into frames (4-byte big-endian length, payload). */
class FrameAssembler {
  private partial: Uint8Array | null = null;
  private filled = 0;
  private readonly lengthBytes = new Uint8Array(4);
  private lengthFilled = 0;

  constructor(private readonly frameBytesMax: number) {}

  get idle(): boolean {
    return this.partial === null && this.lengthFilled === 0;
  }

  push(chunk: Uint8Array, onFrame: (frame: Uint8Array) => void): void {
    let pos = 0;
    while (pos < chunk.length) {
      if (this.partial === null) {
        let length: number;
        if (this.lengthFilled === 0 && chunk.length - pos >= 4) {
          length = readU32(chunk, pos);
          pos += 4;
        } else {
          while (this.lengthFilled < 4 && pos < chunk.length) this.lengthBytes[this.lengthFilled++] = chunk[pos++]!;
          if (this.lengthFilled < 4) return;
          this.lengthFilled = 0;
          length = readU32(this.lengthBytes, 0);
        }
        if (length === 0 || length > this.frameBytesMax)
          throw new SnapshotError(`frame length ${length} is out of range (1..${this.frameBytesMax})`);
        if (chunk.length - pos >= length) {
          onFrame(chunk.subarray(pos, pos + length));
          pos += length;
          continue;
        }
        this.partial = new Uint8Array(length);
        this.filled = 0;
      }
      const n = Math.min(this.partial.length - this.filled, chunk.length - pos);
      this.partial.set(chunk.subarray(pos, pos + n), this.filled);
      this.filled += n;
      pos += n;
      if (this.filled === this.partial.length) {
        const frame = this.partial;
        this.partial = null;
        onFrame(frame);
      }
    }
  }
}

function readU32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

interface Header {
  zxid: number;
  nodes: number;
  sessions: number;
  acls: number;
}

/** A node whose subtree is still being read: its child term waits for its children. */
interface Open {
  id: number;
  hash: Hasher;
  name: string;
  creations: number;
}

function isInt(v: unknown, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max;
}

/**
 * Rebuilds a tree from snapshot chunks pushed in order, split anywhere. Everything is checked
 * as it arrives (shapes, order, references) and at the end (frame count, checksum, the digest
 * recomputed from what was read); any problem throws SnapshotError. The tree is built apart and
 * handed out only by a successful `finish()`, so a damaged snapshot never yields a partial tree.
 */
export class SnapshotReader {
  private readonly frames: FrameAssembler;
  private readonly checksum = new Hasher(CHECKSUM_SEED);
  private frameCount = 0;
  private header: Header | null = null;
  private state: TreeState | null = null;
  private readonly aclIds = new Map<number, number>();
  private phase: 'acls' | 'nodes' | 'sessions' = 'acls';
  private readonly open: Open[] = [];
  private readonly ephemerals: { id: number; owner: number; path: string }[] = [];
  private session: Session | null = null;
  private resultsLeft = 0;
  private ended = false;
  private broken: SnapshotError | null = null;

  constructor(options: SnapshotReaderOptions = {}) {
    this.frames = new FrameAssembler(options.frameBytesMax ?? SNAPSHOT_FRAME_BYTES_MAX_DEFAULT);
  }

  push(chunk: Uint8Array): void {
    this.guard(() => {
      if (!(chunk instanceof Uint8Array)) throw new SnapshotError('a chunk must be a Uint8Array');
      this.frames.push(chunk, (frame) => this.onFrame(frame));
    });
  }

  /** The restored tree; throws when the snapshot is incomplete or failed verification. */
  finish(): ZnodeTree {
    return this.guard(() => {
      if (!this.ended) throw new SnapshotError('the snapshot is truncated: no end record');
      if (!this.frames.idle) throw new SnapshotError('bytes after the end record');
      return new ZnodeTree({}, this.state!);
    });
  }

  private guard<T>(fn: () => T): T {
    if (this.broken !== null) throw this.broken;
    try {
      return fn();
    } catch (e) {
      const error = e instanceof SnapshotError ? e : new SnapshotError(e instanceof Error ? e.message : String(e));
      this.broken = error;
      this.state = null;
      throw error;
    }
  }

  private onFrame(frame: Uint8Array): void {
    if (this.ended) throw new SnapshotError('bytes after the end record');
    let value: unknown;
    try {
      value = unpackValue(frame);
    } catch {
      throw new SnapshotError(`frame ${this.frameCount} is not valid msgpack`);
    }
    if (Array.isArray(value) && value[0] === TAG_END) {
      this.end(value);
      return;
    }
    this.checksum.int(frame.length).bytes(frame);
    const index = this.frameCount++;
    if (index === 0) return this.readHeader(value);
    if (!Array.isArray(value)) throw new SnapshotError(`frame ${index} is not a record`);
    switch (value[0]) {
      case TAG_ACL:
        return this.readAcl(value);
      case TAG_NODE:
        return this.readNode(value);
      case TAG_SESSION:
        return this.readSession(value);
      case TAG_RESULT:
        return this.readResult(value);
      default:
        throw new SnapshotError(`frame ${index} has unknown record tag ${String(value[0])}`);
    }
  }

  private readHeader(value: unknown): void {
    const h = value as Record<string, unknown> | null;
    if (typeof h !== 'object' || h === null || h['format'] !== SNAPSHOT_FORMAT) throw new SnapshotError('not an Arbor tree snapshot');
    if (h['version'] !== SNAPSHOT_VERSION)
      throw new SnapshotError(`format version ${String(h['version'])} is not supported (this build reads ${SNAPSHOT_VERSION})`);
    const { zxid, nodes, sessions, acls, resultsPerSession } = h;
    if (!isInt(zxid, 0) || !isInt(nodes, 1) || !isInt(sessions, 0) || !isInt(acls, 1) || !isInt(resultsPerSession, 1)) {
      throw new SnapshotError('malformed header');
    }
    this.header = { zxid, nodes, sessions, acls };
    this.state = new TreeState(resultsPerSession, nodes);
    this.state.lastZxid = zxid;
  }

  private readAcl(r: unknown[]): void {
    if (this.phase !== 'acls') throw new SnapshotError('an ACL record after the nodes');
    const [, id, list] = r;
    if (!isInt(id, 0) || this.aclIds.has(id) || !Array.isArray(list)) throw new SnapshotError('malformed ACL record');
    const acl: ACL[] = list.map((e: unknown) => {
      const [perms, scheme, aclId] = Array.isArray(e) ? e : [];
      return { perms: perms as number, id: { scheme: scheme as string, id: aclId as string } };
    });
    try {
      validateAcl(acl);
    } catch (e) {
      throw new SnapshotError(`ACL record ${id}: ${e instanceof ArborError ? e.message : String(e)}`);
    }
    this.aclIds.set(id, this.state!.acls.intern(acl));
  }

  private readNode(r: unknown[]): void {
    if (this.phase === 'acls') this.phase = 'nodes';
    if (this.phase !== 'nodes') throw new SnapshotError('a node record after the sessions');
    const state = this.state!;
    const [, depth, name, data, aclRef, czxid, mzxid, pzxid, ctime, mtime, version, cversion, aversion, kind, owner, creations] = r;
    const isRoot = depth === 0;
    if (isRoot !== (state.nodes.count === 0)) throw new SnapshotError(isRoot ? 'a second root' : 'the first node is not the root');
    if (!isInt(depth, 0, this.open.length)) throw new SnapshotError(`node depth ${String(depth)} does not follow its predecessor`);
    if (typeof name !== 'string' || (isRoot ? name !== '' : name.includes('/') || pathProblem(`/${name}`) !== undefined)) {
      throw new SnapshotError(`bad node name ${JSON.stringify(name)}`);
    }
    if (data !== null && !(data instanceof Uint8Array)) throw new SnapshotError(`node ${name}: data is not bytes`);
    const aclId = this.aclIds.get(aclRef as number);
    if (aclId === undefined) throw new SnapshotError(`node ${name}: unknown ACL ${String(aclRef)}`);
    for (const v of [czxid, mzxid, pzxid, ctime, mtime]) if (!isInt(v)) throw new SnapshotError(`node ${name}: malformed stat`);
    for (const v of [version, cversion, aversion, creations]) if (!isInt(v, 0)) throw new SnapshotError(`node ${name}: malformed counter`);
    if (!isInt(kind, 0, 3) || !isInt(owner)) throw new SnapshotError(`node ${name}: malformed kind`);
    if (kind === NodeKind.TTL && !isInt(owner, 1, TTL_MS_MAX)) throw new SnapshotError(`node ${name}: TTL out of range`);
    if (kind !== NodeKind.TTL && kind !== NodeKind.EPHEMERAL && owner !== 0)
      throw new SnapshotError(`node ${name}: owner on a node without one`);
    if (isRoot && kind !== NodeKind.PERSISTENT) throw new SnapshotError('the root must be persistent');

    this.closeDownTo(depth);
    const parent = this.open[depth - 1];
    if (parent !== undefined && state.nodes.kind(parent.id) === NodeKind.EPHEMERAL)
      throw new SnapshotError(`node ${name}: child of an ephemeral`);
    const { nodes } = state;
    const id = nodes.alloc();
    if (isRoot && id !== ROOT_ID) throw new SnapshotError('the root must come first');
    nodes.setInt(id, I.KIND, kind);
    nodes.setInt(id, I.ACL, aclId);
    state.acls.ref(aclId);
    const fields: [number, number][] = [
      [F.CZXID, czxid as number],
      [F.MZXID, mzxid as number],
      [F.PZXID, pzxid as number],
      [F.CTIME, ctime as number],
      [F.MTIME, mtime as number],
      [F.VERSION, version as number],
      [F.CVERSION, cversion as number],
      [F.AVERSION, aversion as number],
      [F.OWNER, owner],
    ];
    for (const [field, v] of fields) nodes.set(id, field, v);
    state.storeData(id, data);
    const hash = parent === undefined ? pathHash('/') : childPathHash(parent.hash, parent.id === ROOT_ID, name);
    if (parent !== undefined && !state.restoreLink(parent.id, name, id, hash)) {
      throw new SnapshotError(`node ${name}: siblings out of order or repeated`);
    }
    state.restoreTerms(id, hash);
    this.open.push({ id, hash, name, creations: creations as number });
    if (kind === NodeKind.EPHEMERAL) this.ephemerals.push({ id, owner, path: this.openPath() });
    else if (kind !== NodeKind.PERSISTENT) state.indexAdd(id, this.openPath());
  }

  /** Path of the deepest open node. */
  private openPath(): string {
    let path = '';
    for (let i = 1; i < this.open.length; i++) path += `/${this.open[i]!.name}`;
    return path === '' ? '/' : path;
  }

  /** Finishes the open nodes at `depth` and below: their children are all in, so their child term is final. */
  private closeDownTo(depth: number): void {
    const state = this.state!;
    while (this.open.length > depth) {
      const node = this.open.pop()!;
      const size = state.nodes.numChildren(node.id);
      if (node.creations < size) throw new SnapshotError(`node ${node.name}: sequential counter below its child count`);
      if (node.creations > 0) state.restoreCreations(node.id, node.creations);
      state.restoreChildTerm(node.id, node.hash);
    }
  }

  private readSession(r: unknown[]): void {
    if (this.phase === 'acls') throw new SnapshotError('a session record before the nodes');
    this.closeDownTo(0);
    this.phase = 'sessions';
    this.closeSession();
    const state = this.state!;
    const [, id, password, timeoutMs, evictedUpTo, resultCount] = r;
    if (!isInt(id, 1) || state.sessions.has(id) || this.session?.id === id)
      throw new SnapshotError(`session ${String(id)}: bad or repeated id`);
    if (!(password instanceof Uint8Array) || !isInt(timeoutMs, 1) || !isInt(evictedUpTo, -1))
      throw new SnapshotError(`session ${id}: malformed`);
    if (!isInt(resultCount, 0, state.resultsPerSession)) throw new SnapshotError(`session ${id}: result count out of range`);
    const session = new Session(id, password.slice(), timeoutMs);
    session.evictedUpTo = evictedUpTo;
    this.session = session;
    this.resultsLeft = resultCount;
  }

  private readResult(r: unknown[]): void {
    const session = this.session;
    if (session === null || this.resultsLeft === 0) throw new SnapshotError('a result record outside its session');
    const [, requestId, result] = r;
    if (!isInt(requestId, 0) || session.results.has(requestId))
      throw new SnapshotError(`session ${session.id}: bad or repeated request id`);
    if (typeof result !== 'object' || result === null || !isInt((result as { err?: unknown }).err)) {
      throw new SnapshotError(`session ${session.id}: malformed result of request ${requestId}`);
    }
    this.state!.restoreResult(session, requestId, deepFreeze(result as TxnResult));
    this.resultsLeft--;
  }

  private closeSession(): void {
    if (this.session === null) return;
    if (this.resultsLeft !== 0) throw new SnapshotError(`session ${this.session.id}: ${this.resultsLeft} results missing`);
    this.state!.addSession(this.session);
    this.session = null;
  }

  private end(r: unknown[]): void {
    const state = this.state;
    const header = this.header;
    if (state === null || header === null) throw new SnapshotError('the end record comes before the header');
    const [, frames, checksum, digest] = r;
    if (frames !== this.frameCount) throw new SnapshotError(`the end record counts ${String(frames)} frames; ${this.frameCount} were read`);
    if (checksum !== this.checksum.hex()) throw new SnapshotError('checksum mismatch: the snapshot is damaged');
    this.closeDownTo(0);
    this.closeSession();
    for (const e of this.ephemerals) {
      if (!state.sessions.has(e.owner))
        throw new SnapshotError(`ephemeral ${e.path} belongs to session ${e.owner}, which is not in the snapshot`);
      state.indexAdd(e.id, e.path);
    }
    if (state.nodes.count !== header.nodes)
      throw new SnapshotError(`the header announces ${header.nodes} nodes; ${state.nodes.count} were read`);
    if (state.sessions.size !== header.sessions)
      throw new SnapshotError(`the header announces ${header.sessions} sessions; ${state.sessions.size} were read`);
    if (this.aclIds.size !== header.acls)
      throw new SnapshotError(`the header announces ${header.acls} ACLs; ${this.aclIds.size} were read`);
    if (digest !== state.digest())
      throw new SnapshotError(`the restored state's digest ${state.digest()} differs from the recorded ${String(digest)}`);
    this.ended = true;
  }
}

/** Restores a tree from chunks in order (any split); never holds more than one chunk and one frame. */
export function restoreFromChunksSync(chunks: Iterable<Uint8Array>, options?: SnapshotReaderOptions): ZnodeTree {
  const reader = new SnapshotReader(options);
  for (const chunk of chunks) reader.push(chunk);
  return reader.finish();
}

export async function restoreFromChunks(
  chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
  options?: SnapshotReaderOptions,
): Promise<ZnodeTree> {
  const reader = new SnapshotReader(options);
  for await (const chunk of chunks) reader.push(chunk);
  return reader.finish();
}
