import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ErrorCode, packValue } from '@arbor/protocol';
import { SnapshotError, SnapshotReader, ZnodeTree, restoreFromChunks, restoreFromChunksSync, snapshotChunks } from '@arbor/tree';
import { CreateMode, OPEN, acl, alice, driver, enc, Perms } from './harness.js';
import type { Driver } from './harness.js';
import { sameReads } from './observe.js';
import { ROW_BYTES } from '../src/node-store.js';
import { TreeState } from '../src/state.js';

/** A tree with every kind of node, sessions with kept results, several ACLs and sequential counters. */
function sample(): Driver {
  const d = driver({ requestResultsPerSession: 8 });
  d.openSession(3);
  d.create('/app', { data: enc('config') });
  d.create('/app/locks');
  for (let i = 0; i < 5; i++) d.create('/app/locks/lock-', { mode: CreateMode.EPHEMERAL_SEQUENTIAL, session: 1 + (i % 3) });
  d.create('/app/c', { mode: CreateMode.CONTAINER });
  d.create('/app/c/x');
  d.create('/ttl', { mode: CreateMode.PERSISTENT_WITH_TTL, ttlMs: 500, data: new Uint8Array(0) });
  d.create('/ttl/s-', { mode: CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL, ttlMs: 9000 });
  d.create('/secret', {
    acl: [acl(Perms.ALL, 'digest', alice.id), acl(Perms.READ, 'ip', '10.0.0.0/8')],
    data: new Uint8Array(5000).fill(7),
  });
  d.create('/big');
  for (let i = 0; i < 600; i++) d.create(`/big/n${i}`, { data: enc(`v${i}`), requestId: null });
  for (let i = 0; i < 600; i += 4) d.ok({ type: 'delete', path: `/big/n${i}`, version: -1 });
  d.ok({ type: 'setData', path: '/app', data: enc('v2'), version: 0 });
  d.ok({ type: 'setACL', path: '/app/locks', acl: OPEN, version: 0 });
  d.apply({ type: 'delete', path: '/missing', version: -1 }); // a kept failure
  return d;
}

describe('snapshots', () => {
  it('restore(snapshot) has the same digest, zxid and answers every read the same', () => {
    const d = sample();
    const restored = restoreFromChunksSync(snapshotChunks(d.tree, 1024));
    expect(restored.digest()).toBe(d.tree.digest());
    expect(restored.lastZxid).toBe(d.tree.lastZxid);
    expect(restored.requestResultsPerSession).toBe(8);
    sameReads(d.tree, restored, d.nowMs);
  });

  it('keeps kept results, evictions and sequential counters, so that the restored tree goes on identically', () => {
    const d = sample();
    const restored = restoreFromChunksSync(snapshotChunks(d.tree));
    const ops = [
      () => ({ type: 'create' as const, path: '/app/locks/lock-', data: null, acl: OPEN, mode: CreateMode.EPHEMERAL_SEQUENTIAL }),
      () => ({ type: 'closeSession' as const, sessionId: 2, reason: 'expire' as const }),
      () => ({ type: 'reap' as const, path: '/ttl' }),
    ];
    let zxid = d.tree.lastZxid;
    for (const requestId of [1, 3, 50, 51]) {
      for (const make of ops) {
        zxid++;
        const txn = { zxid, timeMs: d.nowMs + 10_000, sessionId: 1, requestId, identities: [], op: make() };
        const a = d.tree.apply(txn);
        const b = restored.apply(txn);
        expect(b.result).toEqual(a.result);
        expect(b.triggers).toEqual(a.triggers);
        expect(b.duplicate).toBe(a.duplicate);
        expect(restored.digest()).toBe(d.tree.digest());
      }
    }
  });

  it('reads chunks split anywhere, and async sources', async () => {
    const d = sample();
    const whole = concat([...snapshotChunks(d.tree, 4096)]);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 3000 }), { minLength: 1, maxLength: 40 }), async (cuts) => {
        const pieces: Uint8Array[] = [];
        let at = 0;
        for (let i = 0; at < whole.length; i++) {
          const n = cuts[i % cuts.length]!;
          pieces.push(whole.subarray(at, at + n));
          at += n;
        }
        async function* source() {
          for (const p of pieces) yield p;
        }
        expect((await restoreFromChunks(source())).digest()).toBe(d.tree.digest());
      }),
      { numRuns: 25 },
    );
  });

  it('yields chunks of the size asked for, lazily', () => {
    const d = sample();
    const it = snapshotChunks(d.tree, 2048)[Symbol.iterator]();
    const first = it.next();
    expect(first.done).toBe(false);
    const sizes = [first.value!.length];
    for (let r = it.next(); !r.done; r = it.next()) sizes.push(r.value.length);
    expect(sizes.slice(0, -1).every((n) => n === 2048)).toBe(true);
    expect(sizes.at(-1)!).toBeLessThanOrEqual(2048);
  });

  it('refuses to go on when the tree changed under it', () => {
    const d = sample();
    const it = snapshotChunks(d.tree, 256)[Symbol.iterator]();
    it.next();
    d.create('/late');
    expect(() => {
      for (let r = it.next(); !r.done; r = it.next());
    }).toThrow(/changed while a snapshot/);
  });

  it('snapshots an empty tree', () => {
    const tree = new ZnodeTree();
    const restored = restoreFromChunksSync(snapshotChunks(tree));
    expect(restored.digest()).toBe(tree.digest());
    expect(restored.nodeCount).toBe(1);
  });
});

