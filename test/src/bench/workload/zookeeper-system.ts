// The ZooKeeper side of the comparison: a 3-member ensemble of the Debian package's ZooKeeper 3.8
// on loopback, each member a `java ... QuorumPeerMain zoo.cfg` child process in a fresh temporary
// directory, with the same durability as Arbor (forceSync: fsync before acknowledging).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect as connectTcp } from 'node:net';
import { freePorts } from '@arbor/testing';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JuteClient } from './jute.js';
import type { BenchSession, BenchSystem } from './system.js';

const PACKAGE_DIR = '/usr/share/zookeeper';
const PACKAGE_ENV = '/usr/share/zookeeper/bin/zkEnv.sh';
const SERVER_JAR = '/usr/share/java/zookeeper.jar';
/**
 * zookeeper.jar's manifest brings slf4j-api but no binding; the package's own configuration is a
 * log4j 1.2 properties file, so the log4j binding (both jars are dependencies of the package).
 */
const LOGGING_JARS = ['/usr/share/java/slf4j-log4j12.jar', '/usr/share/java/log4j-1.2.jar'];
const JAVA = '/usr/bin/java';
const MAIN_CLASS = 'org.apache.zookeeper.server.quorum.QuorumPeerMain';
const MEMBERS = 3;

export interface ZooKeeperSystemOptions {
  /** Session timeout each BenchSession asks for. */
  sessionTimeoutMs?: number;
  /** ZooKeeper's tick; sync and init limits are counted in it. */
  tickTimeMs?: number;
  heapMb?: number;
  /** Bound on the ensemble coming up with a leader and two followers. */
  startTimeoutMs?: number;
}

interface Member {
  index: number;
  clientPort: number;
  process: ChildProcess;
  exited: Promise<void>;
  alive: boolean;
  logFile: string;
}

/** The classpath the package's own scripts use, minus their config dir, plus a log binding. */
function packageClasspath(): string[] {
  if (!existsSync(PACKAGE_DIR) || !existsSync(SERVER_JAR))
    throw new Error(`ZooKeeper is not installed (no ${PACKAGE_DIR} or ${SERVER_JAR}): apt-get install zookeeper`);
  if (!existsSync(JAVA)) throw new Error(`no ${JAVA} (the zookeeper package depends on default-jre): apt-get install zookeeper`);
  const env = existsSync(PACKAGE_ENV) ? readFileSync(PACKAGE_ENV, 'utf8') : '';
  const declared = /^CLASSPATH="([^"]*)"/m.exec(env)?.[1]?.split(':') ?? [SERVER_JAR];
  const jars = [...declared.filter((entry) => entry.endsWith('.jar')), ...LOGGING_JARS];
  const missing = jars.filter((jar) => !existsSync(jar));
  if (missing.length > 0) throw new Error(`ZooKeeper package incomplete (missing ${missing.join(', ')}): apt-get install zookeeper`);
  return jars;
}

/** The `srvr` four-letter word: the member's mode, or null if it does not answer (yet). */
export function srvrMode(port: number, timeoutMs = 1_000): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = connectTcp({ host: '127.0.0.1', port });
    let text = '';
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.once('connect', () => socket.write('srvr'));
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
    socket.on('error', () => {});
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(/^Mode: (\w+)/m.exec(text)?.[1] ?? null);
    });
  });
}

function zooCfg(options: { tickTimeMs: number; dataDir: string; clientPort: number; peers: string[] }): string {
  return [
    `tickTime=${options.tickTimeMs}`,
    // 10 s for a follower's first sync, 1 s of silence before a follower gives up on its leader
    // (Arbor's default election timeout is 500 ms).
    `initLimit=${Math.ceil(10_000 / options.tickTimeMs)}`,
    `syncLimit=${Math.ceil(1_000 / options.tickTimeMs)}`,
    `dataDir=${options.dataDir}`,
    `clientPort=${options.clientPort}`,
    'clientPortAddress=127.0.0.1',
    // The default caps a session timeout at 20 ticks (4 s here); the benchmark asks for 10 s.
    'maxSessionTimeout=60000',
    // The default of 60 connections per client address is below what a workload opens from loopback.
    'maxClientCnxns=0',
    '4lw.commands.whitelist=srvr,mntr',
    'admin.enableServer=false',
    'forceSync=yes',
    ...options.peers,
    '',
  ].join('\n');
}

const LOG4J_PROPERTIES = [
  'log4j.rootLogger=WARN, FILE',
  'log4j.appender.FILE=org.apache.log4j.FileAppender',
  'log4j.appender.FILE.File=${zookeeper.log.file}',
  'log4j.appender.FILE.layout=org.apache.log4j.PatternLayout',
  'log4j.appender.FILE.layout.ConversionPattern=%d{ISO8601} %-5p [%t:%C{1}@%L] %m%n',
  '',
].join('\n');

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | null>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== null) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`ZooKeeper: ${what} not within ${timeoutMs} ms`);
}

