import type { ErrorCode } from './errors.js';
import { ArborError } from './errors.js';
import { pathProblem } from './path.js';
import type { Stat } from './stat.js';
import { STAT_FIELDS } from './stat.js';

/**
 * Readers for fields of decoded msgpack maps (untrusted input). Each returns the typed value or
 * throws an ArborError whose message names where the field is, the field and the problem:
 * `create: path: empty segment at index 3 of '/a//b'`. The codec turns these into DecodeErrors
 * in one place; validation code elsewhere may call them directly and catch ArborError.
 *
 * `where` names the enclosing thing (`'create'`, `'multi ops[2] (setData)'`, `'connect request'`),
 * `code` is the code a problem gets (BADARGUMENTS for op arguments, MARSHALLINGERROR for the
 * envelope of a frame and for results).
 */
export type WireMap = Record<string, unknown>;

export function fieldError(code: ErrorCode, where: string, field: string, problem: string): ArborError {
  return new ArborError(code, field === '' ? `${where}: ${problem}` : `${where}: ${field}: ${problem}`);
}

/** How a value looks, for messages: 'a string', 'null', 'the number 1.5', 'a byte string', 'an array'. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'missing';
  if (value instanceof Uint8Array) return 'a byte string';
  if (Array.isArray(value)) return 'an array';
  switch (typeof value) {
    case 'number':
      return `the number ${String(value)}`;
    case 'string':
      return 'a string';
    case 'boolean':
      return `the boolean ${String(value)}`;
    case 'object':
      return 'a map';
    default:
      return typeof value;
  }
}

export function isWireMap(value: unknown): value is WireMap {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

export function asMap(value: unknown, code: ErrorCode, where: string, field = ''): WireMap {
  if (!isWireMap(value)) throw fieldError(code, where, field, `must be a map, not ${describeValue(value)}`);
  return value;
}

export function readMap(m: WireMap, key: string, code: ErrorCode, where: string): WireMap {
  return asMap(m[key], code, where, key);
}

export function readString(m: WireMap, key: string, code: ErrorCode, where: string): string {
  const v = m[key];
  if (typeof v !== 'string') throw fieldError(code, where, key, `must be a string, not ${describeValue(v)}`);
  return v;
}

export function readOptionalString(m: WireMap, key: string, code: ErrorCode, where: string): string | undefined {
  return m[key] === undefined ? undefined : readString(m, key, code, where);
}

export function readBoolean(m: WireMap, key: string, code: ErrorCode, where: string): boolean {
  const v = m[key];
  if (typeof v !== 'boolean') throw fieldError(code, where, key, `must be a boolean, not ${describeValue(v)}`);
  return v;
}

export function readOptionalBoolean(m: WireMap, key: string, code: ErrorCode, where: string): boolean | undefined {
  return m[key] === undefined ? undefined : readBoolean(m, key, code, where);
}

/** An integer in [min, max] (both safe integers). */
export function readInteger(m: WireMap, key: string, code: ErrorCode, where: string, min: number, max: number): number {
  const v = m[key];
  if (typeof v !== 'number' || !Number.isInteger(v)) throw fieldError(code, where, key, `must be an integer, not ${describeValue(v)}`);
  if (v < min || v > max) throw fieldError(code, where, key, `${v} is out of range ${min}..${max}`);
  return v;
}

export function readOptionalInteger(m: WireMap, key: string, code: ErrorCode, where: string, min: number, max: number): number | undefined {
  return m[key] === undefined ? undefined : readInteger(m, key, code, where, min, max);
}

export function readBytes(m: WireMap, key: string, code: ErrorCode, where: string, bytesMax: number): Uint8Array {
  const v = m[key];
  if (!(v instanceof Uint8Array)) throw fieldError(code, where, key, `must be a byte string (msgpack bin), not ${describeValue(v)}`);
  if (v.byteLength > bytesMax) throw fieldError(code, where, key, `${v.byteLength} bytes is over the limit of ${bytesMax}`);
  return v;
}

/** Znode data: bytes or null (a different value from empty bytes), within dataBytesMax. */
export function readData(m: WireMap, key: string, code: ErrorCode, where: string, dataBytesMax: number): Uint8Array | null {
  if (m[key] === null) return null;
  const v = m[key];
  if (!(v instanceof Uint8Array)) {
    throw fieldError(code, where, key, `must be a byte string (msgpack bin) or nil, not ${describeValue(v)}`);
  }
  if (v.byteLength > dataBytesMax) throw fieldError(code, where, key, `${v.byteLength} bytes is over the data limit of ${dataBytesMax}`);
  return v;
}

export function readArray(m: WireMap, key: string, code: ErrorCode, where: string, lengthMax = Number.MAX_SAFE_INTEGER): unknown[] {
  const v = m[key];
  if (!Array.isArray(v)) throw fieldError(code, where, key, `must be an array, not ${describeValue(v)}`);
  if (v.length > lengthMax) throw fieldError(code, where, key, `${v.length} entries is over the limit of ${lengthMax}`);
  return v;
}

export function readStringArray(m: WireMap, key: string, code: ErrorCode, where: string): string[] {
  const list = readArray(m, key, code, where);
  for (let i = 0; i < list.length; i++) {
    if (typeof list[i] !== 'string') throw fieldError(code, where, `${key}[${i}]`, `must be a string, not ${describeValue(list[i])}`);
  }
  return list as string[];
}

/** A valid znode path (path.ts rules); `sequential` lets it end in '/'. */
export function readPath(m: WireMap, key: string, code: ErrorCode, where: string, pathLengthMax: number, sequential = false): string {
  const v = m[key];
  const problem = pathProblem(v, { pathLengthMax, sequential });
  if (problem !== undefined) throw fieldError(code, where, key, problem);
  return v as string;
}

export function readPathArray(m: WireMap, key: string, code: ErrorCode, where: string, pathLengthMax: number): string[] {
  const list = readArray(m, key, code, where);
  for (let i = 0; i < list.length; i++) {
    const problem = pathProblem(list[i], { pathLengthMax });
    if (problem !== undefined) throw fieldError(code, where, `${key}[${i}]`, problem);
  }
  return list as string[];
}

/** A Stat: every field a safe integer. Checked in place (results are checked lightly, not copied). */
export function readStat(m: WireMap, key: string, code: ErrorCode, where: string): Stat {
  const stat = readMap(m, key, code, where);
  for (const field of STAT_FIELDS) {
    const v = stat[field];
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) {
      throw fieldError(code, where, `${key}.${field}`, `must be an integer, not ${describeValue(v)}`);
    }
  }
  return stat as unknown as Stat;
}
