import {
  CreateMode,
  ErrorCode,
  EventType,
  Ops,
  PROTOCOL_VERSION,
  DEFAULT_LIMITS,
  WatcherType,
  XID_NOTICE,
  XID_PING,
  XID_WATCH_EVENT,
  isEphemeralMode,
  isPathUnder,
  isSequentialMode,
  opByCode,
  packValue,
  parentPath,
  baseName,
  sequentialName,
  unpackValue,
} from '@arbor/protocol';
import type { ACL, ArgsOf, ConnectRequest, Id, Limits, MultiOpResult, OpName, Stat } from '@arbor/protocol';
import type { Member, TransportFactory } from '../../src/index.js';

/**
 * An in-process stand-in for an ensemble: several "members" sharing one small znode map, one
 * set of sessions and one change log, speaking the client protocol frame by frame (msgpack via
 * @arbor/protocol directly, not through the client's wire module). It implements enough of
 * SEMANTICS.md for the client's tests — creates (sequential, ephemeral), versions, one-shot and
 * persistent watches with the event-before-response rule, setWatches with replay from a change
 * window, exactly-once writes by requestId — plus fault hooks: kill, silence, lose an answer,
 * expire a session. Frames are delivered through microtasks, in order.
 */

export const BASE_PORT = 21810;

/** `127.0.0.1:21810,127.0.0.1:21811,…` for `count` members, with an optional chroot. */
export function connectString(count: number, chroot = ''): string {
  return Array.from({ length: count }, (_, i) => `127.0.0.1:${BASE_PORT + i}`).join(',') + chroot;
}

interface Node {
  data: Uint8Array | null;
  acl: ACL[];
  stat: Stat;
  children: Set<string>;
  /** Successful child creations: the sequential counter. */
  childCreates: number;
}

interface SessionState {
  id: number;
  password: Uint8Array;
  timeoutMs: number;
  ephemerals: Set<string>;
  /** requestId → the original answer (exactly-once). */
  results: Map<number, { zxid: number; err: number; res?: unknown; message?: string }>;
  expired: boolean;
  connection: Connection | null;
}

export interface LoggedRequest {
  xid: number;
  op: OpName;
  args: Record<string, unknown>;
  requestId?: number;
}

/** What a test hook may decide for a request. */
export type Intercept =
  /** Process normally. */
  | undefined
  /** Apply the request, then close the connection instead of answering. */
  | 'loseAnswer'
  /** Close the connection without applying the request. */
  | 'drop'
  /** Neither apply nor answer: the test answers through `connection.sendRaw`. */
  | 'hold';

export class Connection {
  session: SessionState | null = null;
  readonly watches = {
    data: new Set<string>(),
    exist: new Set<string>(),
    child: new Set<string>(),
    persistent: new Set<string>(),
    recursive: new Set<string>(),
  };
  readonly identities: Id[] = [];
  readonly requests: LoggedRequest[] = [];
  readonly handshakes: ConnectRequest[] = [];
  pings = 0;
  closed = false;
  /** Blackholed: nothing is delivered either way. */
  silent = false;

  constructor(
    readonly member: number,
    private readonly peer: { send(bytes: Uint8Array): void; close(): void },
  ) {}

  sendRaw(value: unknown): void {
    if (this.closed || this.silent) return;
    this.peer.send(packValue(value));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.session?.connection === this) this.session.connection = null;
    this.peer.close();
  }
}

export class FakeEnsemble {
  zxid = 0;
  readonly nodes = new Map<string, Node>();
  readonly sessions = new Map<number, SessionState>();
  /** Every change, in zxid order; replay covers zxids above windowFloorZxid. */
  readonly changes: { zxid: number; type: number; path: string }[] = [];
  windowFloorZxid = 0;
  readonly down = new Set<number>();
  readonly silent = new Set<number>();
  readonly connections: Connection[] = [];
  limits: Limits = { ...DEFAULT_LIMITS };
  minSessionTimeoutMs = 1000;
  maxSessionTimeoutMs = 60_000;
  /** What ping replies report; default the session's timeout. */
  sessionRemainingMs: number | undefined;
  /** Test hook, consulted for each request. */
  intercept: (request: LoggedRequest, connection: Connection) => Intercept = () => undefined;
  private nextSessionId = 0x1000;

