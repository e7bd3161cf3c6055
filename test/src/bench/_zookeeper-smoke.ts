// A by-hand check of the ZooKeeper side of the comparison, not run by CI or by `npm run bench`
// (the leading underscore): `node test/dist/bench/_zookeeper-smoke.js` starts the Debian
// package's ensemble, walks every BenchSession call once, kills the leader and shows a
// sessionOnAll session moving and writing again, then stops. Needs `apt-get install zookeeper`.
import { JuteClient } from './workload/jute.js';
import { startZooKeeper } from './workload/zookeeper-system.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

async function timed<T>(label: string, action: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const value = await action();
  console.log(`${label.padEnd(44)} ${(performance.now() - t0).toFixed(1).padStart(8)} ms  ${JSON.stringify(value) ?? ''}`);
  return value;
}

function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)));
  return Promise.race([promise, bound]).finally(() => clearTimeout(timer));
}

async function main(): Promise<void> {
  const system = await timed('start 3-member ensemble', () => startZooKeeper());
  try {
    console.log(`members: ${system.members.join(' ')}`);
    const leader = await timed('leader()', () => system.leader());
    const follower = (leader + 1) % system.members.length;
    const s = await timed(`session(${follower}) (a follower)`, () => system.session(follower));
    await timed('create /smoke', () => s.create('/smoke', encoder.encode('v1')));
    await timed('getData /smoke', async () => decoder.decode(await s.getData('/smoke')));
    const watch = await timed('existsWatch /smoke', async () => {
      const w = await s.existsWatch('/smoke');
      return { exists: w.exists, changed: w.changed };
    });
    await timed('setData /smoke, watch fires', async () => {
      await s.setData('/smoke', encoder.encode('v2'));
      await within(5_000, 'watch', watch.changed);
      return 'fired';
    });
    await timed('getData /smoke', async () => decoder.decode(await s.getData('/smoke')));
    const missing = await timed('existsWatch /smoke/later (missing)', () => s.existsWatch('/smoke/later'));
    await timed('create /smoke/later, watch fires', async () => {
      await s.create('/smoke/later', new Uint8Array(0));
      await within(5_000, 'watch', missing.changed);
      return 'fired';
    });
    await timed('create ephemeralSequential /smoke/e-', () => s.create('/smoke/e-', new Uint8Array(0), 'ephemeralSequential'));
    await timed('create ephemeralSequential /smoke/e-', () => s.create('/smoke/e-', new Uint8Array(0), 'ephemeralSequential'));
    await timed('getChildren /smoke', async () => (await s.getChildren('/smoke')).sort());
    await timed('sync /smoke', () => s.sync('/smoke'));
    await timed('create /smoke again (expect NODEEXISTS)', () =>
      s.create('/smoke', new Uint8Array(0)).then(
        () => 'created?!',
        (e: Error & { code?: number }) => `rejected ${e.code}`,
      ),
    );
    await timed('512 pipelined creates', async () => {
      await s.create('/smoke/p', new Uint8Array(0));
      const paths = await Promise.all(Array.from({ length: 512 }, (_, i) => s.create(`/smoke/p/n${i}`, new Uint8Array(100))));
      return `${paths.length} created`;
    });
    await timed('delete /smoke/later', () => s.delete('/smoke/later'));
    await timed('getData /smoke/later (expect NONODE)', () =>
      s.getData('/smoke/later').then(
        () => 'found?!',
        (e: Error & { code?: number }) => `rejected ${e.code}`,
      ),
    );
    await timed('memberRssBytes (MiB)', async () => (await system.memberRssBytes()).map((b) => Math.round(b / 2 ** 20)));

    const mover = await timed('sessionOnAll()', () => system.sessionOnAll());
    await timed('sessionOnAll create /smoke/mover', () => mover.create('/smoke/mover', encoder.encode('0')));
    const moverWatch = await mover.existsWatch('/smoke/mover');
    // sessionOnAll does not say where it is; the same client, started on the leader, does.
    const ordered = [system.members[leader]!, ...system.members.filter((_, i) => i !== leader)];
    const onLeader = await JuteClient.connect({ addresses: ordered, sessionTimeoutMs: 10_000 });
    console.log(`client of all members, leader first: session 0x${onLeader.id.toString(16)} on ${onLeader.address}`);
    const killedAt = performance.now();
    await timed(`kill(${leader}) (the leader)`, () => system.kill(leader));
    let attempts = 0;
    await timed('sessionOnAll setData until it succeeds', async () => {
      const deadline = Date.now() + 30_000;
      for (;;) {
        attempts++;
        try {
          await mover.setData('/smoke/mover', encoder.encode('1'));
          return `after ${attempts} attempts, ${(performance.now() - killedAt).toFixed(0)} ms from the kill`;
        } catch (error) {
          if (Date.now() > deadline) throw error;
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    });
    await timed('client that was on the leader: setData', async () => {
      await onLeader.setData('/smoke/mover', encoder.encode('2'));
      return { session: `0x${onLeader.id.toString(16)}`, movedTo: onLeader.address };
    });
    await onLeader.close();
    await timed('watch set before the kill fires', async () => {
      await within(5_000, 'watch', moverWatch.changed);
      return 'fired';
    });
    await timed('new leader()', () => system.leader());
    await timed('sessionOnAll getData /smoke/mover', async () => decoder.decode(await mover.getData('/smoke/mover')));
    await timed('memberRssBytes (MiB)', async () => (await system.memberRssBytes()).map((b) => Math.round(b / 2 ** 20)));
    await timed('session close (ephemerals go)', async () => {
      await s.close();
      return (await mover.getChildren('/smoke')).filter((c) => c.startsWith('e-')).length + ' ephemerals left';
    });
    await mover.close();
  } finally {
    await timed('stop()', () => system.stop());
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
