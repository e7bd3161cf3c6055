import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type Server, type Socket } from 'node:net';
import {
  ERR,
  FrameDecoder,
  JuteClient,
  JuteReader,
  JuteWriter,
  OP,
  ZooKeeperError,
  decodeConnectResponse,
  decodeReplyHeader,
  encodeConnectRequest,
  encodeCreateBody,
  encodeRequest,
} from '../src/bench/workload/jute.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('jute codec', () => {
  it('round-trips every type', () => {
    const bytes = new JuteWriter()
      .int(0)
      .int(-1)
      .int(0x7fffffff)
      .int(-0x80000000)
      .long(0n)
      .long(-2n)
      .long(0x7fffffffffffffffn)
      .long(1234567890123)
      .bool(true)
      .bool(false)
      .buffer(new Uint8Array([1, 2, 255]))
      .buffer(new Uint8Array(0))
      .buffer(null)
      .string('/znode/é✓')
      .string('')
      .string(null)
      .vector(['a', 'bc'], (w, s) => w.string(s))
      .vector([], (w, s: string) => w.string(s))
      .vector(null, (w, s: string) => w.string(s))
      .toBuffer();
    const r = new JuteReader(bytes);
    expect([r.int(), r.int(), r.int(), r.int()]).toEqual([0, -1, 0x7fffffff, -0x80000000]);
    expect([r.long(), r.long(), r.long(), r.long()]).toEqual([0n, -2n, 0x7fffffffffffffffn, 1234567890123n]);
    expect([r.bool(), r.bool()]).toEqual([true, false]);
    expect([...r.buffer()!]).toEqual([1, 2, 255]);
    expect(r.buffer()!.length).toBe(0);
    expect(r.buffer()).toBeNull();
    expect([r.string(), r.string(), r.string()]).toEqual(['/znode/é✓', '', null]);
    expect(r.vector((v) => v.string())).toEqual(['a', 'bc']);
    expect(r.vector((v) => v.string())).toEqual([]);
    expect(r.vector((v) => v.string())).toBeNull();
    expect(r.remaining).toBe(0);
  });

  it('writes the big-endian layout jute specifies', () => {
    const bytes = new JuteWriter().int(258).long(1).bool(true).string('ab').toBuffer();
    expect(hex(bytes)).toBe('00000102' + '0000000000000001' + '01' + '00000002' + '6162');
  });

  it('grows its buffer past the initial size', () => {
    const big = new Uint8Array(10_000).fill(7);
    const r = new JuteReader(new JuteWriter().int(5).buffer(big).int(6).toBuffer());
    expect(r.int()).toBe(5);
    expect(r.buffer()!.equals(Buffer.from(big))).toBe(true);
    expect(r.int()).toBe(6);
  });

  it('rejects truncated input and impossible lengths with a ZooKeeperError', () => {
    expect(() => new JuteReader(Buffer.from([0, 0, 1])).int()).toThrow(ZooKeeperError);
    expect(() => new JuteReader(Buffer.from([0, 0, 0, 5, 1, 2])).string()).toThrow(/truncated/);
    expect(() => new JuteReader(Buffer.from([0xff, 0xff, 0xff, 0xfe])).buffer()).toThrow(/truncated/);
    expect(() => new JuteReader(Buffer.from([0x7f, 0, 0, 0])).vector((v) => v.int())).toThrow(/vector length/);
  });

  it('lays out a ConnectRequest frame byte for byte', () => {
    const frame = encodeConnectRequest({
      lastZxidSeen: 0x0102030405060708n,
      timeoutMs: 10_000,
      sessionId: 0x1122334455667788n,
      password: new Uint8Array(16).fill(0xaa),
    });
    expect(hex(frame)).toBe(
      '0000002d' + // frame length 45
        '00000000' + // protocolVersion
        '0102030405060708' + // lastZxidSeen
        '00002710' + // timeOut 10000
        '1122334455667788' + // sessionId
        '00000010' +
        'aa'.repeat(16) + // passwd
        '00', // readOnly false
    );
  });

  it('lays out a create request frame byte for byte', () => {
    const frame = encodeRequest(7, OP.create, encodeCreateBody('/a', new Uint8Array([1, 2]), 3));
    expect(hex(frame)).toBe(
      '00000033' + // frame length 51
        '00000007' + // xid
        '00000001' + // op create
        '00000002' +
        '2f61' + // path "/a"
        '00000002' +
        '0102' + // data
        '00000001' + // one ACL
        '0000001f' + // perms ALL
        '00000005' +
        Buffer.from('world').toString('hex') +
        '00000006' +
        Buffer.from('anyone').toString('hex') +
        '00000003', // flags ephemeral sequential
    );
  });

  it('lays out a sync request frame byte for byte', () => {
    const frame = encodeRequest(9, OP.sync, (w) => w.string('/a'));
    expect(hex(frame)).toBe(
      '0000000e' + // frame length 14
        '00000009' + // xid
        '00000009' + // op sync
        '00000002' +
        '2f61', // path "/a"
    );
  });

  it('decodes a ConnectResponse with and without the trailing readOnly byte', () => {
    const body = new JuteWriter()
      .int(0)
      .int(4000)
      .long(0x42n)
      .buffer(new Uint8Array([9, 9]));
    for (const bytes of [body.toBuffer(), Buffer.concat([body.toBuffer(), Buffer.from([0])])]) {
      const response = decodeConnectResponse(bytes);
      expect(response.timeoutMs).toBe(4000);
      expect(response.sessionId).toBe(0x42n);
      expect([...response.password]).toEqual([9, 9]);
    }
  });
});