describe('damaged snapshots', () => {
  const d = sample();
  const whole = concat([...snapshotChunks(d.tree, 8192)]);

  function restoreBytes(bytes: Uint8Array): ZnodeTree {
    return restoreFromChunksSync([bytes.subarray(0, 100), bytes.subarray(100)]);
  }

  it('detects any flipped byte', () => {
    // every byte of the first few hundred (header, ACLs, first nodes) and a sample of the rest
    const positions = [...Array(400).keys(), ...Array.from({ length: 400 }, (_, i) => Math.floor((i * whole.length) / 400))];
    for (const at of positions) {
      const bytes = whole.slice();
      bytes[at] ^= 0x20;
      expect(() => restoreBytes(bytes), `byte ${at}`).toThrow(SnapshotError);
    }
  });

  it('detects truncation and trailing bytes', () => {
    for (const cut of [0, 1, 5, Math.floor(whole.length / 2), whole.length - 1]) {
      expect(() => restoreBytes(whole.subarray(0, cut))).toThrow(/truncated|frame length|snapshot rejected/);
    }
    expect(() => restoreBytes(concat([whole, new Uint8Array([0, 0, 0, 1, 0xc0])]))).toThrow(/after the end record/);
    expect(() => restoreBytes(concat([whole, new Uint8Array([0])]))).toThrow(/after the end record/);
  });

  it('detects a missing or repeated chunk', () => {
    const chunks = [...snapshotChunks(d.tree, 1000)];
    expect(() => restoreFromChunksSync([...chunks.slice(0, 3), ...chunks.slice(4)])).toThrow(SnapshotError);
    expect(() => restoreFromChunksSync([...chunks.slice(0, 4), chunks[3]!, ...chunks.slice(4)])).toThrow(SnapshotError);
  });

  it('says so clearly, with a stable code, and stays failed', () => {
    const bytes = whole.slice();
    bytes[bytes.length - 30] ^= 1;
    const reader = new SnapshotReader();
    let error: unknown;
    try {
      reader.push(bytes);
      reader.finish();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SnapshotError);
    expect((error as SnapshotError).code).toBe(ErrorCode.DATAINCONSISTENCY);
    expect((error as Error).message).toMatch(/^snapshot rejected: /);
    expect(() => reader.finish()).toThrow(SnapshotError);
  });

  it('refuses another format or version, and absurd frame lengths', () => {
    const frame = (value: unknown) => {
      const payload = packValue(value);
      return concat([new Uint8Array([0, 0, (payload.length >> 8) & 0xff, payload.length & 0xff]), payload]);
    };
    expect(() => restoreBytes(frame({ format: 'other' }))).toThrow(/not an Arbor tree snapshot/);
    expect(() => restoreBytes(frame({ format: 'arbor-tree-snapshot', version: 99 }))).toThrow(/version 99 is not supported/);
    expect(() => restoreFromChunksSync([new Uint8Array([0xff, 0xff, 0xff, 0xff])])).toThrow(/frame length/);
  });

  it('reserves rows for the node count a header claims only up to a cap, and refuses the lie', () => {
    const header = { format: 'arbor-tree-snapshot', version: 1, zxid: 1, nodes: 2 ** 50, sessions: 0, acls: 1, resultsPerSession: 8 };
    const payload = packValue(header);
    const bytes = concat([new Uint8Array([0, 0, (payload.length >> 8) & 0xff, payload.length & 0xff]), payload]);
    expect(() => restoreBytes(bytes)).toThrow(SnapshotError);
    // what the reader builds from such a header: rows for at most 2^22 nodes, not 2^50
    expect(new TreeState(8, 2 ** 50).nodes.columnBytes()).toBe(2 ** 22 * ROW_BYTES);
    expect(new TreeState(8, 5000).nodes.columnBytes()).toBe(5000 * ROW_BYTES);
  });
});

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
