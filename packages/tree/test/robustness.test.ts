import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ErrorCode } from '@arbor/protocol';
import { ZnodeTree } from '@arbor/tree';
import type { Txn } from '@arbor/tree';
import { OPEN, driver } from './harness.js';

/** Apply never crashes on bad input: it answers with an error result and changes nothing. */
describe('malformed txns', () => {
  const garbage: [string, unknown][] = [
    ['no op', undefined],
    ['a null op', null],
    ['an unknown type', { type: 'explode' }],
    ['a path that is a number', { type: 'create', path: 5, data: null, acl: OPEN, mode: 0 }],
    ['data that is a string', { type: 'setData', path: '/', data: 'x', version: -1 }],
    ['a fractional version', { type: 'delete', path: '/a', version: 0.5 }],
    ['a mode out of range', { type: 'create', path: '/a', data: null, acl: OPEN, mode: 9 }],
    ['an ACL that is not a list', { type: 'create', path: '/a', data: null, acl: 'open', mode: 0 }],
    ['ops that are not a list', { type: 'multi', ops: 3 }],
    ['a multi member that is null', { type: 'multi', ops: [null] }],
    ['a session without a password', { type: 'createSession', sessionId: 9, timeoutMs: 10 }],
    ['a close without a reason', { type: 'closeSession', sessionId: 1 }],
    ['a reap of a relative path', { type: 'reap', path: 'a' }],
  ];
  it.each(garbage)('answers %s with an error', (_name, op) => {
    const d = driver();
    const digest = d.tree.digest();
    const { result, triggers } = d.apply(op as never, { requestId: null });
    expect(result.err).not.toBe(0);
    expect([ErrorCode.BADARGUMENTS, ErrorCode.INVALIDACL]).toContain(result.err);
    expect(triggers).toEqual([]);
    expect(d.tree.digest()).toBe(digest);
  });

  it('answers a malformed envelope with an error', () => {
    const tree = new ZnodeTree();
    const base = { zxid: 1, timeMs: 0, sessionId: 0, identities: [], op: { type: 'check', path: '/', version: -1 } };
    const bad: Partial<Txn>[] = [{ identities: 'x' as never }, { identities: [null as never] }, { timeMs: 1.5 }, { requestId: -1 }];
    for (const [i, patch] of bad.entries()) {
      const out = tree.apply({ ...base, zxid: i + 1, ...patch } as Txn);
      expect(out.result.err).toBe(ErrorCode.BADARGUMENTS);
    }
  });

  it('survives arbitrary values as ops', () => {
    fc.assert(
      fc.property(fc.array(fc.anything(), { maxLength: 20 }), (ops) => {
        const d = driver();
        for (const op of ops) {
          const { result } = d.apply(op as never);
          expect(typeof result.err).toBe('number');
        }
        expect(d.tree.exists('/')).not.toBeNull();
      }),
      { numRuns: 100 },
    );
  });
});
