// fast-check arbitraries for every message and every op's arguments and results, all valid
// under DEFAULT_LIMITS. Shared by the round-trip and hostile-input tests.
import fc from 'fast-check';
import {
  AddWatchMode,
  CreateMode,
  ErrorCode,
  EventType,
  OP_NAMES,
  PROTOCOL_VERSION,
  Perms,
  STAT_FIELDS,
  TTL_MS_MAX,
  WatcherType,
  XID_NOTICE,
  XID_PING,
  XID_WATCH_EVENT,
  isSequentialMode,
  isTtlMode,
} from '@arbor/protocol';
import type {
  ACL,
  ArgsOf,
  ConnectRefused,
  ConnectRequest,
  ConnectResponse,
  CreateArgs,
  Id,
  Limits,
  MultiOp,
  MultiOpResult,
  MultiReadOp,
  MultiReadOpResult,
  NoticeFrame,
  OpName,
  RequestFrame,
  ResponseFrame,
  ResultOf,
  Stat,
  WatchEventFrame,
} from '@arbor/protocol';
import { Ops } from '@arbor/protocol';

/** Integers across every msgpack width, 32-bit boundaries and the safe-integer ends included. */
export const anyNat = fc.oneof(
  fc.nat(200),
  fc.integer({ min: 0, max: 0xffff_ffff }),
  fc.constantFrom(0x7f, 0x80, 0xff, 0x100, 0xffff, 0x1_0000, 0xffff_ffff, 0x1_0000_0000, Number.MAX_SAFE_INTEGER),
  fc.maxSafeNat(),
);
export const anyInt = fc.oneof(
  anyNat,
  anyNat.map((n) => (n === 0 ? 0 : -n)),
);
const positive = anyNat.map((n) => Math.max(1, n));

const segmentChar = fc.constantFrom('a', 'b', 'z', 'Q', '0', '9', '-', '_', '.', ' ', 'é', '日', '\u00a0', ':');
export const segment = fc.string({ unit: segmentChar, minLength: 1, maxLength: 8 }).filter((s) => s !== '.' && s !== '..');
export const path = fc.array(segment, { minLength: 0, maxLength: 5 }).map((parts) => `/${parts.join('/')}`);
export const nonRootPath = fc.array(segment, { minLength: 1, maxLength: 5 }).map((parts) => `/${parts.join('/')}`);
export const data = fc.oneof(fc.constant(null), fc.uint8Array({ maxLength: 64 }));
const bytes = fc.uint8Array({ maxLength: 32 });

export const stat: fc.Arbitrary<Stat> = fc.record(
  Object.fromEntries(STAT_FIELDS.map((f) => [f, anyNat])) as Record<keyof Stat, fc.Arbitrary<number>>,
);

const base64Char = fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/');
const digestIdText = fc
  .tuple(
    fc.string({ unit: fc.constantFrom('a', 'b', 'é', '_'), minLength: 1, maxLength: 6 }),
    fc.string({ unit: base64Char, minLength: 27, maxLength: 27 }),
  )
  .map(([user, hash]) => `${user}:${hash}=`);
const ipText = fc
  .tuple(fc.array(fc.nat(255), { minLength: 4, maxLength: 4 }), fc.option(fc.nat(32), { nil: undefined }))
  .map(([octets, bits]) => octets.join('.') + (bits === undefined ? '' : `/${bits}`));
export const id: fc.Arbitrary<Id> = fc.oneof(
  fc.constant({ scheme: 'world', id: 'anyone' }),
  fc.constant({ scheme: 'auth', id: '' }),
  digestIdText.map((text) => ({ scheme: 'digest', id: text })),
  ipText.map((text) => ({ scheme: 'ip', id: text })),
);
export const acl: fc.Arbitrary<ACL[]> = fc.array(fc.record({ perms: fc.nat(Perms.ALL), id }), { minLength: 1, maxLength: 3 });

export const createArgs: fc.Arbitrary<CreateArgs> = fc
  .record({
    mode: fc.constantFrom(...Object.values(CreateMode)),
    path: nonRootPath,
    data,
    acl,
    ttl: fc.integer({ min: 1, max: TTL_MS_MAX }),
    slash: fc.boolean(),
  })
  .map(({ mode, path: p, data: d, acl: a, ttl, slash }) => {
    const args: CreateArgs = { path: isSequentialMode(mode) && slash ? `${p}/` : p, data: d, acl: a, mode };
    if (isTtlMode(mode)) args.ttlMs = ttl;
    return args;
  });

