// Untrusted bytes: every decoder is total (never throws, never allocates beyond the frame's
// size), every refusal is a DecodeError with a stable code, and a readable xid is reported.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_LIMITS,
  ErrorCode,
  Ops,
  PROTOCOL_VERSION,
  XID_PING,
  decodeConnectReply,
  decodeConnectRequest,
  decodeRequest,
  decodeServerFrame,
  encodeClientFrame,
  encodeServerFrame,
  packValue,
} from '@arbor/protocol';
import type { Decoded } from '@arbor/protocol';
import { connectRefused, connectRequest, connectResponse, notice, request, response, watchEvent } from './arbitraries.js';

const DECODE_CODES: number[] = [ErrorCode.MARSHALLINGERROR, ErrorCode.BADARGUMENTS, ErrorCode.INVALIDACL, ErrorCode.UNIMPLEMENTED];
const opOfAny = () => 'getData' as const;

type Decoder = (bytes: Uint8Array) => Decoded<unknown>;
const decoders: [string, Decoder][] = [
  ['decodeConnectRequest', (b) => decodeConnectRequest(b)],
  ['decodeRequest', (b) => decodeRequest(b)],
  ['decodeConnectReply', (b) => decodeConnectReply(b)],
  ['decodeServerFrame', (b) => decodeServerFrame(b, { opOf: opOfAny })],
];

/** Calls the decoder and checks that its answer is well-formed whatever the input. */
function decodeTotal(decode: Decoder, bytes: Uint8Array): Decoded<unknown> {
  let result: Decoded<unknown> | undefined;
  expect(() => (result = decode(bytes))).not.toThrow();
  const r = result as Decoded<unknown>;
  if (!r.ok) {
    expect(DECODE_CODES).toContain(r.code);
    expect(typeof r.message).toBe('string');
    expect(r.message.length).toBeGreaterThan(0);
    // The structural check and the parsers refuse everything themselves: nothing reaches the last-resort catch.
    expect(r.message).not.toMatch(/undecodable/);
    if (r.xid !== undefined) expect(Number.isSafeInteger(r.xid)).toBe(true);
  }
  return r;
}

function expectRefused(result: Decoded<unknown>, code: number, message: RegExp, xid?: number): void {
  expect(result.ok).toBe(false);
  if (result.ok) return;
  expect(result.code).toBe(code);
  expect(result.message).toMatch(message);
  expect(result.xid).toBe(xid);
}

/** Valid frames of every kind, with the decoder that reads them. */
const validFrames: fc.Arbitrary<[Decoder, Uint8Array]> = fc.oneof(
  connectRequest.map((f) => [decoders[0]![1], encodeClientFrame(f)] as [Decoder, Uint8Array]),
  request.map(({ frame }) => [decoders[1]![1], encodeClientFrame(frame)] as [Decoder, Uint8Array]),
  fc.oneof(connectResponse, connectRefused).map((f) => [decoders[2]![1], encodeServerFrame(f)] as [Decoder, Uint8Array]),
  fc
    .oneof(
      watchEvent,
      notice,
      response.map((r) => r.frame),
    )
    .map((f) => [(b: Uint8Array) => decodeServerFrame(b, { opOf: () => undefined }), encodeServerFrame(f)] as [Decoder, Uint8Array]),
  response.map(
    ({ name, frame }) => [(b: Uint8Array) => decodeServerFrame(b, { opOf: () => name }), encodeServerFrame(frame)] as [Decoder, Uint8Array],
  ),
);

describe('a truncated frame', () => {
  it('is refused at every offset, as malformed msgpack', () => {
    fc.assert(
      fc.property(validFrames, ([decode, bytes]) => {
        for (let end = 0; end < bytes.length; end++) {
          const r = decodeTotal(decode, bytes.subarray(0, end));
          expect(r.ok).toBe(false);
          if (!r.ok) expect(r.code).toBe(ErrorCode.MARSHALLINGERROR);
        }
      }),
      { numRuns: 40 },
    );
  });
});

describe('mutated and random bytes', () => {
  it('never crash a decoder; what is accepted is stable', () => {
    fc.assert(
      fc.property(validFrames, fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 4 }), ([decode, bytes], flips) => {
        const mutated = bytes.slice();
        for (const [at, value] of flips) mutated[at % mutated.length] = value;
        const r = decodeTotal(decode, mutated);
        if (r.ok) expect(decode(mutated)).toEqual(r);
      }),
      { numRuns: 300 },
    );
  });
  it('random byte strings never crash any decoder', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        for (const [, decode] of decoders) decodeTotal(decode, bytes);
      }),
      { numRuns: 300 },
    );
  });
  it('the decoder is whole again after a failure', () => {
    const good = encodeClientFrame({ xid: 5, op: Ops.sync.code, args: { path: '/a' } });
    for (const bad of [new Uint8Array([0x91, 0x91, 0x91]), new Uint8Array([0xdd, 0xff, 0xff, 0xff, 0xff]), good.subarray(0, 9)]) {
      decodeTotal(decoders[1]![1], bad);
      expect(decodeRequest(good).ok).toBe(true);
    }
  });
});

