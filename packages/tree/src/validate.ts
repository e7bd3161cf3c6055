import {
  ArborError,
  DEFAULT_LIMITS,
  ErrorCode,
  isCreateMode,
  isSequentialMode,
  isTtlMode,
  pathProblem,
  validateAcl,
  validateTtl,
} from '@arbor/protocol';
import { isPlainWorldAcl } from './acl-table.js';
import type { TxnOp } from './txn.js';

/**
 * Stateless checks of a txn op: the server runs them with its configured limits before it
 * proposes (so bad requests never reach the log), and apply runs the same checks without
 * limits (so a malformed entry becomes an error result, never a crash). Limits are member
 * settings and may differ between members, so apply must not enforce them: that would make
 * the outcome depend on the member.
 */
export interface TxnLimits {
  dataBytesMax: number;
  pathLengthMax: number;
  multiOpsMax: number;
}

export const DEFAULT_TXN_LIMITS: Readonly<TxnLimits> = Object.freeze({
  dataBytesMax: DEFAULT_LIMITS.dataBytesMax,
  pathLengthMax: DEFAULT_LIMITS.pathLengthMax,
  multiOpsMax: DEFAULT_LIMITS.multiOpsMax,
});

/** What apply checks: shapes and syntax only. */
export const NO_LIMITS: Readonly<TxnLimits> = Object.freeze({ dataBytesMax: Infinity, pathLengthMax: Infinity, multiOpsMax: Infinity });

/** A failed stateless check; for a multi, `opIndex` names the failing op. */
export class TxnValidationError extends ArborError {
  constructor(
    code: ErrorCode,
    message: string,
    readonly opIndex?: number,
  ) {
    super(code, message);
  }
}

const MULTI_MEMBERS = new Set(['create', 'delete', 'setData', 'check']);

/** Throws TxnValidationError (BADARGUMENTS, INVALIDACL) when the op can never succeed. */
export function validateTxnOp(op: TxnOp, limits: Partial<TxnLimits> = {}): void {
  const problem = txnOpProblem(op, { ...DEFAULT_TXN_LIMITS, ...limits });
  if (problem !== undefined) throw problem;
}

/**
 * The first stateless problem of an op, or undefined. Never throws, whatever `op` is.
 * `shallow`: a multi's members are not checked (apply checks each as it reaches it, so that
 * a bad member gets its own result, with OK before it and RUNTIMEINCONSISTENCY after).
 */
export function txnOpProblem(op: unknown, limits: Readonly<TxnLimits>, shallow = false): TxnValidationError | undefined {
  try {
    checkOp(op, limits, shallow);
    return undefined;
  } catch (e) {
    if (e instanceof TxnValidationError) return e;
    if (e instanceof ArborError) return new TxnValidationError(e.code, e.message);
    throw e;
  }
}