  constructor(readonly memberCount = 3) {
    this.nodes.set('/', this.newNode(null, [], 0));
  }

  /** The transport factory tests hand the client: member index = port − BASE_PORT. */
  readonly transport: TransportFactory = (member: Member, handlers) => {
    const index = member.port - BASE_PORT;
    let open = true;
    let connection: Connection | null = null;
    queueMicrotask(() => {
      if (!open) return;
      if (this.down.has(index) || index < 0 || index >= this.memberCount) {
        open = false;
        handlers.onClose(`connection refused by member ${index}`);
        return;
      }
      connection = this.accept(index, {
        send: (bytes) => queueMicrotask(() => open && handlers.onMessage(bytes)),
        close: () =>
          queueMicrotask(() => {
            if (!open) return;
            open = false;
            handlers.onClose(`member ${index} closed the connection`);
          }),
      });
      handlers.onOpen();
    });
    return {
      send: (bytes) => {
        const target = connection;
        queueMicrotask(() => target !== null && !target.silent && this.receive(target, bytes));
      },
      close: () => {
        open = false;
        const target = connection;
        queueMicrotask(() => target?.close());
      },
    };
  };

  /** Attaches a connection from any transport (the fake one above, or a real WebSocket). */
  accept(member: number, peer: { send(bytes: Uint8Array): void; close(): void }): Connection {
    const connection = new Connection(member, peer);
    if (this.silent.has(member)) connection.silent = true;
    this.connections.push(connection);
    return connection;
  }

  /** Connections of a member that are still open. */
  open(member?: number): Connection[] {
    return this.connections.filter((c) => !c.closed && (member === undefined || c.member === member));
  }

  /** Closes the member's connections and refuses new ones. */
  kill(member: number): void {
    this.down.add(member);
    for (const c of this.open(member)) c.close();
  }

  revive(member: number): void {
    this.down.delete(member);
    this.silent.delete(member);
  }

  /** The member stops answering anything, on open connections and new ones, without closing. */
  silence(member: number): void {
    this.silent.add(member);
    for (const c of this.open(member)) c.silent = true;
  }

  /** The ensemble expires a session: ephemerals go (one zxid), its connection is told and closed. */
  expireSession(id: number): void {
    const session = this.sessions.get(id);
    if (session === undefined || session.expired) return;
    session.expired = true;
    this.deleteEphemerals(session);
    const connection = session.connection;
    if (connection !== null) {
      connection.sendRaw({ xid: XID_NOTICE, notice: 'sessionExpired' });
      connection.close();
    }
  }

  /** The change window no longer reaches back before now: setWatches answers with watchResync. */
  truncateWindow(): void {
    this.windowFloorZxid = this.zxid;
  }

  /** Creates a node and its missing ancestors directly (test setup), each at its own zxid, firing watches as a client's create would. */
  seed(path: string, data: string | null = null): void {
    const parts = path.split('/').filter((p) => p !== '');
    for (let i = 1; i <= parts.length; i++) {
      const p = `/${parts.slice(0, i).join('/')}`;
      if (this.nodes.has(p)) continue;
      const bytes = i === parts.length && data !== null ? new TextEncoder().encode(data) : null;
      this.write((zxid) => this.applyCreate(null, { path: p, data: bytes, acl: [], mode: CreateMode.PERSISTENT }, zxid));
    }
  }

  /** setData from outside any session (another client's write). */
  set(path: string, data: string): void {
    this.write((zxid) => this.applySetData({ path, data: new TextEncoder().encode(data), version: -1 }, zxid));
  }

  /** delete from outside any session. */
  remove(path: string): void {
    this.write((zxid) => this.applyDelete(null, { path, version: -1 }, zxid));
  }

  /** A node's data as a string, for assertions. */
  dataOf(path: string): string | null | undefined {
    const node = this.nodes.get(path);
    if (node === undefined) return undefined;
    return node.data === null ? null : new TextDecoder().decode(node.data);
  }

  /** Every request of every connection, in order. */
  allRequests(): LoggedRequest[] {
    return this.connections.flatMap((c) => c.requests);
  }

