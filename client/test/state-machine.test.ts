import { describe, expect, it } from 'vitest';
import { ConnectionMachine, STABLE_CONNECTION_MS, isConnectedState, isFinalState } from '../src/state-machine.js';
import type { ConnectionMachineConfig, MachineCommand } from '../src/state-machine.js';
import { inOrder, seededRandom } from './helpers/harness.js';

const T = 9000; // negotiated session timeout in these tests

function machine(overrides: Partial<ConnectionMachineConfig> = {}): ConnectionMachine {
  return new ConnectionMachine({
    memberCount: 3,
    connectTimeoutMs: 15_000,
    attemptTimeoutMs: 3000,
    backoffBaseMs: 100,
    backoffMaxMs: 2000,
    random: inOrder,
    ...overrides,
  });
}

/** A readable trace of commands: 'open 0', 'drop', 'ping', 'state connected'. */
function trace(commands: MachineCommand[]): string[] {
  return commands.map((c) => (c.type === 'open' ? `open ${c.member}` : c.type === 'state' ? `state ${c.state}` : c.type));
}

/** A machine that is connected to member 0 at time 0. */
function connectedMachine(overrides: Partial<ConnectionMachineConfig> = {}): ConnectionMachine {
  const m = machine(overrides);
  m.start(0);
  m.handshakeSucceeded(0, T);
  m.takeCommands();
  return m;
}

