import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { packValue, unpackValue } from '@arbor/protocol';
import type { Logger } from './logger.js';

/**
 * Member-to-member transport: WebSocket with msgpack frames on the peer port, separate from
 * the client port. Each member dials every other member and uses that outbound connection to
 * send; what arrives on inbound connections is delivered as from the dialling member. Many
 * messages travel in one frame (one frame per destination per turn). Delivery is best-effort:
 * Raft tolerates loss, duplication and reordering, so a broken link simply drops messages
 * until the redial (exponential back-off) succeeds.
 */
export interface PeerAddress {
  id: number;
  host: string;
  port: number;
}

export interface PeerTransportOptions {
  selfId: number;
  /** Identifies the ensemble; a peer from another ensemble is refused. */
  clusterId: string;
  listenHost: string;
  listenPort: number;
  peers: PeerAddress[];
  /** Largest frame accepted from a peer (snapshot chunks and append batches must fit). */
  frameBytesMax: number;
  /** Outbound bytes queued on one link beyond which further frames are dropped (Raft resends). */
  sendQueueBytesMax: number;
  logger: Logger;
  onMessages: (from: number, messages: unknown[]) => void;
  onLinkChange?: (peer: number, up: boolean) => void;
}

interface Hello {
  hello: number;
  cluster: string;
}

const REDIAL_MIN_MS = 50;
const REDIAL_MAX_MS = 2_000;

class OutboundLink {
  socket: WebSocket | null = null;
  private open = false;
  private redialMs = REDIAL_MIN_MS;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly peer: PeerAddress,
    private readonly options: PeerTransportOptions,
  ) {
    this.dial();
  }

  private dial(): void {
    if (this.closed) return;
    const socket = new WebSocket(`ws://${this.peer.host}:${this.peer.port}/peer`, {
      maxPayload: this.options.frameBytesMax,
      perMessageDeflate: false,
      handshakeTimeout: 2_000,
      // An all-zero mask, which ws then skips on both ends: masking guards browsers' traffic
      // against proxies that cache it (RFC 6455 §10.3), and a link between two members carries
      // none; unmasked, no frame is XORed and copied on either side.
      generateMask: (mask) => void mask.fill(0),
    });
    this.socket = socket;
    socket.binaryType = 'nodebuffer';
    socket.on('open', () => {
      const hello: Hello = { hello: this.options.selfId, cluster: this.options.clusterId };
      socket.send(packValue(hello));
      this.open = true;
      this.redialMs = REDIAL_MIN_MS;
      this.options.onLinkChange?.(this.peer.id, true);
    });
    socket.on('error', () => {
      // 'close' follows; the redial is scheduled there.
    });
    socket.on('close', () => {
      if (this.open) this.options.onLinkChange?.(this.peer.id, false);
      this.open = false;
      this.socket = null;
      this.scheduleRedial();
    });
  }

  private scheduleRedial(): void {
    if (this.closed || this.timer !== null) return;
    const delay = this.redialMs * (0.5 + Math.random() / 2);
    this.redialMs = Math.min(REDIAL_MAX_MS, this.redialMs * 2);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.dial();
    }, delay);
  }

  send(frame: Uint8Array): boolean {
    const socket = this.socket;
    if (!this.open || socket === null) return false;
    if (socket.bufferedAmount > this.options.sendQueueBytesMax) return false;
    socket.send(frame);
    return true;
  }

  get isOpen(): boolean {
    return this.open;
  }

  /** Drops the connection and dials again (used when a peer looks stuck). */
  reset(): void {
    this.socket?.terminate();
  }

  close(): void {
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.socket?.terminate();
  }
}

export class PeerTransport {
  private readonly server: WebSocketServer;
  private readonly links = new Map<number, OutboundLink>();
  private readonly inbound = new Set<WebSocket>();
  /** Frames dropped because a link was down or its queue full. */
  droppedFrames = 0;

  private constructor(
    private readonly options: PeerTransportOptions,
    server: WebSocketServer,
  ) {
    this.server = server;
    server.on('connection', (socket) => this.onInbound(socket));
    for (const peer of options.peers) {
      if (peer.id !== options.selfId) this.links.set(peer.id, new OutboundLink(peer, options));
    }
  }

  static async start(options: PeerTransportOptions): Promise<PeerTransport> {
    const server = new WebSocketServer({
      host: options.listenHost,
      port: options.listenPort,
      maxPayload: options.frameBytesMax,
      perMessageDeflate: false,
    });
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
    return new PeerTransport(options, server);
  }

  get port(): number {
    const address = this.server.address();
    return typeof address === 'object' && address !== null ? address.port : 0;
  }

  private onInbound(socket: WebSocket): void {
    const log = this.options.logger;
    this.inbound.add(socket);
    let from: number | null = null;
    socket.on('message', (data: RawData, isBinary: boolean) => {
      if (!isBinary) {
        log.warn({ from }, 'peer sent a text frame; closing');
        socket.close(1003, 'binary frames only');
        return;
      }
      let value: unknown;
      try {
        value = unpackValue(toBytes(data));
      } catch (err) {
        log.warn({ from, err: (err as Error).message }, 'undecodable peer frame; closing');
        socket.close(1007, 'undecodable frame');
        return;
      }
      if (from === null) {
        const hello = value as Partial<Hello>;
        if (typeof hello?.hello !== 'number' || typeof hello.cluster !== 'string') {
          socket.close(1008, 'expected hello');
          return;
        }
        if (hello.cluster !== this.options.clusterId || !this.links.has(hello.hello)) {
          log.warn({ peer: hello.hello, cluster: hello.cluster }, 'peer refused: not a member of this ensemble');
          socket.close(1008, 'not a member of this ensemble');
          return;
        }
        from = hello.hello;
        return;
      }
      if (!Array.isArray(value)) {
        log.warn({ from }, 'peer frame is not a message list; closing');
        socket.close(1007, 'expected a message list');
        return;
      }
      this.options.onMessages(from, value);
    });
    socket.on('error', () => {});
    socket.on('close', () => this.inbound.delete(socket));
  }

  /** Sends messages to one peer in one frame. Returns false when they were dropped. */
  send(to: number, messages: unknown[]): boolean {
    const link = this.links.get(to);
    if (link === undefined || messages.length === 0) return false;
    const ok = link.send(packValue(messages));
    if (!ok) this.droppedFrames++;
    return ok;
  }

  isLinkUp(peer: number): boolean {
    return this.links.get(peer)?.isOpen ?? false;
  }

  async close(): Promise<void> {
    for (const link of this.links.values()) link.close();
    for (const socket of this.inbound) socket.terminate();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return new Uint8Array(Buffer.concat(data));
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