  // ---- frames ----------------------------------------------------------------------------

  private receive(connection: Connection, bytes: Uint8Array): void {
    if (connection.closed) return;
    const frame = unpackValue(bytes) as Record<string, unknown>;
    if (connection.session === null) {
      this.handshake(connection, frame as unknown as ConnectRequest);
      return;
    }
    const xid = frame['xid'] as number;
    if (xid === XID_PING) {
      connection.pings++;
      const session = connection.session;
      connection.sendRaw({
        xid: XID_PING,
        zxid: this.zxid,
        err: 0,
        res: { sessionRemainingMs: this.sessionRemainingMs ?? session.timeoutMs },
      });
      return;
    }
    const op = opByCode(frame['op'] as number)?.name;
    if (op === undefined) throw new Error(`fake ensemble: unknown op code ${String(frame['op'])}`);
    const request: LoggedRequest = { xid, op, args: frame['args'] as Record<string, unknown> };
    if (typeof frame['requestId'] === 'number') request.requestId = frame['requestId'];
    connection.requests.push(request);
    const decision = this.intercept(request, connection);
    if (decision === 'hold') return;
    if (decision === 'drop') {
      connection.close();
      return;
    }
    const answer = this.answer(connection, request);
    if (decision === 'loseAnswer') {
      connection.close();
      return;
    }
    connection.sendRaw({ xid, ...answer });
    if (op === 'closeSession' || (op === 'addAuth' && answer.err === ErrorCode.AUTHFAILED)) connection.close();
  }

  private handshake(connection: Connection, request: ConnectRequest): void {
    connection.handshakes.push(request);
    const refuse = (err: number, message: string): void => {
      connection.sendRaw({ err, message });
      connection.close();
    };
    if (request.protocolVersion !== PROTOCOL_VERSION) return refuse(ErrorCode.BADARGUMENTS, 'protocol version');
    for (const { scheme, credentials } of request.auth) {
      const identity = this.authenticate(scheme, credentials);
      if (identity === undefined) return refuse(ErrorCode.AUTHFAILED, `unknown auth scheme '${scheme}'`);
      connection.identities.push(identity);
    }
    let session: SessionState;
    if (request.sessionId === 0) {
      const timeoutMs = Math.min(this.maxSessionTimeoutMs, Math.max(this.minSessionTimeoutMs, request.timeoutMs));
      const password = new Uint8Array(16).map((_, i) => (this.nextSessionId * 7 + i) & 0xff);
      session = {
        id: this.nextSessionId++,
        password,
        timeoutMs,
        ephemerals: new Set(),
        results: new Map(),
        expired: false,
        connection: null,
      };
      this.sessions.set(session.id, session);
    } else {
      const existing = this.sessions.get(request.sessionId);
      if (existing === undefined || existing.expired) return refuse(ErrorCode.SESSIONEXPIRED, `session ${request.sessionId} expired`);
      if (request.password === null || !existing.password.every((b, i) => request.password?.[i] === b)) {
        return refuse(ErrorCode.SESSIONEXPIRED, 'wrong session password');
      }
      session = existing;
      if (session.connection !== null && session.connection !== connection) session.connection.close();
    }
    session.connection = connection;
    connection.session = session;
    connection.sendRaw({
      protocolVersion: PROTOCOL_VERSION,
      timeoutMs: session.timeoutMs,
      sessionId: session.id,
      password: session.password,
      memberId: connection.member + 1,
      zxid: this.zxid,
      readOnly: false,
      limits: this.limits,
    });
  }

  private authenticate(scheme: string, credentials: Uint8Array): Id | undefined {
    if (scheme !== 'digest') return undefined;
    const text = new TextDecoder().decode(credentials);
    return { scheme: 'digest', id: text.slice(0, Math.max(0, text.indexOf(':'))) };
  }

  // ---- operations ------------------------------------------------------------------------

