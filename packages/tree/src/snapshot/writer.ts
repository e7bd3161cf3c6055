import { packValue } from '@arbor/protocol';
import { assert } from '../assert.js';
import type { ChildCursor } from '../child-list.js';
import { Hasher } from '../hash.js';
import { F, ROOT_ID, STRIDE } from '../node-store.js';
import type { TreeState } from '../state.js';
import type { ZnodeTree } from '../tree.js';
import {
  CHECKSUM_SEED,
  SNAPSHOT_CHUNK_BYTES_DEFAULT,
  SNAPSHOT_FORMAT,
  SNAPSHOT_VERSION,
  TAG_ACL,
  TAG_END,
  TAG_NODE,
  TAG_RESULT,
  TAG_SESSION,
} from './format.js';

/** Frames records into fixed-size chunks and keeps the running checksum. */
class ChunkWriter {
  readonly checksum = new Hasher(CHECKSUM_SEED);
  frames = 0;
  private buf: Uint8Array;
  private pos = 0;
  private readonly ready: Uint8Array[] = [];

  constructor(private readonly chunkBytes: number) {
    this.buf = new Uint8Array(chunkBytes);
  }

  record(value: unknown, counted = true): void {
    const payload = packValue(value);
    const len = payload.length;
    if (counted) {
      this.checksum.int(len).bytes(payload);
      this.frames++;
    }
    this.put(new Uint8Array([len >>> 24, (len >>> 16) & 0xff, (len >>> 8) & 0xff, len & 0xff]));
    this.put(payload);
  }

  /** Full chunks so far (each a fresh array the consumer may keep). */
  take(): Uint8Array[] {
    return this.ready.splice(0, this.ready.length);
  }

  /** Everything left, the last chunk possibly short. */
  flush(): Uint8Array[] {
    if (this.pos > 0) this.ready.push(this.buf.slice(0, this.pos));
    this.pos = 0;
    return this.take();
  }

  private put(bytes: Uint8Array): void {
    let from = 0;
    while (from < bytes.length) {
      const n = Math.min(bytes.length - from, this.chunkBytes - this.pos);
      this.buf.set(bytes.subarray(from, from + n), this.pos);
      this.pos += n;
      from += n;
      if (this.pos === this.chunkBytes) {
        this.ready.push(this.buf);
        this.buf = new Uint8Array(this.chunkBytes);
        this.pos = 0;
      }
    }
  }
}

/**
 * The tree as a stream of chunks of about `chunkBytes` each (see format.ts), produced lazily:
 * memory stays at one chunk plus what the consumer keeps. The snapshot is of the state when
 * the first chunk is taken; the tree must not change until the last one is taken (the
 * iterator throws if it does, rather than produce a torn snapshot).
 */
export function* snapshotChunks(tree: ZnodeTree, chunkBytes = SNAPSHOT_CHUNK_BYTES_DEFAULT): Generator<Uint8Array, void, undefined> {
  assert(Number.isSafeInteger(chunkBytes) && chunkBytes >= 16, 'chunkBytes must be an integer >= 16');
  const state = tree.state;
  const changeCount = state.changeCount;
  const unchanged = (): void => assert(state.changeCount === changeCount, 'the tree changed while a snapshot of it was being taken');
  const out = new ChunkWriter(chunkBytes);
  out.record({
    format: SNAPSHOT_FORMAT,
    version: SNAPSHOT_VERSION,
    zxid: state.lastZxid,
    nodes: state.nodes.count,
    sessions: state.sessions.size,
    acls: state.acls.size,
    resultsPerSession: state.resultsPerSession,
  });
  for (const [id, acl] of state.acls.list()) out.record([TAG_ACL, id, acl.map((e) => [e.perms, e.id.scheme, e.id.id])]);
  yield* out.take();
  unchanged();

  writeNode(out, state, ROOT_ID, 0, '');
  const stack: { cursor: ChildCursor; depth: number }[] = [];
  const rootKids = state.nodes.kids(ROOT_ID);
  if (rootKids) stack.push({ cursor: rootKids.cursor(), depth: 1 });
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if (!top.cursor.next()) {
      stack.pop();
      continue;
    }
    const id = top.cursor.id;
    writeNode(out, state, id, top.depth, top.cursor.name);
    const kids = state.nodes.kids(id);
    if (kids && kids.size > 0) stack.push({ cursor: kids.cursor(), depth: top.depth + 1 });
    const chunks = out.take();
    if (chunks.length > 0) {
      yield* chunks;
      unchanged();
    }
  }

  for (const s of state.sessions.values()) {
    out.record([TAG_SESSION, s.id, s.password, s.timeoutMs, s.evictedUpTo, s.results.size]);
    const kept = s.results;
    for (let i = 0; i < kept.size; i++) out.record([TAG_RESULT, kept.idAt(i), kept.resultAt(i)]);
    yield* out.take();
    unchanged();
  }
  out.record([TAG_END, out.frames, out.checksum.hex(), state.digest()], false);
  yield* out.flush();
  unchanged();
}

function writeNode(out: ChunkWriter, state: TreeState, id: number, depth: number, name: string): void {
  const { nodes } = state;
  const n = nodes.f64;
  const b = id * STRIDE;
  const length = nodes.dataLength(id);
  const data = length < 0 ? null : length === 0 ? new Uint8Array(0) : state.data.view(n[b + F.DATA_REF]!, length);
  out.record([
    TAG_NODE,
    depth,
    name,
    data,
    nodes.aclOf(id),
    n[b + F.CZXID],
    n[b + F.MZXID],
    n[b + F.PZXID],
    n[b + F.CTIME],
    n[b + F.MTIME],
    n[b + F.VERSION],
    n[b + F.CVERSION],
    n[b + F.AVERSION],
    nodes.kind(id),
    n[b + F.OWNER],
    nodes.kids(id)?.creations ?? 0,
  ]);
}
