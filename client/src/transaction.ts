import type { ACL, CreateMode, CreateModeName, Stat } from '@arbor/protocol';
import type { ZnodeData } from './data.js';
import type { ArborClientError } from './errors.js';
import type { CallOptions } from './requests.js';

/** One op of a transaction (multi): all apply, at one zxid, or none does. */
export type TransactionOp =
  | { op: 'create'; path: string; data?: ZnodeData; mode?: CreateMode | CreateModeName; acl?: readonly ACL[]; ttlMs?: number }
  | { op: 'delete'; path: string; version?: number }
  | { op: 'setData'; path: string; data: ZnodeData; version?: number }
  | { op: 'check'; path: string; version: number };

/** The result of one op of a committed transaction (paths as the caller sees them). */
export type TransactionResult = { op: 'create'; path: string } | { op: 'delete' } | { op: 'setData'; stat: Stat } | { op: 'check' };

/**
 * One op's outcome in a failed transaction (the thrown error's `transaction.results`): OK for
 * the ops before the failing one (rolled back), its error, RUNTIMEINCONSISTENCY for the rest.
 */
export type TransactionOutcome = TransactionResult | { op: TransactionOp['op']; error: ArborClientError };

/** A read of a multiRead. */
export type ReadOp = { op: 'getData'; path: string } | { op: 'getChildren'; path: string };

/** One read's result: multiRead is not atomic, so each read succeeds or fails on its own. */
export type ReadResult =
  | { op: 'getData'; data: Uint8Array | null; stat: Stat }
  | { op: 'getChildren'; children: string[] }
  | { op: ReadOp['op']; error: ArborClientError };

/** Options of a create inside a transaction. */
export interface TransactionCreateOptions {
  mode?: CreateMode | CreateModeName;
  acl?: readonly ACL[];
  ttlMs?: number;
}

/**
 * Builds a transaction op by op, then commits it with one multi request.
 *
 * @example
 * const [created] = await client.transaction()
 *   .check('/app/config', 3)
 *   .create('/app/lock', 'me', { mode: 'EPHEMERAL' })
 *   .setData('/app/config', '{"v":4}', 3)
 *   .commit();
 */
export class Transaction {
  private readonly list: TransactionOp[] = [];

  /** @internal Created by {@link ArborClient.transaction}. */
  constructor(private readonly run: (ops: TransactionOp[], options?: CallOptions) => Promise<TransactionResult[]>) {}

  /** Adds a create (default mode PERSISTENT, the client's default ACL). */
  create(path: string, data: ZnodeData = null, options: TransactionCreateOptions = {}): this {
    this.list.push({ op: 'create', path, data, ...options });
    return this;
  }

  /** Adds a delete; `version` -1 (the default) matches any. */
  delete(path: string, version = -1): this {
    this.list.push({ op: 'delete', path, version });
    return this;
  }

  /** Adds a setData; `version` -1 (the default) matches any. */
  setData(path: string, data: ZnodeData, version = -1): this {
    this.list.push({ op: 'setData', path, data, version });
    return this;
  }

  /** Adds a version check that fails the transaction unless the node has `version`. */
  check(path: string, version: number): this {
    this.list.push({ op: 'check', path, version });
    return this;
  }

  /** The ops added so far. */
  get ops(): readonly TransactionOp[] {
    return this.list;
  }

  /**
   * Sends the transaction. Resolves with one result per op; if an op fails, rejects with that
   * op's error class (e.g. NodeExistsError) whose `transaction` names the failing index and
   * every op's outcome, and nothing was applied.
   */
  commit(options?: CallOptions): Promise<TransactionResult[]> {
    return this.run([...this.list], options);
  }
}