  private answer(connection: Connection, request: LoggedRequest): { zxid: number; err: number; res?: unknown; message?: string } {
    const session = connection.session as SessionState;
    const writes = Ops[request.op].writes;
    if (writes && request.requestId !== undefined) {
      const earlier = session.results.get(request.requestId);
      if (earlier !== undefined) return earlier;
    }
    let answer: { zxid: number; err: number; res?: unknown; message?: string };
    try {
      const res = this.execute(connection, request.op, request.args);
      answer = { zxid: this.zxid, err: 0, res };
    } catch (error) {
      if (!(error instanceof OpError)) throw error;
      answer = { zxid: this.zxid, err: error.code, message: error.message };
    }
    if (writes && request.requestId !== undefined) session.results.set(request.requestId, answer);
    return answer;
  }

  private execute(connection: Connection, op: OpName, args: Record<string, unknown>): unknown {
    const session = connection.session as SessionState;
    switch (op) {
      case 'create':
      case 'create2': {
        const created = this.write((zxid) => this.applyCreate(session, args as unknown as ArgsOf<'create'>, zxid));
        return op === 'create' ? { path: created } : { path: created, stat: { ...this.node(created).stat } };
      }
      case 'delete':
        this.write((zxid) => this.applyDelete(session, args as unknown as ArgsOf<'delete'>, zxid));
        return {};
      case 'setData':
        return { stat: this.write((zxid) => this.applySetData(args as unknown as ArgsOf<'setData'>, zxid)) };
      case 'exists':
      case 'getData': {
        const path = args['path'] as string;
        const node = this.nodes.get(path);
        if (args['watch'] === true) {
          if (node !== undefined) connection.watches.data.add(path);
          else if (op === 'exists') connection.watches.exist.add(path);
        }
        if (node === undefined) throw new OpError(ErrorCode.NONODE, `${op} ${path}: no node`);
        return op === 'exists' ? { stat: { ...node.stat } } : { data: node.data, stat: { ...node.stat } };
      }
      case 'getChildren':
      case 'getChildren2': {
        const path = args['path'] as string;
        const node = this.node(path);
        if (args['watch'] === true) connection.watches.child.add(path);
        let names = [...node.children].sort();
        if (typeof args['after'] === 'string') names = names.filter((n) => n > (args['after'] as string));
        const limit = typeof args['limit'] === 'number' ? args['limit'] : Infinity;
        const more = names.length > limit;
        names = names.slice(0, limit);
        return op === 'getChildren' ? { children: names, more } : { children: names, more, stat: { ...node.stat } };
      }
      case 'getACL': {
        const node = this.node(args['path'] as string);
        return { acl: node.acl, stat: { ...node.stat } };
      }
      case 'setACL':
        return { stat: this.write((zxid) => this.applySetAcl(args as unknown as ArgsOf<'setACL'>, zxid)) };
      case 'sync':
        return { path: args['path'] };
      case 'multi':
        return this.multi(session, args as unknown as ArgsOf<'multi'>);
      case 'multiRead':
        return this.multiRead(args as unknown as ArgsOf<'multiRead'>);
      case 'closeSession':
        session.expired = true;
        this.deleteEphemerals(session);
        return {};
      case 'addAuth': {
        const identity = this.authenticate(args['scheme'] as string, args['credentials'] as Uint8Array);
        if (identity === undefined) throw new OpError(ErrorCode.AUTHFAILED, `unknown auth scheme '${String(args['scheme'])}'`);
        connection.identities.push(identity);
        return {};
      }
      case 'whoAmI':
        return { identities: connection.identities };
      case 'getEphemerals': {
        const prefix = args['prefix'] as string;
        return { paths: [...session.ephemerals].filter((p) => p.startsWith(prefix)).sort() };
      }
      case 'getAllChildrenNumber': {
        const path = args['path'] as string;
        this.node(path);
        return { count: [...this.nodes.keys()].filter((p) => p !== path && isPathUnder(p, path)).length };
      }
      case 'setWatches':
        this.setWatches(connection, args as unknown as ArgsOf<'setWatches'>);
        return {};
      case 'addWatch': {
        const set = args['mode'] === 1 ? connection.watches.recursive : connection.watches.persistent;
        set.add(args['path'] as string);
        return {};
      }
      case 'removeWatches':
      case 'checkWatches':
        this.removeWatches(connection, args['path'] as string, args['type'] as WatcherType, op === 'removeWatches');
        return {};
      case 'ping':
        return { sessionRemainingMs: session.timeoutMs };
    }
  }

