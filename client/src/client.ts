import {
  AddWatchMode,
  ArborError,
  CreateMode,
  ErrorCode,
  OPEN_ACL_UNSAFE,
  WatcherType,
  addChroot,
  baseName,
  isPathUnder,
  isSequentialMode,
  joinPath,
  parentPath,
  pathProblem,
  stripChroot,
  validateAcl,
  validateTtl,
} from '@arbor/protocol';
import type {
  ACL,
  ArgsOf,
  CreateModeName,
  Id,
  MultiOp,
  OpName,
  ResponseFrame,
  ResultOf,
  SetWatchesArgs,
  Stat,
  WatchEventFrame,
} from '@arbor/protocol';
import { Channel } from './channel.js';
import { sleep, systemClock } from './clock.js';
import type { Clock } from './clock.js';
import { defaultMemberUrl, parseConnectString } from './connect-string.js';
import type { Member } from './connect-string.js';
import { decodeJSON, encodeJSON, fromUtf8, toBytes } from './data.js';
import type { ZnodeData } from './data.js';
import { Emitter } from './emitter.js';
import { ConnectionLossError, NoNodeError, NodeExistsError, OperationTimeoutError, clientErrors, errorFor } from './errors.js';
import type { ErrorContext, ArborClientError } from './errors.js';
import { silentLogger } from './logger.js';
import { backoffDelayMs } from './retry.js';
import type { ClientLogger } from './logger.js';
import type { CallOptions, RequestSpec } from './requests.js';
import { Session } from './session.js';
import { isConnectedState, isFinalState } from './state-machine.js';
import type { ConnectionState } from './state-machine.js';
import { Transaction } from './transaction.js';
import type { ReadOp, ReadResult, TransactionOp, TransactionOutcome, TransactionResult } from './transaction.js';
import { loadDefaultWebSocket, webSocketTransport } from './transport.js';
import type { TransportFactory, WebSocketConstructor } from './transport.js';
import { PersistentEntry, PersistentWatch, WatchRegistry, setWatchesChunks, watchEventTypeName } from './watches.js';
import type { PersistentWatchEvent, WatchEvent } from './watches.js';

/** Settings of a client. Every one has a default. */
export interface ClientOptions {
  /** Session timeout to ask for; the ensemble clamps it to its min and max. Default 30 000 ms. */
  sessionTimeoutMs?: number;
  /** Bound on establishing the first session; then the client closes. Default 15 000 ms; Infinity to wait forever. */
  connectTimeoutMs?: number;
  /** Bound on one connection attempt to one member. Default sessionTimeoutMs/3, within 1 000..10 000 ms. */
  connectAttemptTimeoutMs?: number;
  /** Default `timeoutMs` of every call. Default 30 000 ms. */
  requestTimeoutMs?: number;
  /** How long close() waits for the member to confirm the session is closed. Default 2 000 ms. */
  closeTimeoutMs?: number;
  /** First back-off after a failed attempt; doubles up to backoffMaxMs, with jitter. Default 100 ms. */
  backoffBaseMs?: number;
  /** Default 2 000 ms. */
  backoffMaxMs?: number;
  /** Credentials sent with every handshake, as if addAuth had been called first. */
  auth?: { scheme: string; credentials: Uint8Array | string }[];
  /** ACL of nodes created without one. Default OPEN_ACL_UNSAFE. */
  defaultAcl?: readonly ACL[];
  /** Uniform [0, 1): member order and back-off jitter. Default Math.random. */
  random?: () => number;
  /** Monotonic clock and timers. Default: performance.now and the platform timers. */
  clock?: Clock;
  /** Opens connections. Default: WebSocket to {@link memberUrl}. */
  transport?: TransportFactory;
  /** WebSocket implementation for the default transport. Default: the platform's, else the `ws` package. */
  WebSocket?: WebSocketConstructor;
  /** URL of a member for the default transport. Default `ws://host:port/`. */
  memberUrl?: (member: Member) => string;
  logger?: ClientLogger;
}

/** Options of {@link connect}. */
export interface ConnectOptions extends ClientOptions {
  /** Gives up waiting for the first session (the client is then closed). */
  signal?: AbortSignal;
}

/** A read's options. */
export interface ReadOptions extends CallOptions {
  /** Served through the leader's read index: sees every write acknowledged before the call began. */
  linearizable?: boolean;
}

/** Ask for a one-shot watch: the result carries `changed`, which resolves with the event. */
export interface WatchFlag {
  watch: true;
}

/** A one-shot watch set by a read. */
export interface Watched {
  /**
   * Resolves with the first event for the node (or a DataWatchRemoved/ChildWatchRemoved event
   * after removeWatches); rejects with SessionExpiredError (ClosedError after close) if the
   * session ends first. Survives reconnects. Never an unhandled rejection if left alone.
   */
  changed: Promise<WatchEvent>;
}

/** Options of setData, delete and setACL. */
export interface VersionOptions extends CallOptions {
  /** Expected version (aversion for setACL); -1, the default, matches any. */
  version?: number;
}

/** Options of create. */
export interface CreateOptions extends CallOptions {
  /** Default PERSISTENT. */
  mode?: CreateMode | CreateModeName;
  /** Default: the client's defaultAcl. */
  acl?: readonly ACL[];
  /** For the TTL modes: 1 .. 2^40-1 ms. */
  ttlMs?: number;
  /** Create missing ancestors (PERSISTENT, no data, the same ACL), as `mkdir -p`. */
  createParents?: boolean;
  /**
   * Curator's protected mode: prefix the last segment with `_c_<uuid>-`, and resend the create
   * under the same requestId after a CONNECTIONLOSS answer (a failover) until `timeoutMs`, so
   * that it is made exactly once. A timeout names the marker to look for.
   */
  protected?: boolean;
}

