// A minimal ZooKeeper client of our own for the benchmark comparison: jute encoding over TCP,
// 4-byte big-endian length-prefixed frames, pipelined requests, one-shot exists watches, and a
// session that moves to the next address when its connection drops. Only what the workloads use.
import { connect as connectTcp, type Socket } from 'node:net';
import type { BenchSession } from './system.js';

export const OP = {
  create: 1,
  delete: 2,
  exists: 3,
  getData: 4,
  setData: 5,
  getChildren: 8,
  sync: 9,
  ping: 11,
  setWatches: 101,
  closeSession: -11,
} as const;

/** Reserved xids: frames carrying these answer no queued call. */
const XID = { notification: -1, ping: -2, setWatches: -8 } as const;

export const ERR = {
  CONNECTIONLOSS: -4,
  OPERATIONTIMEOUT: -7,
  NONODE: -101,
  BADVERSION: -103,
  NODEEXISTS: -110,
  NOTEMPTY: -111,
  SESSIONEXPIRED: -112,
} as const;

const CREATE_FLAGS = { persistent: 0, ephemeral: 1, ephemeralSequential: 3 } as const;
const PERMS_ALL = 31;
/** Far above ZooKeeper's 1 MiB jute.maxbuffer default: a longer frame means a corrupt stream. */
export const FRAME_BYTES_MAX = 16 * 1024 * 1024;

export class ZooKeeperError extends Error {
  override name = 'ZooKeeperError';
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(`${message} (ZooKeeper error ${code})`);
  }
}

export class JuteWriter {
  private bytes = Buffer.alloc(256);
  private length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.bytes.length) return;
    const grown = Buffer.alloc(Math.max(this.bytes.length * 2, this.length + n));
    this.bytes.copy(grown, 0, 0, this.length);
    this.bytes = grown;
  }
  int(value: number): this {
    this.reserve(4);
    this.length = this.bytes.writeInt32BE(value, this.length);
    return this;
  }
  long(value: bigint | number): this {
    this.reserve(8);
    this.length = this.bytes.writeBigInt64BE(BigInt(value), this.length);
    return this;
  }
  bool(value: boolean): this {
    this.reserve(1);
    this.length = this.bytes.writeUInt8(value ? 1 : 0, this.length);
    return this;
  }
  /** null is jute's absent buffer, length -1. */
  buffer(value: Uint8Array | null): this {
    if (value === null) return this.int(-1);
    this.int(value.length).reserve(value.length);
    this.bytes.set(value, this.length);
    this.length += value.length;
    return this;
  }
  string(value: string | null): this {
    return this.buffer(value === null ? null : Buffer.from(value, 'utf8'));
  }
  vector<T>(items: readonly T[] | null, write: (w: this, item: T) => void): this {
    if (items === null) return this.int(-1);
    this.int(items.length);
    for (const item of items) write(this, item);
    return this;
  }
  /** The bytes written, as one frame: the 4-byte big-endian length first. */
  frame(): Buffer {
    const out = Buffer.alloc(4 + this.length);
    out.writeInt32BE(this.length, 0);
    this.bytes.copy(out, 4, 0, this.length);
    return out;
  }
  toBuffer(): Buffer {
    return Buffer.from(this.bytes.subarray(0, this.length));
  }
}

export class JuteReader {
  private offset = 0;
  constructor(private readonly bytes: Buffer) {}

