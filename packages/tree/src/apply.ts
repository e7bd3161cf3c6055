import { ArborError, ErrorCode } from '@arbor/protocol';
import type { WatchTrigger } from '@arbor/protocol';
import { AssertionError, assert } from './assert.js';
import type { ApplyContext } from './ops/context.js';
import { applyMulti } from './ops/multi.js';
import { applyCheck, applyCreate, applyDelete, applySetAcl, applySetData } from './ops/node-ops.js';
import { applyReap } from './ops/reap.js';
import { applyCloseSession, applyCreateSession } from './ops/session-ops.js';
import { Shape } from './kept-results.js';
import type { Session } from './session.js';
import type { TreeState } from './state.js';
import type { ApplyOutcome, ErrorResult, SuccessResults, Txn, TxnOp, TxnResult, TxnType } from './txn.js';
import { NO_LIMITS, txnOpProblem } from './validate.js';

type Handler<K extends TxnType> = (ctx: ApplyContext, op: Extract<TxnOp, { type: K }>) => SuccessResults[K];

interface OpSpec<K extends TxnType> {
  /** Writes on behalf of a client session: the session must be live, and exactly-once applies. */
  readonly clientWrite: boolean;
  readonly run: Handler<K>;
}

const OPS: { readonly [K in TxnType]: OpSpec<K> } = {
  createSession: { clientWrite: false, run: applyCreateSession },
  closeSession: { clientWrite: false, run: applyCloseSession },
  create: { clientWrite: true, run: applyCreate },
  delete: { clientWrite: true, run: applyDelete },
  setData: { clientWrite: true, run: applySetData },
  setACL: { clientWrite: true, run: applySetAcl },
  check: { clientWrite: true, run: applyCheck },
  multi: { clientWrite: true, run: applyMulti },
  reap: { clientWrite: false, run: applyReap },
};

const NO_TRIGGERS: readonly WatchTrigger[] = Object.freeze([]);

/**
 * Applies one entry: a pure function of the state and the txn (no clock, no randomness, no
 * I/O), the same on every member. Bad input becomes an error result; only a broken invariant
 * throws. The result is frozen: for a duplicate request it is the object returned first.
 */
export function applyTxn(state: TreeState, txn: Txn): ApplyOutcome {
  if (!(Number.isSafeInteger(txn.zxid) && txn.zxid > state.lastZxid))
    throw new AssertionError(`zxid ${txn.zxid} applied after ${state.lastZxid}`);
  state.lastZxid = txn.zxid;
  state.changeCount++;
  const envelope = envelopeProblem(txn);
  if (envelope !== undefined) return done(error(ErrorCode.BADARGUMENTS, envelope), NO_TRIGGERS);

  const op = txn.op as TxnOp | undefined;
  const spec = typeof op === 'object' && op !== null ? (OPS[op.type] as OpSpec<TxnType> | undefined) : undefined;
  let session: Session | undefined;
  if (spec?.clientWrite === true) {
    session = state.sessions.get(txn.sessionId);
    if (session === undefined) {
      return done(error(ErrorCode.SESSIONEXPIRED, `session ${txn.sessionId} is expired or closed`), NO_TRIGGERS);
    }
    if (txn.requestId !== undefined) {
      const prior = session.results.get(txn.requestId);
      if (prior !== undefined) return { result: prior, triggers: NO_TRIGGERS, duplicate: true };
      if (txn.requestId <= session.evictedUpTo) {
        return done(
          error(ErrorCode.BADARGUMENTS, `request ${txn.requestId} of session ${txn.sessionId} is older than the kept results; not applied`),
          NO_TRIGGERS,
        );
      }
    }
  }

  const triggers: WatchTrigger[] = [];
  const result = run(state, txn, spec, session, triggers);
  if (session !== undefined && txn.requestId !== undefined)
    state.recordResult(session, txn.requestId, result, shapeOfOutcome(txn.op, result));
  if (session !== undefined && txn.ackedRequestId !== undefined && state.sessions.has(session.id)) {
    state.trimResults(session, Math.min(txn.ackedRequestId, (txn.requestId ?? Infinity) - 1));
  }
  return done(result, result.err === 0 ? triggers : NO_TRIGGERS);
}

function run(
  state: TreeState,
  txn: Txn,
  spec: OpSpec<TxnType> | undefined,
  session: Session | undefined,
  triggers: WatchTrigger[],
): TxnResult {
  const problem = txnOpProblem(txn.op, NO_LIMITS, true);
  if (problem !== undefined) return error(problem.code, problem.message);
  assert(spec !== undefined, 'a valid op has a handler');
  try {
    return spec.run({ state, txn, session, triggers, journal: null }, txn.op as never);
  } catch (e) {
    if (e instanceof ArborError) return error(e.code, e.message);
    throw e;
  }
}

/** How a client write's result is kept: the shapes its handler makes (see KeptResults). */
function shapeOfOutcome(op: TxnOp, result: TxnResult): Shape {
  if (result.err !== 0) return Shape.OBJECT;
  switch (op.type) {
    case 'create':
      return Shape.CREATE;
    case 'setData':
    case 'setACL':
      return Shape.STAT;
    case 'delete':
    case 'check':
      return Shape.OK;
    default:
      return Shape.OBJECT;
  }
}

function envelopeProblem(txn: Txn): string | undefined {
  if (typeof txn.timeMs !== 'number' || !Number.isSafeInteger(txn.timeMs)) return `txn ${txn.zxid}: timeMs must be an integer`;
  if (typeof txn.sessionId !== 'number' || !Number.isSafeInteger(txn.sessionId)) return `txn ${txn.zxid}: sessionId must be an integer`;
  if (txn.requestId !== undefined && (typeof txn.requestId !== 'number' || !Number.isSafeInteger(txn.requestId) || txn.requestId < 0)) {
    return `txn ${txn.zxid}: requestId must be a non-negative integer`;
  }
  if (
    txn.ackedRequestId !== undefined &&
    (typeof txn.ackedRequestId !== 'number' || !Number.isSafeInteger(txn.ackedRequestId) || txn.ackedRequestId < -1)
  ) {
    return `txn ${txn.zxid}: ackedRequestId must be an integer >= -1`;
  }
  if (!Array.isArray(txn.identities)) return `txn ${txn.zxid}: identities must be an array`;
  for (const who of txn.identities) {
    if (typeof who !== 'object' || who === null || typeof who.scheme !== 'string' || typeof who.id !== 'string') {
      return `txn ${txn.zxid}: each identity must be {scheme, id} strings`;
    }
  }
  return undefined;
}

function error(code: ErrorCode, message: string): ErrorResult {
  return { err: code as Exclude<ErrorCode, 0>, message };
}

function done(result: TxnResult, triggers: readonly WatchTrigger[]): ApplyOutcome {
  return { result: deepFreeze(result), triggers, duplicate: false };
}

/**
 * Results may be shared (a duplicate of an error, multi or reap gets the kept object back), so nobody may change them.
 * Frozen to the depth results have: the result, its stat, a multi's per-op results and theirs.
 */
export function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null) return value;
  Object.freeze(value);
  const o = value as Record<string, unknown>;
  if (typeof o['stat'] === 'object' && o['stat'] !== null) Object.freeze(o['stat']);
  const results = o['results'];
  if (Array.isArray(results)) {
    Object.freeze(results);
    for (const r of results) deepFreeze(r);
  }
  return value;
}
