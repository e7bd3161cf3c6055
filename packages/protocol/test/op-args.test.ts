// Each op's argument rules, through its descriptor and through the request decoder.
import { describe, expect, it } from 'vitest';
import {
  ArborError,
  CreateMode,
  DEFAULT_LIMITS,
  ErrorCode,
  OPEN_ACL_UNSAFE,
  Ops,
  TTL_MS_MAX,
  decodeRequest,
  encodeClientFrame,
  packValue,
} from '@arbor/protocol';
import type { Limits, OpName } from '@arbor/protocol';

const limits: Limits = { ...DEFAULT_LIMITS, dataBytesMax: 10, pathLengthMax: 20, multiOpsMax: 3 };
const acl = [...OPEN_ACL_UNSAFE];
const create = { path: '/a', data: null, acl, mode: CreateMode.PERSISTENT };

function parse(name: OpName, args: unknown): unknown {
  return Ops[name].parseArgs(args, { limits, where: name });
}

function refusal(name: OpName, args: unknown): ArborError {
  try {
    parse(name, args);
  } catch (e) {
    if (e instanceof ArborError) return e;
    throw e;
  }
  throw new Error(`${name} accepted ${JSON.stringify(args)}`);
}

const BAD = ErrorCode.BADARGUMENTS;
const INVALIDACL = ErrorCode.INVALIDACL;