  /** Runs a change at the next zxid; the zxid is only used if it succeeds. */
  private write<T>(apply: (zxid: number) => { result: T; triggers: [number, string][] }): T {
    const { result, triggers } = apply(this.zxid + 1);
    this.zxid++;
    this.fire(triggers, this.zxid);
    return result;
  }

  private applyCreate(
    session: SessionState | null,
    args: ArgsOf<'create'>,
    zxid: number,
  ): { result: string; triggers: [number, string][] } {
    const parentName = parentPath(args.path.endsWith('/') ? `${args.path}x` : args.path);
    const parent = this.nodes.get(parentName);
    if (parent === undefined) throw new OpError(ErrorCode.NONODE, `create ${args.path}: parent does not exist`);
    if (parent.stat.ephemeralOwner !== 0) throw new OpError(ErrorCode.NOCHILDRENFOREPHEMERALS, `create ${args.path}: parent is ephemeral`);
    const path = isSequentialMode(args.mode) ? sequentialName(args.path, parent.childCreates) : args.path;
    if (this.nodes.has(path)) throw new OpError(ErrorCode.NODEEXISTS, `create ${path}: node exists`);
    const ephemeral = isEphemeralMode(args.mode);
    if (ephemeral && session === null) throw new Error('fake ensemble: an ephemeral needs a session');
    const node = this.newNode(args.data, args.acl, zxid);
    if (ephemeral) node.stat.ephemeralOwner = (session as SessionState).id;
    this.nodes.set(path, node);
    parent.children.add(baseName(path));
    parent.childCreates++;
    parent.stat.cversion++;
    parent.stat.pzxid = zxid;
    parent.stat.numChildren = parent.children.size;
    if (ephemeral) (session as SessionState).ephemerals.add(path);
    return {
      result: path,
      triggers: [
        [EventType.NodeCreated, path],
        [EventType.NodeChildrenChanged, parentName],
      ],
    };
  }

  private applyDelete(session: SessionState | null, args: ArgsOf<'delete'>, zxid: number): { result: void; triggers: [number, string][] } {
    const node = this.node(args.path);
    if (args.version !== -1 && args.version !== node.stat.version) throw new OpError(ErrorCode.BADVERSION, `delete ${args.path}: version`);
    if (node.children.size > 0) throw new OpError(ErrorCode.NOTEMPTY, `delete ${args.path}: has children`);
    this.nodes.delete(args.path);
    const parentName = parentPath(args.path);
    const parent = this.node(parentName);
    parent.children.delete(baseName(args.path));
    parent.stat.cversion++;
    parent.stat.pzxid = zxid;
    parent.stat.numChildren = parent.children.size;
    if (node.stat.ephemeralOwner !== 0) {
      (session?.id === node.stat.ephemeralOwner ? session : this.sessions.get(node.stat.ephemeralOwner))?.ephemerals.delete(args.path);
    }
    return {
      result: undefined,
      triggers: [
        [EventType.NodeDeleted, args.path],
        [EventType.NodeChildrenChanged, parentName],
      ],
    };
  }

  private applySetData(args: ArgsOf<'setData'>, zxid: number): { result: Stat; triggers: [number, string][] } {
    const node = this.node(args.path);
    if (args.version !== -1 && args.version !== node.stat.version) throw new OpError(ErrorCode.BADVERSION, `setData ${args.path}: version`);
    node.data = args.data;
    node.stat.version++;
    node.stat.mzxid = zxid;
    node.stat.dataLength = args.data?.byteLength ?? 0;
    return { result: { ...node.stat }, triggers: [[EventType.NodeDataChanged, args.path]] };
  }

  private applySetAcl(args: ArgsOf<'setACL'>, _zxid: number): { result: Stat; triggers: [number, string][] } {
    const node = this.node(args.path);
    if (args.version !== -1 && args.version !== node.stat.aversion) throw new OpError(ErrorCode.BADVERSION, `setACL ${args.path}: version`);
    node.acl = args.acl;
    node.stat.aversion++;
    return { result: { ...node.stat }, triggers: [] };
  }

