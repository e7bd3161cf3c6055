import { createServer, connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ephemeralPortRange, freePorts } from '../src/ports.js';

function listen(port: number): Promise<{ close: () => Promise<void>; port: number }> {
  return new Promise((resolve, reject) => {
    const server = createServer((s) => s.on('error', () => undefined));
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      if (typeof address !== 'object' || address === null) return reject(new Error('no address'));
      resolve({ port: address.port, close: () => new Promise((r) => server.close(() => r())) });
    });
  });
}

describe('freePorts', () => {
  it('hands out distinct ports that can be listened on, below the range of outgoing connections', async () => {
    const [low] = ephemeralPortRange();
    const ports = await freePorts(15);
    expect(new Set(ports).size).toBe(15);
    for (const port of ports) {
      expect(port).toBeLessThan(low);
      const server = await listen(port);
      await server.close();
    }
  });

  it('an outgoing connection never holds a port it hands out, as one can hold a kernel-picked port', async () => {
    // Why the range matters: a listening port picked by the kernel, once released, can become an
    // outgoing connection's local port, and listening on it again then fails.
    const target = await listen(0);
    const sockets: Socket[] = [];
    try {
      for (let i = 0; i < 20; i++) {
        const socket = connect(target.port, '127.0.0.1');
        await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
        sockets.push(socket);
      }
      const [low, high] = ephemeralPortRange();
      for (const socket of sockets) expect(socket.localPort!).toBeGreaterThanOrEqual(low);
      for (const socket of sockets) expect(socket.localPort!).toBeLessThanOrEqual(high);
      const taken = sockets[0]!.localPort!;
      await expect(listen(taken)).rejects.toMatchObject({ code: 'EADDRINUSE' });
      for (const port of await freePorts(5)) expect(port).toBeLessThan(low);
    } finally {
      for (const s of sockets) s.destroy();
      await target.close();
    }
  });
});
