import type { ConnectRequest, DecodedRequest, ServerFrame } from '@arbor/protocol';
import type { ConnectionId } from './watch-registry.js';

export type { ConnectionId };

/** One client connection, implemented by the io layer (one per WebSocket). */
export interface ClientLink {
  readonly id: ConnectionId;
  /** For the ip ACL scheme. */
  readonly remoteAddress: string;
  /** The io layer encodes and writes; never throws. */
  send(frame: ServerFrame): void;
  /** The io layer sends nothing more and closes the socket. */
  close(reason: string): void;
}

/** What the member offers the client listener (implemented in core). */
export interface ClientService {
  /**
   * The handshake frame. The member answers with link.send(ConnectResponse | ConnectRefused);
   * after a refusal it calls link.close. May answer later (e.g. waiting for lastZxid).
   */
  onConnect(link: ClientLink, request: ConnectRequest): void;
  /**
   * A decoded request after a successful handshake (includes ping op 11 and closeSession op -11).
   * Answers in the order received, per connection.
   */
  onRequest(link: ClientLink, request: DecodedRequest): void;
  /** The socket closed (either side). The session stays alive until its timeout unless it was closed. */
  onDisconnect(link: ClientLink): void;
}