  private need(n: number): void {
    if (n < 0 || this.offset + n > this.bytes.length)
      throw new ZooKeeperError(-5, `jute: truncated (want ${n} bytes at ${this.offset} of ${this.bytes.length})`);
  }
  get remaining(): number {
    return this.bytes.length - this.offset;
  }
  int(): number {
    this.need(4);
    const v = this.bytes.readInt32BE(this.offset);
    this.offset += 4;
    return v;
  }
  long(): bigint {
    this.need(8);
    const v = this.bytes.readBigInt64BE(this.offset);
    this.offset += 8;
    return v;
  }
  bool(): boolean {
    this.need(1);
    return this.bytes[this.offset++] !== 0;
  }
  buffer(): Buffer | null {
    const n = this.int();
    if (n === -1) return null;
    this.need(n);
    const v = Buffer.from(this.bytes.subarray(this.offset, this.offset + n));
    this.offset += n;
    return v;
  }
  string(): string | null {
    const b = this.buffer();
    return b === null ? null : b.toString('utf8');
  }
  vector<T>(read: (r: this) => T): T[] | null {
    const n = this.int();
    if (n === -1) return null;
    if (n < 0 || n > this.remaining) throw new ZooKeeperError(-5, `jute: bad vector length ${n}`);
    return Array.from({ length: n }, () => read(this));
  }
}

/** Splits a TCP byte stream into frames, whatever the chunk boundaries. */
export class FrameDecoder {
  private pending: Buffer = Buffer.alloc(0);
  constructor(private readonly frameBytesMax = FRAME_BYTES_MAX) {}

  push(chunk: Buffer): Buffer[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const frames: Buffer[] = [];
    while (this.pending.length >= 4) {
      const length = this.pending.readInt32BE(0);
      if (length < 0 || length > this.frameBytesMax) throw new ZooKeeperError(-5, `jute: frame length ${length} out of range`);
      if (this.pending.length < 4 + length) break;
      frames.push(this.pending.subarray(4, 4 + length));
      this.pending = this.pending.subarray(4 + length);
    }
    return frames;
  }
}

export interface ConnectRequest {
  lastZxidSeen: bigint;
  timeoutMs: number;
  sessionId: bigint;
  password: Uint8Array;
}
export interface ConnectResponse {
  timeoutMs: number;
  sessionId: bigint;
  password: Buffer;
}
export interface ReplyHeader {
  xid: number;
  zxid: bigint;
  err: number;
}
export interface WatcherEvent {
  type: number;
  state: number;
  path: string;
}

export function encodeConnectRequest(req: ConnectRequest): Buffer {
  return new JuteWriter().int(0).long(req.lastZxidSeen).int(req.timeoutMs).long(req.sessionId).buffer(req.password).bool(false).frame();
}

export function decodeConnectResponse(frame: Buffer): ConnectResponse {
  const r = new JuteReader(frame);
  r.int(); // protocolVersion
  const timeoutMs = r.int();
  const sessionId = r.long();
  const password = r.buffer() ?? Buffer.alloc(0);
  // The trailing readOnly flag is absent from servers older than 3.4; nothing here needs it.
  return { timeoutMs, sessionId, password };
}

/** A request frame: RequestHeader (xid, type) and the body's fields. */
export function encodeRequest(xid: number, op: number, body?: (w: JuteWriter) => void): Buffer {
  const w = new JuteWriter().int(xid).int(op);
  body?.(w);
  return w.frame();
}

export function encodeCreateBody(path: string, data: Uint8Array, flags: number): (w: JuteWriter) => void {
  return (w) =>
    w
      .string(path)
      .buffer(data)
      .vector([{ scheme: 'world', id: 'anyone' }], (v, acl) => v.int(PERMS_ALL).string(acl.scheme).string(acl.id))
      .int(flags);
}

export function decodeReplyHeader(r: JuteReader): ReplyHeader {
  return { xid: r.int(), zxid: r.long(), err: r.int() };
}

export function decodeWatcherEvent(r: JuteReader): WatcherEvent {
  return { type: r.int(), state: r.int(), path: r.string() ?? '' };
}

interface Call {
  xid: number;
  /** Op and path, for error messages. */
  label: string;
  resolve(body: JuteReader): void;
  reject(error: Error): void;
}

interface PendingWatch {
  /** exists saw the node: the server holds a data watch (else an exist watch). */
  existed: boolean;
  fire: Array<() => void>;
}

