import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CreateMode, Perms } from '@arbor/protocol';
import type { ACL, Id } from '@arbor/protocol';
import { ZnodeTree, restoreFromChunksSync, snapshotChunks } from '@arbor/tree';
import type { MultiMemberOp, Txn, TxnOp } from '@arbor/tree';
import { acl, alice, bob, ip } from './harness.js';

/**
 * Pinned values: the digest after every entry of a fixed pseudo-random history, the bytes of
 * its snapshot, and its results and triggers, as the code computed them when they were pinned.
 * Snapshots on disk and members of a running cluster compare these very values, so an
 * optimisation of the apply path or of the hashing must leave every one of them unchanged.
 */

/** A small deterministic generator (a 32-bit LCG): the history must not depend on a library's seed handling. */
function lcg(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s >>> 8) % n;
  };
}

const NAMES = ['a', 'bb', 'ccc', 'node-000123', 'long-name-over-thirteen', 'é', 'x'.repeat(40), 'q-', 'z9'];
const IDENTITIES: Id[][] = [[], [alice], [bob], [ip('10.0.0.7')], [alice, ip('10.1.2.3')]];
const ACLS: ACL[][] = [
  [acl(Perms.ALL, 'world', 'anyone')],
  [acl(Perms.READ | Perms.CREATE | Perms.DELETE, 'world', 'anyone')],
  [acl(Perms.ALL, 'digest', alice.id), acl(Perms.READ, 'world', 'anyone')],
  [acl(Perms.ALL, 'auth', '')],
  [acl(Perms.ALL, 'ip', '10.0.0.0/8')],
];
const MODES = [
  CreateMode.PERSISTENT,
  CreateMode.PERSISTENT,
  CreateMode.EPHEMERAL,
  CreateMode.PERSISTENT_SEQUENTIAL,
  CreateMode.EPHEMERAL_SEQUENTIAL,
  CreateMode.CONTAINER,
  CreateMode.PERSISTENT_WITH_TTL,
  CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL,
];

function data(rnd: (n: number) => number): Uint8Array | null {
  const kind = rnd(6);
  if (kind === 0) return null;
  const length = kind === 1 ? 0 : kind === 2 ? 5000 : [1, 3, 4, 7, 100, 4096][rnd(6)]!;
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = rnd(256);
  return bytes;
}