/** getData's result. */
export interface DataResult {
  /** null and empty are different values. */
  data: Uint8Array | null;
  stat: Stat;
}

/** getChildren's result. */
export interface ChildrenResult {
  /** Names (not paths), in name order. */
  children: string[];
  /** A `limit` cut the list short: ask again with `after` set to the last name. */
  more: boolean;
  stat: Stat;
}

/** getChildren's options. */
export interface ChildrenOptions extends ReadOptions {
  /** Only names strictly after this one. */
  after?: string;
  /** At most this many names. */
  limit?: number;
}

/** Options of {@link ArborClient.watch}. */
export interface WatchOptions extends CallOptions {
  /** Watch the whole subtree (NodeCreated, NodeDataChanged, NodeDeleted below the path). */
  recursive?: boolean;
}

/** What a `'state'` listener receives besides the new state. */
export interface StateChange {
  state: ConnectionState;
  previous: ConnectionState;
  /** Why, in words (for logs). */
  reason: string;
}

/** How a request travels: resent after a dropped connection or not (default: writes are), and under a reserved requestId. */
type Delivery = Pick<Partial<RequestSpec<unknown>>, 'retryOnLoss' | 'requestId'>;

type ClientEvents = { state: [state: ConnectionState, change: StateChange] };
type WatcherTypeName = keyof typeof WatcherType;

const MODE_BY_NAME = CreateMode as Record<string, CreateMode>;

/**
 * A client of an Arbor ensemble: one session, carried over one connection at a time, failing
 * over between members. Every operation is a promise; see docs/client.md.
 */
export class ArborClient {
  /** The chroot every path is relative to ('' for none). */
  readonly chroot: string;
  private readonly session: Session;
  private readonly registry = new WatchRegistry();
  private readonly emitter: Emitter<ClientEvents>;
  private readonly logger: ClientLogger;
  private readonly clock: Clock;
  private readonly defaultAcl: readonly ACL[];
  private readonly closeTimeoutMs: number;
  /** Spacing of a recovery loop's attempts after repeated connection losses (protected create). */
  private readonly recoveryDelayMs: (failures: number) => number;
  private endReason = '';

  /** Starts connecting at once; calls made before the session exists wait for it. See also {@link connect}. */
  constructor(connectString: string, options: ClientOptions = {}) {
    const { members, chroot } = parseConnectString(connectString);
    this.chroot = chroot;
    this.logger = options.logger ?? silentLogger;
    this.clock = options.clock ?? systemClock;
    this.defaultAcl = options.defaultAcl ?? OPEN_ACL_UNSAFE;
    this.closeTimeoutMs = options.closeTimeoutMs ?? 2000;
    if (options.defaultAcl !== undefined) validateAcl(options.defaultAcl);
    this.emitter = new Emitter((error, event) => this.logger.error({ err: String(error), event }, 'listener threw'));
    const sessionTimeoutMs = options.sessionTimeoutMs ?? 30_000;
    const random = options.random ?? Math.random;
    const backoffBaseMs = options.backoffBaseMs ?? 100;
    const backoffMaxMs = options.backoffMaxMs ?? 2000;
    this.recoveryDelayMs = (failures) => backoffDelayMs(failures, backoffBaseMs, backoffMaxMs, random);
    const WebSocketImpl = options.WebSocket;
    this.session = new Session(
      {
        members,
        transport:
          options.transport ??
          webSocketTransport(
            options.memberUrl ?? defaultMemberUrl,
            WebSocketImpl !== undefined ? async () => WebSocketImpl : loadDefaultWebSocket,
          ),
        clock: this.clock,
        random,
        logger: this.logger,
        sessionTimeoutMs,
        connectTimeoutMs: options.connectTimeoutMs ?? 15_000,
        connectAttemptTimeoutMs: options.connectAttemptTimeoutMs ?? Math.min(10_000, Math.max(1000, Math.floor(sessionTimeoutMs / 3))),
        requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
        backoffBaseMs,
        backoffMaxMs,
        auth: (options.auth ?? []).map(({ scheme, credentials }) => ({ scheme, credentials: toBytes(credentials) ?? new Uint8Array() })),
      },
      {
        onState: (state, previous, reason) => {
          if (isFinalState(state)) this.endReason = reason;
          this.emitter.emit('state', state, { state, previous, reason });
        },
        onWatchEvent: (frame) => this.onWatchEvent(frame),
        onResync: (path, zxid) => this.registry.resync(this.toClient(path), zxid),
        setWatchesRequests: (lastZxid) => this.setWatchesRequests(lastZxid),
        onEnd: (_state, error) => this.registry.endAll((path) => error({ op: 'watch', path }), this.session.closedByUser),
      },
    );
    this.session.start();
  }

  // ---- session and state ----------------------------------------------------------------

  /** The current connection state. */
  get state(): ConnectionState {
    return this.session.state;
  }

  /** The session id (0 until the first handshake). */
  get sessionId(): number {
    return this.session.sessionId;
  }

  /** The session timeout the ensemble granted (0 until the first handshake). */
  get sessionTimeoutMs(): number {
    return this.session.negotiatedTimeoutMs;
  }

  /**
   * The id of the member that accepted the latest handshake (undefined before the first). It
   * stays at the last member while suspended; for logs and operations, not for routing.
   */
  get memberId(): number | undefined {
    return this.session.memberId;
  }

  /** The highest zxid this client has seen; it never reads older state than this. */
  get lastZxid(): number {
    return this.session.lastZxid;
  }

  /** Listens to state changes; returns a function that removes the listener. */
  on(event: 'state', listener: (state: ConnectionState, change: StateChange) => void): () => void {
    return this.emitter.on(event, listener);
  }

  /** Removes a listener added with {@link on}. */
  off(event: 'state', listener: (state: ConnectionState, change: StateChange) => void): void {
    this.emitter.off(event, listener);
  }

