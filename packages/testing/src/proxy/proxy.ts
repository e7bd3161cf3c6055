// A TCP proxy whose link can be made slow, silent or broken at runtime, put in front of a
// member's peer or client port by the fault-injection harness. It listens on 127.0.0.1 only.
// Every socket and timer it creates is owned by it and gone when close() resolves.
import { connect, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { canConnect, directionModes, validateMode } from './modes.js';
import type { DirectionMode, LinkMode } from './modes.js';
import { Pipe } from './pipe.js';
import type { PipeCounters } from './pipe.js';

export const PROXY_HOST = '127.0.0.1';

export interface ProxyOptions {
  /** The port to forward to. */
  readonly targetPort: number;
  /** Default 127.0.0.1. */
  readonly targetHost?: string;
  /** Default 0: a free port, read it from `proxy.port`. */
  readonly listenPort?: number;
  /** Default pass. */
  readonly mode?: LinkMode;
  /** Seeds the jitter of delay modes, so a failing run's timings can be replayed. Default 1. */
  readonly seed?: number;
  /** Bytes a direction may hold (delayed or not yet written) before it stops reading. Default 1 MiB. */
  readonly queueBytesMax?: number;
  /** For messages and stats. Default `proxy→host:port`. */
  readonly name?: string;
}

export interface ProxyStats {
  /** Connections accepted since start. */
  readonly accepted: number;
  /** Connections currently open. */
  readonly open: number;
  /** Connections the proxy reset (drop mode, a broken stream healed, resetConnections, target unreachable). */
  readonly reset: number;
  readonly clientToTarget: Readonly<PipeCounters>;
  readonly targetToClient: Readonly<PipeCounters>;
}

export interface FaultProxy {
  readonly name: string;
  readonly host: typeof PROXY_HOST;
  /** The port clients should connect to. */
  readonly port: number;
  readonly target: { readonly host: string; readonly port: number };
  readonly mode: LinkMode;
  /** Applies to new and existing connections at once. */
  setMode(mode: LinkMode): void;
  /** Resets every open connection, keeping the mode: a link flap. */
  resetConnections(): void;
  stats(): ProxyStats;
  /** Stops listening, resets every connection, and resolves when all sockets are closed. Idempotent. */
  close(): Promise<void>;
}

export async function startProxy(options: ProxyOptions): Promise<FaultProxy> {
  const mode = options.mode ?? { kind: 'pass' };
  validateMode(mode);
  const proxy = new TcpFaultProxy(options, mode);
  await proxy.listen(options.listenPort ?? 0);
  return proxy;
}

/**
 * mulberry32: a small seeded PRNG for jitter. Its own copy: the kit may import only the client and
 * the server (scripts/check-layers.mjs), so not @arbor/raft's SeededRandom.
 */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Closes a socket without a goodbye: RST if connected, so the peer sees ECONNRESET. */
function hardClose(socket: Socket): void {
  if (socket.destroyed) return;
  if (socket.connecting) socket.destroy();
  else socket.resetAndDestroy();
}

class TcpFaultProxy implements FaultProxy {
  readonly host = PROXY_HOST;
  readonly name: string;
  readonly target: { readonly host: string; readonly port: number };
  private readonly server: Server;
  private readonly connections = new Set<ProxiedConnection>();
  /** Every socket not yet closed, so that close() can wait for all of them. */
  private readonly sockets = new Set<Socket>();
  private readonly random: () => number;
  private readonly queueBytesMax: number;
  private currentMode: LinkMode;
  private listenPort = 0;
  private closing: Promise<void> | undefined;
  private accepted = 0;
  private resets = 0;
  private readonly c2tCounters: PipeCounters = { receivedBytes: 0, forwardedBytes: 0, discardedBytes: 0 };
  private readonly t2cCounters: PipeCounters = { receivedBytes: 0, forwardedBytes: 0, discardedBytes: 0 };

  constructor(options: ProxyOptions, mode: LinkMode) {
    this.target = { host: options.targetHost ?? PROXY_HOST, port: options.targetPort };
    this.name = options.name ?? `proxy→${this.target.host}:${this.target.port}`;
    this.random = seededRandom(options.seed ?? 1);
    this.queueBytesMax = options.queueBytesMax ?? 1024 * 1024;
    this.currentMode = mode;
    this.server = createServer({ allowHalfOpen: true }, (socket) => this.onConnection(socket));
  }

  get port(): number {
    return this.listenPort;
  }

  get mode(): LinkMode {
    return this.currentMode;
  }

  async listen(port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host: PROXY_HOST, port }, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    // Accept errors (EMFILE…) after listening affect one connection attempt, not the proxy.
    this.server.on('error', () => undefined);
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error(`${this.name}: no TCP address after listen`);
    this.listenPort = address.port;
  }

  setMode(mode: LinkMode): void {
    this.assertOpen();
    validateMode(mode);
    this.currentMode = mode;
    for (const c of [...this.connections]) c.applyMode(mode);
  }

  resetConnections(): void {
    this.assertOpen();
    for (const c of [...this.connections]) c.reset();
  }

  stats(): ProxyStats {
    return {
      accepted: this.accepted,
      open: this.connections.size,
      reset: this.resets,
      clientToTarget: { ...this.c2tCounters },
      targetToClient: { ...this.t2cCounters },
    };
  }

  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  // --- used by connections -------------------------------------------------------------------

  track(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  pipeOptions(direction: 'clientToTarget' | 'targetToClient'): ConstructorParameters<typeof Pipe>[2] {
    return {
      queueBytesMax: this.queueBytesMax,
      random: this.random,
      counters: direction === 'clientToTarget' ? this.c2tCounters : this.t2cCounters,
    };
  }

  connectUpstream(): Socket {
    const socket = connect({ host: this.target.host, port: this.target.port, allowHalfOpen: true });
    this.track(socket);
    return socket;
  }

  onFinished(c: ProxiedConnection, wasReset: boolean): void {
    this.connections.delete(c);
    if (wasReset) this.resets++;
  }

  // --- internals -----------------------------------------------------------------------------

  private onConnection(socket: Socket): void {
    this.track(socket);
    this.accepted++;
    const modes = directionModes(this.currentMode);
    if (this.closing !== undefined || modes === undefined) {
      socket.on('error', () => undefined);
      hardClose(socket);
      this.resets++;
      return;
    }
    this.connections.add(new ProxiedConnection(socket, this, modes));
  }

  private async shutDown(): Promise<void> {
    const serverClosed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const c of [...this.connections]) c.reset();
    const socketsClosed = [...this.sockets].map(
      (s) => new Promise<void>((resolve) => (s.destroyed && s.closed ? resolve() : s.once('close', () => resolve()))),
    );
    await Promise.all([serverClosed, ...socketsClosed]);
  }

  private assertOpen(): void {
    if (this.closing !== undefined) throw new Error(`${this.name}: closed`);
  }
}