export interface JuteClientOptions {
  /** host:port of each member; the session starts on the first and moves along on a drop. */
  addresses: readonly string[];
  sessionTimeoutMs: number;
  /** Bound on one TCP connect plus handshake. */
  connectTimeoutMs?: number;
}

/**
 * One ZooKeeper session. Replies come back in request order on a connection, so outstanding
 * calls form a FIFO queue checked against each reply's xid. Calls in flight when a connection
 * drops reject with CONNECTIONLOSS; calls made while reconnecting wait and go out once the session
 * is re-established on the next address.
 */
export class JuteClient implements BenchSession {
  private socket: Socket | null = null;
  private connectedAddress = '';
  private readonly inFlight: Call[] = [];
  /** Calls made while no connection is up, with their frames, in call order. */
  private waiting: Array<{ call: Call; frame: Buffer }> = [];
  private readonly watches = new Map<string, PendingWatch>();
  private sessionId = 0n;
  private password: Uint8Array = Buffer.alloc(16);
  private lastZxid = 0n;
  private negotiatedTimeoutMs: number;
  private nextXid = 1;
  private addressIndex = 0;
  private pingTimer: NodeJS.Timeout | null = null;
  private lastReceivedMs = 0;
  private closed = false;
  /** closeSession is out: the server's hang-up that follows is no reason to reconnect. */
  private closing = false;

  private constructor(private readonly options: JuteClientOptions) {
    this.negotiatedTimeoutMs = options.sessionTimeoutMs;
  }

  static async connect(options: JuteClientOptions): Promise<JuteClient> {
    if (options.addresses.length === 0) throw new Error('JuteClient: no addresses');
    const client = new JuteClient(options);
    await client.establish(Date.now() + options.sessionTimeoutMs);
    return client;
  }

  get id(): bigint {
    return this.sessionId;
  }

  /** The member this session is connected to now; null while it reconnects. */
  get address(): string | null {
    return this.socket === null ? null : this.connectedAddress;
  }

  /** Tries each address in turn until the session is (re)established or the deadline passes. */
  private async establish(deadlineMs: number): Promise<void> {
    let lastError: unknown = null;
    for (let attempt = 0; Date.now() < deadlineMs && !this.closed; attempt++) {
      const address = this.options.addresses[this.addressIndex % this.options.addresses.length]!;
      try {
        await this.handshake(address, Math.min(this.options.connectTimeoutMs ?? 2_000, Math.max(1, deadlineMs - Date.now())));
        return;
      } catch (error) {
        if (error instanceof ZooKeeperError && error.code === ERR.SESSIONEXPIRED) throw error;
        lastError = error;
        this.addressIndex++;
        // One pause per full round, so a whole ensemble that is down is not spun on.
        if ((attempt + 1) % this.options.addresses.length === 0) await new Promise((r) => setTimeout(r, 100));
      }
    }
    throw new ZooKeeperError(ERR.CONNECTIONLOSS, `no member accepted the session: ${String(lastError)}`);
  }

  private handshake(address: string, timeoutMs: number): Promise<void> {
    const [host, port] = splitAddress(address);
    return new Promise<void>((resolve, reject) => {
      const socket = connectTcp({ host, port, noDelay: true });
      const decoder = new FrameDecoder();
      let established = false;
      const timer = setTimeout(() => socket.destroy(new Error(`handshake with ${address} timed out`)), timeoutMs);
      socket.once('connect', () => {
        socket.write(
          encodeConnectRequest({
            lastZxidSeen: this.lastZxid,
            timeoutMs: this.options.sessionTimeoutMs,
            sessionId: this.sessionId,
            password: this.password,
          }),
        );
      });
      socket.on('data', (chunk: Buffer) => {
        try {
          for (const frame of decoder.push(chunk)) {
            if (established) this.onFrame(frame);
            else {
              const response = decodeConnectResponse(frame);
              clearTimeout(timer);
              if (response.timeoutMs <= 0 || this.closed) {
                socket.destroy();
                reject(new ZooKeeperError(ERR.SESSIONEXPIRED, this.closed ? 'session closed' : 'session expired'));
                return;
              }
              established = true;
              this.connectedAddress = address;
              this.onEstablished(socket, response);
              resolve();
            }
          }
        } catch (error) {
          socket.destroy(error as Error);
        }
      });
      socket.on('error', () => {});
      socket.once('close', () => {
        clearTimeout(timer);
        if (established) this.onDrop(socket);
        else reject(new Error(`connection to ${address} closed before the session was established`));
      });
    });
  }