  /**
   * The state stream: the current state first, then every change; ends after a final state
   * (lost, closed, authFailed). Leave the loop to stop listening.
   *
   * @example
   * for await (const state of client.states()) if (state === 'suspended') pauseWork();
   */
  states(): AsyncIterableIterator<ConnectionState> {
    let off = (): void => {};
    const channel = new Channel<ConnectionState>(() => off());
    channel.push(this.state);
    if (isFinalState(this.state)) {
      channel.end();
      return channel;
    }
    off = this.on('state', (state) => {
      channel.push(state);
      if (isFinalState(state)) {
        off();
        channel.end();
      }
    });
    return channel;
  }

  /** Resolves when connected (at once if it is); rejects if the client reaches a final state first. */
  waitUntilConnected(options: CallOptions = {}): Promise<void> {
    if (isConnectedState(this.state)) return Promise.resolve();
    if (isFinalState(this.state)) return Promise.reject(this.endedError({ op: 'waitUntilConnected' }));
    return new Promise((resolve, reject) => {
      const cleanup: (() => void)[] = [];
      const settle = (error?: unknown): void => {
        for (const f of cleanup) f();
        if (error === undefined) resolve();
        else reject(error);
      };
      cleanup.push(
        this.on('state', (state) => {
          if (isConnectedState(state)) settle();
          else if (isFinalState(state)) settle(this.endedError({ op: 'waitUntilConnected' }));
        }),
      );
      if (options.timeoutMs !== undefined && Number.isFinite(options.timeoutMs)) {
        const ms = options.timeoutMs;
        const handle = this.clock.setTimeout(
          () => settle(clientErrors.timeout({ op: 'waitUntilConnected' }, `not connected within ${ms} ms`)),
          ms,
        );
        cleanup.push(() => this.clock.clearTimeout(handle));
      }
      const { signal } = options;
      if (signal !== undefined) {
        if (signal.aborted) return settle(signal.reason);
        const onAbort = (): void => settle(signal.reason);
        signal.addEventListener('abort', onAbort, { once: true });
        cleanup.push(() => signal.removeEventListener('abort', onAbort));
      }
    });
  }

  /**
   * Closes the session: the member deletes its ephemerals at once. Calls already sent are
   * answered first; calls made after fail with ClosedError; persistent watches end; one-shot
   * watches reject with ClosedError. Idempotent.
   */
  close(): Promise<void> {
    return this.session.close(this.closeTimeoutMs);
  }

  // ---- znode operations -------------------------------------------------------------------

  /** Creates a node and resolves with the path actually created (sequential suffix included). */
  async create(path: string, data: ZnodeData = null, options: CreateOptions = {}): Promise<string> {
    return (await this.createNode('create', path, data, options)).path;
  }

  /** Like {@link create}, and also resolves with the new node's stat. */
  async create2(path: string, data: ZnodeData = null, options: CreateOptions = {}): Promise<{ path: string; stat: Stat }> {
    const created = await this.createNode('create2', path, data, options);
    return { path: created.path, stat: created.stat as Stat };
  }

  /** Deletes a node. NOTEMPTY if it has children; BADVERSION if `version` does not match. */
  async delete(path: string, options: VersionOptions = {}): Promise<void> {
    const label = this.label('delete', path);
    this.checkPath(label, path);
    await this.request('delete', { path: this.toServer(path), version: options.version ?? -1 }, label, options);
  }

  /** The node's stat, or null if it does not exist. With `watch: true`, also a watch that fires on create, change or delete. */
  exists(path: string, options: ReadOptions & WatchFlag): Promise<{ stat: Stat | null } & Watched>;
  exists(path: string, options?: ReadOptions): Promise<Stat | null>;
  async exists(path: string, options: ReadOptions & Partial<WatchFlag> = {}): Promise<Stat | null | ({ stat: Stat | null } & Watched)> {
    const label = this.label('exists', path);
    this.checkPath(label, path);
    const watch = options.watch === true;
    return this.request('exists', this.readArgs(path, options), label, options, (frame) => {
      if (frame.err !== ErrorCode.OK && frame.err !== ErrorCode.NONODE) throw this.answerError(frame, label);
      // exists on a missing node leaves a watch for its creation; on an existing node it is a data
      // watch (ZooKeeper's rule). The kind matters after a reconnect: setWatches re-arms each kind
      // with its own test, and only a data watch reports a node deleted while the client was away.
      const stat = frame.err === ErrorCode.OK ? (frame.res as ResultOf<'exists'>).stat : null;
      return watch ? { stat, changed: this.registry.addOneShot(stat === null ? 'exist' : 'data', path) } : stat;
    });
  }

  /** The node's data and stat. With `watch: true`, also a watch that fires on change or delete. */
  getData(path: string, options: ReadOptions & WatchFlag): Promise<DataResult & Watched>;
  getData(path: string, options?: ReadOptions): Promise<DataResult>;
  async getData(path: string, options: ReadOptions & Partial<WatchFlag> = {}): Promise<DataResult | (DataResult & Watched)> {
    return this.readData('getData', path, options);
  }

  /** getData with the data decoded as UTF-8 (null stays null). */
  getString(path: string, options: ReadOptions & WatchFlag): Promise<{ data: string | null; stat: Stat } & Watched>;
  getString(path: string, options?: ReadOptions): Promise<{ data: string | null; stat: Stat }>;
  async getString(path: string, options: ReadOptions & Partial<WatchFlag> = {}): Promise<{ data: string | null; stat: Stat }> {
    const result = await this.readData('getString', path, options);
    return { ...result, data: this.decode('getString', path, result.data, fromUtf8) };
  }