  private multi(session: SessionState, args: ArgsOf<'multi'>): { results: MultiOpResult[] } {
    const backup = this.cloneNodes();
    const ephemeralsBackup = new Set(session.ephemerals);
    const zxid = this.zxid + 1;
    const results: MultiOpResult[] = [];
    const triggers: [number, string][] = [];
    let failed = -1;
    for (const [i, op] of args.ops.entries()) {
      try {
        if (op.op === 'create') {
          const r = this.applyCreate(session, op.args, zxid);
          triggers.push(...r.triggers);
          results.push({ op: 'create', err: 0, path: r.result });
        } else if (op.op === 'delete') {
          triggers.push(...this.applyDelete(session, op.args, zxid).triggers);
          results.push({ op: 'delete', err: 0 });
        } else if (op.op === 'setData') {
          const r = this.applySetData(op.args, zxid);
          triggers.push(...r.triggers);
          results.push({ op: 'setData', err: 0, stat: r.result });
        } else {
          const node = this.node(op.args.path);
          if (op.args.version !== -1 && op.args.version !== node.stat.version)
            throw new OpError(ErrorCode.BADVERSION, `check ${op.args.path}`);
          results.push({ op: 'check', err: 0 });
        }
      } catch (error) {
        if (!(error instanceof OpError)) throw error;
        failed = i;
        results.push({ op: op.op, err: error.code as never, message: error.message });
        break;
      }
    }
    if (failed < 0) {
      this.zxid = zxid;
      this.fire(triggers, zxid);
      return { results };
    }
    this.nodes.clear();
    for (const [k, v] of backup) this.nodes.set(k, v);
    session.ephemerals.clear();
    for (const p of ephemeralsBackup) session.ephemerals.add(p);
    for (let i = failed + 1; i < args.ops.length; i++) {
      results.push({ op: (args.ops[i] as { op: 'create' }).op, err: ErrorCode.RUNTIMEINCONSISTENCY as never });
    }
    return { results };
  }

  private multiRead(args: ArgsOf<'multiRead'>): unknown {
    return {
      results: args.ops.map((op) => {
        const node = this.nodes.get(op.args.path);
        if (node === undefined) return { op: op.op, err: ErrorCode.NONODE, message: `${op.op} ${op.args.path}: no node` };
        return op.op === 'getData'
          ? { op: 'getData', err: 0, data: node.data, stat: { ...node.stat } }
          : { op: 'getChildren', err: 0, children: [...node.children].sort() };
      }),
    };
  }

  private deleteEphemerals(session: SessionState): void {
    if (session.ephemerals.size === 0) return;
    const zxid = this.zxid + 1;
    const triggers: [number, string][] = [];
    for (const path of [...session.ephemerals].sort().reverse())
      triggers.push(...this.applyDelete(session, { path, version: -1 }, zxid).triggers);
    this.zxid = zxid;
    this.fire(triggers, zxid);
  }

  // ---- watches -----------------------------------------------------------------------------

  /** Sends each trigger to every connection it concerns, one event per connection (events before the answer). */
  private fire(triggers: [number, string][], zxid: number): void {
    for (const [type, path] of triggers) {
      this.changes.push({ zxid, type, path });
      for (const connection of this.open()) {
        if (connection.session === null) continue;
        let hit = this.takeOneShot(connection, type, path);
        hit = this.persistentMatch(connection, type, path) || hit;
        if (hit) connection.sendRaw({ xid: XID_WATCH_EVENT, zxid, type, path });
      }
    }
  }

  private takeOneShot(connection: Connection, type: number, path: string): boolean {
    const w = connection.watches;
    const kinds =
      type === EventType.NodeChildrenChanged ? [w.child] : type === EventType.NodeDeleted ? [w.data, w.exist, w.child] : [w.data, w.exist];
    let hit = false;
    for (const set of kinds) hit = set.delete(path) || hit;
    return hit;
  }

  private persistentMatch(
    connection: Connection,
    type: number,
    path: string,
    only?: { persistent: Set<string>; recursive: Set<string> },
  ): boolean {
    const { persistent, recursive } = only ?? connection.watches;
    if (persistent.has(path)) return true;
    if (type === EventType.NodeChildrenChanged) return false;
    return [...recursive].some((root) => isPathUnder(path, root));
  }

