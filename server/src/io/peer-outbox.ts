import type { PeerEnvelope } from '../core/member.js';
import type { PeerTransport } from './peer-transport.js';

/** Envelopes per frame at most: a turn that replicates a large backlog sends it in several frames. */
export const PEER_ENVELOPES_PER_FRAME_MAX = 256;

/**
 * Peer envelopes gathered until the member flushes (after each Ready's messages, so that commit
 * notices leave before the entries are applied) or the end of the current callback (a
 * microtask), then sent as one frame per peer: the writes forwarded from one socket read ride
 * with the next Ready's messages, a tick's liveness report with its heartbeats. Fewer write
 * syscalls, and the receiver steps them all before one Ready. Before the transport is up
 * (start-up), envelopes wait here.
 */
export class PeerOutbox {
  private readonly byPeer = new Map<number, PeerEnvelope[]>();
  private flushQueued = false;

  constructor(private readonly transport: () => Pick<PeerTransport, 'send'> | null) {}

  add(to: number, envelopes: readonly PeerEnvelope[]): void {
    let list = this.byPeer.get(to);
    if (list === undefined) this.byPeer.set(to, (list = []));
    for (const envelope of envelopes) list.push(envelope);
    if (list.length >= PEER_ENVELOPES_PER_FRAME_MAX) this.flushPeer(to, list);
    else if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(() => this.flush());
    }
  }

  /** Sends everything gathered (the microtask does this; start-up calls it once the transport is up). */
  flush(): void {
    this.flushQueued = false;
    for (const [to, list] of this.byPeer) this.flushPeer(to, list);
  }

  private flushPeer(to: number, list: PeerEnvelope[]): void {
    const transport = this.transport();
    if (transport === null) return;
    transport.send(to, list);
    this.byPeer.delete(to);
  }
}