  /** getData with the data parsed as UTF-8 JSON (null data gives null). MARSHALLINGERROR if it is not JSON. */
  getJSON<T = unknown>(path: string, options: ReadOptions & WatchFlag): Promise<{ data: T | null; stat: Stat } & Watched>;
  getJSON<T = unknown>(path: string, options?: ReadOptions): Promise<{ data: T | null; stat: Stat }>;
  async getJSON<T = unknown>(path: string, options: ReadOptions & Partial<WatchFlag> = {}): Promise<{ data: T | null; stat: Stat }> {
    const result = await this.readData('getJSON', path, options);
    return { ...result, data: this.decode('getJSON', path, result.data, (bytes) => decodeJSON<T>(bytes)) };
  }

  /** Replaces the node's data; resolves with the new stat. */
  async setData(path: string, data: ZnodeData, options: VersionOptions = {}): Promise<Stat> {
    const label = this.label('setData', path);
    this.checkPath(label, path);
    const bytes = this.checkData(label, data);
    const res = await this.request('setData', { path: this.toServer(path), data: bytes, version: options.version ?? -1 }, label, options);
    return res.stat;
  }

  /** setData with the value encoded as UTF-8 JSON. */
  setJSON(path: string, value: unknown, options: VersionOptions = {}): Promise<Stat> {
    return this.setData(path, encodeJSON(value), options);
  }

  /**
   * The node's children names and stat. With `limit`, one page (`more` says whether there are
   * others; continue with `after`). With `watch: true`, also a watch that fires when a child is
   * created or deleted, or the node is deleted.
   */
  getChildren(path: string, options: ChildrenOptions & WatchFlag): Promise<ChildrenResult & Watched>;
  getChildren(path: string, options?: ChildrenOptions): Promise<ChildrenResult>;
  async getChildren(
    path: string,
    options: ChildrenOptions & Partial<WatchFlag> = {},
  ): Promise<ChildrenResult | (ChildrenResult & Watched)> {
    const label = this.label('getChildren', path);
    this.checkPath(label, path);
    const args: ArgsOf<'getChildren2'> = { ...this.readArgs(path, options) };
    if (options.after !== undefined) args.after = options.after;
    if (options.limit !== undefined) {
      if (!Number.isInteger(options.limit) || options.limit < 1)
        throw clientErrors.badArguments(label, `limit must be a positive integer, not ${options.limit}`);
      args.limit = options.limit;
    }
    return this.request('getChildren2', args, label, options, (frame) => {
      if (frame.err !== ErrorCode.OK) throw this.answerError(frame, label);
      const res = frame.res as ResultOf<'getChildren2'>;
      const result: ChildrenResult = { children: res.children, more: res.more === true, stat: res.stat };
      return options.watch === true ? { ...result, changed: this.registry.addOneShot('child', path) } : result;
    });
  }

  /**
   * Every child name, one page (`pageSize` names, default 1000) at a time. Pages are separate
   * reads: children created or deleted meanwhile may or may not appear.
   */
  async *childrenPages(path: string, options: ReadOptions & { pageSize?: number } = {}): AsyncGenerator<string[], void, undefined> {
    const { pageSize = 1000, ...read } = options;
    let after: string | undefined;
    for (;;) {
      const page = await this.getChildren(path, { ...read, limit: pageSize, ...(after !== undefined ? { after } : {}) });
      if (page.children.length > 0) yield page.children;
      const last = page.children[page.children.length - 1];
      if (!page.more || last === undefined) return;
      after = last;
    }
  }

  /** The node's ACL and stat. */
  async getACL(path: string, options: CallOptions = {}): Promise<{ acl: ACL[]; stat: Stat }> {
    const label = this.label('getACL', path);
    this.checkPath(label, path);
    return this.request('getACL', { path: this.toServer(path) }, label, options);
  }

  /** Replaces the node's ACL; `version` is the expected aversion. Resolves with the new stat. */
  async setACL(path: string, acl: readonly ACL[], options: VersionOptions = {}): Promise<Stat> {
    const label = this.label('setACL', path);
    this.checkPath(label, path);
    this.validate(label, () => validateAcl(acl));
    const res = await this.request('setACL', { path: this.toServer(path), acl: [...acl], version: options.version ?? -1 }, label, options);
    return res.stat;
  }

  /** Waits until the member has applied every write committed before the call; a read after it is up to date. */
  async sync(path: string, options: CallOptions = {}): Promise<void> {
    const label = this.label('sync', path);
    this.checkPath(label, path);
    await this.request('sync', { path: this.toServer(path) }, label, options);
  }

  /** Runs ops atomically (see {@link Transaction.commit} for the failure shape). */
  async multi(ops: readonly TransactionOp[], options: CallOptions = {}): Promise<TransactionResult[]> {
    const label = this.label('multi');
    if (ops.length > this.session.limits.multiOpsMax) {
      throw clientErrors.badArguments(label, `${ops.length} ops; the member's limit is ${this.session.limits.multiOpsMax}`);
    }
    const wire = ops.map((op) => this.multiOpToWire(op));
    return this.request('multi', { ops: wire }, label, options, (frame) => {
      // A multi that failed at apply time still carries one result per op (the failing op's
      // error among them): multiResults throws with all of them. One refused before it ran
      // (an invalid op) has no results.
      const results = (frame.res as Partial<ResultOf<'multi'>> | undefined)?.results;
      if (frame.err !== ErrorCode.OK && !Array.isArray(results)) throw this.answerError(frame, label);
      return this.multiResults(ops, results as ResultOf<'multi'>['results']);
    });
  }

  /** A builder for {@link multi}. */
  transaction(): Transaction {
    return new Transaction((ops, options) => this.multi(ops, options));
  }

