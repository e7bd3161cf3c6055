import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  OP_NAMES,
  Ops,
  decodeConnectReply,
  decodeConnectRequest,
  decodeRequest,
  decodeServerFrame,
  encodeClientFrame,
  encodeServerFrame,
  unpackValue,
} from '@arbor/protocol';
import type { OpName } from '@arbor/protocol';
import {
  argsArbitraries,
  connectRefused,
  connectRequest,
  connectResponse,
  notice,
  requestFor,
  responseFor,
  resultArbitraries,
  watchEvent,
} from './arbitraries.js';

const RUNS = { numRuns: 60 };
const noOp = (): undefined => undefined;

describe('every op has arbitraries', () => {
  it('for its arguments and its result', () => {
    expect(Object.keys(argsArbitraries).sort()).toEqual([...OP_NAMES].sort());
    expect(Object.keys(resultArbitraries).sort()).toEqual([...OP_NAMES].sort());
  });
});

describe('requests round-trip', () => {
  it.each(OP_NAMES)('%s', (name) => {
    fc.assert(
      fc.property(requestFor(name), (frame) => {
        const decoded = decodeRequest(encodeClientFrame(frame));
        expect(decoded).toEqual({ ok: true, value: { ...frame, name } });
      }),
      RUNS,
    );
  });
});

describe('responses round-trip', () => {
  it.each(OP_NAMES)('%s', (name: OpName) => {
    fc.assert(
      fc.property(responseFor(name), (frame) => {
        const decoded = decodeServerFrame(encodeServerFrame(frame), { opOf: (xid) => (xid === frame.xid ? name : undefined) });
        expect(decoded).toEqual({ ok: true, value: { kind: 'response', frame } });
      }),
      RUNS,
    );
  });
});

describe('other messages round-trip', () => {
  it('connect request', () => {
    fc.assert(
      fc.property(connectRequest, (frame) => {
        expect(decodeConnectRequest(encodeClientFrame(frame))).toEqual({ ok: true, value: frame });
      }),
      RUNS,
    );
  });
  it('connect response', () => {
    fc.assert(
      fc.property(connectResponse, (frame) => {
        expect(decodeConnectReply(encodeServerFrame(frame))).toEqual({ ok: true, value: { kind: 'accepted', frame } });
      }),
      RUNS,
    );
  });
  it('connect refusal', () => {
    fc.assert(
      fc.property(connectRefused, (frame) => {
        expect(decodeConnectReply(encodeServerFrame(frame))).toEqual({ ok: true, value: { kind: 'refused', frame } });
      }),
      RUNS,
    );
  });
  it('watch event', () => {
    fc.assert(
      fc.property(watchEvent, (frame) => {
        expect(decodeServerFrame(encodeServerFrame(frame), { opOf: noOp })).toEqual({ ok: true, value: { kind: 'watch', frame } });
      }),
      RUNS,
    );
  });
  it('notice', () => {
    fc.assert(
      fc.property(notice, (frame) => {
        expect(decodeServerFrame(encodeServerFrame(frame), { opOf: noOp })).toEqual({ ok: true, value: { kind: 'notice', frame } });
      }),
      RUNS,
    );
  });
});

describe('the bytes on the wire', () => {
  it('write xid first, so that a refused frame can still be answered', () => {
    const frame = { xid: 7, op: Ops.getData.code, args: { path: '/a' } };
    expect([...encodeClientFrame(frame).subarray(0, 5)]).toEqual([0x83, 0xa3, 0x78, 0x69, 0x64]);
  });
  it('hold integers above 32 bits as msgpack int64, not float64', () => {
    const bytes = encodeServerFrame({ xid: 1, zxid: 2 ** 40, err: 0, res: {} });
    expect(bytes.includes(0xcb)).toBe(false);
    expect(Buffer.from(bytes).toString('hex')).toContain('d30000010000000000');
    expect(encodeServerFrame({ xid: 1, zxid: -(2 ** 40), err: 0, res: {} }).includes(0xcb)).toBe(false);
  });
  it('leave out undefined fields instead of writing an extension', () => {
    const bytes = encodeClientFrame({ xid: 3, op: Ops.exists.code, args: { path: '/a', watch: undefined } });
    expect(unpackValue(bytes)).toEqual({ xid: 3, op: Ops.exists.code, args: { path: '/a' } });
  });
  it('write only the fields of the frame type', () => {
    const frame = { xid: 3, op: Ops.sync.code, args: { path: '/a' }, name: 'sync', extra: 1 };
    expect(unpackValue(encodeClientFrame(frame))).toEqual({ xid: 3, op: Ops.sync.code, args: { path: '/a' } });
  });
  it('decode bins as plain Uint8Array copies, not views of the frame', () => {
    const frame = { xid: 1, op: Ops.setData.code, args: { path: '/a', data: new Uint8Array([1, 2, 3]), version: -1 }, requestId: 1 };
    const bytes = Buffer.from(encodeClientFrame(frame));
    const decoded = decodeRequest(bytes);
    if (!decoded.ok || decoded.value.name !== 'setData') throw new Error('expected a setData request');
    const data = decoded.value.args.data as Uint8Array;
    expect(data.constructor).toBe(Uint8Array);
    bytes.fill(0);
    expect([...data]).toEqual([1, 2, 3]);
  });
});
