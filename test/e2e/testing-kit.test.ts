// @arbor/testing used the way a user would: testing their own lock-guarded job against a real
// ensemble and the failures it must survive. The "user code" is `guardedIncrement` below; the
// test is the example docs/testing.md shows.

import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Mutex, connect, fromUtf8, utf8, type ArborClient } from '@arbor/client';
import { Ensemble, connectFaulty, waitFor } from '@arbor/testing';

/** User code: increments a counter node, but only while holding the lock, and fenced by it. */
async function guardedIncrement(client: ArborClient): Promise<number> {
  const mutex = new Mutex(client, '/app/locks/counter');
  const lease = await mutex.acquire({ timeoutMs: 10_000 });
  try {
    const { data, stat } = await client.getData('/app/counter');
    const next = Number(fromUtf8(data ?? new Uint8Array())) + 1;
    // The write commits only if the lock node is still ours (a multi with a check).
    await lease.commitIfHeld([{ op: 'setData', path: '/app/counter', data: utf8(String(next)), version: stat.version }]);
    return next;
  } finally {
    await lease.release().catch(() => undefined);
  }
}

describe('@arbor/testing: a user testing lock-guarded code', () => {
  let ensemble: Ensemble;
  let admin: ArborClient;
  beforeAll(async () => {
    ensemble = await Ensemble.start({ members: 3, sessionTimeoutMinMs: 1_000 });
    admin = await connect(ensemble.connectString);
    await admin.create('/app/counter', utf8('0'), { createParents: true });
  });
  afterAll(async () => {
    await admin?.close();
    await ensemble?.stop();
  });

  it('keeps counting across a forced leader change and the kill of a member', async () => {
    const worker = await connect(ensemble.connectString, { sessionTimeoutMs: 5_000 });
    try {
      expect(await guardedIncrement(worker)).toBe(1);
      const before = await ensemble.waitForLeader();
      const after = await ensemble.forceLeaderChange();
      expect(after).not.toBe(before);
      expect(await guardedIncrement(worker)).toBe(2);
      await ensemble.kill(after);
      expect(await guardedIncrement(worker)).toBe(3);
      await ensemble.restart(after);
    } finally {
      await worker.close();
    }
  });

  it('a holder whose session expires is told, and its fenced write is refused', async () => {
    const holder = await connectFaulty(ensemble, { sessionTimeoutMs: 2_000 });
    const other = await connect(ensemble.connectString, { sessionTimeoutMs: 5_000 });
    try {
      const lease = await new Mutex(holder.client, '/app/locks/counter').acquire({ timeoutMs: 10_000 });
      const lost = new Promise<void>((resolve) => lease.lost.addEventListener('abort', () => resolve(), { once: true }));
      await holder.expireSession();
      await lost;
      expect(holder.client.state).toBe('lost');
      // The lock passes on once the ensemble expires the session; the other worker goes on.
      expect(await guardedIncrement(other)).toBe(4);
      await expect(lease.commitIfHeld([{ op: 'setData', path: '/app/counter', data: utf8('999') }])).rejects.toThrow();
      expect(fromUtf8((await admin.getData('/app/counter')).data!)).toBe('4');
    } finally {
      await holder.close();
      await other.close();
    }
  });

  it('a write whose reply is lost is applied once', async () => {
    const faulty = await connectFaulty(ensemble, { sessionTimeoutMs: 10_000 });
    try {
      faulty.dropReplies();
      const created = faulty.client.create('/app/once-', utf8('x'), { mode: 'PERSISTENT_SEQUENTIAL' });
      // Applied on the ensemble, answer lost on the way back.
      for (let i = 0; i < 200 && (await admin.getChildren('/app')).children.filter((c) => c.startsWith('once-')).length === 0; i++) {
        await new Promise((r) => setTimeout(r, 25));
      }
      faulty.heal();
      const path = await created;
      expect((await admin.getChildren('/app')).children.filter((c) => c.startsWith('once-'))).toEqual([path.slice('/app/'.length)]);
    } finally {
      await faulty.close();
    }
  });

  it('reports a member that ends by itself, and kill(), restart() and stop() do not wait for it', async () => {
    const victim = (await ensemble.waitForLeader()) === 1 ? 2 : 1;
    const pid = ensemble.slots.find((s) => s.id === victim)!.process!.pid!;
    // Not through the harness: as if the member had crashed.
    process.kill(pid, 'SIGKILL');
    await waitFor('the harness noticing the exit', () => (ensemble.unexpectedExits().length > 0 ? true : undefined), 10_000);
    expect(ensemble.unexpectedExits()).toEqual([expect.objectContaining({ id: victim, code: null, signal: 'SIGKILL' })]);
    expect(ensemble.running().map((s) => s.id)).not.toContain(victim);
    // Before the fix this waited forever for an 'exit' that had already been emitted.
    await ensemble.kill(victim);
    await ensemble.restart(victim);
    await ensemble.waitForConvergence();
    // A kill or a SIGTERM the harness makes is not an unexpected exit.
    await ensemble.kill(victim);
    await ensemble.restart(victim);
    expect(await ensemble.terminate(victim)).toBe(0);
    await ensemble.restart(victim);
    expect(ensemble.unexpectedExits()).toHaveLength(1);
  });

  it('members stop themselves when the process that started them is killed -9', { timeout: 60_000 }, async () => {
    // A harness process (another Node process using @arbor/testing) starts an ensemble, reports
    // its members' PIDs, and is then killed without a chance to stop them.
    const script = [
      "import { Ensemble } from '@arbor/testing';",
      'const e = await Ensemble.start({ members: 3 });',
      'process.stdout.write(JSON.stringify({ dir: e.dir, pids: e.slots.map((s) => s.process.pid) }) + "\\n");',
      'setInterval(() => {}, 1000);',
    ].join('\n');
    const harness = spawn(process.execPath, ['--input-type=module', '-e', script], {
      cwd: join(import.meta.dirname, '..'),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const { dir, pids } = await new Promise<{ dir: string; pids: number[] }>((resolve, reject) => {
      let out = '';
      harness.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('\n')) resolve(JSON.parse(out) as { dir: string; pids: number[] });
      });
      harness.once('exit', (code) => reject(new Error(`harness exited with ${code} before reporting`)));
    });
    expect(pids).toHaveLength(3);
    const alive = (pid: number): boolean => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    expect(pids.every(alive)).toBe(true);
    harness.kill('SIGKILL');
    try {
      await waitFor('the orphaned members to stop', () => (pids.some(alive) ? undefined : true), 30_000);
    } finally {
      for (const pid of pids.filter(alive)) process.kill(pid, 'SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