/**
 * One client connection and, once the link lets it be set up, its upstream connection to the
 * target. Errors on either socket end both: a reset on one side becomes a reset on the other.
 */
class ProxiedConnection {
  private upstream: Socket | undefined;
  private readonly toTarget: Pipe;
  private toClient: Pipe | undefined;
  private finished = false;

  constructor(
    private readonly client: Socket,
    private readonly proxy: TcpFaultProxy,
    modes: { clientToTarget: DirectionMode; targetToClient: DirectionMode },
  ) {
    client.setNoDelay(true);
    client.on('error', () => undefined); // surfaces as close(hadError)
    client.on('close', (hadError) => this.onClose(client, hadError));
    this.toTarget = new Pipe(client, modes.clientToTarget, proxy.pipeOptions('clientToTarget'));
    if (canConnect(modes)) this.connectUpstream(modes.targetToClient);
  }

  applyMode(mode: LinkMode): void {
    const modes = directionModes(mode);
    if (modes === undefined) return this.reset();
    // A direction that lost bytes cannot carry the stream any more once it is not silent.
    const toClient = this.toClient;
    if (
      (this.toTarget.broken && modes.clientToTarget.kind !== 'blackhole') ||
      (toClient?.broken === true && modes.targetToClient.kind !== 'blackhole')
    ) {
      return this.reset();
    }
    this.toTarget.setMode(modes.clientToTarget);
    toClient?.setMode(modes.targetToClient);
    if (this.upstream === undefined && canConnect(modes)) this.connectUpstream(modes.targetToClient);
  }

  reset(): void {
    if (this.finished) return;
    this.finish(true);
    hardClose(this.client);
    if (this.upstream !== undefined) hardClose(this.upstream);
  }

  private connectUpstream(toClientMode: DirectionMode): void {
    const upstream = this.proxy.connectUpstream();
    this.upstream = upstream;
    upstream.setNoDelay(true);
    upstream.on('error', () => undefined); // surfaces as close(hadError), e.g. ECONNREFUSED
    upstream.on('close', (hadError) => this.onClose(upstream, hadError));
    const toClient = new Pipe(upstream, toClientMode, this.proxy.pipeOptions('targetToClient'));
    this.toClient = toClient;
    toClient.attachSink(this.client);
    this.toTarget.attachSink(upstream);
  }

  /**
   * A side closed. With an error (reset, refused), reset the other side too. Cleanly: what it
   * sent still drains to the other side, which is then ended and closed; what was headed to it
   * has nowhere to go.
   */
  private onClose(side: Socket, hadError: boolean): void {
    if (this.finished) return;
    const other = side === this.client ? this.upstream : this.client;
    if (hadError) return this.reset();
    if (other === undefined || other.destroyed) {
      this.finish(false);
      return;
    }
    const outgoing = side === this.client ? this.toTarget : this.toClient;
    outgoing?.endSource();
    if (other.writableFinished) other.destroy();
    else other.once('finish', () => other.destroy());
  }

  private finish(wasReset: boolean): void {
    this.finished = true;
    this.toTarget.close();
    this.toClient?.close();
    this.proxy.onFinished(this, wasReset);
  }
}