const version = anyInt;
const deleteArgs = fc.record({ path: nonRootPath, version });
const setDataArgs = fc.record({ path, data, version });
const pathWatchArgs = fc.record({ path, watch: fc.boolean(), linearizable: fc.boolean() }, { requiredKeys: ['path'] });
const getChildrenArgs = fc.record(
  {
    path,
    watch: fc.boolean(),
    linearizable: fc.boolean(),
    after: fc.string({ maxLength: 6 }).filter((s) => !s.includes('/')),
    limit: positive,
  },
  { requiredKeys: ['path'] },
);
const empty = fc.constant({});

const multiOp: fc.Arbitrary<MultiOp> = fc.oneof(
  createArgs.map((args) => ({ op: 'create' as const, args })),
  deleteArgs.map((args) => ({ op: 'delete' as const, args })),
  setDataArgs.map((args) => ({ op: 'setData' as const, args })),
  fc.record({ path, version }).map((args) => ({ op: 'check' as const, args })),
);
const multiReadOp: fc.Arbitrary<MultiReadOp> = fc.record({
  op: fc.constantFrom('getData' as const, 'getChildren' as const),
  args: fc.record({ path }),
});
const pathList = fc.array(path, { maxLength: 4 });

export const argsArbitraries: { [N in OpName]: fc.Arbitrary<ArgsOf<N>> } = {
  create: createArgs,
  create2: createArgs,
  delete: deleteArgs,
  exists: pathWatchArgs,
  getData: pathWatchArgs,
  setData: setDataArgs,
  getACL: fc.record({ path }),
  setACL: fc.record({ path, acl, version }),
  getChildren: getChildrenArgs,
  getChildren2: getChildrenArgs,
  sync: fc.record({ path }),
  ping: empty,
  multi: fc.record({ ops: fc.array(multiOp, { maxLength: 5 }) }),
  multiRead: fc.record({ ops: fc.array(multiReadOp, { maxLength: 5 }), linearizable: fc.boolean() }, { requiredKeys: ['ops'] }),
  closeSession: empty,
  addAuth: fc.record({ scheme: fc.constantFrom('digest', 'ip', 'x-custom'), credentials: bytes }),
  setWatches: fc.record({
    lastZxid: anyNat,
    data: pathList,
    exist: pathList,
    child: pathList,
    persistent: pathList,
    persistentRecursive: pathList,
  }),
  getEphemerals: fc.record({ prefix: path }),
  getAllChildrenNumber: fc.record({ path }),
  addWatch: fc.record({ path, mode: fc.constantFrom(...Object.values(AddWatchMode)) }),
  removeWatches: fc.record({ path, type: fc.constantFrom(...Object.values(WatcherType)) }),
  checkWatches: fc.record({ path, type: fc.constantFrom(...Object.values(WatcherType)) }),
  whoAmI: empty,
};

const failure = fc.constantFrom(...Object.values(ErrorCode).filter((c) => c !== ErrorCode.OK));
const message = fc.option(fc.string({ maxLength: 20 }), { nil: undefined });
function failed<O extends string>(op: O) {
  return fc.record({ op: fc.constant(op), err: failure, message }).map((r) => {
    if (r.message === undefined) delete (r as { message?: string }).message;
    return r;
  });
}
const multiOpResult: fc.Arbitrary<MultiOpResult> = fc.oneof(
  path.map((p) => ({ op: 'create' as const, err: 0 as const, path: p })),
  fc.constant({ op: 'delete' as const, err: 0 as const }),
  stat.map((s) => ({ op: 'setData' as const, err: 0 as const, stat: s })),
  fc.constant({ op: 'check' as const, err: 0 as const }),
  fc.constantFrom('create' as const, 'delete' as const, 'setData' as const, 'check' as const).chain(failed),
);
const multiReadOpResult: fc.Arbitrary<MultiReadOpResult> = fc.oneof(
  fc.record({ data, stat }).map((r) => ({ op: 'getData' as const, err: 0 as const, ...r })),
  fc.array(segment, { maxLength: 4 }).map((children) => ({ op: 'getChildren' as const, err: 0 as const, children })),
  fc.constantFrom('getData' as const, 'getChildren' as const).chain(failed),
);
const children = fc.record({ children: fc.array(segment, { maxLength: 6 }), more: fc.boolean() });
const readBackAcl = fc.array(
  fc.record({ perms: fc.nat(Perms.ALL), id: fc.record({ scheme: fc.string({ maxLength: 6 }), id: fc.string({ maxLength: 8 }) }) }),
  {
    maxLength: 3,
  },
);

