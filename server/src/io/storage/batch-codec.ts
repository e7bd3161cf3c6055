import type { Entry, HardState, LogPosition, SnapshotMeta } from '@arbor/raft';
import { entryTypeCode, entryTypeFromCode } from './checksums.js';
import type { StoredSnapshot } from './recovery.js';
import type { WriteOp } from './worker-protocol.js';

// A batch of writes as one byte array, so that it crosses to the storage worker as a transferred
// ArrayBuffer (no copy) instead of a structured clone of an object graph: one object per entry
// and one ArrayBuffer per entry's data, each serialized on the main thread and rebuilt on the
// worker. Entry data is copied once, into the batch; the worker reads it in place (subarrays).
//
// Layout, little-endian, one record per op in op order:
//   append        u8 1 · u32 count · count × (f64 index · f64 term · u8 type · u32 length · data)
//   hardState     u8 2 · f64 term · f64 vote (NaN: none) · f64 commit
//   compact       u8 3 · f64 index · f64 term
//   resetLog      u8 4 · f64 index · f64 term
//   stageChunk    u8 5 · u32 length · JSON {snapshot, offset, done} · u32 length · data
//   installStaged u8 6 · u32 length · JSON meta
//   recordSnapshot u8 7 · u32 length · JSON snapshot
// Indexes and terms are integers below 2^53, so f64 carries them exactly. The snapshot records
// are rare and small, so JSON is enough for them. The format lives only as long as one batch in
// flight between two threads of one process; it is never stored.

const TAG = { append: 1, hardState: 2, compact: 3, resetLog: 4, stageChunk: 5, installStaged: 6, recordSnapshot: 7 } as const;

const ENTRY_HEADER_BYTES = 8 + 8 + 1 + 4;
const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

function snapshotJson(meta: SnapshotMeta): unknown {
  return { index: meta.index, term: meta.term, confState: { voters: [...meta.confState.voters], learners: [...meta.confState.learners] } };
}

/** Encodes `ops` into one byte array whose buffer is its own (safe to transfer). */
export function encodeBatch(ops: readonly WriteOp[]): Uint8Array<ArrayBuffer> {
  // The rare ops' JSON is encoded once, in the sizing pass, and written in the second.
  const texts: Uint8Array[] = [];
  let size = 0;
  for (const op of ops) {
    size += 1;
    switch (op.kind) {
      case 'append':
        size += 4;
        for (const entry of op.entries) size += ENTRY_HEADER_BYTES + entry.data.length;
        break;
      case 'hardState':
        size += 24;
        break;
      case 'compact':
      case 'resetLog':
        size += 16;
        break;
      case 'stageChunk': {
        const text = utf8.encode(
          JSON.stringify({ snapshot: snapshotJson(op.chunk.snapshot), offset: op.chunk.offset, done: op.chunk.done }),
        );
        texts.push(text);
        size += 4 + text.length + 4 + op.chunk.data.length;
        break;
      }
      case 'installStaged':
      case 'recordSnapshot': {
        const value = op.kind === 'installStaged' ? snapshotJson(op.meta) : { ...op.snapshot, meta: snapshotJson(op.snapshot.meta) };
        const text = utf8.encode(JSON.stringify(value));
        texts.push(text);
        size += 4 + text.length;
        break;
      }
    }
  }
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  let at = 0;
  let nextText = 0;
  const putBytes = (data: Uint8Array): void => {
    view.setUint32(at, data.length, true);
    bytes.set(data, at + 4);
    at += 4 + data.length;
  };
  for (const op of ops) {
    view.setUint8(at++, TAG[op.kind]);
    switch (op.kind) {
      case 'append':
        view.setUint32(at, op.entries.length, true);
        at += 4;
        for (const entry of op.entries) {
          view.setFloat64(at, entry.index, true);
          view.setFloat64(at + 8, entry.term, true);
          view.setUint8(at + 16, entryTypeCode(entry.type));
          at += 17;
          putBytes(entry.data);
        }
        break;
      case 'hardState':
        view.setFloat64(at, op.state.term, true);
        view.setFloat64(at + 8, op.state.vote ?? Number.NaN, true);
        view.setFloat64(at + 16, op.state.commit, true);
        at += 24;
        break;
      case 'compact':
      case 'resetLog':
        view.setFloat64(at, op.boundary.index, true);
        view.setFloat64(at + 8, op.boundary.term, true);
        at += 16;
        break;
      case 'stageChunk':
        putBytes(texts[nextText++]!);
        putBytes(op.chunk.data);
        break;
      case 'installStaged':
      case 'recordSnapshot':
        putBytes(texts[nextText++]!);
        break;
    }
  }
  if (at !== size) throw new Error(`storage invariant broken: batch encoded in ${at} bytes, sized for ${size}`);
  return bytes;
}

/** The ops of an encoded batch; entry and chunk data are views into `bytes`. Throws on damage. */
export function decodeBatch(bytes: Uint8Array): WriteOp[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const ops: WriteOp[] = [];
  let at = 0;
  const need = (n: number): void => {
    if (at + n > bytes.length) throw new Error(`storage batch truncated: ${n} bytes needed at offset ${at} of ${bytes.length}`);
  };
  const f64 = (): number => {
    need(8);
    const value = view.getFloat64(at, true);
    at += 8;
    return value;
  };
  const takeBytes = (): Uint8Array => {
    need(4);
    const length = view.getUint32(at, true);
    at += 4;
    need(length);
    const data = bytes.subarray(at, at + length);
    at += length;
    return data;
  };
  const json = <T>(): T => JSON.parse(fromUtf8.decode(takeBytes())) as T;
  const position = (): LogPosition => ({ index: f64(), term: f64() });
  while (at < bytes.length) {
    const tag = view.getUint8(at++);
    switch (tag) {
      case TAG.append: {
        need(4);
        const count = view.getUint32(at, true);
        at += 4;
        const entries: Entry[] = [];
        for (let i = 0; i < count; i++) {
          const index = f64();
          const term = f64();
          need(1);
          const code = view.getUint8(at++);
          const type = entryTypeFromCode(code);
          if (type === undefined) throw new Error(`storage batch: entry ${index} has unknown type code ${code}`);
          entries.push({ index, term, type, data: takeBytes() });
        }
        ops.push({ kind: 'append', entries });
        break;
      }
      case TAG.hardState: {
        const term = f64();
        const vote = f64();
        const commit = f64();
        const state: HardState = { term, vote: Number.isNaN(vote) ? null : vote, commit };
        ops.push({ kind: 'hardState', state });
        break;
      }
      case TAG.compact:
        ops.push({ kind: 'compact', boundary: position() });
        break;
      case TAG.resetLog:
        ops.push({ kind: 'resetLog', boundary: position() });
        break;
      case TAG.stageChunk: {
        const header = json<{ snapshot: SnapshotMeta; offset: number; done: boolean }>();
        ops.push({ kind: 'stageChunk', chunk: { ...header, data: takeBytes() } });
        break;
      }
      case TAG.installStaged:
        ops.push({ kind: 'installStaged', meta: json<SnapshotMeta>() });
        break;
      case TAG.recordSnapshot:
        ops.push({ kind: 'recordSnapshot', snapshot: json<StoredSnapshot>() });
        break;
      default:
        throw new Error(`storage batch: unknown op tag ${tag} at offset ${at - 1}`);
    }
  }
  return ops;
}