describe('FrameDecoder', () => {
  const frames = [Buffer.from('hello'), Buffer.alloc(0), Buffer.from([0, 1, 2, 3, 4, 5, 6, 7, 8])];
  const stream = Buffer.concat(
    frames.map((f) => {
      const length = Buffer.alloc(4);
      length.writeInt32BE(f.length);
      return Buffer.concat([length, f]);
    }),
  );

  it('yields the same frames wherever the stream is split', () => {
    for (let a = 0; a <= stream.length; a++) {
      for (let b = a; b <= stream.length; b++) {
        const decoder = new FrameDecoder();
        const out = [stream.subarray(0, a), stream.subarray(a, b), stream.subarray(b)].flatMap((chunk) => decoder.push(chunk));
        expect(out.map(hex)).toEqual(frames.map(hex));
      }
    }
  });

  it('yields the same frames fed one byte at a time', () => {
    const decoder = new FrameDecoder();
    const out = [...stream].flatMap((byte) => decoder.push(Buffer.from([byte])));
    expect(out.map(hex)).toEqual(frames.map(hex));
  });

  it('rejects a negative or oversized length', () => {
    expect(() => new FrameDecoder().push(Buffer.from([0xff, 0xff, 0xff, 0xff]))).toThrow(/out of range/);
    expect(() => new FrameDecoder(100).push(Buffer.from([0, 0, 0, 101]))).toThrow(/out of range/);
  });
});

/** A ZooKeeper stand-in on loopback whose answers each test scripts. */
interface FakeMember {
  address: string;
  server: Server;
  sockets: Socket[];
  connects: Array<{ sessionId: bigint; password: string; lastZxidSeen: bigint }>;
  requests: Array<{ xid: number; op: number; body: JuteReader }>;
}

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await new Promise((r) => server.close(r));
});

function reply(xid: number, zxid: bigint, err: number, body?: (w: JuteWriter) => void): Buffer {
  const w = new JuteWriter().int(xid).long(zxid).int(err);
  body?.(w);
  return w.frame();
}

/**
 * Answers the handshake with session `sessionId`, then hands each request to `onRequest`;
 * pings are answered here. Writes go out one byte at a time so the client sees split frames.
 */