export const resultArbitraries: { [N in OpName]: fc.Arbitrary<ResultOf<N>> } = {
  create: fc.record({ path }),
  create2: fc.record({ path, stat }),
  delete: empty,
  exists: fc.record({ stat }),
  getData: fc.record({ data, stat }),
  setData: fc.record({ stat }),
  getACL: fc.record({ acl: readBackAcl, stat }),
  setACL: fc.record({ stat }),
  getChildren: children,
  getChildren2: children.chain((c) => stat.map((s) => ({ ...c, stat: s }))),
  sync: fc.record({ path }),
  ping: fc.record({ sessionRemainingMs: anyNat }),
  multi: fc.record({ results: fc.array(multiOpResult, { maxLength: 5 }) }),
  multiRead: fc.record({ results: fc.array(multiReadOpResult, { maxLength: 5 }) }),
  closeSession: empty,
  addAuth: empty,
  setWatches: empty,
  getEphemerals: fc.record({ paths: fc.array(path, { maxLength: 4 }) }),
  getAllChildrenNumber: fc.record({ count: anyNat }),
  addWatch: empty,
  removeWatches: empty,
  checkWatches: empty,
  whoAmI: fc.record({
    identities: fc.array(fc.record({ scheme: fc.string({ maxLength: 6 }), id: fc.string({ maxLength: 8 }) }), { maxLength: 3 }),
  }),
};

export const opName = fc.constantFrom(...OP_NAMES);
const requestXid = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER });

/** A valid request for the named op: pings use XID_PING, writes carry a requestId. */
export function requestFor<N extends OpName>(name: N): fc.Arbitrary<RequestFrame<N>> {
  const op = Ops[name];
  return fc
    .record({
      xid: name === 'ping' ? fc.constant(XID_PING) : requestXid,
      args: argsArbitraries[name] as fc.Arbitrary<ArgsOf<N>>,
      requestId: positive,
    })
    .map((r) => {
      const frame: RequestFrame<N> = { xid: r.xid, op: op.code, args: r.args };
      if (op.writes) frame.requestId = r.requestId;
      return frame;
    });
}
export const request = opName.chain((name) => requestFor(name).map((frame) => ({ name, frame })));

/** A response to a request of the named op: a result, or an error with or without a message. */
export function responseFor<N extends OpName>(name: N): fc.Arbitrary<ResponseFrame<N>> {
  const xid = name === 'ping' ? fc.constant(XID_PING) : requestXid;
  const ok = fc
    .record({ xid, zxid: anyNat, res: resultArbitraries[name] as fc.Arbitrary<ResultOf<N>> })
    .map((r) => ({ ...r, err: ErrorCode.OK }));
  // A failed response may carry a result (a failed multi's per-op results); the decoder checks any it gets.
  const bad = fc
    .record({ xid, zxid: anyNat, err: failure, message, res: fc.option(resultArbitraries[name], { nil: undefined }) })
    .map((r) => {
      if (r.message === undefined) delete (r as { message?: string }).message;
      if (r.res === undefined) delete (r as { res?: unknown }).res;
      return r as ResponseFrame<N>;
    });
  return fc.oneof(ok, bad);
}
export const response = opName.chain((name) => responseFor(name).map((frame) => ({ name, frame })));

export const watchEvent: fc.Arbitrary<WatchEventFrame> = fc.record({
  xid: fc.constant(XID_WATCH_EVENT),
  zxid: anyNat,
  type: fc.constantFrom(...Object.values(EventType).filter((t) => t !== EventType.None)),
  path,
});

export const notice: fc.Arbitrary<NoticeFrame> = fc.oneof(
  fc.record({ xid: fc.constant(XID_NOTICE), notice: fc.constant('closing' as const), reason: fc.string({ maxLength: 20 }) }),
  fc.record({ xid: fc.constant(XID_NOTICE), notice: fc.constant('sessionExpired' as const) }),
  fc.record({ xid: fc.constant(XID_NOTICE), notice: fc.constant('watchResync' as const), path, zxid: anyNat }),
);

export const connectRequest: fc.Arbitrary<ConnectRequest> = fc.record({
  protocolVersion: fc.constant(PROTOCOL_VERSION),
  sessionId: anyNat,
  password: fc.oneof(fc.constant(null), bytes),
  timeoutMs: anyNat,
  lastZxid: anyNat,
  readOnly: fc.boolean(),
  auth: fc.array(fc.record({ scheme: fc.constantFrom('digest', 'ip'), credentials: bytes }), { maxLength: 2 }),
});

export const limits: fc.Arbitrary<Limits> = fc.record({
  frameBytesMax: positive,
  dataBytesMax: positive,
  pathLengthMax: positive,
  multiOpsMax: positive,
  outstandingRequestsMax: positive,
  watchesPerConnectionMax: positive,
});

export const connectResponse: fc.Arbitrary<ConnectResponse> = fc.record({
  protocolVersion: fc.constant(PROTOCOL_VERSION),
  timeoutMs: anyNat,
  sessionId: anyNat,
  password: bytes,
  memberId: anyNat,
  zxid: anyNat,
  readOnly: fc.boolean(),
  limits,
});

export const connectRefused: fc.Arbitrary<ConnectRefused> = fc.record({ err: failure, message: fc.string({ maxLength: 30 }) });
