import { backoffDelayMs } from './retry.js';

/**
 * The states a client is in, as Curator names them (STYLE.md 11: one state machine drives
 * every recipe).
 * - `connecting`: no session yet; trying members.
 * - `connected`: the session was created and a member holds it.
 * - `suspended`: the connection dropped; the session may still be alive. Recipes pause.
 * - `reconnected`: the same session was resumed on a member. Recipes resume.
 * - `lost`: the session expired, or this client's local deadline passed. Final.
 * - `closed`: closed by its owner, or the first connection could not be made. Final.
 * - `authFailed`: credentials were refused. Final.
 */
export type ConnectionState = 'connecting' | 'connected' | 'suspended' | 'reconnected' | 'lost' | 'closed' | 'authFailed';

/** Whether no further transition can happen. */
export function isFinalState(state: ConnectionState): boolean {
  return state === 'lost' || state === 'closed' || state === 'authFailed';
}

/** Whether requests can be answered now (connected or reconnected). */
export function isConnectedState(state: ConnectionState): boolean {
  return state === 'connected' || state === 'reconnected';
}

/** What the host must do. Commands are produced in order and executed in order. */
export type MachineCommand =
  /** Open a transport to member `member` (an index into the member list) and send the handshake. */
  | { type: 'open'; member: number }
  /** Close the current transport and ignore anything it still reports. */
  | { type: 'drop'; reason: string }
  /** Send a ping. */
  | { type: 'ping' }
  /** Announce a transition. */
  | { type: 'state'; state: ConnectionState; previous: ConnectionState; reason: string };

export interface ConnectionMachineConfig {
  /** Number of members; attempts walk a shuffled order of 0..memberCount-1. */
  memberCount: number;
  /** Bound on the first connection; `closed` when it passes. Infinity to keep trying. */
  connectTimeoutMs: number;
  /** Bound on one handshake, from opening the transport to the member's answer. */
  attemptTimeoutMs: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** Uniform [0, 1): member order and back-off jitter. */
  random: () => number;
  /** How state-change reasons name member i (its address); default `member i`. */
  memberNames?: readonly string[];
}

type Link =
  | { kind: 'idle' }
  | { kind: 'waiting'; untilMs: number }
  | { kind: 'handshaking'; member: number; startedMs: number; deadlineMs: number }
  | { kind: 'up'; member: number; sinceMs: number; lastHeardMs: number; nextPingMs: number; pingsSentMs: number[] };

/**
 * A connection that drops sooner than this after its handshake counts as a short one. After
 * the first of a run of short connections the next attempt waits, with the same back-off as a
 * failed handshake: a member that accepts the session and then drops it at once (a request it
 * cannot take, a member restarting in a loop) must not turn reconnecting into a spin.
 */
export const STABLE_CONNECTION_MS = 1000;

/**
 * The connection and session life cycle as a pure, synchronous state machine: inputs carry the
 * time (monotonic ms); outputs are {@link MachineCommand}s and the next time it must be ticked.
 * No timers, sockets or randomness of its own, so every transition is unit-tested directly.
 *
 * Timing rules, with T the negotiated session timeout:
 * - a ping every T/3 while up; a member silent for 2T/3 is abandoned for the next one, and so is
 *   one that leaves a ping unanswered until T/4 before the session deadline (it answers other
 *   requests but cannot confirm the session, like a follower cut off from its leader);
 * - the session deadline is local and monotonic: at a handshake, the attempt's start + T; at each
 *   ping reply, the ping's send time + the `sessionRemainingMs` it reports. Both bounds are
 *   earlier than the leader's own expiry, so when the deadline passes — connected or not,
 *   even cut off from every member — the session is declared `lost` before the ensemble can
 *   expire it and hand its ephemerals and locks to someone else;
 * - failed attempts move to the next member after an exponential back-off with jitter; the
 *   first attempt after a drop is immediate (and to another member), unless the connection that
 *   dropped, and the one before it, each lasted less than STABLE_CONNECTION_MS: then the
 *   attempt backs off as after a failed one.
 */
export class ConnectionMachine {
  private current: ConnectionState = 'connecting';
  private link: Link = { kind: 'idle' };
  private readonly order: number[];
  private cursor = 0;
  private failures = 0;
  /** Connections in a row that dropped within STABLE_CONNECTION_MS of their handshake. */
  private shortConnections = 0;
  private started = false;
  private connectDeadlineMs = Infinity;
  private session: { timeoutMs: number; deadlineMs: number } | null = null;
  private lastFailure = 'no attempt yet';
  private commands: MachineCommand[] = [];

