import { afterEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { pino } from 'pino';
import { WebSocket } from 'ws';
import {
  DEFAULT_LIMITS,
  ErrorCode,
  PROTOCOL_VERSION,
  XID_NOTICE,
  decodeConnectReply,
  decodeServerFrame,
  encodeClientFrame,
  type ConnectRequest,
  type ConnectResponse,
  type DecodedRequest,
  type Limits,
  type SessionFrame,
} from '@arbor/protocol';
import type { ClientLink, ClientService } from '../../src/core/client-port.js';
import { startClientListener, type ClientListener, type ClientListenerOptions } from '../../src/io/client-listener.js';

const logger = pino({ level: 'silent' });
const WAIT_MS = 5_000;

/** Polls a condition (bounded); no fixed sleeps. */
async function until(cond: () => boolean, what: string, timeoutMs = WAIT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((tick) => setTimeout(tick, 5));
  }
}

/** A ClientService that records every call; accepts handshakes unless told otherwise. */
class FakeService implements ClientService {
  readonly connects: { link: ClientLink; request: ConnectRequest }[] = [];
  readonly requests: { link: ClientLink; request: DecodedRequest }[] = [];
  readonly disconnects: ClientLink[] = [];
  /** Requests seen and not answered yet (the test answers them). */
  readonly unanswered: { link: ClientLink; request: DecodedRequest }[] = [];
  maxUnanswered = 0;
  autoAccept = true;
  autoAnswer = true;

  onConnect(link: ClientLink, request: ConnectRequest): void {
    this.connects.push({ link, request });
    if (this.autoAccept) link.send(connectResponse());
  }
  onRequest(link: ClientLink, request: DecodedRequest): void {
    this.requests.push({ link, request });
    this.unanswered.push({ link, request });
    this.maxUnanswered = Math.max(this.maxUnanswered, this.unanswered.length);
    if (this.autoAnswer) this.answerOne();
  }
  onDisconnect(link: ClientLink): void {
    this.disconnects.push(link);
  }
  answerOne(): void {
    const next = this.unanswered.shift();
    if (next === undefined) return;
    next.link.send({ xid: next.request.xid, zxid: 7, err: ErrorCode.NONODE, message: 'no node' });
  }
}

function connectResponse(): ConnectResponse {
  return {
    protocolVersion: PROTOCOL_VERSION,
    timeoutMs: 10_000,
    sessionId: 42,
    password: new Uint8Array(16),
    memberId: 1,
    zxid: 0,
    readOnly: false,
    limits: { ...DEFAULT_LIMITS },
  };
}

function connectRequest(overrides: Partial<ConnectRequest> = {}): Uint8Array {
  return encodeClientFrame({
    protocolVersion: PROTOCOL_VERSION,
    sessionId: 0,
    password: null,
    timeoutMs: 10_000,
    lastZxid: 0,
    readOnly: false,
    auth: [],
    ...overrides,
  });
}

/** A getData request (op 4) with a valid path: the fake answers it NONODE. */
const getData = (xid: number): Uint8Array => encodeClientFrame({ xid, op: 4, args: { path: '/a' } });

/** A raw client: records binary frames and the close. */
class RawClient {
  readonly frames: Uint8Array[] = [];
  closed = false;
  closeCode = 0;
  readonly ws: WebSocket;
  private constructor(port: number) {
    this.ws = new WebSocket(`ws://127.0.0.1:${port}`);
    this.ws.binaryType = 'nodebuffer';
    this.ws.on('message', (data: Buffer) => this.frames.push(new Uint8Array(data)));
    this.ws.on('close', (code) => {
      this.closed = true;
      this.closeCode = code;
    });
    this.ws.on('error', () => undefined);
  }
  static async open(port: number): Promise<RawClient> {
    const c = new RawClient(port);
    await new Promise<void>((ok, fail) => {
      c.ws.once('open', () => ok());
      c.ws.once('error', fail);
    });
    return c;
  }
  send(bytes: Uint8Array | string): void {
    this.ws.send(bytes);
  }
  async frame(i: number): Promise<Uint8Array> {
    await until(() => this.frames.length > i, `frame ${i}`);
    return this.frames[i] as Uint8Array;
  }
  async session(i: number): Promise<SessionFrame> {
    const d = decodeServerFrame(await this.frame(i), { opOf: () => 'getData' });
    if (!d.ok) throw new Error(d.message);
    return d.value;
  }
  async waitClosed(): Promise<void> {
    await until(() => this.closed, 'the connection to close');
  }
}

let listener: ClientListener | null = null;
const clients: RawClient[] = [];

async function start(service: ClientService, options: Partial<ClientListenerOptions> = {}): Promise<ClientListener> {
  listener = await startClientListener({ service, port: 0, logger, ...options });
  return listener;
}
async function client(): Promise<RawClient> {
  const c = await RawClient.open(listener?.port ?? 0);
  clients.push(c);
  return c;
}
async function handshaken(): Promise<RawClient> {
  const c = await client();
  c.send(connectRequest());
  const reply = decodeConnectReply(await c.frame(0));
  expect(reply.ok && reply.value.kind).toBe('accepted');
  return c;
}