function bad(message: string): never {
  throw new TxnValidationError(ErrorCode.BADARGUMENTS, message);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The problem of one multi member, or undefined (apply's per-op check). */
export function multiMemberProblem(member: unknown, limits: Readonly<TxnLimits>): TxnValidationError | undefined {
  try {
    checkMember(member, limits);
    return undefined;
  } catch (e) {
    if (e instanceof TxnValidationError) return e;
    if (e instanceof ArborError) return new TxnValidationError(e.code, e.message);
    throw e;
  }
}

function checkOp(op: unknown, limits: Readonly<TxnLimits>, shallow: boolean): void {
  if (!isRecord(op) || typeof op['type'] !== 'string') bad('a txn op must be an object with a string type');
  switch (op['type']) {
    case 'createSession':
      return checkCreateSession(op);
    case 'closeSession':
      checkSessionId('closeSession', op['sessionId']);
      if (op['reason'] !== 'close' && op['reason'] !== 'expire') bad(`closeSession: reason must be 'close' or 'expire'`);
      return;
    case 'multi':
      return checkMulti(op, limits, shallow);
    case 'reap':
      checkPath('reap', op['path'], limits, false);
      return;
    default:
      return checkNodeOp(op, limits);
  }
}

function checkCreateSession(op: Record<string, unknown>): void {
  checkSessionId('createSession', op['sessionId']);
  if (op['sessionId'] === 0) bad('createSession: session id 0 is reserved for entries without a session');
  if (!(op['password'] instanceof Uint8Array)) bad('createSession: password must be bytes');
  const timeoutMs = op['timeoutMs'];
  if (typeof timeoutMs !== 'number' || !Number.isSafeInteger(timeoutMs) || timeoutMs <= 0) {
    bad(`createSession: timeoutMs must be a positive integer, not ${String(timeoutMs)}`);
  }
}

function checkSessionId(what: string, id: unknown): void {
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0)
    bad(`${what}: session id must be a non-negative integer, not ${String(id)}`);
}

function checkMulti(op: Record<string, unknown>, limits: Readonly<TxnLimits>, shallow: boolean): void {
  const ops = op['ops'];
  if (!Array.isArray(ops)) bad('multi: ops must be an array');
  if (ops.length > limits.multiOpsMax) bad(`multi: ${ops.length} ops; the limit is ${limits.multiOpsMax}`);
  if (shallow) return;
  for (const [i, member] of ops.entries()) {
    try {
      checkMember(member, limits);
    } catch (e) {
      if (e instanceof ArborError) throw new TxnValidationError(e.code, `multi op ${i}: ${e.message}`, i);
      throw e;
    }
  }
}

function checkMember(member: unknown, limits: Readonly<TxnLimits>): void {
  if (!isRecord(member) || !MULTI_MEMBERS.has(member['type'] as string)) bad('only create, delete, setData and check may be in a multi');
  checkNodeOp(member, limits);
}

function checkNodeOp(op: Record<string, unknown>, limits: Readonly<TxnLimits>): void {
  const type = op['type'] as string;
  switch (type) {
    case 'create': {
      const mode = op['mode'];
      if (!isCreateMode(mode)) bad(`create: unknown mode ${String(mode)}`);
      const path = checkPath('create', op['path'], limits, isSequentialMode(mode));
      checkData('create', path, op['data'], limits);
      const ttlMs = op['ttlMs'];
      if (ttlMs !== undefined && typeof ttlMs !== 'number') bad(`create ${path}: ttlMs must be a number`);
      // validateTtl accepts a mode without TTL and no TTL, and validateAcl the default list, at once
      if (isTtlMode(mode) || (ttlMs ?? 0) !== 0) withSubject(`create ${path}`, () => validateTtl(mode, ttlMs));
      if (!isPlainWorldAcl(op['acl'])) withSubject(`create ${path}`, () => validateAcl(op['acl'] as never));
      return;
    }
    case 'delete': {
      const path = checkPath('delete', op['path'], limits, false);
      if (path === '/') bad('delete /: the root cannot be deleted');
      checkVersion('delete', path, op['version']);
      return;
    }
    case 'setData': {
      const path = checkPath('setData', op['path'], limits, false);
      checkData('setData', path, op['data'], limits);
      checkVersion('setData', path, op['version']);
      return;
    }
    case 'setACL': {
      const path = checkPath('setACL', op['path'], limits, false);
      withSubject(`setACL ${path}`, () => validateAcl(op['acl'] as never));
      checkVersion('setACL', path, op['version']);
      return;
    }
    case 'check': {
      const path = checkPath('check', op['path'], limits, false);
      checkVersion('check', path, op['version']);
      return;
    }
    default:
      bad(`unknown txn op '${type}'`);
  }
}

function withSubject(subject: string, check: () => void): void {
  try {
    check();
  } catch (e) {
    if (e instanceof ArborError) throw new TxnValidationError(e.code, `${subject}: ${e.message}`);
    throw e;
  }
}

function checkPath(what: string, path: unknown, limits: Readonly<TxnLimits>, sequential: boolean): string {
  if (!sequential && isPlainValidPath(path, limits.pathLengthMax)) return path as string;
  const problem = pathProblem(path, { sequential, pathLengthMax: limits.pathLengthMax });
  if (problem !== undefined) bad(`${what}: ${problem}`);
  return path as string;
}

/** `what` and `path` name the op in a message, made only when there is a problem. */
function checkData(what: string, path: string, data: unknown, limits: Readonly<TxnLimits>): void {
  if (data !== null && !(data instanceof Uint8Array)) bad(`${what} ${path}: data must be bytes or null`);
  if (data !== null && data.length > limits.dataBytesMax) {
    bad(`${what} ${path}: data is ${data.length} bytes; the limit is ${limits.dataBytesMax}`);
  }
}

function checkVersion(what: string, path: string, version: unknown): void {
  if (typeof version !== 'number' || !Number.isSafeInteger(version)) {
    bad(`${what} ${path}: version must be an integer, not ${String(version)}`);
  }
}

/**
 * True when pathProblem(path, { pathLengthMax: max }) finds nothing, decided in one pass
 * without slicing segments (every entry and read checks a path). False means "ask
 * pathProblem", which says what is wrong.
 */
export function isPlainValidPath(path: unknown, max: number): boolean {
  if (typeof path !== 'string') return false;
  const length = path.length;
  if (length === 0 || length > max || path.charCodeAt(0) !== 0x2f) return false;
  if (length === 1) return true;
  let segmentStart = 1;
  for (let i = 1; i < length; i++) {
    const c = path.charCodeAt(i);
    if (c === 0x2f) {
      if (!isPlainSegment(path, segmentStart, i)) return false;
      segmentStart = i + 1;
    } else if (!((c >= 0x20 && c < 0x7f) || (c >= 0xa0 && c < 0xd800) || (c > 0xf8ff && c < 0xfff0))) {
      return false; // a control, surrogate, private-use or non-character code unit
    }
  }
  return isPlainSegment(path, segmentStart, length);
}

/** Not empty, '.' or '..'. */
function isPlainSegment(path: string, start: number, end: number): boolean {
  const length = end - start;
  if (length === 0) return false;
  if (length > 2 || path.charCodeAt(start) !== 0x2e) return true;
  return length === 2 && path.charCodeAt(start + 1) !== 0x2e;
}