  constructor(private readonly config: ConnectionMachineConfig) {
    if (!(config.memberCount >= 1)) throw new Error('ConnectionMachine needs at least one member');
    this.order = shuffled(config.memberCount, config.random);
  }

  get state(): ConnectionState {
    return this.current;
  }

  /** The member the current transport goes to, if any. */
  get member(): number | undefined {
    return this.link.kind === 'handshaking' || this.link.kind === 'up' ? this.link.member : undefined;
  }

  /** The local session deadline (monotonic ms), once a session exists. */
  get sessionDeadlineMs(): number | undefined {
    return this.session?.deadlineMs;
  }

  /** The members in the order attempts walk them (a shuffle of 0..n-1). */
  get memberOrder(): readonly number[] {
    return this.order;
  }

  /** Commands produced since the last call, in order. */
  takeCommands(): MachineCommand[] {
    const out = this.commands;
    this.commands = [];
    return out;
  }

  /** When {@link tick} must next be called, or undefined when nothing is pending. */
  nextWakeMs(): number | undefined {
    if (isFinalState(this.current) || !this.started) return undefined;
    let wake = this.session === null ? this.connectDeadlineMs : this.session.deadlineMs;
    const link = this.link;
    if (link.kind === 'waiting') wake = Math.min(wake, link.untilMs);
    else if (link.kind === 'handshaking') wake = Math.min(wake, link.deadlineMs);
    else if (link.kind === 'up') {
      wake = Math.min(wake, link.nextPingMs, link.lastHeardMs + this.silenceMs());
      if (link.pingsSentMs.length > 0 && this.session !== null) wake = Math.min(wake, this.session.deadlineMs - this.reserveMs());
    }
    return Number.isFinite(wake) ? wake : undefined;
  }

  /** Begins connecting to the first member of the shuffled order. */
  start(nowMs: number): void {
    if (this.started) return;
    this.started = true;
    this.connectDeadlineMs = nowMs + this.config.connectTimeoutMs;
    this.startAttempt(nowMs);
  }

  /** The member granted (or resumed) the session, with negotiated timeout `timeoutMs`. */
  handshakeSucceeded(nowMs: number, timeoutMs: number): void {
    const link = this.link;
    if (isFinalState(this.current) || link.kind !== 'handshaking') return;
    this.failures = 0;
    this.session = { timeoutMs, deadlineMs: link.startedMs + timeoutMs };
    this.link = { kind: 'up', member: link.member, sinceMs: nowMs, lastHeardMs: nowMs, nextPingMs: nowMs + timeoutMs / 3, pingsSentMs: [] };
    this.transition(this.current === 'connecting' ? 'connected' : 'reconnected', `session held by ${this.name(link.member)}`);
  }

  /** The current transport closed (or failed to open) on its own. */
  transportClosed(nowMs: number, reason: string): void {
    if (isFinalState(this.current)) return;
    if (this.link.kind === 'handshaking') this.attemptFailed(nowMs, reason);
    else if (this.link.kind === 'up') this.connectionLost(nowMs, reason);
  }

  /**
   * The host gives up on the current transport (a protocol error, a refused handshake, a member
   * that announced it is closing): drop it and move on as if it had closed.
   */
  abandon(nowMs: number, reason: string): void {
    if (isFinalState(this.current) || this.link.kind === 'idle' || this.link.kind === 'waiting') return;
    this.emit({ type: 'drop', reason });
    this.transportClosed(nowMs, reason);
  }

  /** Any frame arrived from the member: it is alive. */
  frameReceived(nowMs: number): void {
    if (this.link.kind === 'up') this.link.lastHeardMs = nowMs;
  }

  /** A ping reply: the oldest outstanding ping was answered with the session's remaining time. */
  pingAnswered(nowMs: number, sessionRemainingMs: number): void {
    if (this.link.kind !== 'up' || this.session === null) return;
    this.link.lastHeardMs = nowMs;
    const sentMs = this.link.pingsSentMs.shift();
    if (sentMs === undefined) return;
    this.session.deadlineMs = sentMs + Math.max(0, sessionRemainingMs);
    this.tick(nowMs);
  }

  /** The ensemble says the session is gone (refused resume, notice, or SESSIONEXPIRED answer). */
  sessionExpired(nowMs: number, reason: string): void {
    void nowMs;
    this.finish('lost', reason);
  }

  /** Credentials were refused. */
  authFailed(nowMs: number, reason: string): void {
    void nowMs;
    this.finish('authFailed', reason);
  }

