import { DEFAULT_LIMITS, ErrorCode, Ops, PROTOCOL_VERSION } from '@arbor/protocol';
import type { ConnectResponse, Limits, NoticeFrame, ResponseFrame, SetWatchesArgs, WatchEventFrame } from '@arbor/protocol';
import type { Clock } from './clock.js';
import type { Member } from './connect-string.js';
import { clientErrors, errorFor } from './errors.js';
import type { ErrorContext } from './errors.js';
import type { ClientLogger } from './logger.js';
import { RequestPipeline } from './requests.js';
import type { CallOptions, PendingRequest, RequestSpec } from './requests.js';
import { ConnectionMachine, isConnectedState, isFinalState } from './state-machine.js';
import type { ConnectionState, MachineCommand } from './state-machine.js';
import type { Transport, TransportFactory } from './transport.js';
import { WireError, decodeHandshake, decodeServerFrame, encodeConnectRequest, encodePing, encodeRequest } from './wire.js';

/** Settings of a session, resolved from the client options. */
export interface SessionConfig {
  members: Member[];
  transport: TransportFactory;
  clock: Clock;
  random: () => number;
  logger: ClientLogger;
  sessionTimeoutMs: number;
  connectTimeoutMs: number;
  connectAttemptTimeoutMs: number;
  requestTimeoutMs: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  auth: { scheme: string; credentials: Uint8Array }[];
}

/** What the session needs from the layer above (watch bookkeeping lives there, with the chroot). */
export interface SessionHooks {
  onState(state: ConnectionState, previous: ConnectionState, reason: string): void;
  onWatchEvent(frame: WatchEventFrame): void;
  onResync(path: string, zxid: number): void;
  /** The setWatches requests that re-register every watch after a reconnect; [] when there are none. */
  setWatchesRequests(lastZxid: number): SetWatchesArgs[];
  /** The session reached a final state; `error` builds the error each remaining call and watch ends with. */
  onEnd(state: ConnectionState, error: (label: ErrorContext) => Error): void;
}

const XID_MAX = 2 ** 31 - 1;

interface Link {
  generation: number;
  transport: Transport;
  member: number;
  /** The handshake answer has arrived and was accepted. */
  established: boolean;
}

/**
 * One session and the connections that carry it: drives the {@link ConnectionMachine} with
 * transport events and the clock, executes its commands, pipelines requests (xids increasing,
 * answers matched in order), resends writes with their requestId after a reconnect, and
 * re-registers watches first thing on every resumed connection.
 */
export class Session {
  readonly machine: ConnectionMachine;
  private readonly pipeline: RequestPipeline;
  private link: Link | null = null;
  private generation = 0;
  private pumping = false;
  private wake: { atMs: number; handle: unknown } | null = null;
  private xidNext = 1;
  private requestIdNext = 1;
  private closing: Promise<void> | null = null;
  private userClosed = false;

  /** 0 until the first handshake. */
  sessionId = 0;
  password: Uint8Array | null = null;
  negotiatedTimeoutMs = 0;
  limits: Limits = { ...DEFAULT_LIMITS };
  /** Highest zxid seen in an answer or event (never from a handshake: see onAccepted). */
  lastZxid = 0;
  memberId: number | undefined;

  constructor(
    private readonly config: SessionConfig,
    private readonly hooks: SessionHooks,
  ) {
    this.machine = new ConnectionMachine({
      memberCount: config.members.length,
      connectTimeoutMs: config.connectTimeoutMs,
      attemptTimeoutMs: config.connectAttemptTimeoutMs,
      backoffBaseMs: config.backoffBaseMs,
      backoffMaxMs: config.backoffMaxMs,
      random: config.random,
      memberNames: config.members.map(({ host, port }) => `${host.includes(':') ? `[${host}]` : host}:${port}`),
    });
    this.pipeline = new RequestPipeline(config.clock, config.requestTimeoutMs, () => isConnectedState(this.machine.state));
  }

  get state(): ConnectionState {
    return this.machine.state;
  }

  /** False once closing started or the session ended: calls must fail without a round trip. */
  get acceptsCalls(): boolean {
    return this.closing === null && !isFinalState(this.machine.state);
  }

  /** Whether close() was called (as opposed to the session ending on its own). */
  get closedByUser(): boolean {
    return this.userClosed;
  }

