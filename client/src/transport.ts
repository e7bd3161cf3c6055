import type { Member } from './connect-string.js';

/** Callbacks a transport reports to; each is called in the order things happened. */
export interface TransportHandlers {
  /** The connection is open: the handshake may be sent. */
  onOpen(): void;
  /** One binary frame arrived. */
  onMessage(frame: Uint8Array): void;
  /** The connection closed or could not be opened. Called at most once; nothing follows it. */
  onClose(reason: string): void;
}

/** One connection to one member, carrying binary frames. */
export interface Transport {
  /** Sends one frame. Only called after onOpen and before close. */
  send(frame: Uint8Array): void;
  /** Closes the connection. After this, the handlers are not called again. */
  close(): void;
}

/**
 * Opens a connection to a member. Must not call the handlers synchronously. Tests inject an
 * in-process one; the default speaks WebSocket ({@link webSocketTransport}).
 */
export type TransportFactory = (member: Member, handlers: TransportHandlers) => Transport;

/** The part of the WHATWG WebSocket API the client uses; both browsers and the `ws` package provide it. */
export interface WebSocketLike {
  binaryType: string;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code?: number; reason?: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

/**
 * A transport over WebSocket binary frames. `loadWebSocket` resolves the constructor (the
 * platform's `WebSocket`, or the `ws` package under Node) before the first connection; it is
 * awaited inside, so opening a transport stays synchronous for the caller.
 */
export function webSocketTransport(
  memberUrl: (member: Member) => string,
  loadWebSocket: () => Promise<WebSocketConstructor>,
): TransportFactory {
  return (member, handlers) => {
    let socket: WebSocketLike | null = null;
    let finished = false;
    const finish = (reason: string): void => {
      if (finished) return;
      finished = true;
      handlers.onClose(reason);
    };
    const url = memberUrl(member);
    loadWebSocket().then(
      (WebSocketImpl) => {
        if (finished) return;
        try {
          socket = new WebSocketImpl(url);
        } catch (error) {
          finish(`cannot open ${url}: ${(error as Error).message}`);
          return;
        }
        socket.binaryType = 'arraybuffer';
        socket.onopen = () => {
          if (!finished) handlers.onOpen();
        };
        socket.onmessage = (event) => {
          if (finished) return;
          const bytes = toBytes(event.data);
          if (bytes === undefined) {
            socket?.close(1003, 'binary frames only');
            finish(`${url} sent a non-binary frame`);
          } else handlers.onMessage(bytes);
        };
        socket.onerror = () => {};
        socket.onclose = (event) =>
          finish(`${url} closed${event.code !== undefined ? ` (${event.code}${event.reason ? ` ${event.reason}` : ''})` : ''}`);
      },
      (error: unknown) => finish(`no WebSocket implementation: ${(error as Error).message}`),
    );
    return {
      send(frame) {
        socket?.send(frame);
      },
      close() {
        if (finished) return;
        finished = true;
        socket?.close(1000, 'client closing');
      },
    };
  };
}

function toBytes(data: unknown): Uint8Array | undefined {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return undefined;
}

/**
 * The platform WebSocket when there is one (browsers, Deno, Node ≥ 22); otherwise the `ws`
 * package, loaded on demand by the one Node-only module.
 */
export async function loadDefaultWebSocket(): Promise<WebSocketConstructor> {
  const platform = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (platform !== undefined) return platform;
  const { loadNodeWebSocket } = await import('./node-websocket.js');
  return loadNodeWebSocket();
}
