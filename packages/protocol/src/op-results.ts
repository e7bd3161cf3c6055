import type { Id } from './acl.js';
import { ErrorCode, isErrorCode } from './errors.js';
import type { WireMap } from './fields.js';
import {
  asMap,
  describeValue,
  fieldError,
  readArray,
  readBoolean,
  readData,
  readInteger,
  readOptionalString,
  readStat,
  readString,
  readStringArray,
} from './fields.js';
import type {
  Create2Result,
  CreateResult,
  Empty,
  ExistsResult,
  GetACLResult,
  GetAllChildrenNumberResult,
  GetChildren2Result,
  GetChildrenResult,
  GetDataResult,
  GetEphemeralsResult,
  MultiOpResult,
  MultiReadOpResult,
  MultiReadResult,
  MultiResult,
  PingResult,
  StatResult,
  SyncResult,
  WhoAmIResult,
} from './ops.js';

/**
 * Checkers of each op's result as a client receives it. Lighter than the argument parsers: the
 * member is trusted to follow the protocol, so these only make sure that garbage cannot crash
 * the client (every field the type promises is there with the right JavaScript type). They
 * check in place and return the same object, unknown fields included. A problem throws an
 * ArborError(MARSHALLINGERROR) naming the op and the field.
 */
export type ResultParser<R> = (value: unknown, where: string) => R;

const BAD = ErrorCode.MARSHALLINGERROR;
const NO_LIMIT = Number.MAX_SAFE_INTEGER;

function res(value: unknown, where: string): WireMap {
  return asMap(value, BAD, where, 'res');
}

export const checkEmptyResult: ResultParser<Empty> = (value, where) => res(value, where);

export const checkCreateResult: ResultParser<CreateResult> = (value, where) => {
  const m = res(value, where);
  readString(m, 'path', BAD, where);
  return m as unknown as CreateResult;
};

export const checkCreate2Result: ResultParser<Create2Result> = (value, where) => {
  const m = res(value, where);
  readString(m, 'path', BAD, where);
  readStat(m, 'stat', BAD, where);
  return m as unknown as Create2Result;
};

export const checkStatResult: ResultParser<StatResult & ExistsResult> = (value, where) => {
  const m = res(value, where);
  readStat(m, 'stat', BAD, where);
  return m as unknown as StatResult;
};

export const checkGetDataResult: ResultParser<GetDataResult> = (value, where) => {
  const m = res(value, where);
  readData(m, 'data', BAD, where, NO_LIMIT);
  readStat(m, 'stat', BAD, where);
  return m as unknown as GetDataResult;
};

function checkIdList(m: WireMap, key: string, where: string, extract: (entry: WireMap) => unknown): void {
  const list = readArray(m, key, BAD, where);
  for (let i = 0; i < list.length; i++) {
    const entry = asMap(list[i], BAD, where, `${key}[${i}]`);
    const id = extract(entry);
    if (!isIdShape(id)) throw fieldError(BAD, where, `${key}[${i}]`, 'must hold an identity {scheme: string, id: string}');
  }
}

export const checkGetACLResult: ResultParser<GetACLResult> = (value, where) => {
  const m = res(value, where);
  checkIdList(m, 'acl', where, (entry) => {
    readInteger(entry, 'perms', BAD, where, 0, NO_LIMIT);
    return entry['id'];
  });
  readStat(m, 'stat', BAD, where);
  return m as unknown as GetACLResult;
};

export const checkGetChildrenResult: ResultParser<GetChildrenResult> = (value, where) => {
  const m = res(value, where);
  readStringArray(m, 'children', BAD, where);
  readBoolean(m, 'more', BAD, where);
  return m as unknown as GetChildrenResult;
};

export const checkGetChildren2Result: ResultParser<GetChildren2Result> = (value, where) => {
  const m = checkGetChildrenResult(value, where) as unknown as WireMap;
  readStat(m, 'stat', BAD, where);
  return m as unknown as GetChildren2Result;
};

