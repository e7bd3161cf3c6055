import type { ACL } from './acl.js';
import { validateAcl } from './acl.js';
import type { CreateMode } from './create-mode.js';
import { isCreateMode, isSequentialMode, validateTtl } from './create-mode.js';
import { ArborError, ErrorCode } from './errors.js';
import type { AddWatchMode, WatcherType } from './events.js';
import { AddWatchMode as AddWatchModes, WatcherType as WatcherTypes } from './events.js';
import type { WireMap } from './fields.js';
import {
  asMap,
  describeValue,
  fieldError,
  readArray,
  readBytes,
  readData,
  readInteger,
  readOptionalBoolean,
  readOptionalInteger,
  readOptionalString,
  readPath,
  readPathArray,
  readString,
} from './fields.js';
import type { Limits } from './limits.js';
import type {
  AddAuthArgs,
  AddWatchArgs,
  CheckArgs,
  CreateArgs,
  DeleteArgs,
  Empty,
  GetACLArgs,
  GetChildrenArgs,
  GetEphemeralsArgs,
  MultiArgs,
  MultiOp,
  MultiReadArgs,
  MultiReadOp,
  PathWatchArgs,
  RemoveWatchesArgs,
  SetACLArgs,
  SetDataArgs,
  SetWatchesArgs,
  SyncArgs,
} from './ops.js';

/**
 * Parsers of each op's arguments as they arrive from the wire (untrusted). Each takes the
 * decoded `args` value and returns a fresh object holding only the fields of the op's type,
 * checked against the rules of SEMANTICS.md and the member's limits, or throws an ArborError
 * (BADARGUMENTS; INVALIDACL for a malformed ACL) whose message names the op, the field and the
 * problem. Only stateless rules are checked here; everything that depends on the tree
 * (existence, versions, permissions) is the tree's.
 */
export interface ArgsContext {
  limits: Limits;
  /** Names the op in messages: `'create'`, `'multi ops[2] (create)'`. */
  where: string;
}

export type ArgsParser<A> = (value: unknown, ctx: ArgsContext) => A;

const BAD = ErrorCode.BADARGUMENTS;
/** Versions are any integer: -1 matches any version, other negatives never match (SEMANTICS.md). */
const VERSION_MIN = Number.MIN_SAFE_INTEGER;
const VERSION_MAX = Number.MAX_SAFE_INTEGER;

function args(value: unknown, ctx: ArgsContext): WireMap {
  return asMap(value, BAD, ctx.where, 'args');
}

function path(m: WireMap, ctx: ArgsContext, key = 'path', sequential = false): string {
  return readPath(m, key, BAD, ctx.where, ctx.limits.pathLengthMax, sequential);
}

function version(m: WireMap, ctx: ArgsContext): number {
  return readInteger(m, 'version', BAD, ctx.where, VERSION_MIN, VERSION_MAX);
}

/** The root always exists and cannot be deleted (ZooKeeper answers BADARGUMENTS too). */
function deletablePath(m: WireMap, ctx: ArgsContext): string {
  const p = path(m, ctx);
  if (p === '/') throw fieldError(BAD, ctx.where, 'path', "the root '/' cannot be deleted");
  return p;
}

/** Copies an ACL list into fresh objects after validateAcl, prefixing its message with where it is. */
function acl(m: WireMap, ctx: ArgsContext): ACL[] {
  const list = readArray(m, 'acl', ErrorCode.INVALIDACL, ctx.where);
  try {
    validateAcl(list as ACL[]);
  } catch (e) {
    if (e instanceof ArborError) throw fieldError(e.code, ctx.where, 'acl', e.message);
    throw e;
  }
  return (list as ACL[]).map((entry) => ({ perms: entry.perms, id: { scheme: entry.id.scheme, id: entry.id.id } }));
}

function withOptional<T extends object, K extends string, V>(target: T, key: K, value: V | undefined): T & { [P in K]?: V } {
  if (value !== undefined) (target as Record<string, unknown>)[key] = value;
  return target as T & { [P in K]?: V };
}