  /** Several reads in one round trip; not atomic — each succeeds or fails on its own. */
  async multiRead(ops: readonly ReadOp[], options: ReadOptions = {}): Promise<ReadResult[]> {
    const label = this.label('multiRead');
    for (const op of ops) this.checkPath(this.label(op.op, op.path), op.path);
    const args: ArgsOf<'multiRead'> = { ops: ops.map((op) => ({ op: op.op, args: { path: this.toServer(op.path) } })) };
    if (options.linearizable === true) args.linearizable = true;
    return this.request('multiRead', args, label, options, (frame) => {
      if (frame.err !== ErrorCode.OK) throw this.answerError(frame, label);
      const results = (frame.res as ResultOf<'multiRead'>).results;
      return ops.map((op, i): ReadResult => {
        const r = results[i];
        if (r === undefined) throw new Error(`multiRead answered ${results.length} results for ${ops.length} reads`);
        if (r.err !== 0) return { op: op.op, error: errorFor(r.err, r.message, this.label(op.op, op.path)) };
        if (r.op === 'getData') return { op: 'getData', data: r.data, stat: r.stat };
        return { op: 'getChildren', children: (r as { children: string[] }).children };
      });
    });
  }

  /** Paths of this session's ephemeral nodes that start with `prefix` (a plain string prefix). */
  async getEphemerals(prefix = '/', options: CallOptions = {}): Promise<string[]> {
    const label = this.label('getEphemerals', prefix);
    if (!prefix.startsWith('/')) throw clientErrors.badArguments(label, `prefix '${prefix}' must start with '/'`);
    const res = await this.request('getEphemerals', { prefix: addChroot(this.chroot, prefix) }, label, options);
    // With a chroot, '/' becomes '/app', which as a string prefix also matches '/apple'.
    return res.paths.filter((p) => this.chroot === '' || isPathUnder(p, this.chroot)).map((p) => this.toClient(p));
  }

  /** The number of descendants of the node (not counting itself). */
  async getAllChildrenNumber(path: string, options: CallOptions = {}): Promise<number> {
    const label = this.label('getAllChildrenNumber', path);
    this.checkPath(label, path);
    return (await this.request('getAllChildrenNumber', { path: this.toServer(path) }, label, options)).count;
  }

  /**
   * Adds credentials to the session's connection, and to every later handshake (`digest`:
   * 'user:password'). A digest with a wrong password succeeds but matches nothing; an unknown
   * scheme fails the client with AUTHFAILED.
   */
  async addAuth(scheme: string, credentials: Uint8Array | string, options: CallOptions = {}): Promise<void> {
    const label = this.label('addAuth', scheme);
    const bytes = toBytes(credentials) ?? new Uint8Array();
    await this.request(
      'addAuth',
      { scheme, credentials: bytes },
      label,
      options,
      (frame) => {
        if (frame.err !== ErrorCode.OK) throw this.answerError(frame, label);
        this.session.rememberAuth(scheme, bytes);
      },
      { retryOnLoss: true },
    );
  }

  /** The identities this connection is authenticated as. */
  async whoAmI(options: CallOptions = {}): Promise<Id[]> {
    return (await this.request('whoAmI', {}, this.label('whoAmI'), options)).identities;
  }

  // ---- watches ------------------------------------------------------------------------------

  /**
   * A persistent watch on `path` (the whole subtree with `recursive`), as an async iterable.
   * Registration starts at once; errors (bad path, refused) end the iteration. Resumed after
   * every reconnect with no event lost or repeated; a `resync` event says the member could not
   * replay what was missed.
   *
   * @example
   * for await (const event of client.watch('/config', { recursive: true })) reload(event.path);
   */
  watch(path: string, options: WatchOptions = {}): PersistentWatch {
    const recursive = options.recursive === true;
    const label = this.label('addWatch', path);
    let resolveReady!: () => void;
    let rejectReady!: (error: unknown) => void;
    const ready = new Promise<void>((resolve, reject) => ((resolveReady = resolve), (rejectReady = reject)));
    ready.catch(() => {});
    const channel = new Channel<PersistentWatchEvent>(() => void closeWatch());
    const entry = new PersistentEntry(path, recursive, channel);
    const closeWatch = (): Promise<void> => this.closePersistent(entry);
    const watch = new PersistentWatch(path, recursive, ready, channel, closeWatch);
    const fail = (error: unknown): void => {
      entry.closed = true;
      channel.fail(error);
      rejectReady(error);
    };
    try {
      this.checkPath(label, path);
      this.checkOpen(label);
    } catch (error) {
      fail(error);
      return watch;
    }
    this.registry.addPersistent(entry);
    const args = { path: this.toServer(path), mode: recursive ? AddWatchMode.PERSISTENT_RECURSIVE : AddWatchMode.PERSISTENT };
    this.send(
      'addWatch',
      args,
      label,
      options,
      (frame) => {
        if (frame.err !== ErrorCode.OK) {
          this.registry.removePersistent(entry);
          throw this.answerError(frame, label);
        }
        if (!entry.closed) entry.active = true;
        else if (!this.registry.hasPersistent(path, recursive)) void this.unregisterPersistent(path, recursive);
      },
      { retryOnLoss: true },
    ).then(resolveReady, fail);
    return watch;
  }

  /** Like {@link watch}, resolving once the member has registered the watch. */
  async addWatch(path: string, options: WatchOptions = {}): Promise<PersistentWatch> {
    const watch = this.watch(path, options);
    await watch.ready;
    return watch;
  }

  /**
   * Removes this client's watches of `type` on `path` (on the member and here): one-shot
   * watches resolve with a DataWatchRemoved/ChildWatchRemoved event, persistent watches end.
   * NOWATCHER if there was none.
   */
  async removeWatches(path: string, type: WatcherType | WatcherTypeName, options: CallOptions = {}): Promise<void> {
    const label = this.label('removeWatches', path);
    this.checkPath(label, path);
    const watcherType = this.watcherType(label, type);
    await this.request(
      'removeWatches',
      { path: this.toServer(path), type: watcherType },
      label,
      options,
      (frame) => {
        if (frame.err !== ErrorCode.OK) throw this.answerError(frame, label);
        this.registry.removeLocal(path, watcherType, frame.zxid);
      },
      { retryOnLoss: true },
    );
  }

