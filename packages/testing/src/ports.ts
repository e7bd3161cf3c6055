// Ports for test members. A member keeps its ports across restarts (every member's
// configuration names them), so they must stay free while it is down. A port inside the range
// the kernel hands out for outgoing connections does not: while a member is killed, any new
// connection on the machine (a client reconnecting, a proxy's upstream) may get that port as its
// local port, and the member's restart then fails with EADDRINUSE for as long as that connection
// lives. Ports are therefore chosen below that range, and checked by binding them.

import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** Where to look when the kernel's range cannot be read (Linux's and macOS's both lie inside). */
const DEFAULT_EPHEMERAL: readonly [number, number] = [32768, 65535];
/** The lowest port handed out: clear of well-known and commonly configured service ports. */
const LOWEST = 10_000;

/** The kernel's range for outgoing connections' local ports (Linux), or a safe guess. */
export function ephemeralPortRange(): readonly [number, number] {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (Number.isInteger(low) && Number.isInteger(high) && low! > 0 && high! >= low!) return [low!, high!];
  } catch {
    // Not Linux.
  }
  return DEFAULT_EPHEMERAL;
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Where the next search starts; random per process, so that parallel test processes rarely meet. */
let cursor = -1;

/**
 * `n` distinct ports on 127.0.0.1 that nobody listens on now and that the kernel does not hand to
 * outgoing connections. If the range below the kernel's is too small (under 1,000 ports), falls
 * back to ports the kernel picks, which are free now but not guaranteed to stay free.
 */
export async function freePorts(n: number): Promise<number[]> {
  const [ephemeralLow] = ephemeralPortRange();
  const high = ephemeralLow - 1;
  const span = high - LOWEST + 1;
  if (span < 1_000) return kernelPickedPorts(n);
  if (cursor < 0) cursor = Math.floor(Math.random() * span);
  const ports: number[] = [];
  for (let tried = 0; ports.length < n && tried < span; tried++) {
    const port = LOWEST + (cursor % span);
    cursor = (cursor + 1) % span;
    if (await canListen(port)) ports.push(port);
  }
  if (ports.length < n) throw new Error(`freePorts: only ${ports.length} of ${n} free ports in ${LOWEST}–${high}`);
  return ports;
}

async function kernelPickedPorts(n: number): Promise<number[]> {
  const servers = [];
  const ports: number[] = [];
  for (let i = 0; i < n; i++) {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    if (typeof address !== 'object' || address === null) throw new Error('freePorts: no port');
    ports.push(address.port);
    servers.push(server);
  }
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}
