// `arbor shell` against a real 1-member ensemble: the built CLI (server/dist) spawning the
// client's shell bin (client/dist/shell/main.js — build it with `npx tsc -b client/tsconfig.json`).

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LeaderLatch, Mutex, ServiceDiscovery, connect, digestId, participantsOf, type ArborClient } from '@arbor/client';
import { Ensemble, freePorts, waitFor } from '@arbor/testing';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = `${ROOT}server/dist/cli/main.js`;
const SHELL_BIN = `${ROOT}client/dist/shell/main.js`;
/** Bound on one shell run (node start-up, connect, the commands). */
const RUN_TIMEOUT_MS = 20_000;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface Running {
  stderr(): string;
  done: Promise<Run>;
}

function start(args: string[], input?: string): Running {
  const child = spawn(process.execPath, [CLI, 'shell', ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  child.stdin.end(input ?? '');
  const done = new Promise<Run>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`shell ${args.join(' ')} did not exit within ${RUN_TIMEOUT_MS} ms; stderr: ${stderr}`));
    }, RUN_TIMEOUT_MS);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
  return { stderr: () => stderr, done };
}

const jsonLines = (stdout: string): Record<string, unknown>[] =>
  stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('arbor shell on a real ensemble', () => {
  let ensemble: Ensemble;
  let client: ArborClient;
  let cs: string;
  const shell = (script: string, ...flags: string[]): Promise<Run> => start(['--connect', cs, ...flags, '-c', script]).done;

  beforeAll(async () => {
    if (!existsSync(SHELL_BIN)) throw new Error(`${SHELL_BIN} is missing: run npx tsc -b client/tsconfig.json first`);
    ensemble = await Ensemble.start({ members: 1 });
    cs = ensemble.connectString;
    client = await connect(cs);
  });
  afterAll(async () => {
    await client?.close();
    await ensemble?.stop();
  });

  it('creates, reads and lists for people, exit code 0', async () => {
    const run = await shell("create /h 'hello world'; create /h/c; ls /h; get /h; ls -R /h; stat /h");
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = run.stdout.split('\n');
    expect(lines.slice(0, 7)).toEqual([
      'Created /h',
      'Created /h/c',
      'c',
      'hello world',
      '/h',
      '/h/c',
      expect.stringMatching(/^czxid = \d+$/),
    ]);
    expect(run.stdout).toContain('numChildren = 1');
    expect((await client.getString('/h')).data).toBe('hello world');
  });

  it('create flags: ephemeral (gone after the shell exits), sequential, container, TTL', async () => {
    await client.create('/f');
    const run = await shell(
      'create -e /f/e x; stat /f/e; create -s /f/s- ; create -e -s /f/es-; create -c /f/c; create -t 60000 /f/t; create -s -t 60000 /f/ts-',
      '--json',
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const docs = jsonLines(run.stdout);
    expect(docs.map((d) => d['command'])).toEqual(['create', 'stat', 'create', 'create', 'create', 'create', 'create']);
    expect((docs[1]?.['stat'] as { ephemeralOwner: number }).ephemeralOwner).not.toBe(0);
    expect(docs.slice(2).map((d) => d['path'])).toEqual([
      expect.stringMatching(/^\/f\/s-\d{10}$/),
      expect.stringMatching(/^\/f\/es-\d{10}$/),
      '/f/c',
      '/f/t',
      expect.stringMatching(/^\/f\/ts-\d{10}$/),
    ]);
    // The shell's session closed on exit: its ephemerals are gone, the rest stay.
    const children = (await client.getChildren('/f')).children;
    expect(children.filter((n) => n === 'e' || n.startsWith('es-'))).toEqual([]);
    expect(children).toEqual(expect.arrayContaining(['c', 't']));
  });

  it('set with a wrong version fails with exit code 1 and one line on stderr', async () => {
    await client.create('/v', 'v0');
    const run = await shell('set -v 5 /v v1; get /v');
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^set \/v: [^\n]*\(BADVERSION\)\n$/);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect((await client.getString('/v')).data).toBe('v0');
    const ok = await shell('set -v 0 /v v1; get -s /v', '--json');
    expect(ok.code).toBe(0);
    expect(jsonLines(ok.stdout)[1]).toMatchObject({ command: 'get', data: 'v1', stat: { version: 1 } });
  });

  it('a failed command in --json mode also prints its JSON error document', async () => {
    const run = await shell('get /missing', '--json');
    expect(run.code).toBe(1);
    expect(jsonLines(run.stdout)).toEqual([
      { command: 'get', path: '/missing', error: { code: -101, name: 'NONODE', message: expect.any(String) } },
    ]);
    expect(run.stderr).toMatch(/^get \/missing: .*\(NONODE\)\n$/);
  });

  it('deleteall removes the subtree', async () => {
    for (const p of ['/d', '/d/a', '/d/a/b', '/d/c']) await client.create(p);
    const run = await shell('deleteall /d; ls /', '--json');
    expect(run.code).toBe(0);
    const docs = jsonLines(run.stdout);
    expect(docs[0]).toEqual({ command: 'deleteall', path: '/d', deleted: 4 });
    expect(docs[1]?.['children']).not.toContain('d');
    expect(await client.exists('/d')).toBeNull();
  });

  it('bad usage exits with 2 before running anything', async () => {
    const run = await shell('create /never; create -e -t 5 /x');
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^create: -t \(TTL\) is for persistent nodes/);
    expect(await client.exists('/never')).toBeNull();
    const flags = await start(['--connect', cs, '--bogus']).done;
    expect(flags.code).toBe(2);
    expect(flags.stderr).toContain("unexpected argument '--bogus'");
  });

  it('watch --count prints the events (JSON), then exits 0', async () => {
    await client.create('/w', 'v0');
    const running = start(['--connect', cs, '--json', '-c', 'watch -R --count 3 /w']);
    await waitFor('the watch', () => (running.stderr().includes('watching /w') ? true : undefined), RUN_TIMEOUT_MS);
    await client.setData('/w', 'v1');
    await client.create('/w/child');
    await client.delete('/w/child');
    const run = await running.done;
    expect(run.code).toBe(0);
    const events = jsonLines(run.stdout).map((d) => d['event'] as { type: string; path: string });
    expect(events.map((e) => `${e.type} ${e.path}`)).toEqual(['NodeDataChanged /w', 'NodeCreated /w/child', 'NodeDeleted /w/child']);
  });

  it('ACLs and credentials: setAcl, getAcl, addauth, whoami', async () => {
    const id = await digestId('alice', 'secret');
    const run = await shell(
      `create /acl; setAcl /acl world:anyone:r,digest:${id}:cdrwa; getAcl /acl; addauth digest alice:secret; getAcl /acl; whoami; set /acl x`,
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = run.stdout.split('\n');
    // Without ADMIN a digest id shows only its user (SEMANTICS.md); with alice's credentials, all of it.
    expect(lines.slice(0, 5)).toEqual(['Created /acl', 'world:anyone:r', 'digest:alice:x:cdrwa', 'world:anyone:r', `digest:${id}:cdrwa`]);
    expect(lines.slice(5)).toContain(`digest:${id}`);
    const denied = await shell('set /acl y');
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(/^set \/acl: .*\(NOAUTH\)\n$/);
  });

  it('reads a script from stdin when it is not a terminal, and honours a chroot', async () => {
    await client.create('/root');
    const run = await start(['--connect', `${cs}/root`], 'create /inside in\nget /inside\n').done;
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('Created /inside\nin\n');
    expect((await client.getString('/root/inside')).data).toBe('in');
  });

  it('cannot connect: exit code 1 and a one-line message', async () => {
    const [port] = await freePorts(1);
    const run = await start(['--connect', `127.0.0.1:${port}`, '--timeout-ms', '1500', '-c', 'ls /']).done;
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^arbor shell: cannot connect to 127\.0\.0\.1:\d+: [^\n]+\n$/);
  });

  it('lock shows a Mutex holder and its waiter: sessions in hex, tokens, waits (text and JSON)', async () => {
    const other = await connect(cs);
    try {
      const held = await new Mutex(client, '/locks/db').acquire();
      const waiting = new Mutex(other, '/locks/db').acquire({ timeoutMs: 4 * RUN_TIMEOUT_MS });
      await waitFor('the waiter', async () => ((await participantsOf(client, '/locks/db')).waiters.length === 1 ? true : undefined));
      const run = await shell('lock /locks/db');
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      const hex = (c: ArborClient): string => `0x${c.sessionId.toString(16)}`;
      const lines = run.stdout.split('\n');
      expect(lines[0]).toBe('/locks/db: mutex, 1 holder, 1 waiter');
      expect(lines[1]).toMatch(/^ROLE +SESSION +WAITED +TOKEN +NODE$/);
      expect(lines[2]?.split(/ +/)).toEqual([
        'holder',
        hex(client),
        expect.stringMatching(/^\d+(ms|\.\ds)$/),
        String(held.fencingToken),
        expect.stringMatching(/-lock-\d{10}$/),
      ]);
      expect(lines[3]?.split(/ +/).slice(0, 2)).toEqual(['waiter', hex(other)]);
      const [doc] = jsonLines((await shell('lock /locks/db', '--json')).stdout);
      expect(doc).toMatchObject({ command: 'lock', path: '/locks/db', kind: 'mutex' });
      const [holder] = doc?.['holders'] as Record<string, unknown>[];
      expect(holder).toMatchObject({ role: 'holder', sessionId: client.sessionId, session: hex(client), fencingToken: held.fencingToken });
      expect(holder?.['waitedMs']).toEqual(expect.any(Number));
      expect((doc?.['waiters'] as { sessionId: number }[]).map((w) => w.sessionId)).toEqual([other.sessionId]);
      await held.release();
      await (await waiting).release();
    } finally {
      await other.close();
    }
  });

  it('election shows the LeaderLatch leader with its id, payload and session, and the candidates', async () => {
    const other = await connect(cs);
    const latches = [
      new LeaderLatch(client, '/election/app', { id: 'first', payload: { port: 7001 } }),
      new LeaderLatch(other, '/election/app', { id: 'second' }),
    ];
    try {
      for (const latch of latches) await latch.start();
      await latches[0]?.awaitLeadership({ timeoutMs: RUN_TIMEOUT_MS });
      const run = await shell('election /election/app');
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(
        new RegExp(
          `^/election/app: leader first \\(session 0x${client.sessionId.toString(16)}, payload \\{"port":7001\\}\\), 1 candidate queued\n`,
        ),
      );
      expect(run.stdout).toMatch(/\ncandidate +second +0x[0-9a-f]+ /);
      const [doc] = jsonLines((await shell('election /election/app', '--json')).stdout);
      expect(doc).toMatchObject({
        command: 'election',
        path: '/election/app',
        leader: { id: 'first', payload: { port: 7001 }, sessionId: client.sessionId },
        candidates: [{ id: 'second', payload: null, sessionId: other.sessionId }],
      });
    } finally {
      for (const latch of latches) await latch.close();
      await other.close();
    }
  });

  it('services lists the registered services, then one service with address:port, metadata and session', async () => {
    const discovery = new ServiceDiscovery(client);
    try {
      const registration = await discovery.register({
        name: 'api',
        id: 'api-1',
        address: '127.0.0.1',
        port: 8080,
        metadata: { zone: 'a' },
      });
      const list = await shell('services');
      expect(list.stderr).toBe('');
      expect(list.code).toBe(0);
      expect(list.stdout).toBe('SERVICE  INSTANCES\napi      1\n');
      const one = await shell('services api');
      expect(one.code).toBe(0);
      const lines = one.stdout.split('\n');
      expect(lines[0]).toBe('api under /services: 1 instance');
      expect(lines[2]?.split(/ +/)).toEqual([
        'api-1',
        '127.0.0.1:8080',
        `0x${client.sessionId.toString(16)}`,
        new Date(registration.instance.registeredAt).toISOString(),
        '{"zone":"a"}',
      ]);
      const docs = jsonLines((await shell('services; services api', '--json')).stdout);
      expect(docs[0]).toEqual({ command: 'services', root: '/services', services: [{ name: 'api', instances: 1 }] });
      expect(docs[1]).toMatchObject({
        service: 'api',
        instances: [{ id: 'api-1', address: '127.0.0.1', port: 8080, metadata: { zone: 'a' }, sessionId: client.sessionId }],
        ignored: [],
      });
    } finally {
      await discovery.close();
    }
  });

  it('lock, election and services on a missing path: exit 1, one NONODE line naming the command and the path', async () => {
    for (const [script, line] of [
      ['lock /no/lock', 'lock /no/lock: the node does not exist (NONODE)'],
      ['election /no/election', 'election /no/election: the node does not exist (NONODE)'],
      [
        'services --root /no/services',
        'services /no/services: the discovery root does not exist (no service has registered under it) (NONODE)',
      ],
      ['services missing', "services /services/missing: no service 'missing' under /services (NONODE)"],
    ]) {
      const run = await shell(script as string);
      expect(run.code).toBe(1);
      expect(run.stdout).toBe('');
      expect(run.stderr).toBe(`${line as string}\n`);
    }
  });
  // The interactive loop needs a terminal: util-linux `script` runs the shell on a pseudo-terminal
  // and forwards what the test types to it, as a person at a keyboard would.
  it('interactive, on a terminal: prompts with the state and count, runs commands, Ctrl-C stops a watch, history, quit', async () => {
    await client.create('/tty', 'before');
    const command = [process.execPath, CLI, 'shell', '--connect', cs].map((a) => `'${a}'`).join(' ');
    const child = spawn('script', ['-qfec', command, '/dev/null'], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let screen = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (screen += s));
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
    const seen = (text: string): Promise<true> =>
      waitFor(`'${text}' on the terminal`, () => (screen.includes(text) ? true : undefined), RUN_TIMEOUT_MS);
    const type = (keys: string): void => void child.stdin.write(keys);
    try {
      await seen(`[arbor: ${cs}(connected) 1] `);
      type('get /tty\r');
      await seen('before');
      await seen(`[arbor: ${cs}(connected) 2] `);
      type('watch /tty\r');
      await seen('watching');
      type('\x03'); // Ctrl-C while the watch waits: it stops, the shell stays
      await seen('interrupted');
      await seen(`[arbor: ${cs}(connected) 3] `);
      type('set /tty after\r');
      await seen(`(connected) 4] `);
      expect((await client.getString('/tty')).data).toBe('after');
      type('history\r');
      await seen('3  set /tty after');
      type('quit\r');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