  /** Resolves if the member holds a watch of `type` on `path` for this client; NOWATCHER otherwise. */
  async checkWatches(path: string, type: WatcherType | WatcherTypeName, options: CallOptions = {}): Promise<void> {
    const label = this.label('checkWatches', path);
    this.checkPath(label, path);
    await this.request('checkWatches', { path: this.toServer(path), type: this.watcherType(label, type) }, label, options);
  }

  // ---- internals ------------------------------------------------------------------------------

  private async closePersistent(entry: PersistentEntry): Promise<void> {
    if (entry.closed) return;
    entry.closed = true;
    entry.channel.end();
    const last = this.registry.removePersistent(entry);
    // A watch still pending is unregistered when its addWatch is answered (see watch()).
    if (entry.active && last) await this.unregisterPersistent(entry.path, entry.recursive);
  }

  /** Tells the member to drop this client's persistent watch of one kind on `path`; NOWATCHER and a lost connection are fine. */
  private async unregisterPersistent(path: string, recursive: boolean): Promise<void> {
    if (!this.session.acceptsCalls) return;
    const type = recursive ? WatcherType.PersistentRecursive : WatcherType.Persistent;
    await this.send('removeWatches', { path: this.toServer(path), type }, this.label('removeWatches', path), {}, () => undefined, {
      retryOnLoss: true,
    }).catch((error: unknown) => this.logger.debug({ err: String(error), path }, 'removeWatches after close failed'));
  }

  private onWatchEvent(frame: WatchEventFrame): void {
    const type = watchEventTypeName(frame.type);
    if (type === undefined) {
      this.logger.warn({ type: frame.type, path: frame.path }, 'unknown watch event type ignored');
      return;
    }
    this.registry.dispatch({ type, path: this.toClient(frame.path), zxid: frame.zxid });
  }

  private setWatchesRequests(lastZxid: number): SetWatchesArgs[] {
    const lists = this.registry.snapshot();
    const server = (paths: string[]): string[] => paths.map((p) => this.toServer(p));
    const budget = Math.max(1024, Math.min(128 * 1024, this.session.limits.frameBytesMax - 1024));
    return setWatchesChunks(
      lastZxid,
      {
        data: server(lists.data),
        exist: server(lists.exist),
        child: server(lists.child),
        persistent: server(lists.persistent),
        persistentRecursive: server(lists.persistentRecursive),
      },
      budget,
    );
  }

  private async readData(
    op: string,
    path: string,
    options: ReadOptions & Partial<WatchFlag>,
  ): Promise<DataResult | (DataResult & Watched)> {
    const label = this.label(op, path);
    this.checkPath(label, path);
    return this.request('getData', this.readArgs(path, options), label, options, (frame) => {
      if (frame.err !== ErrorCode.OK) throw this.answerError(frame, label);
      const { data, stat } = frame.res as ResultOf<'getData'>;
      return options.watch === true ? { data, stat, changed: this.registry.addOneShot('data', path) } : { data, stat };
    });
  }

  private decode<T>(op: string, path: string, data: Uint8Array | null, decode: (bytes: Uint8Array) => T): T | null {
    if (data === null) return null;
    try {
      return decode(data);
    } catch (error) {
      throw clientErrors.marshalling(
        this.label(op, path),
        `data is not ${op === 'getJSON' ? 'UTF-8 JSON' : 'UTF-8'}: ${(error as Error).message}`,
      );
    }
  }

  private readArgs(path: string, options: ReadOptions & Partial<WatchFlag>): ArgsOf<'getData'> {
    const args: ArgsOf<'getData'> = { path: this.toServer(path) };
    if (options.watch === true) args.watch = true;
    if (options.linearizable === true) args.linearizable = true;
    return args;
  }

  private async createNode(
    op: 'create' | 'create2',
    path: string,
    data: ZnodeData,
    options: CreateOptions,
  ): Promise<{ path: string; stat?: Stat }> {
    const label = this.label(op, path);
    const mode = this.createMode(label, options.mode);
    this.checkPath(label, path, isSequentialMode(mode));
    const args = {
      path: this.toServer(path),
      data: this.checkData(label, data),
      acl: [...(options.acl ?? this.defaultAcl)],
      mode,
      ...(options.ttlMs !== undefined ? { ttlMs: options.ttlMs } : {}),
    };
    this.validate(label, () => validateAcl(args.acl));
    this.validate(label, () => validateTtl(mode, options.ttlMs));
    this.checkOpen(label);
    if (options.protected === true) return this.createProtected(op, args, label, options);
    return this.createWithParents(op, args, label, options);
  }