/** Applies a history of `entries` entries, each made from the state the previous ones left (mostly paths that exist). */
function* history(tree: ZnodeTree, entries: number): Generator<Txn> {
  const rnd = lcg(0x5eed);
  const paths: string[] = ['/'];
  const requestIds = new Map<number, number>();
  let timeMs = 1_700_000_000_000;
  const pick = (): string => {
    for (let tries = 0; tries < 4; tries++) {
      const path = paths[rnd(paths.length)]!;
      if (tree.exists(path) !== null) return path;
    }
    return paths[rnd(paths.length)]!;
  };
  const child = (): string => {
    const parent = pick();
    const path = `${parent === '/' ? '' : parent}/${NAMES[rnd(NAMES.length)]!}`;
    if (!paths.includes(path)) paths.push(path);
    return path;
  };
  const member = (): MultiMemberOp => {
    switch (rnd(4)) {
      case 0:
        return { type: 'create', path: child(), data: data(rnd), acl: ACLS[rnd(ACLS.length)]!, mode: MODES[rnd(4)]! };
      case 1:
        return { type: 'delete', path: pick(), version: rnd(3) - 1 };
      case 2:
        return { type: 'setData', path: pick(), data: data(rnd), version: rnd(3) - 1 };
      default:
        return { type: 'check', path: pick(), version: rnd(3) - 1 };
    }
  };
  for (let zxid = 1; zxid <= entries; zxid++) {
    timeMs += rnd(50);
    const sessionId = 1 + rnd(3);
    let op: TxnOp;
    const r = rnd(100);
    if (zxid <= 3) op = { type: 'createSession', sessionId: zxid, password: new Uint8Array([zxid, 7, 7]), timeoutMs: 10_000 };
    else if (r < 1) op = { type: 'closeSession', sessionId, reason: rnd(2) === 0 ? 'close' : 'expire' };
    else if (r < 4 && tree.getSession(sessionId) === undefined)
      op = { type: 'createSession', sessionId, password: new Uint8Array(16).fill(sessionId), timeoutMs: 5_000 + sessionId };
    else if (r < 4) op = { type: 'check', path: pick(), version: -1 };
    else if (r < 30) {
      const mode = MODES[rnd(MODES.length)]!;
      const ttl = mode === CreateMode.PERSISTENT_WITH_TTL || mode === CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL;
      op = {
        type: 'create',
        path: child(),
        data: data(rnd),
        acl: ACLS[rnd(3) === 0 ? rnd(ACLS.length) : 0]!,
        mode,
        ...(ttl ? { ttlMs: 1 + rnd(200) } : {}),
      };
    } else if (r < 45) op = { type: 'setData', path: pick(), data: data(rnd), version: rnd(3) - 1 };
    else if (r < 55) op = { type: 'delete', path: pick(), version: rnd(3) - 1 };
    else if (r < 60) op = { type: 'setACL', path: pick(), acl: ACLS[rnd(ACLS.length)]!, version: rnd(3) - 1 };
    else if (r < 65) op = { type: 'check', path: pick(), version: rnd(3) - 1 };
    else if (r < 80) op = { type: 'multi', ops: Array.from({ length: 1 + rnd(5) }, member) };
    else if (r < 85) op = { type: 'reap', path: pick() };
    else op = { type: 'create', path: child(), data: data(rnd), acl: ACLS[0]!, mode: CreateMode.PERSISTENT };
    const session = (r < 4 && op.type !== 'check') || (r >= 80 && r < 85) ? 0 : sessionId;
    let requestId: number | undefined;
    if (session !== 0 && rnd(10) > 0) {
      const next = (requestIds.get(session) ?? 0) + 1;
      // sometimes a retry of an earlier id, answered from the kept results or refused as too old
      requestId = rnd(8) === 0 ? Math.max(1, next - 1 - rnd(12)) : next;
      requestIds.set(session, Math.max(next - 1, requestId));
    }
    const acked = requestId !== undefined && rnd(4) === 0 ? requestId - 1 - rnd(3) : undefined;
    yield {
      zxid,
      timeMs,
      sessionId: session,
      ...(requestId === undefined ? {} : { requestId }),
      ...(acked === undefined ? {} : { ackedRequestId: acked }),
      identities: IDENTITIES[rnd(IDENTITIES.length)]!,
      op,
    };
  }
}

const sha256 = (parts: Iterable<string | Uint8Array>): string => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
};

describe('pinned digests and snapshot bytes', () => {
  it('a fixed history gives the digests, results and snapshot it gave when pinned', () => {
    const tree = new ZnodeTree({ requestResultsPerSession: 16 });
    const digests: string[] = [];
    const outcomes: string[] = [];
    for (const txn of history(tree, 4000)) {
      const outcome = tree.apply(txn);
      digests.push(tree.digest());
      outcomes.push(JSON.stringify(outcome));
    }
    const chunks = [...snapshotChunks(tree, 4096)];
    expect(tree.nodeCount).toBe(597);
    expect(tree.digest()).toBe('b787e2c09a33b818');
    expect(sha256(digests)).toBe('c572305b54216f72ff0200de5a21429e193b9e4121a8c721db6663b5c68ea137');
    expect(sha256(outcomes)).toBe('0a2f85fbb48b327c72a660a77a02de611714609bb323b661c156664b914f01fc');
    expect(sha256(chunks)).toBe('f1981de9e4886c445576e010b88752a3150969d5aec9b961b89dd0cf1c7d0ac0');
    expect(restoreFromChunksSync(chunks).digest()).toBe(tree.digest());
  });
});
