// Leak checks for the proxy, in a file of their own so that the handle counts they start from are
// not disturbed by sockets other tests are still closing.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { Mode, startProxy } from '../src/proxy/index.js';
import { activeHandles, connectClient, startEchoServer, waitFor } from './proxy-support.js';

const MODES = [Mode.pass, Mode.delay(60_000), Mode.blackhole, Mode.hold, Mode.perDirection(Mode.pass, Mode.blackhole)];

it('closes every socket it made, whatever the connections were doing', async () => {
  const before = activeHandles();
  const server = await startEchoServer();
  const proxies = await Promise.all(MODES.map((mode) => startProxy({ targetPort: server.port, mode })));
  const clients = proxies.map((p) => connectClient(p.port));
  for (const c of clients) c.socket.write('in flight');
  await waitFor(() => clients.every((c) => c.connected()), 'every client to connect');
  await clients[0]!.waitForBytes(9);
  await waitFor(() => proxies[1]!.stats().clientToTarget.receivedBytes === 9, 'the delay proxy to hold its bytes');
  await Promise.all(proxies.map((p) => p.close()));
  await Promise.all(proxies.map((p) => p.close())); // idempotent
  await Promise.all(clients.map((c) => c.waitForClose()));
  expect(() => proxies[0]!.setMode(Mode.drop)).toThrow(/closed/);
  await waitFor(() => server.open === 0, 'the echo server to see every connection close');
  // Only the pass proxy forwarded: a one-way cut lets no new connection through (no handshake).
  expect(server.receivedBytes).toBe(9);
  await server.close();
  const sockets = () => ({ TCPSocketWrap: activeHandles().TCPSocketWrap, TCPServerWrap: activeHandles().TCPServerWrap });
  await waitFor(
    () => sockets().TCPSocketWrap === before.TCPSocketWrap && sockets().TCPServerWrap === before.TCPServerWrap,
    'sockets to be released',
  ).catch(() => undefined);
  expect(sockets()).toEqual({ TCPSocketWrap: before.TCPSocketWrap, TCPServerWrap: before.TCPServerWrap });
});

// Timers and sockets both keep a process alive, so the real test of "nothing left open" is a
// process that must exit by itself. The proxy sources are transpiled (types stripped) into a
// temporary folder and driven by a plain script that never calls process.exit.
let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'arbor-proxy-exit-'));
  const srcDir = fileURLToPath(new URL('../src/proxy/', import.meta.url));
  for (const name of (await readdir(srcDir)).filter((f) => f.endsWith('.ts'))) {
    const out = ts.transpileModule(await readFile(join(srcDir, name), 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
    });
    await writeFile(join(dir, name.replace(/\.ts$/, '.js')), out.outputText);
  }
  await writeFile(join(dir, 'package.json'), '{ "type": "module" }');
  await writeFile(
    join(dir, 'driver.js'),
    `
import { createServer, connect } from 'node:net';
import { Mode, startProxy, createPeerMesh } from './index.js';
const modes = [Mode.pass, Mode.delay(60000, 5), Mode.blackhole, Mode.hold, Mode.perDirection(Mode.hold, Mode.delay(60000))];
const server = createServer((s) => { s.on('error', () => {}); s.pipe(s); });
await new Promise((r) => server.listen({ host: '127.0.0.1', port: 0 }, r));
const port = server.address().port;
const proxies = await Promise.all(modes.map((mode) => startProxy({ targetPort: port, mode })));
const mesh = await createPeerMesh([{ id: 1, peerPort: port }, { id: 2, peerPort: port }, { id: 3, peerPort: port }]);
mesh.partition([[1], [2, 3]]);
const targets = [...proxies.map((p) => p.port), mesh.addressOf(1, 2).port, mesh.addressOf(2, 3).port];
const clients = targets.map((p) => { const c = connect({ host: '127.0.0.1', port: p }); c.on('error', () => {}); c.write('in flight'); return c; });
await Promise.all(clients.map((c) => new Promise((r) => (c.readyState === 'open' ? r() : c.once('connect', r)))));
await new Promise((r) => clients[0].once('data', r));
await Promise.all([...proxies.map((p) => p.close()), mesh.close()]);
await Promise.all(clients.map((c) => new Promise((r) => (c.closed ? r() : c.once('close', r)))));
await new Promise((r) => server.close(r));
console.log('closed');
`,
  );
});
afterAll(async () => {
  if (dir !== '') await rm(dir, { recursive: true, force: true });
});

it('lets the process exit on its own once closed', async () => {
  const startMs = Date.now();
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [join(dir, 'driver.js')], { timeout: 15_000 }, (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr }),
    );
  });
  expect(stderr).toBe('');
  expect(stdout.trim()).toBe('closed');
  expect(code).toBe(0);
  // A leaked 60 s timer or an open socket would hold the process until the 15 s kill.
  expect(Date.now() - startMs).toBeLessThan(10_000);
});