  start(): void {
    this.machine.start(this.config.clock.now());
    this.pump();
  }

  /**
   * Submits a request. The caller has checked {@link acceptsCalls}. Resolves with what
   * `spec.complete` returns.
   */
  call<T>(spec: RequestSpec<T>, options: CallOptions = {}, front = false): Promise<T> {
    const pending = this.pipeline.submit(spec, options, front);
    this.flush();
    return pending.promise;
  }

  /**
   * A requestId no other call of this session will use, for a caller that must send one write
   * in several calls (see {@link RequestSpec.requestId}).
   */
  reserveRequestId(): number {
    return this.requestIdNext++;
  }

  /** Remembers credentials for every later handshake (auth is per connection). */
  rememberAuth(scheme: string, credentials: Uint8Array): void {
    if (!this.config.auth.some((a) => a.scheme === scheme && equalBytes(a.credentials, credentials))) {
      this.config.auth.push({ scheme, credentials });
    }
  }

  /**
   * Closes the session: when connected, asks the member to close it (the requests before it are
   * answered first, as the member answers in order), bounded by `timeoutMs`; then ends locally.
   */
  close(timeoutMs: number): Promise<void> {
    if (this.closing !== null) return this.closing;
    this.userClosed = true;
    this.closing = (async () => {
      if (isConnectedState(this.machine.state)) {
        const closeSession: RequestSpec<void> = {
          op: 'closeSession',
          args: {},
          label: { op: 'close' },
          retryOnLoss: false,
          // In frame order, before the member's close of the transport can be seen as a drop.
          complete: () => this.machine.close(this.config.clock.now()),
        };
        await this.call(closeSession, { timeoutMs }).catch((error: unknown) => {
          this.config.logger.debug({ err: String(error) }, 'closeSession not acknowledged');
        });
      }
      this.machine.close(this.config.clock.now());
      this.pump();
    })();
    return this.closing;
  }