  /**
   * One create, creating missing ancestors first when asked (pipelined: the member answers in
   * order). With `write`, the create goes out under `write.requestId`; after a NONODE (an
   * answer the ensemble keeps under that id) the retry needs, and gets, a fresh one.
   */
  private async createWithParents(
    op: 'create' | 'create2',
    args: ArgsOf<'create'>,
    label: ErrorContext,
    options: CreateOptions,
    write?: { requestId: number },
  ): Promise<{ path: string; stat?: Stat }> {
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await this.request(op, args, label, options, undefined, write === undefined ? {} : { requestId: write.requestId });
        return { path: this.toClient(res.path), ...('stat' in res ? { stat: res.stat } : {}) };
      } catch (error) {
        if (options.createParents !== true || !(error instanceof NoNodeError) || attempt >= 3) throw error;
      }
      if (write !== undefined) write.requestId = this.session.reserveRequestId();
      // Parents are made under the chroot (which must exist), top down, all pipelined at once:
      // the member executes them in order.
      const paths: string[] = [];
      for (let p = parentPath(this.toClient(args.path)); p !== '/'; p = parentPath(p)) paths.unshift(p);
      await Promise.all(
        paths.map((p) =>
          this.request(
            'create',
            { path: this.toServer(p), data: null, acl: args.acl, mode: CreateMode.PERSISTENT },
            this.label('create', p),
            options,
          ).catch((e: unknown) => {
            if (!(e instanceof NodeExistsError)) throw e;
          }),
        ),
      );
    }
  }

  /**
   * Curator's protected create: the last segment carries the marker `_c_<uuid>-`, so the caller
   * and the recipes can tell their own node among its siblings, and an application that gave
   * up (timeout, abort) can look for it. A create is never made twice: a dropped connection is
   * handled by the session, which resends the create with its requestId; a CONNECTIONLOSS
   * answer (a member with no leader, one shutting down) is retried here, after a back-off,
   * under the same reserved requestId. The ensemble keeps each session's recent results by
   * requestId, so whichever copy arrives second is answered with the first one's path. Listing
   * the parent instead, as Curator does, can miss a create still on its way through the old
   * member and make a second node.
   */
  private async createProtected(
    op: 'create' | 'create2',
    args: ArgsOf<'create'>,
    label: ErrorContext,
    options: CreateOptions,
  ): Promise<{ path: string; stat?: Stat }> {
    const clientPath = this.toClient(args.path);
    const parent = parentPath(clientPath);
    const marker = `_c_${randomUuid()}-`;
    const marked = { ...args, path: this.toServer(joinPath(parent, marker + baseName(clientPath))) };
    const deadlineMs = this.clock.now() + (options.timeoutMs ?? Infinity);
    const unconfirmed = (): ArborClientError =>
      clientErrors.timeout(label, `protected create not confirmed within ${options.timeoutMs} ms; look for '${marker}' under ${parent}`);
    const remaining = (): CallOptions => {
      const left = deadlineMs - this.clock.now();
      if (left <= 0) throw unconfirmed();
      return { ...(options.signal !== undefined ? { signal: options.signal } : {}), ...(Number.isFinite(left) ? { timeoutMs: left } : {}) };
    };
    const write = { requestId: this.session.reserveRequestId() };
    // A member without a leader answers at once: back off on the client's clock between
    // attempts, so that this loop does not spin until a leader is elected or the deadline.
    for (let losses = 0; ; losses++) {
      if (losses > 0) {
        const delayMs = Math.min(this.recoveryDelayMs(losses), deadlineMs - this.clock.now());
        if (delayMs > 0) await sleep(this.clock, delayMs, options.signal);
      }
      try {
        return await this.createWithParents(op, marked, label, { ...options, ...remaining() }, write);
      } catch (error) {
        if (error instanceof OperationTimeoutError && this.clock.now() >= deadlineMs) throw unconfirmed();
        if (!(error instanceof ConnectionLossError)) throw error;
        this.logger.info({ path: clientPath, marker, requestId: write.requestId }, 'protected create: no answer yet; resending it');
      }
    }
  }

  private multiOpToWire(op: TransactionOp): MultiOp {
    const label = this.label(`multi ${op.op}`, op.path);
    switch (op.op) {
      case 'create': {
        const mode = this.createMode(label, op.mode);
        this.checkPath(label, op.path, isSequentialMode(mode));
        const acl = [...(op.acl ?? this.defaultAcl)];
        this.validate(label, () => validateAcl(acl));
        this.validate(label, () => validateTtl(mode, op.ttlMs));
        const args = { path: this.toServer(op.path), data: this.checkData(label, op.data ?? null), acl, mode };
        return { op: 'create', args: op.ttlMs !== undefined ? { ...args, ttlMs: op.ttlMs } : args };
      }
      case 'delete':
        this.checkPath(label, op.path);
        return { op: 'delete', args: { path: this.toServer(op.path), version: op.version ?? -1 } };
      case 'setData':
        this.checkPath(label, op.path);
        return { op: 'setData', args: { path: this.toServer(op.path), data: this.checkData(label, op.data), version: op.version ?? -1 } };
      case 'check':
        this.checkPath(label, op.path);
        return { op: 'check', args: { path: this.toServer(op.path), version: op.version } };
    }
  }

  private multiResults(ops: readonly TransactionOp[], results: ResultOf<'multi'>['results']): TransactionResult[] {
    if (results.length !== ops.length) throw new Error(`multi answered ${results.length} results for ${ops.length} ops`);
    const outcomes: TransactionOutcome[] = results.map((r, i) => {
      const op = ops[i] as TransactionOp;
      if (r.err !== 0) return { op: op.op, error: errorFor(r.err, r.message, this.label(`multi ${op.op}`, op.path)) };
      if (r.op === 'create') return { op: 'create', path: this.toClient((r as { path: string }).path) };
      if (r.op === 'setData') return { op: 'setData', stat: (r as { stat: Stat }).stat };
      return { op: r.op } as TransactionOutcome;
    });
    const failures = outcomes.map((o, i) => ({ o, i })).filter(({ o }) => 'error' in o);
    if (failures.length === 0) return outcomes as TransactionResult[];
    const failing =
      failures.find(({ o }) => 'error' in o && o.error.code !== ErrorCode.RUNTIMEINCONSISTENCY) ??
      (failures[0] as (typeof failures)[number]);
    const cause = (failing.o as { error: ArborClientError }).error;
    const op = ops[failing.i] as TransactionOp;
    throw errorFor(cause.code as Exclude<ErrorCode, 0>, `op ${failing.i} (${op.op} ${op.path}) failed: ${cause.message}`, {
      op: 'multi',
      path: op.path,
      transaction: { index: failing.i, results: outcomes },
    });
  }

  /**
   * Sends a request, unless the client is closed or the session ended (then fails at once).
   * `complete` maps the answer; by default OK gives `res` and anything else its error class.
   */
  private request<N extends OpName, T = ResultOf<N>>(
    op: N,
    args: ArgsOf<N>,
    label: ErrorContext,
    options: CallOptions,
    complete?: (frame: ResponseFrame) => T,
    delivery?: Delivery,
  ): Promise<T> {
    this.checkOpen(label);
    return this.send(op, args, label, options, complete, delivery);
  }

  private send<N extends OpName, T = ResultOf<N>>(
    op: N,
    args: ArgsOf<N>,
    label: ErrorContext,
    options: CallOptions,
    complete?: (frame: ResponseFrame) => T,
    delivery: Delivery = {},
  ): Promise<T> {
    const spec: RequestSpec<T> = {
      op,
      args,
      label,
      retryOnLoss: delivery.retryOnLoss ?? this.isWrite(op),
      ...(delivery.requestId !== undefined ? { requestId: delivery.requestId } : {}),
      complete:
        complete ??
        ((frame) => {
          if (frame.err !== ErrorCode.OK) throw this.answerError(frame, label);
          return frame.res as T;
        }),
    };
    return this.session.call(spec, options);
  }

  private isWrite(op: OpName): boolean {
    return op === 'create' || op === 'create2' || op === 'delete' || op === 'setData' || op === 'setACL' || op === 'multi';
  }

  private answerError(frame: ResponseFrame, label: ErrorContext): ArborClientError {
    return errorFor(frame.err as Exclude<ErrorCode, 0>, frame.message, label);
  }

  private checkOpen(label: ErrorContext): void {
    if (!this.session.acceptsCalls) throw this.endedError(label);
  }

  private endedError(label: ErrorContext): ArborClientError {
    const state = this.session.state;
    if (this.session.closedByUser) return clientErrors.closed(label);
    if (state === 'authFailed') return clientErrors.authFailed(label, this.endReason);
    if (state === 'lost') return clientErrors.sessionExpired(label, `the session is lost: ${this.endReason}`);
    // Closed without close(): the first connection could not be made.
    return clientErrors.connectionLoss(label, this.endReason);
  }

  private checkPath(label: ErrorContext, path: string, sequential = false): void {
    const problem = pathProblem(path, { sequential, pathLengthMax: this.session.limits.pathLengthMax - this.chroot.length });
    if (problem !== undefined) throw clientErrors.badArguments(label, problem);
  }

  private checkData(label: ErrorContext, data: ZnodeData | undefined): Uint8Array | null {
    const bytes = toBytes(data);
    if (bytes !== null && !(bytes instanceof Uint8Array))
      throw clientErrors.badArguments(label, 'data must be a Uint8Array, a string or null');
    const max = this.session.limits.dataBytesMax;
    if (bytes !== null && bytes.byteLength > max)
      throw clientErrors.badArguments(label, `data is ${bytes.byteLength} bytes; the limit is ${max}`);
    return bytes;
  }

  private createMode(label: ErrorContext, mode: CreateMode | CreateModeName | undefined): CreateMode {
    if (mode === undefined) return CreateMode.PERSISTENT;
    const value = typeof mode === 'string' ? MODE_BY_NAME[mode] : mode;
    if (value === undefined || !Object.values(CreateMode).includes(value))
      throw clientErrors.badArguments(label, `unknown create mode ${String(mode)}`);
    return value;
  }

  private watcherType(label: ErrorContext, type: WatcherType | WatcherTypeName): WatcherType {
    const value = typeof type === 'string' ? (WatcherType as Record<string, WatcherType>)[type] : type;
    if (value === undefined || !Object.values(WatcherType).includes(value))
      throw clientErrors.badArguments(label, `unknown watcher type ${String(type)}`);
    return value;
  }

  /** Runs a protocol validator, turning its ArborError into the client's error class with the label. */
  private validate(label: ErrorContext, check: () => void): void {
    try {
      check();
    } catch (error) {
      if (error instanceof ArborError) throw errorFor(error.code as Exclude<ErrorCode, 0>, error.message, label);
      throw error;
    }
  }

  private label(op: string, path?: string): ErrorContext {
    return path === undefined ? { op } : { op, path };
  }

  private toServer(path: string): string {
    return addChroot(this.chroot, path);
  }

  private toClient(path: string): string {
    return stripChroot(this.chroot, path);
  }
}