  private onEstablished(socket: Socket, response: ConnectResponse): void {
    this.socket = socket;
    this.sessionId = response.sessionId;
    this.password = response.password;
    this.negotiatedTimeoutMs = response.timeoutMs;
    this.lastReceivedMs = Date.now();
    if (this.watches.size > 0) this.sendSetWatches(socket);
    const waiting = this.waiting;
    this.waiting = [];
    for (const { call, frame } of waiting) {
      this.inFlight.push(call);
      socket.write(frame);
    }
    this.pingTimer = setInterval(() => this.onPingTick(), Math.max(10, Math.floor(this.negotiatedTimeoutMs / 3)));
    this.pingTimer.unref();
  }

  private onPingTick(): void {
    // A member that stopped answering (paused, partitioned) gives no close event.
    if (Date.now() - this.lastReceivedMs > (this.negotiatedTimeoutMs * 2) / 3) this.socket?.destroy();
    else this.socket?.write(encodeRequest(XID.ping, OP.ping));
  }

  /** Re-registers pending watches, with the last zxid seen, so changes missed meanwhile still fire. */
  private sendSetWatches(socket: Socket): void {
    const data: string[] = [];
    const exist: string[] = [];
    for (const [path, watch] of this.watches) (watch.existed ? data : exist).push(path);
    const strings = (w: JuteWriter, s: string): void => void w.string(s);
    socket.write(
      encodeRequest(XID.setWatches, OP.setWatches, (w) =>
        w.long(this.lastZxid).vector(data, strings).vector(exist, strings).vector([], strings),
      ),
    );
  }

  private onFrame(frame: Buffer): void {
    this.lastReceivedMs = Date.now();
    const r = new JuteReader(frame);
    const header = decodeReplyHeader(r);
    if (header.zxid > this.lastZxid) this.lastZxid = header.zxid;
    if (header.xid === XID.notification) return this.onWatcherEvent(decodeWatcherEvent(r));
    if (header.xid === XID.ping || header.xid === XID.setWatches) return;
    const call = this.inFlight.shift();
    if (call === undefined || call.xid !== header.xid) {
      // Back in the queue, so the drop that follows the throw rejects it with the rest.
      if (call !== undefined) this.inFlight.unshift(call);
      throw new ZooKeeperError(-2, `reply xid ${header.xid} out of order (expected ${call?.xid ?? 'none'})`);
    }
    if (header.err !== 0) call.reject(new ZooKeeperError(header.err, `${errorName(header.err)}: ${call.label}`));
    else call.resolve(r);
  }

  private onWatcherEvent(event: WatcherEvent): void {
    const watch = this.watches.get(event.path);
    if (watch === undefined) return;
    this.watches.delete(event.path);
    for (const fire of watch.fire) fire();
  }

  private onDrop(socket: Socket): void {
    if (this.socket !== socket) return;
    this.socket = null;
    if (this.pingTimer !== null) clearInterval(this.pingTimer);
    this.pingTimer = null;
    const lost = this.inFlight.splice(0);
    for (const call of lost) call.reject(new ZooKeeperError(ERR.CONNECTIONLOSS, 'connection lost'));
    if (this.closed || this.closing) return;
    this.addressIndex++;
    this.establish(Date.now() + this.negotiatedTimeoutMs).catch((error: Error) => this.fail(error));
  }

  /** The session is gone for good: everything waiting rejects. */
  private fail(error: Error): void {
    this.closed = true;
    for (const { call } of this.waiting.splice(0)) call.reject(error);
    this.watches.clear();
  }

