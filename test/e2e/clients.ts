// What the e2e suites share to talk to a real ensemble: clients of chosen members and the
// text codec for znode data.

import { connect, type ArborClient } from '@arbor/client';
import type { Ensemble } from '@arbor/testing';

export const text = (s: string): Uint8Array => new TextEncoder().encode(s);
export const str = (b: Uint8Array | null): string | null => (b === null ? null : new TextDecoder().decode(b));

/** A client of members `ids` (every member when omitted); given one id, it reads that member's applied state. */
export async function connectTo(ensemble: Ensemble, ids?: number[], sessionTimeoutMs = 8_000): Promise<ArborClient> {
  const cs = (ids ?? ensemble.slots.map((s) => s.id)).map((id) => `127.0.0.1:${ensemble.slot(id).clientPort}`).join(',');
  return connect(cs, { sessionTimeoutMs });
}