async function fakeMember(
  sessionId: bigint,
  onRequest: (req: { xid: number; op: number; body: JuteReader }, send: (frame: Buffer) => void, socket: Socket) => void,
): Promise<FakeMember> {
  const member: Omit<FakeMember, 'address' | 'server'> = { sockets: [], connects: [], requests: [] };
  const server = createServer((socket) => {
    member.sockets.push(socket);
    socket.on('error', () => {});
    const decoder = new FrameDecoder();
    let handshaken = false;
    const send = (frame: Buffer): void => {
      for (const byte of frame) socket.write(Buffer.from([byte]));
    };
    socket.on('data', (chunk: Buffer) => {
      for (const frame of decoder.push(chunk)) {
        const r = new JuteReader(frame);
        if (!handshaken) {
          handshaken = true;
          r.int();
          const lastZxidSeen = r.long();
          r.int();
          member.connects.push({ lastZxidSeen, sessionId: r.long(), password: hex(r.buffer()!) });
          send(new JuteWriter().int(0).int(3000).long(sessionId).buffer(Buffer.from('secret')).bool(false).frame());
          continue;
        }
        const xid = r.int();
        const op = r.int();
        if (op === OP.ping) send(reply(-2, 0n, 0));
        else {
          member.requests.push({ xid, op, body: r });
          onRequest({ xid, op, body: r }, send, socket);
        }
      }
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return Object.assign(member, { server, address: `127.0.0.1:${port}` });
}

describe('JuteClient against a scripted member', () => {
  it('pipelines calls and matches the in-order replies, errors carrying the ZooKeeper code', async () => {
    const member = await fakeMember(0x77n, ({ xid, op, body }, send) => {
      const path = op === OP.closeSession ? '' : body.string()!;
      if (op === OP.create) send(reply(xid, 10n + BigInt(xid), 0, (w) => w.string(`${path}0000000001`)));
      else if (op === OP.getData && path === '/missing') send(reply(xid, 0n, ERR.NONODE));
      else if (op === OP.getData) send(reply(xid, 0n, 0, (w) => w.buffer(Buffer.from(path))));
      else if (op === OP.getChildren) send(reply(xid, 0n, 0, (w) => w.vector(['x', 'y'], (v, s) => v.string(s))));
      else if (op === OP.closeSession) send(reply(xid, 0n, 0));
    });
    const client = await JuteClient.connect({ addresses: [member.address], sessionTimeoutMs: 3000 });
    expect(client.id).toBe(0x77n);
    expect(member.connects[0]).toEqual({ sessionId: 0n, password: '00'.repeat(16), lastZxidSeen: 0n });
    const results = await Promise.allSettled([
      client.create('/q-', new Uint8Array([1]), 'ephemeralSequential'),
      client.getData('/d'),
      client.getData('/missing'),
      client.getChildren('/'),
    ]);
    expect(results[0]).toEqual({ status: 'fulfilled', value: '/q-0000000001' });
    expect(results[1]).toMatchObject({ status: 'fulfilled' });
    expect(Buffer.from((results[1] as PromiseFulfilledResult<Uint8Array>).value).toString()).toBe('/d');
    expect(results[2]).toMatchObject({ status: 'rejected', reason: { code: ERR.NONODE } });
    expect(results[3]).toEqual({ status: 'fulfilled', value: ['x', 'y'] });
    expect(member.requests.map((r) => r.op)).toEqual([OP.create, OP.getData, OP.getData, OP.getChildren]);
    expect(member.requests.map((r) => r.xid)).toEqual([1, 2, 3, 4]);
    await client.close();
    expect(member.requests.at(-1)?.op).toBe(OP.closeSession);
  });

  it('resolves an existsWatch at the watch event for its path, and reports a missing node', async () => {
    let send: ((frame: Buffer) => void) | undefined;
    const member = await fakeMember(1n, ({ xid, op, body }, s) => {
      send = s;
      const path = body.string()!;
      expect(body.bool()).toBe(op === OP.exists);
      if (op === OP.exists && path === '/absent') s(reply(xid, 0n, ERR.NONODE));
      else if (op === OP.exists) s(reply(xid, 0n, 0, (w) => w.toBuffer()));
    });
    const client = await JuteClient.connect({ addresses: [member.address], sessionTimeoutMs: 3000 });
    const present = await client.existsWatch('/here');
    const absent = await client.existsWatch('/absent');
    expect([present.exists, absent.exists]).toEqual([true, false]);
    let fired = '';
    void present.changed.then(() => (fired += 'here '));
    void absent.changed.then(() => (fired += 'absent '));
    // NodeDataChanged (3) on /here, SyncConnected (3).
    send!(reply(-1, -1n, 0, (w) => w.int(3).int(3).string('/here')));
    await present.changed;
    expect(fired).toBe('here ');
    send!(reply(-1, -1n, 0, (w) => w.int(1).int(3).string('/absent')));
    await absent.changed;
    expect(fired).toBe('here absent ');
    client.destroy();
  });

  it('rejects calls in flight at a drop, then moves the session to the next address', async () => {
    const first = await fakeMember(0x99n, ({ xid, op }, send, socket) => {
      if (op === OP.setData) socket.destroy();
      else send(reply(xid, 500n, 0, (w) => w.string('/made')));
    });
    const second = await fakeMember(0x99n, ({ xid, op }, send) => {
      if (op === OP.setData) send(reply(xid, 600n, 0, (w) => w.toBuffer()));
      else if (op === OP.closeSession) send(reply(xid, 0n, 0));
    });
    const client = await JuteClient.connect({ addresses: [first.address, second.address], sessionTimeoutMs: 3000 });
    await client.create('/made', new Uint8Array(0));
    await expect(client.setData('/made', new Uint8Array([1]))).rejects.toMatchObject({ code: ERR.CONNECTIONLOSS });
    // Made while the session is moving: waits, then goes to the second member.
    await client.setData('/made', new Uint8Array([2]));
    expect(client.address).toBe(second.address);
    expect(second.connects[0]).toEqual({ sessionId: 0x99n, password: Buffer.from('secret').toString('hex'), lastZxidSeen: 500n });
    expect(second.requests.map((r) => r.op)).toEqual([OP.setData]);
    await client.close();
  });

  it('re-registers pending watches on the member it moves to', async () => {
    const first = await fakeMember(5n, ({ xid, op }, send, socket) => {
      if (op === OP.exists) send(reply(xid, 40n, 0, (w) => w.toBuffer()));
      else socket.destroy();
    });
    let sendSecond: ((frame: Buffer) => void) | undefined;
    const second = await fakeMember(5n, ({ op }, send) => {
      if (op === OP.setWatches) sendSecond = send;
    });
    const client = await JuteClient.connect({ addresses: [first.address, second.address], sessionTimeoutMs: 3000 });
    const watch = await client.existsWatch('/w');
    first.sockets[0]!.destroy();
    await expect.poll(() => second.requests.length, { timeout: 5_000 }).toBe(1);
    const setWatches = second.requests[0]!;
    expect(setWatches.xid).toBe(-8);
    expect(setWatches.body.long()).toBe(40n);
    expect(setWatches.body.vector((v) => v.string())).toEqual(['/w']);
    expect(setWatches.body.vector((v) => v.string())).toEqual([]);
    expect(setWatches.body.vector((v) => v.string())).toEqual([]);
    sendSecond!(reply(-8, 0n, 0));
    sendSecond!(reply(-1, -1n, 0, (w) => w.int(2).int(3).string('/w')));
    await watch.changed;
    client.destroy();
  });

  it('treats a reply out of order as a broken stream: every call in flight rejects', async () => {
    const member = await fakeMember(3n, ({ xid }, send) => send(reply(xid + 1, 0n, 0)));
    const client = await JuteClient.connect({ addresses: [member.address], sessionTimeoutMs: 3000 });
    const calls = [client.getData('/a'), client.getData('/b')];
    for (const call of calls) await expect(call).rejects.toMatchObject({ code: ERR.CONNECTIONLOSS });
    client.destroy();
  });

  it('refuses to go on when the server reports the session expired', async () => {
    const server = createServer((socket) => {
      socket.on('error', () => {});
      socket.once('data', () => socket.write(new JuteWriter().int(0).int(0).long(0n).buffer(Buffer.alloc(16)).frame()));
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const address = `127.0.0.1:${(server.address() as { port: number }).port}`;
    await expect(JuteClient.connect({ addresses: [address], sessionTimeoutMs: 3000 })).rejects.toMatchObject({ code: ERR.SESSIONEXPIRED });
  });

  it('parses a reply header', () => {
    const r = new JuteReader(reply(12, 0x1_0000_0002n, ERR.NODEEXISTS).subarray(4));
    expect(decodeReplyHeader(r)).toEqual({ xid: 12, zxid: 0x1_0000_0002n, err: ERR.NODEEXISTS });
  });
});