  private call(op: number, path: string, body?: (w: JuteWriter) => void): Promise<JuteReader> {
    if (this.closed) return Promise.reject(new ZooKeeperError(ERR.SESSIONEXPIRED, 'session closed'));
    const xid = this.nextXid;
    this.nextXid = xid >= 0x7fffffff ? 1 : xid + 1;
    const frame = encodeRequest(xid, op, body);
    return new Promise<JuteReader>((resolve, reject) => {
      const call = { xid, label: `${opName(op)} ${path}`, resolve, reject };
      if (this.socket === null) this.waiting.push({ call, frame });
      else {
        this.inFlight.push(call);
        this.socket.write(frame);
      }
    });
  }

  async create(path: string, data: Uint8Array, mode: keyof typeof CREATE_FLAGS = 'persistent'): Promise<string> {
    const r = await this.call(OP.create, path, encodeCreateBody(path, data, CREATE_FLAGS[mode]));
    return r.string() ?? path;
  }

  async setData(path: string, data: Uint8Array): Promise<void> {
    await this.call(OP.setData, path, (w) => w.string(path).buffer(data).int(-1));
  }

  async getData(path: string): Promise<Uint8Array> {
    const r = await this.call(OP.getData, path, (w) => w.string(path).bool(false));
    return r.buffer() ?? new Uint8Array(0);
  }

  async delete(path: string): Promise<void> {
    await this.call(OP.delete, path, (w) => w.string(path).int(-1));
  }

  async getChildren(path: string): Promise<string[]> {
    const r = await this.call(OP.getChildren, path, (w) => w.string(path).bool(false));
    return r.vector((v) => v.string() ?? '') ?? [];
  }

  /** Catches this session's server up with the leader (reads after it see every earlier write). */
  async sync(path: string): Promise<void> {
    await this.call(OP.sync, path, (w) => w.string(path));
  }

  async existsWatch(path: string): Promise<{ exists: boolean; changed: Promise<void> }> {
    let exists: boolean;
    try {
      await this.call(OP.exists, path, (w) => w.string(path).bool(true));
      exists = true;
    } catch (error) {
      // On a missing node the server still sets the watch (it fires on creation).
      if (!(error instanceof ZooKeeperError && error.code === ERR.NONODE)) throw error;
      exists = false;
    }
    // Registered on the reply, not before: an event for this path that arrived earlier belongs to
    // an older watch, since the server answers in order.
    const changed = new Promise<void>((resolve) => {
      const watch = this.watches.get(path) ?? { existed: exists, fire: [] };
      watch.existed = exists;
      watch.fire.push(resolve);
      this.watches.set(path, watch);
    });
    return { exists, changed };
  }

  /**
   * Closes the session on the server (its ephemerals go at once), then the connection. Pending
   * watch promises stay pending: the session that would fire them is gone.
   */
  async close(): Promise<void> {
    if (this.closed || this.closing) return;
    const closed = this.call(OP.closeSession, '').catch(() => undefined);
    this.closing = true;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([closed, new Promise((r) => (timer = setTimeout(r, 2_000)))]);
    clearTimeout(timer);
    this.closed = true;
    this.watches.clear();
    this.socket?.destroy();
  }

  /** Drops the connection without closing the session, as a crash would. */
  destroy(): void {
    this.fail(new ZooKeeperError(ERR.CONNECTIONLOSS, 'session destroyed'));
    this.socket?.destroy();
  }
}

function splitAddress(address: string): [string, number] {
  const colon = address.lastIndexOf(':');
  const port = Number(address.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port)) throw new Error(`bad address ${address}`);
  return [address.slice(0, colon), port];
}

function opName(op: number): string {
  return Object.entries(OP).find(([, o]) => o === op)?.[0] ?? `op ${op}`;
}

function errorName(code: number): string {
  const name = Object.entries(ERR).find(([, c]) => c === code)?.[0];
  return name ?? 'error';
}
