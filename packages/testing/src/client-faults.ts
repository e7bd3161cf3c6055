// A client whose own network can fail: it reaches every member through a fault proxy of its own,
// so a test can partition just this client, lose the replies to requests that were applied, or
// hold it away past its session timeout — the failures lock and election code must survive —
// while the ensemble and every other client carry on.

import { connect, type ArborClient, type ConnectOptions } from '@arbor/client';
import type { Ensemble } from './ensemble.js';
import { Mode, startProxy, type FaultProxy } from './proxy/index.js';

export interface FaultyClient {
  readonly client: ArborClient;
  /** Silence in both directions: the client hears nothing and reaches no member. */
  partition(): void;
  /** Requests reach the members and are applied; every answer (and event) is lost. */
  dropReplies(): void;
  /** Back to normal. Connections that lost bytes are reset, so the client reconnects. */
  heal(): void;
  /**
   * Partitions the client until it declares its session lost by its own deadline (the ensemble
   * expires it soon after), then heals. Resolves when the client is in state `lost`.
   */
  expireSession(timeoutMs?: number): Promise<void>;
  /** Closes the client and its proxies. */
  close(): Promise<void>;
}

/** Connects a client to `ensemble` through proxies only this client uses. */
export async function connectFaulty(ensemble: Ensemble, options: ConnectOptions = {}): Promise<FaultyClient> {
  const proxies: FaultProxy[] = [];
  for (const slot of ensemble.slots) proxies.push(await startProxy({ targetPort: slot.clientPort }));
  let client: ArborClient;
  try {
    client = await connect(proxies.map((p) => `127.0.0.1:${p.port}`).join(','), options);
  } catch (error) {
    await Promise.all(proxies.map((p) => p.close()));
    throw error;
  }
  const setMode = (mode: Parameters<FaultProxy['setMode']>[0]): void => {
    for (const p of proxies) p.setMode(mode);
  };
  return {
    client,
    partition: () => setMode(Mode.blackhole),
    dropReplies: () => setMode(Mode.perDirection(Mode.pass, Mode.blackhole)),
    heal: () => setMode(Mode.pass),
    async expireSession(timeoutMs = client.sessionTimeoutMs * 3 + 5_000) {
      setMode(Mode.blackhole);
      try {
        await new Promise<void>((resolve, reject) => {
          if (client.state === 'lost') return resolve();
          const timer = setTimeout(() => {
            off();
            reject(new Error(`the session was not lost within ${timeoutMs} ms (state ${client.state})`));
          }, timeoutMs);
          const off = client.on('state', (state) => {
            if (state !== 'lost') return;
            clearTimeout(timer);
            off();
            resolve();
          });
        });
      } finally {
        setMode(Mode.pass);
      }
    },
    async close() {
      await client.close().catch(() => undefined);
      await Promise.all(proxies.map((p) => p.close()));
    },
  };
}