export async function startZooKeeper(options: ZooKeeperSystemOptions = {}): Promise<BenchSystem> {
  const classpath = packageClasspath();
  const sessionTimeoutMs = options.sessionTimeoutMs ?? 10_000;
  const tickTimeMs = options.tickTimeMs ?? 200;
  const startTimeoutMs = options.startTimeoutMs ?? 60_000;
  const dir = await mkdtemp(join(tmpdir(), 'arbor-bench-zookeeper-'));
  const members: Member[] = [];
  const sessions = new Set<JuteClient>();
  // A benchmark that dies midway must not leave three JVMs behind.
  const killAllNow = (): void => {
    for (const m of members) if (m.alive) m.process.kill('SIGKILL');
  };
  process.once('exit', killAllNow);

  const stop = async (): Promise<void> => {
    for (const session of sessions) session.destroy();
    sessions.clear();
    for (const m of members) if (m.alive) m.process.kill('SIGTERM');
    const bound = setTimeout(killAllNow, 5_000);
    await Promise.all(members.map((m) => m.exited));
    clearTimeout(bound);
    process.removeListener('exit', killAllNow);
    await rm(dir, { recursive: true, force: true });
  };

  try {
    const ports = await freePorts(MEMBERS * 3);
    const clientPorts = ports.slice(0, MEMBERS);
    const peers = Array.from(
      { length: MEMBERS },
      (_, i) => `server.${i + 1}=127.0.0.1:${ports[MEMBERS + 2 * i]}:${ports[MEMBERS + 2 * i + 1]}`,
    );
    const log4jFile = join(dir, 'log4j.properties');
    await writeFile(log4jFile, LOG4J_PROPERTIES);
    for (let i = 0; i < MEMBERS; i++) {
      const memberDir = join(dir, `member-${i + 1}`);
      const dataDir = join(memberDir, 'data');
      await mkdir(dataDir, { recursive: true });
      await writeFile(join(dataDir, 'myid'), `${i + 1}\n`);
      const cfg = join(memberDir, 'zoo.cfg');
      await writeFile(cfg, zooCfg({ tickTimeMs, dataDir, clientPort: clientPorts[i]!, peers }));
      const logFile = join(memberDir, 'zookeeper.log');
      const out = openSync(join(memberDir, 'stdout.log'), 'a');
      const child = spawn(
        JAVA,
        [
          `-Xmx${options.heapMb ?? 1024}m`,
          `-Dlog4j.configuration=file:${log4jFile}`,
          `-Dzookeeper.log.file=${logFile}`,
          '-Dzookeeper.jmx.log4j.disable=true',
          '-cp',
          classpath.join(':'),
          MAIN_CLASS,
          cfg,
        ],
        { stdio: ['ignore', out, out] },
      );
      closeSync(out);
      const member: Member = { index: i, clientPort: clientPorts[i]!, process: child, alive: true, logFile, exited: Promise.resolve() };
      member.exited = new Promise((resolve) => {
        child.once('exit', () => {
          member.alive = false;
          resolve();
        });
        child.once('error', () => {
          member.alive = false;
          resolve();
        });
      });
      members.push(member);
    }

    await waitFor('a leader and two followers', startTimeoutMs, async () => {
      const dead = members.find((m) => !m.alive);
      if (dead !== undefined) {
        const log = await readFile(dead.logFile, 'utf8').catch(() => '');
        throw new Error(`ZooKeeper member ${dead.index + 1} exited during start: ${log.slice(-2_000)}`);
      }
      const modes = await Promise.all(members.map((m) => srvrMode(m.clientPort)));
      const leaders = modes.filter((m) => m === 'leader').length;
      const followers = modes.filter((m) => m === 'follower').length;
      return leaders === 1 && followers === MEMBERS - 1 ? modes : null;
    });
  } catch (error) {
    await stop();
    throw error;
  }

  const addresses = members.map((m) => `127.0.0.1:${m.clientPort}`);
  // Successive sessionOnAll sessions start on successive members, as ZooKeeper's own client
  // spreads sessions by shuffling its connect string.
  let nextStart = 0;
  const open = async (ordered: string[]): Promise<BenchSession> => {
    const client = await JuteClient.connect({ addresses: ordered, sessionTimeoutMs });
    sessions.add(client);
    return {
      create: (path, data, mode) => client.create(path, data, mode),
      setData: (path, data) => client.setData(path, data),
      getData: (path) => client.getData(path),
      delete: (path) => client.delete(path),
      getChildren: (path) => client.getChildren(path),
      sync: (path) => client.sync(path),
      existsWatch: (path) => client.existsWatch(path),
      close: async () => {
        sessions.delete(client);
        await client.close();
      },
    };
  };

  return {
    name: 'zookeeper',
    members: addresses,
    session: (member) => {
      const address = addresses[member];
      if (address === undefined) return Promise.reject(new Error(`no member ${member}`));
      return open([address]);
    },
    sessionOnAll: () => {
      const start = nextStart++ % addresses.length;
      return open([...addresses.slice(start), ...addresses.slice(0, start)]);
    },
    leader: () =>
      waitFor('a leader among the live members', 30_000, async () => {
        const modes = await Promise.all(members.map((m) => (m.alive ? srvrMode(m.clientPort) : null)));
        const index = modes.indexOf('leader');
        return index >= 0 ? index : null;
      }),
    kill: async (member) => {
      const m = members[member];
      if (m === undefined) throw new Error(`no member ${member}`);
      if (m.alive) m.process.kill('SIGKILL');
      await m.exited;
    },
    memberRssBytes: () =>
      Promise.all(
        members.map(async (m) => {
          if (!m.alive || m.process.pid === undefined) return 0;
          const status = await readFile(`/proc/${m.process.pid}/status`, 'utf8').catch(() => '');
          return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) * 1024;
        }),
      ),
    stop,
  };
}