describe('lying length headers', () => {
  const headers: [string, number[]][] = [
    ['bin32 of 4 GB', [0xc6, 0xff, 0xff, 0xff, 0xff]],
    ['str32 of 4 GB', [0xdb, 0xff, 0xff, 0xff, 0xff]],
    ['array32 of 4 G items', [0xdd, 0xff, 0xff, 0xff, 0xff]],
    ['map32 of 4 G entries', [0xdf, 0xff, 0xff, 0xff, 0xff]],
    ['array16 of 65535 items', [0xdc, 0xff, 0xff]],
    ['bin16 longer than the frame', [0xc5, 0x01, 0x00, 0x01]],
  ];
  it.each(headers)('%s is refused before anything is allocated', (_name, header) => {
    // At the top level, and as the args of a request whose xid is already readable.
    expectRefused(decodeRequest(new Uint8Array(header)), ErrorCode.MARSHALLINGERROR, /truncated/);
    const prefix = [0x83, 0xa3, ...Buffer.from('xid'), 0x09, 0xa2, ...Buffer.from('op'), 0x04, 0xa4, ...Buffer.from('args')];
    const started = performance.now();
    expectRefused(decodeRequest(new Uint8Array([...prefix, ...header, 0, 0, 0])), ErrorCode.MARSHALLINGERROR, /truncated/, 9);
    expect(performance.now() - started).toBeLessThan(50);
  });
});

describe('nesting', () => {
  it('deeper than the limit is refused without recursion', () => {
    // [[[[…]]]] and {k: {k: {k: …}}}, 100 000 levels: a recursive decoder would overflow its stack.
    for (const unit of [[0x91], [0x81, 0xa1, 0x6b]]) {
      const deep = new Uint8Array(Array.from({ length: 100_000 }, () => unit).flat());
      expectRefused(decodeRequest(deep), ErrorCode.MARSHALLINGERROR, /nesting deeper than 16/);
    }
  });
  it('the limit is an option', () => {
    const frame = encodeClientFrame({ xid: 1, op: Ops.sync.code, args: { path: '/a' } });
    expect(decodeRequest(frame, { nestingDepthMax: 2 }).ok).toBe(true);
    expectRefused(decodeRequest(frame, { nestingDepthMax: 1 }), ErrorCode.MARSHALLINGERROR, /nesting deeper than 1/, 1);
  });
});

describe('oversized frames', () => {
  const limits = { ...DEFAULT_LIMITS, frameBytesMax: 64 };
  it('are refused before decoding, naming both sizes and the xid', () => {
    const frame = encodeClientFrame({
      xid: 77,
      op: Ops.setData.code,
      args: { path: '/a', data: new Uint8Array(100), version: -1 },
      requestId: 3,
    });
    expectRefused(
      decodeRequest(frame, { limits }),
      ErrorCode.MARSHALLINGERROR,
      new RegExp(`${frame.length} bytes, over the limit of 64`),
      77,
    );
  });
  it('even when they are not msgpack at all (the size is checked first)', () => {
    expectRefused(decodeRequest(new Uint8Array(65).fill(0xc1), { limits }), ErrorCode.MARSHALLINGERROR, /over the limit of 64/);
  });
  it('a response too large for the frame limit is replaced by an error for the same xid', () => {
    const big = {
      xid: 12,
      zxid: 5,
      err: ErrorCode.OK,
      res: { children: Array.from({ length: 100 }, (_, i) => `child-${i}`), more: false },
    };
    const bytes = encodeServerFrame(big, { frameBytesMax: 200 });
    expect(bytes.length).toBeLessThanOrEqual(200);
    const decoded = decodeServerFrame(bytes, { opOf: () => 'getChildren' });
    expect(decoded).toMatchObject({ ok: true, value: { kind: 'response', frame: { xid: 12, zxid: 5, err: ErrorCode.MARSHALLINGERROR } } });
    if (decoded.ok && decoded.value.kind === 'response')
      expect(decoded.value.frame.message).toMatch(/over the frame limit of 200; .*limit and after/);
  });
});