describe('arguments that break a rule are refused, naming the op, the field and the problem', () => {
  it.each<[OpName, unknown, number, RegExp]>([
    ['create', { ...create, path: '/a//b' }, BAD, /^create: path: empty segment at index 3 of '\/a\/\/b'$/],
    ['create', { ...create, path: '/a/' }, BAD, /^create: path: path '\/a\/' must not end with '\/'$/],
    ['create', { ...create, path: 5 }, BAD, /^create: path: a path must be a string, not number$/],
    ['create', { ...create, path: '/' + 'a'.repeat(20) }, BAD, /create: path: path is 21 characters long; the limit is 20/],
    ['create', { ...create, data: new Uint8Array(11) }, BAD, /^create: data: 11 bytes is over the data limit of 10$/],
    ['create', { ...create, data: 'text' }, BAD, /^create: data: must be a byte string \(msgpack bin\) or nil, not a string$/],
    ['create', { ...create, data: undefined }, BAD, /create: data: .* not missing/],
    ['create', { ...create, acl: [] }, INVALIDACL, /^create: acl: an ACL list must have at least one entry$/],
    ['create', { ...create, acl: 'world' }, INVALIDACL, /^create: acl: must be an array, not a string$/],
    [
      'create',
      { ...create, acl: [{ perms: 64, id: { scheme: 'world', id: 'anyone' } }] },
      INVALIDACL,
      /create: acl: ACL entry 0: perms 64/,
    ],
    ['create', { ...create, acl: [{ perms: 1, id: { scheme: 'sasl', id: 'x' } }] }, INVALIDACL, /unknown scheme 'sasl'/],
    ['create', { ...create, acl: [{ perms: 1, id: { scheme: 'digest', id: 'bob' } }] }, INVALIDACL, /a digest id is/],
    ['create', { ...create, mode: 7 }, BAD, /^create: mode: the number 7 is not a create mode \(0\.\.6\)$/],
    ['create', { ...create, mode: '0' }, BAD, /create: mode: a string is not a create mode/],
    [
      'create',
      { ...create, mode: CreateMode.PERSISTENT_WITH_TTL },
      BAD,
      /^create: ttlMs: ttl 0 is out of range: a TTL node needs 1\.\.1099511627775 ms$/,
    ],
    ['create', { ...create, mode: CreateMode.PERSISTENT_WITH_TTL, ttlMs: TTL_MS_MAX + 1 }, BAD, /ttlMs: ttl 1099511627776 is out of range/],
    [
      'create',
      { ...create, mode: CreateMode.PERSISTENT_WITH_TTL, ttlMs: 1.5 },
      BAD,
      /create: ttlMs: must be an integer, not the number 1.5/,
    ],
    ['create', { ...create, ttlMs: 5 }, BAD, /^create: ttlMs: ttl 5 given for mode PERSISTENT, which has no TTL$/],
    ['create2', { ...create, path: 'a' }, BAD, /^create2: path: path 'a' must start with '\/'$/],
    ['delete', { path: '/', version: -1 }, BAD, /^delete: path: the root '\/' cannot be deleted$/],
    ['delete', { path: '/a', version: '1' }, BAD, /^delete: version: must be an integer, not a string$/],
    ['delete', { path: '/a', version: 2 ** 53 }, BAD, /^delete: version: 9007199254740992 is out of range/],
    ['delete', { path: '/a' }, BAD, /^delete: version: must be an integer, not missing$/],
    ['exists', { path: '/a', watch: 1 }, BAD, /^exists: watch: must be a boolean, not the number 1$/],
    ['getData', { path: '/a', linearizable: 'yes' }, BAD, /^getData: linearizable: must be a boolean, not a string$/],
    ['setData', { path: '/a', data: new Uint8Array(11), version: 0 }, BAD, /^setData: data: 11 bytes is over the data limit of 10$/],
    ['setData', { path: '/a', data: null, version: 0.5 }, BAD, /^setData: version: must be an integer, not the number 0.5$/],
    [
      'setACL',
      { path: '/a', acl: [{ perms: 1 }], version: 0 },
      INVALIDACL,
      /^setACL: acl: ACL entry 0 is not \{perms, id: \{scheme, id\}\}$/,
    ],
    ['getChildren', { path: '/a', limit: 0 }, BAD, /^getChildren: limit: 0 is out of range 1\.\./],
    ['getChildren2', { path: '/a', after: 'x/y' }, BAD, /^getChildren2: after: 'x\/y' is not a child name: it contains '\/'$/],
    ['getChildren', { path: '/a', after: 3 }, BAD, /^getChildren: after: must be a string, not the number 3$/],
    ['sync', {}, BAD, /^sync: path: a path must be a string, not undefined$/],
    ['multi', { ops: 'x' }, BAD, /^multi: ops: must be an array, not a string$/],
    [
      'multi',
      {
        ops: [
          { op: 'check', args: { path: '/a', version: 1 } },
          { op: 'check', args: { path: '/a', version: 1 } },
          { op: 'check', args: { path: '/a', version: 1 } },
          { op: 'check', args: { path: '/a', version: 1 } },
        ],
      },
      BAD,
      /^multi: ops: 4 entries is over the limit of 3$/,
    ],
    [
      'multi',
      { ops: [{ op: 'getData', args: { path: '/a' } }] },
      BAD,
      /^multi: ops\[0\]\.op: a string is not one of create, delete, setData, check$/,
    ],
    ['multi', { ops: [5] }, BAD, /^multi: ops\[0\]: must be a map, not the number 5$/],
    [
      'multi',
      {
        ops: [
          { op: 'delete', args: { path: '/a', version: 1 } },
          { op: 'create', args: { ...create, path: '/b//' } },
        ],
      },
      BAD,
      /^multi ops\[1\] \(create\): path: /,
    ],
    ['multi', { ops: [{ op: 'create', args: { ...create, acl: [] } }] }, INVALIDACL, /^multi ops\[0\] \(create\): acl: /],
    [
      'multiRead',
      { ops: [{ op: 'setData', args: { path: '/a' } }] },
      BAD,
      /^multiRead: ops\[0\]\.op: a string is not one of getData, getChildren$/,
    ],
    ['multiRead', { ops: [{ op: 'getData', args: { path: '/a/' } }] }, BAD, /^multiRead ops\[0\] \(getData\): path: /],
    ['addAuth', { scheme: '', credentials: new Uint8Array() }, BAD, /^addAuth: scheme: must not be empty$/],
    [
      'addAuth',
      { scheme: 'digest', credentials: 'bob:pw' },
      BAD,
      /^addAuth: credentials: must be a byte string \(msgpack bin\), not a string$/,
    ],
    [
      'setWatches',
      { lastZxid: -1, data: [], exist: [], child: [], persistent: [], persistentRecursive: [] },
      BAD,
      /^setWatches: lastZxid: -1 is out of range/,
    ],
    [
      'setWatches',
      { lastZxid: 0, data: ['/a', 'b'], exist: [], child: [], persistent: [], persistentRecursive: [] },
      BAD,
      /^setWatches: data\[1\]: path 'b' must start with '\/'$/,
    ],
    ['setWatches', { lastZxid: 0, data: ['/a'], exist: [] }, BAD, /^setWatches: child: must be an array, not missing$/],
    ['getEphemerals', { prefix: 'app' }, BAD, /^getEphemerals: prefix: path 'app' must start with '\/'$/],
    ['addWatch', { path: '/a', mode: 2 }, BAD, /^addWatch: mode: the number 2 is not an addWatch mode/],
    ['removeWatches', { path: '/a', type: 0 }, BAD, /^removeWatches: type: the number 0 is not a watcher type \(1\.\.5\)$/],
    ['checkWatches', { path: '/a\u0000', type: 1 }, BAD, /^checkWatches: path: NUL character at index 2/],
    ['ping', null, BAD, /^ping: args: must be a map, not null$/],
  ])('%s %j', (name, args, code, message) => {
    const e = refusal(name, args);
    expect(e.code).toBe(code);
    expect(e.message).toMatch(message);
  });
});

