// The browser side of test/e2e/browser.test.ts: runs in headless Chromium, imports the built SDK
// through the page's import map, and returns what every step saw as plain JSON, which the page
// POSTs back to the static server. It is type-checked with the rest of test/src; the static
// server serves it transpiled (see server.ts), never bundled.

import { NodeExistsError, connect, fromUtf8, type PersistentWatchEvent, type Stat } from '@arbor/client';

/** The page passes this in (see pageHtml in server.ts). */
export interface ScenarioConfig {
  connectString: string;
}

/** The parts of a Stat the test asserts on. */
export interface StatView {
  version: number;
  cversion: number;
  numChildren: number;
  dataLength: number;
  czxid: number;
  mzxid: number;
}

/** What the page reports: every step's result, in the order the steps ran. */
export interface ScenarioReport {
  /** The platform WebSocket the SDK picked up, and every URL it was asked to open. */
  webSocket: { platform: string; urls: string[] };
  /** Node globals a browser does not have (each should be 'undefined'). */
  nodeGlobals: { process: string; Buffer: string; require: string };
  stateAfterConnect: string;
  createRoot: string;
  createA: string;
  getData: { data: string | null; stat: StatView };
  duplicateCreate: { name: string; code: number; isNodeExistsError: boolean; path: string | undefined };
  watchedGetData: { data: string | null; version: number };
  setData: StatView;
  oneShotEvent: { type: string; path: string; zxid: number };
  multi: { op: string; path?: string; version?: number }[];
  afterMulti: { data: string | null; stat: StatView };
  getChildren: { children: string[]; more: boolean; stat: StatView };
  deleteB: { existsAfter: StatView | null };
  persistentEvents: { type: string; path: string; zxid: number }[];
  stateAfterClose: string;
}

const view = (stat: Stat): StatView => ({
  version: stat.version,
  cversion: stat.cversion,
  numChildren: stat.numChildren,
  dataLength: stat.dataLength,
  czxid: stat.czxid,
  mzxid: stat.mzxid,
});
const text = (bytes: Uint8Array | null): string | null => (bytes === null ? null : fromUtf8(bytes));

/** Rejects after `ms` with a message naming what was awaited, so a stuck step reports itself. */
function within<T>(what: string, ms: number, promise: Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: nothing after ${ms} ms`)), ms);
    promise.then(
      (value) => (clearTimeout(timer), resolve(value)),
      (error: unknown) => (clearTimeout(timer), reject(error)),
    );
  });
}

/** The next `n` events of a persistent watch, each bounded in time. */
async function take(iterator: AsyncIterator<PersistentWatchEvent>, n: number): Promise<PersistentWatchEvent[]> {
  const events: PersistentWatchEvent[] = [];
  while (events.length < n) {
    const next = await within(`persistent watch event ${events.length + 1} of ${n}`, 5_000, iterator.next());
    if (next.done === true) throw new Error(`persistent watch ended after ${events.length} of ${n} events`);
    events.push(next.value);
  }
  return events;
}

type WebSocketClass = new (url: string) => object;

/**
 * Wraps the page's own WebSocket so that the report can show the SDK used it (and which URL);
 * the SDK reads globalThis.WebSocket when it opens its first connection.
 */
function recordWebSocketUrls(): { platform: string; urls: string[] } {
  const scope = globalThis as unknown as { WebSocket?: WebSocketClass };
  const Platform = scope.WebSocket;
  if (Platform === undefined) throw new Error('this browser has no WebSocket');
  const urls: string[] = [];
  class RecordingWebSocket extends Platform {
    constructor(url: string) {
      super(url);
      urls.push(url);
    }
  }
  scope.WebSocket = RecordingWebSocket;
  return { platform: String(Platform.name), urls };
}

export async function run(config: ScenarioConfig): Promise<ScenarioReport> {
  const webSocket = recordWebSocketUrls();
  const scope = globalThis as Record<string, unknown>;
  const nodeGlobals = { process: typeof scope['process'], Buffer: typeof scope['Buffer'], require: typeof scope['require'] };

  const client = await within('connect', 10_000, connect(config.connectString, { connectTimeoutMs: 8_000 }));
  try {
    const stateAfterConnect = client.state;
    const createRoot = await client.create('/browser', 'root');
    const createA = await client.create('/browser/a', 'v1');
    const read = await client.getData('/browser/a');
    const getData = { data: text(read.data), stat: view(read.stat) };

    let duplicateCreate: ScenarioReport['duplicateCreate'];
    try {
      await client.create('/browser/a', 'again');
      throw new Error('a second create of /browser/a succeeded');
    } catch (error) {
      if (!(error instanceof Error) || !('code' in error)) throw error;
      duplicateCreate = {
        name: error.name,
        code: error.code as number,
        isNodeExistsError: error instanceof NodeExistsError,
        path: (error as NodeExistsError).path,
      };
    }

    // A persistent recursive watch on the subtree, registered before any change below.
    const persistent = await within('addWatch', 5_000, client.addWatch('/browser', { recursive: true }));
    const iterator = persistent[Symbol.asyncIterator]();

    const watched = await client.getData('/browser/a', { watch: true });
    const watchedGetData = { data: text(watched.data), version: watched.stat.version };
    const setData = view(await client.setData('/browser/a', 'v2', { version: 0 }));
    const fired = await within('one-shot data watch', 5_000, watched.changed);
    const oneShotEvent = { type: fired.type, path: fired.path, zxid: fired.zxid };

    const results = await client.multi([
      { op: 'check', path: '/browser', version: 0 },
      { op: 'create', path: '/browser/b', data: 'b' },
      { op: 'setData', path: '/browser/a', data: 'v3', version: 1 },
    ]);
    const multi = results.map((r) =>
      r.op === 'create' ? { op: r.op, path: r.path } : r.op === 'setData' ? { op: r.op, version: r.stat.version } : { op: r.op },
    );
    const after = await client.getData('/browser/a');
    const afterMulti = { data: text(after.data), stat: view(after.stat) };

    const children = await client.getChildren('/browser');
    const getChildren = { children: children.children, more: children.more, stat: view(children.stat) };

    await client.delete('/browser/b', { version: 0 });
    const existsAfter = await client.exists('/browser/b');
    const deleteB = { existsAfter: existsAfter === null ? null : view(existsAfter) };

    // setData(v2), then the multi's create and setData, then the delete.
    const persistentEvents = (await take(iterator, 4)).map((e) => ({ type: e.type, path: e.path, zxid: e.zxid }));
    await persistent.close();

    await client.close();
    return {
      webSocket,
      nodeGlobals,
      stateAfterConnect,
      createRoot,
      createA,
      getData,
      duplicateCreate,
      watchedGetData,
      setData,
      oneShotEvent,
      multi,
      afterMulti,
      getChildren,
      deleteB,
      persistentEvents,
      stateAfterClose: client.state,
    };
  } finally {
    if (client.state !== 'closed') await client.close();
  }
}