/**
 * Connects to an ensemble and resolves once the session is established.
 *
 * @param connectString `host:port[,host:port…][/chroot]`, e.g. `'10.0.0.1:2181,10.0.0.2:2181/app'`.
 * @throws ConnectionLossError if no member answered within `connectTimeoutMs`, AuthFailedError
 *   if credentials were refused, or the signal's reason; the client is then closed.
 *
 * @example
 * const client = await connect('127.0.0.1:2181,127.0.0.1:2182/app');
 * await client.create('/config', '{}');
 */
export async function connect(connectString: string, options: ConnectOptions = {}): Promise<ArborClient> {
  const client = new ArborClient(connectString, options);
  try {
    await client.waitUntilConnected(options.signal !== undefined ? { signal: options.signal } : {});
  } catch (error) {
    await client.close();
    throw error;
  }
  return client;
}

interface CryptoLike {
  randomUUID?: () => string;
  getRandomValues?: (array: Uint8Array) => Uint8Array;
}

/** A v4 UUID from the platform's cryptographic random source (randomUUID needs a secure context in browsers). */
function randomUuid(): string {
  const crypto = (globalThis as { crypto?: CryptoLike }).crypto;
  if (crypto?.randomUUID !== undefined) return crypto.randomUUID();
  if (crypto?.getRandomValues === undefined) throw new Error('no cryptographic random source for a protected create');
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = ((b[6] as number) & 0x0f) | 0x40;
  b[8] = ((b[8] as number) & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
