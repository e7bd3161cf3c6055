import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CreateMode } from '../../src/index.js';
import type { ArborClient } from '../../src/index.js';
import { Shell, exitCode } from '../../src/shell/shell.js';
import type { Status } from '../../src/shell/shell.js';
import type { FakeEnsemble } from '../helpers/fake-ensemble.js';
import { connected, flush, until } from '../helpers/harness.js';

interface Captured {
  out: string[];
  err: string[];
  notices: string[];
  watching: string[];
}

describe('shell commands against a fake ensemble', () => {
  let ensemble: FakeEnsemble;
  let client: ArborClient;
  beforeEach(async () => {
    vi.useFakeTimers();
    ({ ensemble, client } = await connected({ chroot: '/app' }));
  });
  afterEach(async () => {
    await client.close();
    vi.useRealTimers();
  });

  function shell(format: 'text' | 'json' = 'text'): { shell: Shell; io: Captured } {
    const io: Captured = { out: [], err: [], notices: [], watching: [] };
    const s = new Shell(client, {
      format,
      output: { out: (t) => io.out.push(t), err: (t) => io.err.push(t), notice: (t) => io.notices.push(t) },
      onWatching: (path) => io.watching.push(path),
    });
    return { shell: s, io };
  }

  async function run(script: string, format: 'text' | 'json' = 'text'): Promise<Captured & { status: Status }> {
    const { shell: s, io } = shell(format);
    return { status: await s.run(script), ...io };
  }

  const createRequests = () => ensemble.allRequests().filter((r) => r.op === 'create2');

  it('creates, reads and lists, printing for people', async () => {
    const r = await run("create /a 'hello world'; create /a/b; ls /a; get /a; ls -R /; stat /a");
    expect(r.status).toBe('ok');
    expect(r.err).toEqual([]);
    expect(r.out.slice(0, 5)).toEqual(['Created /a', 'Created /a/b', 'b', 'hello world', '/\n/a\n/a/b']);
    expect(r.out[5]).toMatch(/^czxid = \d+\n/);
    expect(ensemble.dataOf('/app/a')).toBe('hello world');
  });

  it('maps the create flags to modes, TTL and ACL', async () => {
    const r = await run(
      'create /q; create -s /q/n- x; create -e /q/e; create -e -s /q/es-; create -c /c; create -t 5000 /t; create -s -t 60 /q/ts-; create /acl d world:anyone:r',
    );
    expect(r.err).toEqual([]);
    expect(r.out).toEqual([
      'Created /q',
      'Created /q/n-0000000000',
      'Created /q/e',
      'Created /q/es-0000000002',
      'Created /c',
      'Created /t',
      'Created /q/ts-0000000003',
      'Created /acl',
    ]);
    const modes = createRequests().map((req) => [req.args['mode'], req.args['ttlMs']]);
    expect(modes).toEqual([
      [CreateMode.PERSISTENT, undefined],
      [CreateMode.PERSISTENT_SEQUENTIAL, undefined],
      [CreateMode.EPHEMERAL, undefined],
      [CreateMode.EPHEMERAL_SEQUENTIAL, undefined],
      [CreateMode.CONTAINER, undefined],
      [CreateMode.PERSISTENT_WITH_TTL, 5000],
      [CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL, 60],
      [CreateMode.PERSISTENT, undefined],
    ]);
    expect(createRequests()[7]?.args['acl']).toEqual([{ perms: 1, id: { scheme: 'world', id: 'anyone' } }]);
    const stat = await client.exists('/q/e');
    expect(stat?.ephemeralOwner).toBe(client.sessionId);
  });

  it('stops at the first failing command, naming it and the path on stderr', async () => {
    const r = await run('create /v x; set -v 5 /v y; get /v');
    expect(r.status).toBe('failed');
    expect(exitCode(r.status)).toBe(1);
    expect(r.out).toEqual(['Created /v']);
    expect(r.err).toHaveLength(1);
    expect(r.err[0]).toMatch(/^set \/v: .*\(BADVERSION\)$/);
    expect(ensemble.dataOf('/app/v')).toBe('x');
  });

  it('runs nothing when any command of the script is bad usage', async () => {
    const r = await run('create /u; ls -Z /');
    expect(r.status).toBe('usage');
    expect(exitCode(r.status)).toBe(2);
    expect(r.out).toEqual([]);
    expect(r.err).toEqual(["ls: unknown option '-Z' (use -- before an argument that starts with '-') (usage: ls [-R] [-s] path)"]);
    expect(ensemble.dataOf('/app/u')).toBeUndefined();
  });

  it('reports a missing node as NONODE for get, stat and ls', async () => {
    for (const command of ['get /none', 'stat /none', 'ls /none', 'delete /none', 'deleteall /none']) {
      const r = await run(command);
      expect(r.status).toBe('failed');
      expect(r.err).toEqual([expect.stringMatching(new RegExp(`^${command}: .*\\(NONODE\\)$`))]);
    }
  });

  it('sets with and without a version, deletes with a version', async () => {
    const r = await run('create /s a; set /s b; set -v 1 /s c; get -s /s; delete -v 3 /s');
    expect(r.status).toBe('failed');
    expect(r.out[0]).toBe('Created /s');
    expect(r.out[1]).toMatch(/^c\nczxid = /);
    expect(r.out[1]).toContain('version = 2');
    expect(r.err[0]).toMatch(/^delete \/s: .*BADVERSION/);
    expect((await run('delete -v 2 /s')).status).toBe('ok');
    expect(ensemble.dataOf('/app/s')).toBeUndefined();
  });

  it('deleteall removes a whole subtree and reports the count in JSON', async () => {
    for (const p of ['/d', '/d/a', '/d/a/x', '/d/a/y', '/d/b', '/keep']) ensemble.seed(`/app${p}`);
    const r = await run('deleteall /d', 'json');
    expect(r.status).toBe('ok');
    expect(r.out.map((l) => JSON.parse(l))).toEqual([{ command: 'deleteall', path: '/d', deleted: 5 }]);
    expect([...ensemble.nodes.keys()].filter((p) => p.startsWith('/app/'))).toEqual(['/app/keep']);
  });

  it('deleteall / empties the (chroot) root but keeps it', async () => {
    for (const p of ['/x', '/x/y', '/z']) ensemble.seed(`/app${p}`);
    expect((await run('deleteall /')).status).toBe('ok');
    expect(ensemble.dataOf('/app')).not.toBeUndefined();
    expect([...ensemble.nodes.keys()].filter((p) => p.startsWith('/app/'))).toEqual([]);
  });

  it('prints one JSON document per command', async () => {
    const r = await run('create /j \'{"k":1}\'; get /j; ls -s /; getAcl /j; sync /j; whoami; history', 'json');
    expect(r.err).toEqual([]);
    const docs = r.out.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(docs.map((d) => d['command'])).toEqual(['create', 'get', 'ls', 'getAcl', 'sync', 'whoami', 'history']);
    expect(docs[1]).toMatchObject({ path: '/j', data: '{"k":1}', encoding: 'utf8' });
    expect(docs[2]).toMatchObject({ children: ['j'], stat: { numChildren: 1 } });
    expect(docs[3]).toMatchObject({ aclText: 'world:anyone:cdrwa' });
    expect(docs[6]).toMatchObject({ history: ['create /j \'{"k":1}\'', 'get /j', 'ls -s /', 'getAcl /j', 'sync /j', 'whoami', 'history'] });
  });

  it('prints a failed command as a JSON document too (and the line on stderr)', async () => {
    const r = await run('get /none', 'json');
    expect(r.err[0]).toMatch(/^get \/none: /);
    expect(JSON.parse(r.out[0] as string)).toMatchObject({ command: 'get', path: '/none', error: { code: -101, name: 'NONODE' } });
  });

  it('sets and reads ACLs', async () => {
    const r = await run('create /p; setAcl -v 0 /p world:anyone:rw,ip:10.0.0.0/8:cdrwa; getAcl /p; setAcl -v 0 /p world:anyone:r');
    expect(r.status).toBe('failed');
    expect(r.out).toEqual(['Created /p', 'world:anyone:rw\nip:10.0.0.0/8:cdrwa']);
    expect(r.err[0]).toMatch(/^setAcl \/p: .*BADVERSION/);
  });

  it('adds credentials and shows who the session is', async () => {
    const r = await run('addauth digest alice:secret; whoami');
    expect(r.status).toBe('ok');
    expect(r.out).toEqual(['digest:alice']);
  });

  it('watch prints events until --count, after telling that it is registered', async () => {
    ensemble.seed('/app/w', 'v0');
    const { shell: s, io } = shell();
    const done = s.run('watch -R --count 3 /w');
    await until(() => io.watching.length === 1, 'watch registered');
    ensemble.set('/app/w', 'v1');
    ensemble.seed('/app/w/c');
    ensemble.remove('/app/w/c');
    expect(await done).toBe('ok');
    expect(io.out.map((l) => l.replace(/ \(zxid \d+\)$/, ''))).toEqual(['NodeDataChanged /w', 'NodeCreated /w/c', 'NodeDeleted /w/c']);
    // Ended: the member no longer holds the watch.
    await until(() => ensemble.open().every((c) => c.watches.recursive.size === 0), 'watch removed');
  });

  it('watch ends when interrupted', async () => {
    ensemble.seed('/app/w');
    const { shell: s, io } = shell('json');
    const controller = new AbortController();
    const done = s.run('watch /w; get /w', controller.signal);
    await until(() => io.watching.length === 1, 'watch registered');
    ensemble.set('/app/w', 'x');
    await until(() => io.out.length === 1, 'first event');
    controller.abort(new Error('interrupted'));
    expect(await done).toBe('interrupted');
    expect(exitCode('interrupted')).toBe(130);
    expect(JSON.parse(io.out[0] as string)).toMatchObject({ command: 'watch', path: '/w', event: { type: 'NodeDataChanged', path: '/w' } });
    expect(io.out).toHaveLength(1);
  });

  it('get -w prints the event later, as a notice', async () => {
    ensemble.seed('/app/g', 'a');
    const { shell: s, io } = shell();
    expect(await s.run('get -w /g')).toBe('ok');
    expect(io.out).toEqual(['a']);
    ensemble.set('/app/g', 'b');
    await until(() => io.notices.length === 1, 'watch notice');
    expect(io.notices[0]).toMatch(/^WATCHER:: NodeDataChanged \/g \(zxid \d+\)$/);
  });

  it('keeps a history across lines, quits, and helps', async () => {
    const { shell: s, io } = shell();
    expect(await s.run('ls /')).toBe('ok');
    expect(await s.run('bogus')).toBe('usage');
    expect(await s.run('help ls; quit; ls /')).toBe('quit');
    expect(s.history).toEqual(['ls /', 'bogus', 'help ls', 'quit']);
    expect(await s.run('history')).toBe('ok');
    expect(io.out.at(-1)).toBe('   1  ls /\n   2  bogus\n   3  help ls\n   4  quit\n   5  history');
    expect(io.err).toEqual(["unknown command 'bogus' (try 'help')"]);
    expect(io.out).toContain(
      'usage: ls [-R] [-s] path\n' +
        "list a node's children (-R: every descendant's path, -s: also the node's stat)\n  -R  recursive\n  -s  print the stat\nexample: ls -R /app",
    );
  });

  it('reports a client-side bad path as a failure of the command', async () => {
    const r = await run('get relative');
    expect(r.status).toBe('failed');
    expect(r.err[0]).toMatch(/^get relative: .*\(BADARGUMENTS\)$/);
    await flush();
  });
});