afterEach(async () => {
  for (const c of clients.splice(0)) c.ws.terminate();
  await listener?.close();
  listener = null;
});

describe('client listener: handshake', () => {
  it('delivers the connect request to onConnect and the reply to the client', async () => {
    const service = new FakeService();
    await start(service);
    const c = await client();
    c.send(connectRequest({ timeoutMs: 12_345, lastZxid: 9, auth: [{ scheme: 'digest', credentials: new Uint8Array([1, 2]) }] }));
    const reply = decodeConnectReply(await c.frame(0));
    expect(reply.ok).toBe(true);
    if (reply.ok && reply.value.kind === 'accepted') expect(reply.value.frame.sessionId).toBe(42);
    else throw new Error('expected an acceptance');
    expect(service.connects).toHaveLength(1);
    const req = service.connects[0]?.request;
    expect(req?.timeoutMs).toBe(12_345);
    expect(req?.lastZxid).toBe(9);
    expect(req?.auth[0]?.scheme).toBe('digest');
    expect(service.connects[0]?.link.remoteAddress).toContain('127.0.0.1');
  });

  it('refuses a malformed first frame and closes', async () => {
    const service = new FakeService();
    await start(service);
    const c = await client();
    c.send(new Uint8Array([0xc1, 0x00, 0x13]));
    const reply = decodeConnectReply(await c.frame(0));
    expect(reply.ok).toBe(true);
    if (!reply.ok || reply.value.kind !== 'refused') throw new Error('expected a refusal');
    expect(reply.value.frame.err).toBe(ErrorCode.MARSHALLINGERROR);
    await c.waitClosed();
    expect(service.connects).toHaveLength(0);
  });

  it('refuses a wrong protocol version with a message naming the versions', async () => {
    const service = new FakeService();
    await start(service);
    const c = await client();
    c.send(connectRequest({ protocolVersion: PROTOCOL_VERSION + 41 }));
    const reply = decodeConnectReply(await c.frame(0));
    if (!reply.ok || reply.value.kind !== 'refused') throw new Error('expected a refusal');
    expect(reply.value.frame.err).toBe(ErrorCode.BADARGUMENTS);
    expect(reply.value.frame.message).toMatch(/version/i);
    expect(reply.value.frame.message).toContain(String(PROTOCOL_VERSION + 41));
    await c.waitClosed();
    expect(service.connects).toHaveLength(0);
  });

  it('closes a connection that sends no connect request within the handshake timeout', async () => {
    const service = new FakeService();
    await start(service, { handshakeTimeoutMs: 100 });
    const c = await client();
    await c.waitClosed();
    const notice = await c.session(0);
    expect(notice.kind).toBe('notice');
    expect(service.connects).toHaveLength(0);
    expect(service.disconnects).toHaveLength(0);
  });

  it('refuses connections past connectionsMax with THROTTLED', async () => {
    const service = new FakeService();
    const l = await start(service, { connectionsMax: 2 });
    await handshaken();
    await handshaken();
    expect(l.connections()).toBe(2);
    const c = await client();
    const reply = decodeConnectReply(await c.frame(0));
    if (!reply.ok || reply.value.kind !== 'refused') throw new Error('expected a refusal');
    expect(reply.value.frame.err).toBe(ErrorCode.THROTTLED);
    await c.waitClosed();
    expect(l.connections()).toBe(2);
  });
});

