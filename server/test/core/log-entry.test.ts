import { describe, expect, it } from 'vitest';
import { packValue } from '@arbor/protocol';
import { ZnodeTree } from '@arbor/tree';
import { decodeLogEntry, encodeLogEntry, LogEntryError, type StampedTxn } from '../../src/core/log-entry.js';

describe('log entry format', () => {
  it('round-trips a stamped txn and takes the zxid from the index', () => {
    const txn: StampedTxn = {
      timeMs: 1_700_000_000_000,
      sessionId: 7,
      requestId: 3,
      ackedRequestId: 2,
      identities: [{ scheme: 'ip', id: '127.0.0.1' }],
      op: { type: 'createSession', sessionId: 7, password: new Uint8Array([1, 2, 3]), timeoutMs: 5000 },
    };
    const decoded = decodeLogEntry(42, encodeLogEntry(txn));
    expect(decoded).toEqual({ ...txn, zxid: 42 });
    expect(decoded.op.type === 'createSession' && decoded.op.password).toBeInstanceOf(Uint8Array);
  });

  it('omits absent request ids', () => {
    const decoded = decodeLogEntry(1, encodeLogEntry({ timeMs: 1, sessionId: 0, identities: [], op: { type: 'reap', path: '/a' } }));
    expect('requestId' in decoded).toBe(false);
    expect('ackedRequestId' in decoded).toBe(false);
  });

  it('decoded entries apply to a tree like the original txns', () => {
    const tree = new ZnodeTree();
    const password = new Uint8Array(16).fill(9);
    const entries: StampedTxn[] = [
      { timeMs: 10, sessionId: 0, identities: [], op: { type: 'createSession', sessionId: 5, password, timeoutMs: 4000 } },
      {
        timeMs: 11,
        sessionId: 5,
        requestId: 1,
        identities: [],
        op: { type: 'create', path: '/x', data: new Uint8Array([1]), acl: [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }], mode: 0 },
      },
    ];
    entries.forEach((e, i) => {
      const outcome = tree.apply(decodeLogEntry(i + 1, encodeLogEntry(e)));
      expect(outcome.result.err).toBe(0);
    });
    expect(tree.exists('/x')?.dataLength).toBe(1);
    expect(tree.getSession(5)?.timeoutMs).toBe(4000);
  });

  it('refuses garbage, other versions and missing fields with LogEntryError', () => {
    expect(() => decodeLogEntry(1, new Uint8Array([0xc1]))).toThrow(LogEntryError);
    expect(() => decodeLogEntry(1, packValue([1, 2]))).toThrow(/not a map/);
    expect(() => decodeLogEntry(1, packValue({ v: 2, t: 1, s: 0, i: [], o: {} }))).toThrow(/format version 2/);
    expect(() => decodeLogEntry(1, packValue({ v: 1, t: 1, s: 0 }))).toThrow(/lacks/);
  });
});