describe('arguments that follow the rules', () => {
  it('a sequential create may end in /; a non-sequential one may not', () => {
    expect(parse('create', { ...create, path: '/q/', mode: CreateMode.PERSISTENT_SEQUENTIAL })).toMatchObject({ path: '/q/' });
    expect(parse('create', { ...create, path: '/q/', mode: CreateMode.EPHEMERAL_SEQUENTIAL })).toMatchObject({ path: '/q/' });
    expect(refusal('create', { ...create, path: '/q/', mode: CreateMode.EPHEMERAL }).message).toMatch(/must not end with/);
  });
  it('a TTL of 0 on a mode without TTL means none and is dropped', () => {
    expect(parse('create', { ...create, ttlMs: 0 })).toEqual(create);
    expect(parse('create', { ...create, mode: CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL, ttlMs: TTL_MS_MAX })).toMatchObject({
      ttlMs: TTL_MS_MAX,
    });
  });
  it('data exactly at the limit, null and empty are all accepted and stay distinct', () => {
    expect(parse('setData', { path: '/a', data: new Uint8Array(10), version: -1 })).toMatchObject({ data: new Uint8Array(10) });
    expect(parse('setData', { path: '/a', data: null, version: -1 })).toMatchObject({ data: null });
    expect(parse('setData', { path: '/a', data: new Uint8Array(0), version: -1 })).toMatchObject({ data: new Uint8Array(0) });
  });
  it('any integer version: -1 matches any, other negatives never match (decided by the tree)', () => {
    for (const version of [-1, -2, Number.MIN_SAFE_INTEGER, 0, 2 ** 31, Number.MAX_SAFE_INTEGER]) {
      expect(parse('delete', { path: '/a', version })).toEqual({ path: '/a', version });
    }
  });
  it('a multi may be empty and holds up to multiOpsMax ops', () => {
    expect(parse('multi', { ops: [] })).toEqual({ ops: [] });
    const check = { op: 'check', args: { path: '/a', version: 1 } };
    expect(parse('multi', { ops: [check, check, check] })).toEqual({ ops: [check, check, check] });
  });
  it('ACL entries are copied without unknown fields', () => {
    const entry = { perms: 31, id: { scheme: 'world', id: 'anyone', extra: 1 }, note: 'x' };
    expect(parse('setACL', { path: '/a', acl: [entry], version: -1 })).toEqual({
      path: '/a',
      acl: [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }],
      version: -1,
    });
  });
  it('an empty `after` starts from the first child', () => {
    expect(parse('getChildren', { path: '/a', after: '', limit: 1 })).toEqual({ path: '/a', after: '', limit: 1 });
  });
});

describe('the request decoder applies the limits it is given', () => {
  it('refuses over-limit data with BADARGUMENTS and the xid', () => {
    const frame = { xid: 21, op: Ops.setData.code, args: { path: '/a', data: new Uint8Array(11), version: -1 }, requestId: 1 };
    expect(decodeRequest(encodeClientFrame(frame), { limits })).toEqual({
      ok: false,
      code: ErrorCode.BADARGUMENTS,
      message: 'setData: data: 11 bytes is over the data limit of 10',
      xid: 21,
    });
    expect(decodeRequest(encodeClientFrame(frame)).ok).toBe(true);
  });
  it('refuses a malformed ACL with INVALIDACL and the xid', () => {
    const bytes = packValue({ xid: 3, op: Ops.create.code, args: { ...create, acl: [] }, requestId: 1 });
    expect(decodeRequest(bytes)).toMatchObject({ ok: false, code: ErrorCode.INVALIDACL, xid: 3 });
  });
});