describe('client listener: requests', () => {
  it('delivers requests in order', async () => {
    const service = new FakeService();
    await start(service);
    const c = await handshaken();
    for (let xid = 1; xid <= 50; xid++) c.send(getData(xid));
    await until(() => service.requests.length === 50, '50 requests');
    expect(service.requests.map((r) => r.request.xid)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(service.requests.every((r) => r.request.name === 'getData')).toBe(true);
    const last = await c.session(50);
    expect(last.kind === 'response' && last.frame.xid).toBe(50);
  });

  it('answers a bad request whose xid is readable with an error for that xid and keeps the connection', async () => {
    const service = new FakeService();
    await start(service, { currentZxid: () => 99 });
    const c = await handshaken();
    c.send(encodeClientFrame({ xid: 5, op: 4, args: { path: 'no-slash' } } as never));
    const answer = await c.session(1);
    if (answer.kind !== 'response') throw new Error('expected a response');
    expect(answer.frame.xid).toBe(5);
    expect(answer.frame.zxid).toBe(99);
    expect(answer.frame.err).not.toBe(ErrorCode.OK);
    expect(answer.frame.message).toBeTruthy();
    c.send(getData(6));
    const next = await c.session(2);
    expect(next.kind === 'response' && next.frame.xid).toBe(6);
    expect(c.closed).toBe(false);
    expect(service.requests.map((r) => r.request.xid)).toEqual([6]);
  });

  it('sends a closing notice and closes on an unreadable frame', async () => {
    const service = new FakeService();
    await start(service);
    const c = await handshaken();
    c.send(new Uint8Array([0xff, 0xff, 0xff]));
    const notice = await c.session(1);
    expect(notice.kind === 'notice' && notice.frame.notice).toBe('closing');
    await c.waitClosed();
    await until(() => service.disconnects.length === 1, 'onDisconnect');
  });

  it('closes on a text frame', async () => {
    const service = new FakeService();
    await start(service);
    const c = await handshaken();
    c.send('hello');
    const notice = await c.session(1);
    if (notice.kind !== 'notice' || notice.frame.notice !== 'closing') throw new Error('expected closing');
    expect(notice.frame.reason).toMatch(/binary/);
    await c.waitClosed();
  });

  it('back-pressure: the service never sees more than outstandingRequestsMax unanswered', async () => {
    const service = new FakeService();
    service.autoAnswer = false;
    const limits: Limits = { ...DEFAULT_LIMITS, outstandingRequestsMax: 2 };
    await start(service, { limits });
    const c = await handshaken();
    for (let xid = 1; xid <= 20; xid++) c.send(getData(xid));
    await until(() => service.requests.length === 2, 'two requests');
    // Let the other frames reach the member; none may be delivered while two are unanswered.
    await until(() => c.ws.bufferedAmount === 0, 'the client to flush');
    await new Promise((tick) => setImmediate(tick));
    expect(service.requests).toHaveLength(2);
    for (let answered = 0; answered < 20; answered++) {
      await until(() => service.unanswered.length > 0, 'a request to answer');
      expect(service.unanswered.length).toBeLessThanOrEqual(2);
      service.answerOne();
    }
    await until(() => c.frames.length === 21, 'all answers');
    expect(service.requests.map((r) => r.request.xid)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(service.maxUnanswered).toBeLessThanOrEqual(2);
  });

  it('error answers made by the listener do not free outstanding slots', async () => {
    const service = new FakeService();
    service.autoAnswer = false;
    await start(service, { limits: { ...DEFAULT_LIMITS, outstandingRequestsMax: 2 } });
    const c = await handshaken();
    c.send(getData(1));
    c.send(getData(2));
    await until(() => service.requests.length === 2, 'two requests');
    service.answerOne();
    c.send(encodeClientFrame({ xid: 3, op: 4, args: { path: 'bad' } } as never));
    c.send(getData(4));
    c.send(getData(5));
    await until(() => service.requests.length === 3, 'the third request');
    await until(() => c.frames.length === 3, 'the error answer');
    await until(() => c.ws.bufferedAmount === 0, 'the client to flush');
    expect(service.requests.map((r) => r.request.xid)).toEqual([1, 2, 4]);
    expect(service.maxUnanswered).toBe(2);
  });

  it('calls onDisconnect when the client closes', async () => {
    const service = new FakeService();
    const l = await start(service);
    const c = await handshaken();
    c.ws.close();
    await until(() => service.disconnects.length === 1, 'onDisconnect');
    expect(service.disconnects[0]).toBe(service.connects[0]?.link);
    expect(l.connections()).toBe(0);
  });

  it('close() sends each connection a closing notice', async () => {
    const service = new FakeService();
    const l = await start(service);
    const a = await handshaken();
    const b = await handshaken();
    await l.close('going away');
    listener = null;
    for (const c of [a, b]) {
      await c.waitClosed();
      const notice = await c.session(1);
      expect(notice.kind === 'notice' && notice.frame.notice === 'closing' && notice.frame.reason).toBe('going away');
    }
  });

  it('never throws out for random bytes, before or after the handshake', async () => {
    const service = new FakeService();
    const l = await start(service);
    await fc.assert(
      fc.asyncProperty(fc.boolean(), fc.array(fc.uint8Array({ maxLength: 64 }), { minLength: 1, maxLength: 4 }), async (hs, frames) => {
        const c = hs ? await handshaken() : await client();
        for (const f of frames) c.send(f);
        c.send(getData(1));
        // Either the member answered something for the last frame or it closed the connection.
        await until(() => c.closed || c.frames.length > (hs ? 1 : 0), 'a reaction');
        c.ws.terminate();
      }),
      { numRuns: 60 },
    );
    const c = await handshaken();
    c.send(getData(7));
    const answer = await c.session(1);
    expect(answer.kind === 'response' && answer.frame.xid).toBe(7);
    expect(l.port).toBeGreaterThan(0);
  });

  it('a service that throws closes that connection only', async () => {
    const service = new FakeService();
    service.onRequest = () => {
      throw new Error('boom');
    };
    await start(service);
    const c = await handshaken();
    c.send(getData(1));
    const notice = await c.session(1);
    expect(notice.kind === 'notice' && notice.frame.notice).toBe('closing');
    await c.waitClosed();
    expect(XID_NOTICE).toBe(-3);
  });
});
