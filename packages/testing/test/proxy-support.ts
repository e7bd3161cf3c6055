// Real sockets on 127.0.0.1 for the proxy tests: servers that echo or greet, a client that
// records what it gets, and bounded waits on conditions.
import { connect, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';

/** Every wait in these tests is bounded by one of these. */
export const TIMING = {
  /** Upper bound for something that should happen promptly on loopback. */
  eventMs: 5_000,
  /** How long to watch for something that must not happen (only where no condition can stand in). */
  silenceMs: 150,
  pollMs: 5,
} as const;

export async function waitFor(condition: () => boolean, what: string, timeoutMs: number = TIMING.eventMs): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, TIMING.pollMs));
  }
}

/** Watches for `timeoutMs`, failing at once if `condition` becomes true. */
export async function staysFalse(condition: () => boolean, what: string, timeoutMs: number = TIMING.silenceMs): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (condition()) throw new Error(`unexpected: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, TIMING.pollMs));
  }
  if (condition()) throw new Error(`unexpected: ${what}`);
}

export interface TestServer {
  readonly port: number;
  /** Connections accepted so far, and open now. */
  readonly accepted: number;
  readonly open: number;
  /** Bytes received over all connections. */
  readonly receivedBytes: number;
  close(): Promise<void>;
}

/** Echoes every byte back; a greeting (if any) is sent first on each connection. */
export async function startEchoServer(greeting?: string): Promise<TestServer> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  let receivedBytes = 0;
  const server: Server = createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    socket.on('data', (d: Buffer) => {
      receivedBytes += d.length;
    });
    if (greeting !== undefined) socket.write(greeting);
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  return {
    port: address.port,
    get accepted() {
      return accepted;
    },
    get open() {
      return sockets.size;
    },
    get receivedBytes() {
      return receivedBytes;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export interface TestClient {
  readonly socket: Socket;
  readonly received: () => Buffer;
  readonly receivedBytes: () => number;
  readonly connected: () => boolean;
  readonly ended: () => boolean;
  readonly closed: () => boolean;
  /** The error code the socket closed with (ECONNRESET…), if any. */
  readonly errorCode: () => string | undefined;
  waitForBytes(n: number): Promise<Buffer>;
  waitForClose(): Promise<void>;
}

export function connectClient(port: number): TestClient {
  const socket = connect({ host: '127.0.0.1', port });
  const chunks: Buffer[] = [];
  let bytes = 0;
  let connected = false;
  let ended = false;
  let closed = false;
  let errorCode: string | undefined;
  socket.on('connect', () => (connected = true));
  socket.on('data', (d: Buffer) => {
    chunks.push(d);
    bytes += d.length;
  });
  socket.on('end', () => (ended = true));
  socket.on('error', (e: NodeJS.ErrnoException) => (errorCode = e.code));
  socket.on('close', () => (closed = true));
  const received = (): Buffer => Buffer.concat(chunks);
  return {
    socket,
    received,
    receivedBytes: () => bytes,
    connected: () => connected,
    ended: () => ended,
    closed: () => closed,
    errorCode: () => errorCode,
    async waitForBytes(n) {
      await waitFor(() => bytes >= n || closed, `${n} bytes (have ${bytes})`);
      if (bytes < n) throw new Error(`connection closed after ${bytes} of ${n} bytes (${errorCode ?? 'no error'})`);
      return received();
    },
    waitForClose: () => waitFor(() => closed, 'the connection to close'),
  };
}

/** A port with nothing listening on it (bound, then released). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no address');
  return address.port;
}

/** Counts of the kinds of active handles that the proxy could leak. */
export function activeHandles(): Record<'TCPSocketWrap' | 'TCPServerWrap' | 'Timeout', number> {
  const counts = { TCPSocketWrap: 0, TCPServerWrap: 0, Timeout: 0 };
  for (const r of process.getActiveResourcesInfo()) if (r in counts) counts[r as keyof typeof counts]++;
  return counts;
}