  private setWatches(connection: Connection, args: ArgsOf<'setWatches'>): void {
    const w = connection.watches;
    const event = (type: number, path: string): void => connection.sendRaw({ xid: XID_WATCH_EVENT, zxid: this.zxid, type, path });
    for (const path of args.data) {
      const node = this.nodes.get(path);
      if (node === undefined) event(EventType.NodeDeleted, path);
      else if (node.stat.mzxid > args.lastZxid) event(EventType.NodeDataChanged, path);
      else w.data.add(path);
    }
    for (const path of args.exist) {
      if (this.nodes.has(path)) event(EventType.NodeCreated, path);
      else w.exist.add(path);
    }
    for (const path of args.child) {
      const node = this.nodes.get(path);
      if (node === undefined) event(EventType.NodeDeleted, path);
      else if (node.stat.pzxid > args.lastZxid) event(EventType.NodeChildrenChanged, path);
      else w.child.add(path);
    }
    const added = { persistent: new Set(args.persistent), recursive: new Set(args.persistentRecursive) };
    for (const p of added.persistent) w.persistent.add(p);
    for (const p of added.recursive) w.recursive.add(p);
    if (added.persistent.size + added.recursive.size === 0) return;
    if (args.lastZxid < this.windowFloorZxid) {
      for (const path of [...added.persistent, ...added.recursive])
        connection.sendRaw({ xid: XID_NOTICE, notice: 'watchResync', path, zxid: this.zxid });
      return;
    }
    for (const change of this.changes) {
      if (change.zxid > args.lastZxid && this.persistentMatch(connection, change.type, change.path, added)) {
        connection.sendRaw({ xid: XID_WATCH_EVENT, zxid: change.zxid, type: change.type, path: change.path });
      }
    }
  }

  private removeWatches(connection: Connection, path: string, type: WatcherType, remove: boolean): void {
    const w = connection.watches;
    const sets: [Set<string>, number][] = [];
    if (type === WatcherType.Data || type === WatcherType.Any)
      sets.push([w.data, EventType.DataWatchRemoved], [w.exist, EventType.DataWatchRemoved]);
    if (type === WatcherType.Children || type === WatcherType.Any) sets.push([w.child, EventType.ChildWatchRemoved]);
    if (type === WatcherType.Persistent || type === WatcherType.Any) sets.push([w.persistent, EventType.PersistentWatchRemoved]);
    if (type === WatcherType.PersistentRecursive || type === WatcherType.Any) sets.push([w.recursive, EventType.PersistentWatchRemoved]);
    const found = sets.filter(([set]) => set.has(path));
    if (found.length === 0) throw new OpError(ErrorCode.NOWATCHER, `no watch of type ${type} on ${path}`);
    if (!remove) return;
    for (const [set, eventType] of found) {
      set.delete(path);
      connection.sendRaw({ xid: XID_WATCH_EVENT, zxid: this.zxid, type: eventType, path });
    }
  }

  // ---- nodes -------------------------------------------------------------------------------

  private node(path: string): Node {
    const node = this.nodes.get(path);
    if (node === undefined) throw new OpError(ErrorCode.NONODE, `${path}: no node`);
    return node;
  }

  private newNode(data: Uint8Array | null, acl: ACL[], zxid: number): Node {
    const now = Date.now();
    return {
      data,
      acl,
      children: new Set(),
      childCreates: 0,
      stat: {
        czxid: zxid,
        mzxid: zxid,
        pzxid: zxid,
        ctime: now,
        mtime: now,
        version: 0,
        cversion: 0,
        aversion: 0,
        ephemeralOwner: 0,
        dataLength: data?.byteLength ?? 0,
        numChildren: 0,
      },
    };
  }

  private cloneNodes(): Map<string, Node> {
    const copy = new Map<string, Node>();
    for (const [path, node] of this.nodes) copy.set(path, { ...node, stat: { ...node.stat }, children: new Set(node.children) });
    return copy;
  }
}

class OpError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export { CreateMode };
