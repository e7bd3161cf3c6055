// The structural check against msgpackr, its second opinion: whatever msgpackr writes from
// protocol-shaped values passes, and whatever passes, msgpackr reads without throwing.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { msgpackProblem, packValue, peekFirstInteger, toWire, unpackValue } from '@arbor/protocol';

/** Values of the protocol's kinds: nil, booleans, integers of every width, floats, strings, bins, arrays, string-keyed maps. */
const value = fc.letrec((tie) => ({
  leaf: fc.oneof(
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.maxSafeInteger(),
    fc.double({ noNaN: true }),
    fc.string({ maxLength: 40 }),
    fc.string({ minLength: 32, maxLength: 300 }),
    fc.uint8Array({ maxLength: 300 }),
  ),
  node: fc.oneof({ depthSize: 'small' }, tie('leaf'), tie('array'), tie('map')),
  array: fc.array(tie('node'), { maxLength: 20 }),
  map: fc.dictionary(fc.string({ maxLength: 8 }), tie('node'), { maxKeys: 20 }),
}));

function depthOf(v: unknown): number {
  if (Array.isArray(v)) return 1 + Math.max(0, ...v.map(depthOf));
  if (typeof v === 'object' && v !== null && !(v instanceof Uint8Array)) return 1 + Math.max(0, ...Object.values(v).map(depthOf));
  return 0;
}

describe('msgpackProblem', () => {
  it('accepts whatever the shared packer writes, within the nesting limit', () => {
    fc.assert(
      fc.property(value.node, (v) => {
        const bytes = packValue(toWire(v));
        const depth = depthOf(v);
        expect(msgpackProblem(bytes, Math.max(depth, 1))).toBeUndefined();
        if (depth > 1) expect(msgpackProblem(bytes, depth - 1)).toMatch(/nesting deeper than/);
      }),
      { numRuns: 200 },
    );
  });
  it('whatever it accepts, msgpackr decodes without throwing', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        if (msgpackProblem(bytes, 16) === undefined) expect(() => unpackValue(bytes)).not.toThrow();
      }),
      { numRuns: 2000 },
    );
  });
  it('whatever it accepts among mutations of real encodings, msgpackr decodes', () => {
    fc.assert(
      fc.property(value.map, fc.nat(), fc.nat(255), (v, at, byte) => {
        const bytes = packValue(toWire(v));
        bytes[at % bytes.length] = byte;
        if (msgpackProblem(bytes, 64) === undefined) expect(() => unpackValue(bytes)).not.toThrow();
      }),
      { numRuns: 500 },
    );
  });
  it('names the offset of the problem', () => {
    expect(msgpackProblem(new Uint8Array([0x92, 0xa1, 0x61]), 4)).toBe('truncated: a value is missing at byte 3');
    expect(msgpackProblem(new Uint8Array([0x92, 0x01]), 4)).toBe(
      'truncated: the array of 2 items at byte 0 cannot fit in the 1 bytes left',
    );
    expect(msgpackProblem(new Uint8Array([0x91, 0xa5, 0x61]), 4)).toBe('truncated: the value at byte 1 declares 5 bytes but 1 are left');
    expect(msgpackProblem(new Uint8Array([0x91, 0xcd, 0x01]), 4)).toBe('truncated: the header at byte 1 needs 2 more bytes');
    expect(msgpackProblem(new Uint8Array([0xdf, 0x00, 0x00, 0x00, 0x02, 0xa1]), 4)).toBe(
      'truncated: the map of 2 entries at byte 0 cannot fit in the 1 bytes left',
    );
    expect(msgpackProblem(new Uint8Array([]), 4)).toBe('truncated: a value is missing at byte 0');
  });
});

describe('peekFirstInteger', () => {
  it('reads the first entry of a map when it is the named integer', () => {
    for (const xid of [0, 1, 127, 128, 65_535, 2 ** 31, 2 ** 40, -1, -33, -(2 ** 40), Number.MAX_SAFE_INTEGER]) {
      expect(peekFirstInteger(packValue(toWire({ xid, rest: 'x' })), 'xid')).toBe(xid);
    }
    const wide: Record<string, number> = { xid: 9 };
    for (let i = 0; i < 20; i++) wide[`k${i}`] = i; // map16 header
    expect(peekFirstInteger(packValue(wide), 'xid')).toBe(9);
  });
  it('gives up on anything else', () => {
    expect(peekFirstInteger(packValue({ op: 1, xid: 2 }), 'xid')).toBeUndefined();
    expect(peekFirstInteger(packValue({ xid: 'a' }), 'xid')).toBeUndefined();
    expect(peekFirstInteger(packValue({ xid: 1.5 }), 'xid')).toBeUndefined();
    expect(peekFirstInteger(packValue([1]), 'xid')).toBeUndefined();
    expect(peekFirstInteger(new Uint8Array([0x81, 0xa3, 0x78, 0x69, 0x64, 0xce, 0x00]), 'xid')).toBeUndefined();
    expect(
      peekFirstInteger(new Uint8Array([0x81, 0xa3, 0x78, 0x69, 0x64, 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), 'xid'),
    ).toBeUndefined();
    expect(peekFirstInteger(new Uint8Array([]), 'xid')).toBeUndefined();
  });
});
