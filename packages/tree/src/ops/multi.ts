import { ArborError, ErrorCode } from '@arbor/protocol';
import type { MultiOpResult, WatchTrigger } from '@arbor/protocol';
import { Journal } from '../journal.js';
import type { MultiMemberOp, MultiOp, MultiResult } from '../txn.js';
import type { ApplyContext } from './context.js';
import { NO_LIMITS, multiMemberProblem } from '../validate.js';
import { applyCheck, applyCreate, applyDelete, applySetData } from './node-ops.js';

/**
 * All or nothing, in one zxid: the ops run in order on the live state (so later ops see
 * earlier ones) with a journal; the first failure rolls every change back and no trigger
 * fires. Results: one per op; on failure, OK for the ops before the failing one (their
 * payload is what they produced before the rollback), its error, RUNTIMEINCONSISTENCY after.
 */
export function applyMulti(ctx: ApplyContext, op: MultiOp): MultiResult {
  const journal = new Journal();
  const triggers: WatchTrigger[] = [];
  const inner: ApplyContext = { state: ctx.state, txn: ctx.txn, session: ctx.session, triggers, journal };
  const results: MultiOpResult[] = [];
  for (let i = 0; i < op.ops.length; i++) {
    const member = op.ops[i]!;
    try {
      const problem = multiMemberProblem(member, NO_LIMITS);
      if (problem !== undefined) throw problem;
      results.push(runMember(inner, member));
    } catch (e) {
      journal.rollback();
      if (!(e instanceof ArborError)) throw e;
      return failed(op.ops, results, i, e);
    }
  }
  journal.commit();
  for (const t of triggers) ctx.triggers.push(t);
  return { err: 0, results };
}

function runMember(ctx: ApplyContext, member: MultiMemberOp): MultiOpResult {
  switch (member.type) {
    case 'create':
      return { op: 'create', err: 0, path: applyCreate(ctx, member).path };
    case 'delete':
      applyDelete(ctx, member);
      return { op: 'delete', err: 0 };
    case 'setData':
      return { op: 'setData', err: 0, stat: applySetData(ctx, member).stat };
    case 'check':
      applyCheck(ctx, member);
      return { op: 'check', err: 0 };
  }
}

function failed(ops: readonly MultiMemberOp[], before: MultiOpResult[], index: number, e: ArborError): MultiResult {
  const code = e.code as Exclude<ErrorCode, 0>;
  const results = before.slice();
  results.push({ op: opName(ops[index]), err: code, message: e.message });
  for (let j = index + 1; j < ops.length; j++) {
    results.push({ op: opName(ops[j]), err: ErrorCode.RUNTIMEINCONSISTENCY, message: `not applied: op ${index} of the multi failed` });
  }
  return { err: code, message: `multi op ${index} (${opName(ops[index])}) failed: ${e.message}`, results };
}

/** The op name a result reports; a malformed member (refused as BADARGUMENTS) reports 'check'. */
function opName(member: MultiMemberOp | undefined): MultiMemberOp['type'] {
  const type = (member as { type?: unknown } | undefined)?.type;
  return type === 'create' || type === 'delete' || type === 'setData' || type === 'check' ? type : 'check';
}