export const checkSyncResult: ResultParser<SyncResult> = (value, where) => {
  const m = res(value, where);
  readString(m, 'path', BAD, where);
  return m as unknown as SyncResult;
};

export const checkPingResult: ResultParser<PingResult> = (value, where) => {
  const m = res(value, where);
  readInteger(m, 'sessionRemainingMs', BAD, where, 0, NO_LIMIT);
  return m as unknown as PingResult;
};

/** Common part of a multi/multiRead result entry: a known op name and an error code; the message when it failed. */
function checkEntry(list: unknown[], i: number, names: readonly string[], where: string): { entry: WireMap; op: string; err: number } {
  const entry = asMap(list[i], BAD, where, `results[${i}]`);
  const op = entry['op'];
  if (typeof op !== 'string' || !names.includes(op)) {
    throw fieldError(BAD, where, `results[${i}].op`, `${describeValue(op)} is not one of ${names.join(', ')}`);
  }
  const err = entry['err'];
  if (!isErrorCode(err)) throw fieldError(BAD, where, `results[${i}].err`, `${describeValue(err)} is not an error code`);
  if (err !== ErrorCode.OK) readOptionalString(entry, 'message', BAD, `${where} results[${i}]`);
  return { entry, op, err };
}

const MULTI_OPS = ['create', 'delete', 'setData', 'check'] as const;
const MULTI_READ_OPS = ['getData', 'getChildren'] as const;

export const checkMultiResult: ResultParser<MultiResult> = (value, where) => {
  const m = res(value, where);
  const list = readArray(m, 'results', BAD, where);
  for (let i = 0; i < list.length; i++) {
    const { entry, op, err } = checkEntry(list, i, MULTI_OPS, where);
    if (err !== ErrorCode.OK) continue;
    const at = `${where} results[${i}] (${op})`;
    if (op === 'create') readString(entry, 'path', BAD, at);
    else if (op === 'setData') readStat(entry, 'stat', BAD, at);
  }
  return m as unknown as { results: MultiOpResult[] };
};

export const checkMultiReadResult: ResultParser<MultiReadResult> = (value, where) => {
  const m = res(value, where);
  const list = readArray(m, 'results', BAD, where);
  for (let i = 0; i < list.length; i++) {
    const { entry, op, err } = checkEntry(list, i, MULTI_READ_OPS, where);
    if (err !== ErrorCode.OK) continue;
    const at = `${where} results[${i}] (${op})`;
    if (op === 'getData') {
      readData(entry, 'data', BAD, at, NO_LIMIT);
      readStat(entry, 'stat', BAD, at);
    } else {
      readStringArray(entry, 'children', BAD, at);
    }
  }
  return m as unknown as { results: MultiReadOpResult[] };
};

export const checkWhoAmIResult: ResultParser<WhoAmIResult> = (value, where) => {
  const m = res(value, where);
  checkIdList(m, 'identities', where, (entry) => entry);
  return m as unknown as WhoAmIResult;
};

export const checkGetEphemeralsResult: ResultParser<GetEphemeralsResult> = (value, where) => {
  const m = res(value, where);
  readStringArray(m, 'paths', BAD, where);
  return m as unknown as GetEphemeralsResult;
};

export const checkGetAllChildrenNumberResult: ResultParser<GetAllChildrenNumberResult> = (value, where) => {
  const m = res(value, where);
  readInteger(m, 'count', BAD, where, 0, NO_LIMIT);
  return m as unknown as GetAllChildrenNumberResult;
};

/** Shape of an identity (no scheme rules: getACL hides digests from callers without ADMIN). */
export function isIdShape(value: unknown): value is Id {
  if (typeof value !== 'object' || value === null) return false;
  const m = value as WireMap;
  return typeof m['scheme'] === 'string' && typeof m['id'] === 'string';
}
