import { describe, expect, it } from 'vitest';
import type { PeerEnvelope } from '../../src/core/member.js';
import { PEER_ENVELOPES_PER_FRAME_MAX, PeerOutbox } from '../../src/io/peer-outbox.js';

const live = (seq: number): PeerEnvelope => ({ k: 'liveAck', seq });

function recordingTransport(): { frames: { to: number; seqs: number[] }[]; send: (to: number, envelopes: unknown[]) => boolean } {
  const frames: { to: number; seqs: number[] }[] = [];
  return {
    frames,
    send: (to, envelopes) => {
      frames.push({ to, seqs: envelopes.map((e) => (e as { seq: number }).seq) });
      return true;
    },
  };
}

describe('PeerOutbox', () => {
  it('sends what one callback gathered as one frame per peer, in order, at the end of the callback', async () => {
    const transport = recordingTransport();
    const outbox = new PeerOutbox(() => transport);
    outbox.add(2, [live(1), live(2)]);
    outbox.add(3, [live(3)]);
    outbox.add(2, [live(4)]);
    expect(transport.frames).toEqual([]);
    await Promise.resolve();
    expect(transport.frames).toEqual([
      { to: 2, seqs: [1, 2, 4] },
      { to: 3, seqs: [3] },
    ]);
    outbox.add(2, [live(5)]);
    await Promise.resolve();
    expect(transport.frames.at(-1)).toEqual({ to: 2, seqs: [5] });
  });

  it('bounds a frame: a long run of envelopes goes in several', async () => {
    const transport = recordingTransport();
    const outbox = new PeerOutbox(() => transport);
    const total = PEER_ENVELOPES_PER_FRAME_MAX * 2 + 10;
    for (let i = 0; i < total; i++) outbox.add(2, [live(i)]);
    await Promise.resolve();
    expect(transport.frames.map((f) => f.seqs.length)).toEqual([PEER_ENVELOPES_PER_FRAME_MAX, PEER_ENVELOPES_PER_FRAME_MAX, 10]);
    expect(transport.frames.flatMap((f) => f.seqs)).toEqual(Array.from({ length: total }, (_, i) => i));
  });

  it('keeps envelopes until the transport is up', async () => {
    const transport = recordingTransport();
    let up = false;
    const outbox = new PeerOutbox(() => (up ? transport : null));
    outbox.add(2, [live(1)]);
    await Promise.resolve();
    expect(transport.frames).toEqual([]);
    up = true;
    outbox.flush();
    expect(transport.frames).toEqual([{ to: 2, seqs: [1] }]);
  });
});