export const parseCreateArgs: ArgsParser<CreateArgs> = (value, ctx) => {
  const m = args(value, ctx);
  const mode = m['mode'];
  if (!isCreateMode(mode)) throw fieldError(BAD, ctx.where, 'mode', `${describeValue(mode)} is not a create mode (0..6)`);
  const ttlMs = readOptionalInteger(m, 'ttlMs', BAD, ctx.where, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  try {
    validateTtl(mode as CreateMode, ttlMs);
  } catch (e) {
    if (e instanceof ArborError) throw fieldError(e.code, ctx.where, 'ttlMs', e.message);
    throw e;
  }
  const result: CreateArgs = {
    path: path(m, ctx, 'path', isSequentialMode(mode)),
    data: readData(m, 'data', BAD, ctx.where, ctx.limits.dataBytesMax),
    acl: acl(m, ctx),
    mode,
  };
  // A TTL of 0 with a non-TTL mode means "none" (validateTtl): normalised away.
  return withOptional(result, 'ttlMs', ttlMs === 0 ? undefined : ttlMs);
};

export const parseDeleteArgs: ArgsParser<DeleteArgs> = (value, ctx) => {
  const m = args(value, ctx);
  return { path: deletablePath(m, ctx), version: version(m, ctx) };
};

export const parsePathWatchArgs: ArgsParser<PathWatchArgs> = (value, ctx) => {
  const m = args(value, ctx);
  const result: PathWatchArgs = { path: path(m, ctx) };
  withOptional(result, 'watch', readOptionalBoolean(m, 'watch', BAD, ctx.where));
  return withOptional(result, 'linearizable', readOptionalBoolean(m, 'linearizable', BAD, ctx.where));
};

export const parseSetDataArgs: ArgsParser<SetDataArgs> = (value, ctx) => {
  const m = args(value, ctx);
  return { path: path(m, ctx), data: readData(m, 'data', BAD, ctx.where, ctx.limits.dataBytesMax), version: version(m, ctx) };
};

export const parsePathArgs: ArgsParser<GetACLArgs & SyncArgs> = (value, ctx) => ({ path: path(args(value, ctx), ctx) });

export const parseSetACLArgs: ArgsParser<SetACLArgs> = (value, ctx) => {
  const m = args(value, ctx);
  return { path: path(m, ctx), acl: acl(m, ctx), version: version(m, ctx) };
};

export const parseGetChildrenArgs: ArgsParser<GetChildrenArgs> = (value, ctx) => {
  const m = args(value, ctx);
  const result: GetChildrenArgs = parsePathWatchArgs(m, ctx);
  const after = readOptionalString(m, 'after', BAD, ctx.where);
  if (after !== undefined && after.includes('/'))
    throw fieldError(BAD, ctx.where, 'after', `'${after}' is not a child name: it contains '/'`);
  withOptional(result, 'after', after);
  return withOptional(result, 'limit', readOptionalInteger(m, 'limit', BAD, ctx.where, 1, Number.MAX_SAFE_INTEGER));
};

export const parseEmptyArgs: ArgsParser<Empty> = (value, ctx) => {
  args(value, ctx);
  return {};
};

function multiWhere(ctx: ArgsContext, i: number, name: string): ArgsContext {
  return { limits: ctx.limits, where: `${ctx.where} ops[${i}] (${name})` };
}

const parseCheckArgs: ArgsParser<CheckArgs> = (value, ctx) => {
  const m = args(value, ctx);
  return { path: path(m, ctx), version: version(m, ctx) };
};

const MULTI_OP_PARSERS: { [K in MultiOp['op']]: ArgsParser<Extract<MultiOp, { op: K }>['args']> } = {
  create: parseCreateArgs,
  delete: parseDeleteArgs,
  setData: parseSetDataArgs,
  check: parseCheckArgs,
};

export const parseMultiArgs: ArgsParser<MultiArgs> = (value, ctx) => {
  const m = args(value, ctx);
  const list = readArray(m, 'ops', BAD, ctx.where, ctx.limits.multiOpsMax);
  const ops = list.map((item, i): MultiOp => {
    const entry = asMap(item, BAD, ctx.where, `ops[${i}]`);
    const name = entry['op'];
    if (typeof name !== 'string' || !Object.hasOwn(MULTI_OP_PARSERS, name)) {
      throw fieldError(BAD, ctx.where, `ops[${i}].op`, `${describeValue(name)} is not one of create, delete, setData, check`);
    }
    const op = name as MultiOp['op'];
    return { op, args: MULTI_OP_PARSERS[op](entry['args'], multiWhere(ctx, i, op)) } as MultiOp;
  });
  return { ops };
};

export const parseMultiReadArgs: ArgsParser<MultiReadArgs> = (value, ctx) => {
  const m = args(value, ctx);
  const list = readArray(m, 'ops', BAD, ctx.where, ctx.limits.multiOpsMax);
  const ops = list.map((item, i): MultiReadOp => {
    const entry = asMap(item, BAD, ctx.where, `ops[${i}]`);
    const name = entry['op'];
    if (name !== 'getData' && name !== 'getChildren') {
      throw fieldError(BAD, ctx.where, `ops[${i}].op`, `${describeValue(name)} is not one of getData, getChildren`);
    }
    return { op: name, args: parsePathArgs(entry['args'], multiWhere(ctx, i, name)) };
  });
  return withOptional({ ops } as MultiReadArgs, 'linearizable', readOptionalBoolean(m, 'linearizable', BAD, ctx.where));
};

export const parseAddAuthArgs: ArgsParser<AddAuthArgs> = (value, ctx) => {
  const m = args(value, ctx);
  const scheme = readString(m, 'scheme', BAD, ctx.where);
  if (scheme.length === 0) throw fieldError(BAD, ctx.where, 'scheme', 'must not be empty');
  return { scheme, credentials: readBytes(m, 'credentials', BAD, ctx.where, Number.MAX_SAFE_INTEGER) };
};

const SET_WATCHES_LISTS = ['data', 'exist', 'child', 'persistent', 'persistentRecursive'] as const;

/** The watch count is not limited here: the member's watch registry counts across frames (QUOTAEXCEEDED). */
export const parseSetWatchesArgs: ArgsParser<SetWatchesArgs> = (value, ctx) => {
  const m = args(value, ctx);
  const lastZxid = readInteger(m, 'lastZxid', BAD, ctx.where, 0, Number.MAX_SAFE_INTEGER);
  const [data, exist, child, persistent, persistentRecursive] = SET_WATCHES_LISTS.map((key) =>
    readPathArray(m, key, BAD, ctx.where, ctx.limits.pathLengthMax),
  ) as [string[], string[], string[], string[], string[]];
  return { lastZxid, data, exist, child, persistent, persistentRecursive };
};

export const parseGetEphemeralsArgs: ArgsParser<GetEphemeralsArgs> = (value, ctx) => ({ prefix: path(args(value, ctx), ctx, 'prefix') });

const ADD_WATCH_MODES: readonly number[] = Object.values(AddWatchModes);
const WATCHER_TYPES: readonly number[] = Object.values(WatcherTypes);

export const parseAddWatchArgs: ArgsParser<AddWatchArgs> = (value, ctx) => {
  const m = args(value, ctx);
  const mode = m['mode'];
  if (typeof mode !== 'number' || !ADD_WATCH_MODES.includes(mode)) {
    throw fieldError(BAD, ctx.where, 'mode', `${describeValue(mode)} is not an addWatch mode (0 persistent, 1 persistent recursive)`);
  }
  return { path: path(m, ctx), mode: mode as AddWatchMode };
};

export const parseRemoveWatchesArgs: ArgsParser<RemoveWatchesArgs> = (value, ctx) => {
  const m = args(value, ctx);
  const type = m['type'];
  if (typeof type !== 'number' || !WATCHER_TYPES.includes(type)) {
    throw fieldError(BAD, ctx.where, 'type', `${describeValue(type)} is not a watcher type (1..5)`);
  }
  return { path: path(m, ctx), type: type as WatcherType };
};