describe('frames that are not messages of this protocol', () => {
  it.each([
    ['an array', [1, 2]],
    ['a string', 'hello'],
    ['nil', null],
    ['a number', 5],
    ['bytes', new Uint8Array(3)],
  ])('%s at the top level', (_name, value) => {
    for (const [, decode] of decoders)
      expectRefused(decodeTotal(decode, packValue(value)), ErrorCode.MARSHALLINGERROR, /must be a msgpack map/);
  });
  it('input that is not bytes', () => {
    for (const value of ['text', null, undefined, new ArrayBuffer(4), [1, 2]]) {
      for (const [, decode] of decoders)
        expectRefused(decodeTotal(decode, value as Uint8Array), ErrorCode.MARSHALLINGERROR, /must be binary/);
    }
  });
  it('extension types, the reserved byte, non-string keys and trailing bytes', () => {
    const cases: [number[], RegExp][] = [
      [[0xd4, 0x00, 0x00], /type byte 0xd4 at byte 0 is not used/],
      [[0x81, 0xa1, 0x61, 0xc7, 0x01, 0x05, 0x00], /type byte 0xc7 at byte 3/],
      [[0xc1], /0xc1/],
      [[0x81, 0x01, 0x02], /map key at byte 1 is not a string/],
      [[0x80, 0x00], /1 bytes after the end of the value/],
    ];
    for (const [bytes, why] of cases) expectRefused(decodeRequest(new Uint8Array(bytes)), ErrorCode.MARSHALLINGERROR, why);
  });
});

/** A map with some fields replaced; an undefined value removes the field. */
function mapWith(base: Record<string, unknown>, fields: Record<string, unknown>): Uint8Array {
  const map: Record<string, unknown> = { ...base, ...fields };
  for (const key of Object.keys(map)) if (map[key] === undefined) delete map[key];
  return packValue(map);
}

function requestWith(fields: Record<string, unknown>): Uint8Array {
  return mapWith({ xid: 4, op: Ops.setData.code, args: { path: '/a', data: null, version: 1 }, requestId: 9 }, fields);
}