  // ---- the machine's commands ------------------------------------------------------------

  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (let commands = this.machine.takeCommands(); commands.length > 0; commands = this.machine.takeCommands()) {
        for (const command of commands) this.execute(command);
      }
    } finally {
      this.pumping = false;
    }
    this.scheduleWake();
  }

  private execute(command: MachineCommand): void {
    switch (command.type) {
      case 'open':
        this.open(command.member);
        break;
      case 'drop':
        this.config.logger.debug({ reason: command.reason, member: this.link?.member }, 'dropping connection');
        // On the way to a final state, calls in flight get the final error (failAll), not CONNECTIONLOSS.
        this.detach(true, !isFinalState(this.machine.state));
        break;
      case 'ping':
        this.link?.transport.send(encodePing());
        break;
      case 'state':
        this.onState(command.state, command.previous, command.reason);
        break;
    }
  }

  private onState(state: ConnectionState, previous: ConnectionState, reason: string): void {
    this.config.logger.info({ state, previous, reason, sessionId: this.sessionId }, 'connection state');
    if (state === 'reconnected') this.sendSetWatches();
    if (isConnectedState(state)) this.flush();
    if (isFinalState(state)) this.end(state, reason);
    this.hooks.onState(state, previous, reason);
  }

  private end(state: ConnectionState, reason: string): void {
    if (this.wake !== null) this.config.clock.clearTimeout(this.wake.handle);
    this.wake = null;
    const error = this.endError(state, reason);
    this.pipeline.failAll(error);
    this.hooks.onEnd(state, error);
  }

  private endError(state: ConnectionState, reason: string): (label: ErrorContext) => Error {
    if (state === 'lost') return (label) => clientErrors.sessionExpired(label, `the session is lost: ${reason}`);
    if (state === 'authFailed') return (label) => clientErrors.authFailed(label, reason);
    if (this.userClosed) return (label) => clientErrors.closed(label);
    return (label) => clientErrors.connectionLoss(label, reason);
  }

  private scheduleWake(): void {
    const atMs = this.machine.nextWakeMs();
    if (this.wake !== null && this.wake.atMs === atMs) return;
    if (this.wake !== null) this.config.clock.clearTimeout(this.wake.handle);
    this.wake = null;
    if (atMs === undefined) return;
    const delayMs = Math.max(0, atMs - this.config.clock.now());
    const handle = this.config.clock.setTimeout(() => {
      this.wake = null;
      this.machine.tick(this.config.clock.now());
      this.pump();
    }, delayMs);
    this.wake = { atMs, handle };
  }

  // ---- transports --------------------------------------------------------------------------

  private open(memberIndex: number): void {
    const generation = ++this.generation;
    const member = this.config.members[memberIndex] as Member;
    const current = (): boolean => this.link !== null && this.link.generation === generation;
    try {
      const transport = this.config.transport(member, {
        onOpen: () => {
          if (current()) this.sendHandshake();
        },
        onMessage: (frame) => {
          if (!current()) return;
          this.onFrame(frame);
          this.pump();
        },
        onClose: (reason) => {
          if (!current()) return;
          this.detach(false);
          // While closing, a dropped connection ends the session locally rather than suspending it.
          if (this.closing !== null) this.machine.close(this.config.clock.now());
          else this.machine.transportClosed(this.config.clock.now(), reason);
          this.pump();
        },
      });
      this.link = { generation, transport, member: memberIndex, established: false };
    } catch (error) {
      this.link = null;
      this.machine.transportClosed(this.config.clock.now(), `cannot connect to ${member.host}:${member.port}: ${(error as Error).message}`);
    }
  }

  /** Forgets the current transport (closing it when asked); its in-flight requests are resent or fail (unless `settleInFlight` is false). */
  private detach(close: boolean, settleInFlight = true): void {
    const link = this.link;
    if (link === null) return;
    this.link = null;
    if (close) link.transport.close();
    if (settleInFlight) this.pipeline.detach();
  }

  private sendHandshake(): void {
    this.link?.transport.send(
      encodeConnectRequest({
        protocolVersion: PROTOCOL_VERSION,
        sessionId: this.sessionId,
        password: this.password,
        timeoutMs: this.config.sessionTimeoutMs,
        lastZxid: this.lastZxid,
        readOnly: false,
        auth: this.config.auth,
      }),
    );
  }

  private onFrame(bytes: Uint8Array): void {
    const link = this.link as Link;
    const nowMs = this.config.clock.now();
    this.machine.frameReceived(nowMs);
    try {
      if (!link.established) {
        const reply = decodeHandshake(bytes);
        if (reply.kind === 'accepted') this.onAccepted(reply.frame);
        else this.onRefused(reply.frame.err, reply.frame.message);
        return;
      }
      const frame = decodeServerFrame(bytes);
      switch (frame.kind) {
        case 'response':
          this.onResponse(frame.frame);
          break;
        case 'ping':
          this.seeZxid(frame.zxid);
          this.machine.pingAnswered(nowMs, frame.sessionRemainingMs);
          break;
        case 'watch':
          this.seeZxid(frame.frame.zxid);
          this.hooks.onWatchEvent(frame.frame);
          break;
        case 'notice':
          this.onNotice(frame.frame);
          break;
        case 'unknownNotice':
          this.config.logger.warn({ notice: frame.notice }, 'unknown notice ignored');
          break;
      }
    } catch (error) {
      if (!(error instanceof WireError)) throw error;
      this.config.logger.warn({ err: error.message, member: link.member }, 'protocol error');
      this.machine.abandon(nowMs, `protocol error: ${error.message}`);
    }
  }

  private onAccepted(frame: ConnectResponse): void {
    const nowMs = this.config.clock.now();
    if (frame.protocolVersion !== PROTOCOL_VERSION) {
      this.machine.abandon(nowMs, `member speaks protocol ${frame.protocolVersion}, not ${PROTOCOL_VERSION}`);
      return;
    }
    if (this.sessionId !== 0 && frame.sessionId !== this.sessionId) {
      // A member grants a new session only when the old one is gone (ZooKeeper's rule).
      this.machine.sessionExpired(nowMs, `member granted session ${frame.sessionId} instead of resuming ${this.sessionId}`);
      return;
    }
    if (frame.timeoutMs <= 0) {
      this.machine.sessionExpired(nowMs, 'member answered with a zero session timeout');
      return;
    }
    (this.link as Link).established = true;
    this.sessionId = frame.sessionId;
    this.password = frame.password;
    this.negotiatedTimeoutMs = frame.timeoutMs;
    this.limits = { ...DEFAULT_LIMITS, ...frame.limits };
    this.memberId = frame.memberId;
    // frame.zxid is the member's applied zxid, not something this client has seen: taking it as
    // lastZxid would make setWatches skip the changes between our last event and now.
    this.machine.handshakeSucceeded(nowMs, frame.timeoutMs);
  }

  private onRefused(code: ErrorCode, message: string): void {
    const nowMs = this.config.clock.now();
    if (code === ErrorCode.SESSIONEXPIRED) this.machine.sessionExpired(nowMs, message || 'the session expired');
    else if (code === ErrorCode.AUTHFAILED) this.machine.authFailed(nowMs, message || 'authentication failed');
    else this.machine.abandon(nowMs, `member refused the connection: ${errorFor(code as Exclude<ErrorCode, 0>, message).message}`);
  }

  private onResponse(frame: ResponseFrame): void {
    this.seeZxid(frame.zxid);
    const problem = this.pipeline.answer(frame);
    const nowMs = this.config.clock.now();
    if (problem !== undefined) {
      this.config.logger.warn({ problem }, 'protocol error');
      this.machine.abandon(nowMs, `protocol error: ${problem}`);
      return;
    }
    if (frame.err === ErrorCode.SESSIONEXPIRED) this.machine.sessionExpired(nowMs, frame.message ?? 'the session expired');
    else if (frame.err === ErrorCode.AUTHFAILED) this.machine.authFailed(nowMs, frame.message ?? 'authentication failed');
    else this.flush();
  }

  private onNotice(frame: NoticeFrame): void {
    const nowMs = this.config.clock.now();
    switch (frame.notice) {
      case 'closing':
        this.machine.abandon(nowMs, `member closing: ${frame.reason}`);
        break;
      case 'sessionExpired':
        this.machine.sessionExpired(nowMs, 'the ensemble expired the session');
        break;
      case 'watchResync':
        this.hooks.onResync(frame.path, frame.zxid);
        break;
    }
  }

  private seeZxid(zxid: number): void {
    if (zxid > this.lastZxid) this.lastZxid = zxid;
  }

  // ---- sending -----------------------------------------------------------------------------

  /** Queues, ahead of everything else, the setWatches requests that re-register all watches. */
  private sendSetWatches(): void {
    const requests = this.hooks.setWatchesRequests(this.lastZxid);
    // Front of the queue in reverse, so they go out in order and before resent writes.
    for (const args of [...requests].reverse()) {
      const spec: RequestSpec<void> = {
        op: 'setWatches',
        args,
        label: { op: 'setWatches' },
        retryOnLoss: false,
        complete: (frame) => {
          if (frame.err !== 0) this.config.logger.warn({ err: frame.err, message: frame.message }, 'setWatches refused');
        },
      };
      this.pipeline.submit(spec, { timeoutMs: Infinity }, true).promise.catch(() => {});
    }
  }

  /** Sends queued requests while connected and under the member's outstanding-request limit. */
  private flush(): void {
    const link = this.link;
    if (link === null || !link.established || !isConnectedState(this.machine.state)) return;
    while (this.pipeline.inFlightCount < this.limits.outstandingRequestsMax) {
      const pending = this.pipeline.nextQueued();
      if (pending === undefined) break;
      if (pending.abandoned) continue;
      this.send(link, pending);
      if (this.link !== link) break;
    }
  }

  private send(link: Link, pending: PendingRequest): void {
    const { spec } = pending;
    const descriptor = Ops[spec.op];
    if (descriptor.writes && pending.requestId === undefined) pending.requestId = this.requestIdNext++;
    const xid = this.xidNext;
    this.xidNext = this.xidNext >= XID_MAX ? 1 : this.xidNext + 1;
    let bytes: Uint8Array;
    try {
      bytes = encodeRequest({
        xid,
        op: descriptor.code,
        args: spec.args as never,
        ...(pending.requestId !== undefined ? { requestId: pending.requestId } : {}),
      });
    } catch (error) {
      this.pipeline.failUnsent(pending, clientErrors.marshalling(spec.label, `cannot encode the request: ${(error as Error).message}`));
      return;
    }
    if (bytes.byteLength > this.limits.frameBytesMax) {
      this.pipeline.failUnsent(
        pending,
        clientErrors.badArguments(
          spec.label,
          `the request is ${bytes.byteLength} bytes; the member's frame limit is ${this.limits.frameBytesMax}`,
        ),
      );
      return;
    }
    this.pipeline.markSent(pending, xid);
    link.transport.send(bytes);
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((v, i) => v === b[i]);
}