  /** Closed by the owner. */
  close(nowMs: number, reason = 'closed by the application'): void {
    void nowMs;
    this.finish('closed', reason);
  }

  /** Time passed: fire whatever is due (deadlines, back-off, pings, silence). */
  tick(nowMs: number): void {
    if (isFinalState(this.current) || !this.started) return;
    if (this.session === null && nowMs >= this.connectDeadlineMs) {
      this.finish('closed', `could not connect within ${this.config.connectTimeoutMs} ms: ${this.lastFailure}`);
      return;
    }
    if (this.session !== null && nowMs >= this.session.deadlineMs) {
      this.finish(
        'lost',
        `local session deadline passed (${this.current === 'suspended' ? 'no member reachable' : 'no fresh ping reply'})`,
      );
      return;
    }
    const link = this.link;
    if (link.kind === 'waiting' && nowMs >= link.untilMs) {
      this.startAttempt(nowMs);
    } else if (link.kind === 'handshaking' && nowMs >= link.deadlineMs) {
      this.abandon(nowMs, `${this.name(link.member)} did not answer the handshake within ${this.config.attemptTimeoutMs} ms`);
    } else if (link.kind === 'up' && this.session !== null) {
      if (nowMs >= link.lastHeardMs + this.silenceMs()) {
        this.abandon(nowMs, `${this.name(link.member)} silent for ${Math.round(nowMs - link.lastHeardMs)} ms`);
      } else if (link.pingsSentMs.length > 0 && nowMs >= this.session.deadlineMs - this.reserveMs()) {
        // The member answers requests but not pings: it cannot vouch for the session (a follower
        // cut off from the leader). Other frames keep it from looking silent, so without this
        // the deadline would pass here instead of the session moving to a member that can.
        this.abandon(nowMs, `${this.name(link.member)} has not confirmed the session for ${Math.round(nowMs - link.pingsSentMs[0]!)} ms`);
      } else if (nowMs >= link.nextPingMs) {
        link.pingsSentMs.push(nowMs);
        link.nextPingMs = nowMs + this.session.timeoutMs / 3;
        this.emit({ type: 'ping' });
      }
    }
  }

  private name(member: number): string {
    return this.config.memberNames?.[member] ?? `member ${member}`;
  }

  /** Time kept in hand before the session deadline to reconnect elsewhere. */
  private reserveMs(): number {
    return (this.session?.timeoutMs ?? 0) / 4;
  }

  private silenceMs(): number {
    return ((this.session?.timeoutMs ?? 0) * 2) / 3;
  }

  private startAttempt(nowMs: number): void {
    const member = this.order[this.cursor % this.order.length] as number;
    this.link = { kind: 'handshaking', member, startedMs: nowMs, deadlineMs: nowMs + this.config.attemptTimeoutMs };
    this.emit({ type: 'open', member });
  }

  private attemptFailed(nowMs: number, reason: string): void {
    this.lastFailure = reason;
    this.failures++;
    this.cursor++;
    const delayMs = backoffDelayMs(this.failures, this.config.backoffBaseMs, this.config.backoffMaxMs, this.config.random);
    this.link = { kind: 'waiting', untilMs: nowMs + delayMs };
    this.tick(nowMs);
  }

  private connectionLost(nowMs: number, reason: string): void {
    const sinceMs = this.link.kind === 'up' ? this.link.sinceMs : nowMs;
    this.shortConnections = nowMs - sinceMs < STABLE_CONNECTION_MS ? this.shortConnections + 1 : 0;
    this.lastFailure = reason;
    this.failures = 0;
    this.cursor++;
    const { backoffBaseMs, backoffMaxMs, random } = this.config;
    this.link = { kind: 'waiting', untilMs: nowMs + backoffDelayMs(this.shortConnections - 1, backoffBaseMs, backoffMaxMs, random) };
    this.transition('suspended', reason);
    this.tick(nowMs);
  }

  private finish(state: 'lost' | 'closed' | 'authFailed', reason: string): void {
    if (isFinalState(this.current)) return;
    if (this.link.kind === 'handshaking' || this.link.kind === 'up') this.emit({ type: 'drop', reason });
    this.link = { kind: 'idle' };
    this.transition(state, reason);
  }

  private transition(state: ConnectionState, reason: string): void {
    const previous = this.current;
    this.current = state;
    this.emit({ type: 'state', state, previous, reason });
  }

  private emit(command: MachineCommand): void {
    this.commands.push(command);
  }
}

/** Fisher–Yates shuffle of 0..n-1 with the injected source. */
function shuffled(n: number, random: () => number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j] as number, order[i] as number];
  }
  return order;
}