describe('request envelopes', () => {
  it.each<[string, Record<string, unknown>, number, RegExp, number | undefined]>([
    ['xid not an integer', { xid: 'x' }, ErrorCode.MARSHALLINGERROR, /request: xid: must be an integer, not a string/, undefined],
    ['xid fractional', { xid: 1.5 }, ErrorCode.MARSHALLINGERROR, /xid: must be an integer, not the number 1.5/, undefined],
    ['xid reserved', { xid: -1 }, ErrorCode.MARSHALLINGERROR, /xid -1 is reserved/, undefined],
    ['xid zero', { xid: 0 }, ErrorCode.MARSHALLINGERROR, /xid 0 is reserved/, undefined],
    ['xid beyond 2^53', { xid: 2 ** 60 }, ErrorCode.MARSHALLINGERROR, /xid: .* is out of range/, undefined],
    ['op missing', { op: undefined }, ErrorCode.MARSHALLINGERROR, /request: op: must be an integer, not missing/, 4],
    ['op unknown', { op: 99 }, ErrorCode.UNIMPLEMENTED, /op code 99 is not an operation/, 4],
    ['ping with a request xid', { op: Ops.ping.code, args: {} }, ErrorCode.MARSHALLINGERROR, /ping: xid 4: pings, and only pings/, 4],
    ['write without requestId', { requestId: undefined }, ErrorCode.MARSHALLINGERROR, /setData: a write must carry a requestId/, 4],
    ['requestId zero', { requestId: 0 }, ErrorCode.MARSHALLINGERROR, /setData: requestId: 0 is out of range/, 4],
    [
      'read with a requestId',
      { op: Ops.sync.code, args: { path: '/a' } },
      ErrorCode.MARSHALLINGERROR,
      /sync: only writes carry a requestId/,
      4,
    ],
    ['args not a map', { args: [1] }, ErrorCode.BADARGUMENTS, /setData: args: must be a map, not an array/, 4],
    ['args missing', { args: undefined }, ErrorCode.BADARGUMENTS, /setData: args: must be a map, not missing/, 4],
  ])('%s', (_name, fields, code, message, xid) => {
    expectRefused(decodeRequest(requestWith(fields)), code, message, xid);
  });
  it('a ping uses XID_PING', () => {
    expect(decodeRequest(packValue({ xid: XID_PING, op: Ops.ping.code, args: {} }))).toEqual({
      ok: true,
      value: { xid: XID_PING, op: Ops.ping.code, name: 'ping', args: {} },
    });
    expectRefused(
      decodeRequest(packValue({ xid: XID_PING, op: Ops.sync.code, args: { path: '/' } })),
      ErrorCode.MARSHALLINGERROR,
      /pings, and only pings/,
      XID_PING,
    );
  });
  it('ignores unknown fields and __proto__ keys', () => {
    const bytes = packValue({ xid: 4, op: Ops.sync.code, args: { path: '/a', extra: 1, ['__proto__']: { polluted: 1 } }, future: true });
    expect(decodeRequest(bytes)).toEqual({ ok: true, value: { xid: 4, op: Ops.sync.code, name: 'sync', args: { path: '/a' } } });
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});

describe('connect requests', () => {
  const valid = {
    protocolVersion: PROTOCOL_VERSION,
    sessionId: 0,
    password: null,
    timeoutMs: 10_000,
    lastZxid: 0,
    readOnly: false,
    auth: [],
  };
  it.each<[string, Record<string, unknown>, number, RegExp]>([
    [
      'another protocol version',
      { protocolVersion: PROTOCOL_VERSION + 1 },
      ErrorCode.BADARGUMENTS,
      /protocol version 2 is not supported; this member speaks version 1/,
    ],
    ['no protocol version', { protocolVersion: undefined }, ErrorCode.MARSHALLINGERROR, /protocolVersion: must be an integer/],
    ['negative session id', { sessionId: -1 }, ErrorCode.MARSHALLINGERROR, /sessionId: -1 is out of range/],
    ['password as a string', { password: 'pw' }, ErrorCode.MARSHALLINGERROR, /password: must be a byte string/],
    ['readOnly as a number', { readOnly: 1 }, ErrorCode.MARSHALLINGERROR, /readOnly: must be a boolean, not the number 1/],
    ['auth not an array', { auth: {} }, ErrorCode.MARSHALLINGERROR, /auth: must be an array, not a map/],
    [
      'auth entry without credentials',
      { auth: [{ scheme: 'digest' }] },
      ErrorCode.MARSHALLINGERROR,
      /auth\[0\]: credentials: must be a byte string/,
    ],
    [
      'auth with an empty scheme',
      { auth: [{ scheme: '', credentials: new Uint8Array() }] },
      ErrorCode.MARSHALLINGERROR,
      /auth\[0\]: scheme: must not be empty/,
    ],
  ])('%s', (_name, fields, code, message) => {
    expectRefused(decodeConnectRequest(mapWith(valid, fields)), code, message);
  });
});

describe('frames from the member', () => {
  it('a response to an xid with no outstanding request', () => {
    const bytes = encodeServerFrame({ xid: 8, zxid: 1, err: 0, res: { path: '/a' } });
    expectRefused(
      decodeServerFrame(bytes, { opOf: () => undefined }),
      ErrorCode.MARSHALLINGERROR,
      /xid 8 answers no outstanding request/,
      8,
    );
  });
  it('a result of the wrong shape fails that request only', () => {
    const bytes = packValue({ xid: 8, zxid: 1, err: 0, res: { data: 'text', stat: {} } });
    expectRefused(
      decodeServerFrame(bytes, { opOf: () => 'getData' }),
      ErrorCode.MARSHALLINGERROR,
      /getData response: data: must be a byte string/,
      8,
    );
  });
  it('a stat with a missing field', () => {
    const bytes = packValue({ xid: 8, zxid: 1, err: 0, res: { stat: { czxid: 1 } } });
    expectRefused(
      decodeServerFrame(bytes, { opOf: () => 'exists' }),
      ErrorCode.MARSHALLINGERROR,
      /exists response: stat.mzxid: must be an integer, not missing/,
      8,
    );
  });
  it('an unknown error code or event type, a notice without a name', () => {
    expectRefused(
      decodeServerFrame(packValue({ xid: 8, zxid: 1, err: -9999 }), { opOf: opOfAny }),
      ErrorCode.MARSHALLINGERROR,
      /err: the number -9999 is not an error code/,
      8,
    );
    expectRefused(
      decodeServerFrame(packValue({ xid: -1, zxid: 1, type: 42, path: '/a' }), { opOf: opOfAny }),
      ErrorCode.MARSHALLINGERROR,
      /watch event: type/,
    );
    expectRefused(
      decodeServerFrame(packValue({ xid: -3, notice: 7 }), { opOf: opOfAny }),
      ErrorCode.MARSHALLINGERROR,
      /notice: notice: must be a string/,
    );
  });
  it('a notice this build does not know is reported, not refused', () => {
    expect(decodeServerFrame(packValue({ xid: -3, notice: 'reboot', at: 5 }), { opOf: opOfAny })).toEqual({
      ok: true,
      value: { kind: 'unknownNotice', notice: 'reboot' },
    });
  });
  it('a member of another protocol version', () => {
    const bytes = packValue({
      protocolVersion: 9,
      timeoutMs: 1,
      sessionId: 1,
      password: new Uint8Array(),
      memberId: 1,
      zxid: 0,
      readOnly: false,
      limits: {},
    });
    expectRefused(decodeConnectReply(bytes), ErrorCode.MARSHALLINGERROR, /the member speaks protocol version 9; this client speaks 1/);
  });
  it('a refusal with OK as its code', () => {
    expectRefused(decodeConnectReply(packValue({ err: 0, message: 'no' })), ErrorCode.MARSHALLINGERROR, /connect refusal: err/);
  });
});