describe('ConnectionMachine', () => {
  it('starts by opening the first member of the shuffled order', () => {
    const m = machine();
    expect(m.state).toBe('connecting');
    m.start(0);
    expect(trace(m.takeCommands())).toEqual(['open 0']);
    expect(m.member).toBe(0);
  });

  it('shuffles members with the injected random source, deterministically', () => {
    const a = machine({ memberCount: 5, random: seededRandom(7) }).memberOrder;
    const b = machine({ memberCount: 5, random: seededRandom(7) }).memberOrder;
    expect(a).toEqual(b);
    expect([...a].sort()).toEqual([0, 1, 2, 3, 4]);
    const orders = new Set(
      Array.from({ length: 20 }, (_, seed) => machine({ memberCount: 5, random: seededRandom(seed) }).memberOrder.join()),
    );
    expect(orders.size).toBeGreaterThan(5);
  });

  it('connecting → connected on a handshake', () => {
    const m = machine();
    m.start(0);
    m.takeCommands();
    m.handshakeSucceeded(40, T);
    expect(trace(m.takeCommands())).toEqual(['state connected']);
    expect(m.state).toBe('connected');
    expect(m.sessionDeadlineMs).toBe(T); // attempt start (0) + T: conservative
  });

  it('a failed attempt moves to the next member after a bounded, growing back-off', () => {
    const m = machine({ connectTimeoutMs: Infinity });
    m.start(0);
    m.takeCommands();
    const opens: [number, number][] = [];
    let now = 0;
    for (let i = 0; i < 8; i++) {
      m.transportClosed(now, 'refused');
      expect(m.takeCommands()).toEqual([]);
      const wake = m.nextWakeMs() as number;
      now = wake;
      m.tick(now);
      const cmds = m.takeCommands();
      expect(cmds).toHaveLength(1);
      opens.push([now, (cmds[0] as { member: number }).member]);
    }
    expect(opens.map(([, member]) => member)).toEqual([1, 2, 0, 1, 2, 0, 1, 2]);
    const gaps = opens.map(([t], i) => t - (i === 0 ? 0 : (opens[i - 1] as [number, number])[0]));
    // Doubling from ~100 ms, capped at 2000 ms (inOrder gives jitter factor ~1).
    expect(gaps.slice(0, 6).map((g) => Math.round(g / 10) * 10)).toEqual([100, 200, 400, 800, 1600, 2000]);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(2000);
  });

  it('jitter keeps each back-off within [half, full] of its nominal value', () => {
    for (let seed = 0; seed < 20; seed++) {
      const m = machine({ random: seededRandom(seed), connectTimeoutMs: Infinity });
      m.start(0);
      m.takeCommands();
      m.transportClosed(0, 'refused');
      m.transportClosed(0, 'again'); // ignored: no attempt is under way
      const wake = m.nextWakeMs() as number;
      expect(wake).toBeGreaterThanOrEqual(50);
      expect(wake).toBeLessThan(100);
    }
  });

  it('a handshake that takes too long is abandoned for the next member', () => {
    const m = machine();
    m.start(0);
    m.takeCommands();
    expect(m.nextWakeMs()).toBe(3000);
    m.tick(3000);
    expect(trace(m.takeCommands())).toEqual(['drop']);
    m.tick(m.nextWakeMs() as number);
    expect(trace(m.takeCommands())).toEqual(['open 1']);
  });

  it('the first connection gives up after connectTimeoutMs: closed', () => {
    const m = machine({ connectTimeoutMs: 1000 });
    m.start(0);
    m.takeCommands();
    m.transportClosed(10, 'refused');
    m.tick(1000);
    const cmds = m.takeCommands();
    expect(trace(cmds)).toEqual(['state closed']);
    expect((cmds[0] as { reason: string }).reason).toMatch(/could not connect within 1000 ms: refused/);
    expect(m.nextWakeMs()).toBeUndefined();
  });

  it('connected → suspended on a drop, with an immediate attempt at the next member', () => {
    const m = connectedMachine();
    m.transportClosed(100, 'reset');
    expect(trace(m.takeCommands())).toEqual(['state suspended', 'open 1']);
  });

  it('suspended → reconnected when the session is resumed, and again after a second drop', () => {
    const m = connectedMachine();
    m.transportClosed(100, 'reset');
    m.takeCommands();
    m.handshakeSucceeded(150, T);
    expect(trace(m.takeCommands())).toEqual(['state reconnected']);
    expect(isConnectedState(m.state)).toBe(true);
    // The resumed connection lasts long enough to count as stable: the next attempt is immediate too.
    const later = 150 + STABLE_CONNECTION_MS;
    m.transportClosed(later, 'reset');
    m.handshakeSucceeded(later + 50, T);
    expect(trace(m.takeCommands())).toEqual(['state suspended', 'open 2', 'state reconnected']);
  });

  it('backs off after connections in a row that drop right after their handshake, until one lasts', () => {
    const m = connectedMachine(); // up since 0
    const waits: number[] = [];
    let now = 0;
    // Member 0 drops the session 10 ms after each handshake, five times.
    for (let i = 0; i < 5; i++) {
      now += 10;
      m.transportClosed(now, 'reset');
      const wake = m.nextWakeMs() as number;
      const opened = trace(m.takeCommands()).includes(`open ${(i + 1) % 3}`);
      waits.push(opened ? 0 : wake - now);
      if (!opened) {
        now = wake;
        m.tick(now);
        expect(trace(m.takeCommands())).toEqual([`open ${(i + 1) % 3}`]);
      }
      m.handshakeSucceeded(now, T);
      m.takeCommands();
    }
    // The first short connection reconnects at once; then 100·2^(n-1) ms with jitter (×0.99 here).
    expect(waits).toEqual([0, 99, 199, 399, 799]);
    // A connection that lasts resets the count: its drop is followed by an immediate attempt.
    now += STABLE_CONNECTION_MS;
    m.transportClosed(now, 'reset');
    expect(trace(m.takeCommands())).toEqual(['state suspended', 'open 0']);
  });

  it('pings every T/3 while up', () => {
    const m = connectedMachine();
    expect(m.nextWakeMs()).toBe(T / 3);
    m.tick(T / 3);
    expect(trace(m.takeCommands())).toEqual(['ping']);
    m.pingAnswered(T / 3 + 5, T);
    m.tick((2 * T) / 3);
    expect(trace(m.takeCommands())).toEqual(['ping']);
  });

  it('a member silent for 2T/3 is abandoned for another', () => {
    const m = connectedMachine();
    m.tick(T / 3);
    m.takeCommands(); // ping
    m.pingAnswered(1000, T); // answered: the deadline is T/3 + T
    m.tick(1000 + (2 * T) / 3 - 1);
    expect(trace(m.takeCommands())).toEqual(['ping']);
    m.tick(1000 + (2 * T) / 3);
    expect(trace(m.takeCommands())).toEqual(['drop', 'state suspended', 'open 1']);
  });

  it('a member that answers requests but leaves a ping unanswered is abandoned T/4 before the deadline', () => {
    const m = connectedMachine();
    m.tick(T / 3);
    expect(trace(m.takeCommands())).toEqual(['ping']); // never answered
    // Other frames keep arriving, so the member never looks silent...
    for (let t = T / 3 + 500; t < T - T / 4; t += 500) {
      m.frameReceived(t);
      m.tick(t);
    }
    expect(trace(m.takeCommands())).toEqual(['ping']);
    expect(m.nextWakeMs()).toBe(T - T / 4);
    // ...but it cannot confirm the session: the client moves on while there is time to reconnect.
    m.tick(T - T / 4);
    expect(trace(m.takeCommands())).toEqual(['drop', 'state suspended', 'open 1']);
    expect(m.state).toBe('suspended');
  });

  it('ping replies move the local session deadline to send time + sessionRemainingMs', () => {
    const m = connectedMachine();
    m.tick(3000);
    m.takeCommands();
    m.pingAnswered(3100, 8000);
    expect(m.sessionDeadlineMs).toBe(11_000);
    // A smaller remaining time (the leader has not heard from us) moves it earlier.
    m.tick(6000);
    m.takeCommands();
    m.pingAnswered(6050, 2000);
    expect(m.sessionDeadlineMs).toBe(8000);
    // An unsolicited reply changes nothing.
    m.pingAnswered(6060, 100);
    expect(m.sessionDeadlineMs).toBe(8000);
  });

  it('the local deadline passing while disconnected: lost, even with no member reachable', () => {
    const m = connectedMachine({ connectTimeoutMs: 1000 });
    m.tick(3000);
    m.takeCommands();
    m.pingAnswered(3010, T); // deadline 3000 + 9000
    m.transportClosed(4000, 'partition');
    m.takeCommands();
    let now = 4000;
    // Every member refuses; the machine keeps trying (connectTimeoutMs only bounds the first session).
    for (let i = 0; i < 100 && m.state !== 'lost'; i++) {
      if (m.member !== undefined) m.transportClosed(now, 'refused');
      now = m.nextWakeMs() as number;
      m.tick(now);
    }
    expect(m.state).toBe('lost');
    expect(now).toBe(12_000);
    const cmds = m.takeCommands();
    expect(cmds.at(-1)).toMatchObject({ type: 'state', state: 'lost', previous: 'suspended' });
    expect((cmds.at(-1) as { reason: string }).reason).toMatch(/local session deadline/);
  });

  it('the local deadline passing while a silent member holds the connection: lost', () => {
    const m = connectedMachine();
    // The member keeps sending frames (say, events) but pings report little time left.
    m.tick(3000);
    m.takeCommands();
    m.pingAnswered(3001, 500);
    m.frameReceived(3400);
    m.tick(3500);
    expect(trace(m.takeCommands())).toEqual(['drop', 'state lost']);
  });

  it('expiry reported by the ensemble: lost (final)', () => {
    const m = connectedMachine();
    m.sessionExpired(10, 'notice');
    expect(trace(m.takeCommands())).toEqual(['drop', 'state lost']);
    expect(isFinalState(m.state)).toBe(true);
    m.transportClosed(20, 'late close');
    m.handshakeSucceeded(30, T);
    m.tick(100_000);
    expect(m.takeCommands()).toEqual([]);
    expect(m.state).toBe('lost');
  });

  it('expiry while suspended (resume refused): lost without a drop', () => {
    const m = connectedMachine();
    m.transportClosed(10, 'reset');
    m.takeCommands();
    m.sessionExpired(20, 'refused');
    expect(trace(m.takeCommands())).toEqual(['drop', 'state lost']);
  });

  it('auth failure: authFailed (final)', () => {
    const m = machine();
    m.start(0);
    m.takeCommands();
    m.authFailed(5, 'bad scheme');
    expect(trace(m.takeCommands())).toEqual(['drop', 'state authFailed']);
    expect(isFinalState(m.state)).toBe(true);
  });

  it('close from any live state: closed (final)', () => {
    for (const setup of [
      (m: ConnectionMachine) => m.start(0),
      (m: ConnectionMachine) => (m.start(0), m.handshakeSucceeded(0, T)),
      (m: ConnectionMachine) => (m.start(0), m.handshakeSucceeded(0, T), m.transportClosed(1, 'x'), m.transportClosed(1, 'y')),
    ]) {
      const m = machine();
      setup(m);
      m.takeCommands();
      m.close(10);
      const cmds = trace(m.takeCommands());
      expect(cmds.at(-1)).toBe('state closed');
      m.close(20);
      expect(m.takeCommands()).toEqual([]);
    }
  });

  it('abandon (protocol error) while up behaves as a drop; while waiting it is a no-op', () => {
    const m = connectedMachine();
    m.abandon(10, 'bad frame');
    expect(trace(m.takeCommands())).toEqual(['drop', 'state suspended', 'open 1']);
    m.transportClosed(11, 'refused');
    m.takeCommands();
    m.abandon(12, 'nothing to abandon');
    expect(m.takeCommands()).toEqual([]);
  });
});
