// The SDK in a real browser (issue 6): headless Chromium loads the built @arbor/client from
// client/dist through an import map (no bundler), connects to a 1-member ensemble with the
// browser's own WebSocket, runs every kind of call (test/src/browser/scenario.ts) and POSTs what
// it saw back to a static server on 127.0.0.1. Needs /usr/bin/chromium (CI installs it) and the
// built client and protocol (npm install builds them); it fails, never skips, without either.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, fromUtf8 } from '@arbor/client';
import { Ensemble } from '@arbor/testing';
import { launchChromium, requireChromium, type Chromium } from '../src/browser/chromium.js';
import { startStaticServer, type PageResult, type StaticServer } from '../src/browser/server.js';
import type { ScenarioReport } from '../src/browser/scenario.js';

/** Bound on the page's whole run: Chromium's start, module loading, and every step. */
const PAGE_RESULT_TIMEOUT_MS = 30_000;

function withTimeout<T>(promise: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(what())), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

describe('the SDK in headless Chromium', () => {
  let ensemble: Ensemble;
  let server: StaticServer;
  let clientPort: number;

  beforeAll(async () => {
    ensemble = await Ensemble.start({ members: 1 });
    clientPort = ensemble.slot(1).clientPort;
    server = await startStaticServer({ connectString: ensemble.connectString });
  });

  afterAll(async () => {
    await server?.close();
    await ensemble?.stop();
  });

  it('loads from client/dist with an import map and runs every call against the ensemble', { timeout: 60_000 }, async () => {
    requireChromium();
    const startedMs = performance.now();
    const browser: Chromium = launchChromium(server.url);
    let result: PageResult;
    try {
      result = await withTimeout(
        server.result,
        PAGE_RESULT_TIMEOUT_MS,
        () =>
          `no POST /result within ${PAGE_RESULT_TIMEOUT_MS} ms\nrequests:\n${server.requests.join('\n')}\nchromium stderr:\n${browser.stderr()}`,
      );
    } finally {
      await browser.stop();
    }
    const elapsedMs = Math.round(performance.now() - startedMs);
    console.log(`browser test: page reported after ${elapsedMs} ms`);

    if (!result.ok) throw new Error(`the page failed: ${result.error}\nrequests:\n${server.requests.join('\n')}`);
    const r = result.report as ScenarioReport;

    // The browser's own WebSocket, to the member's client port; the Node-only module never loaded.
    expect(r.webSocket).toEqual({ platform: 'WebSocket', urls: [`ws://127.0.0.1:${clientPort}/`] });
    expect(r.nodeGlobals).toEqual({ process: 'undefined', Buffer: 'undefined', require: 'undefined' });
    expect(server.requests).toEqual(
      expect.arrayContaining([
        'GET / 200',
        'GET /scenario.js 200',
        'GET /arbor-client/dist/index.js 200',
        'GET /arbor-client/dist/transport.js 200',
        'GET /arbor-protocol/dist/index.js 200',
        'GET /arbor-protocol/dist/msgpack.js 200',
        'GET /msgpackr/index.js 200',
        'POST /result 204',
      ]),
    );
    expect(server.requests.filter((line) => /node-websocket|\/ws\b/.test(line))).toEqual([]);
    expect(server.requests.filter((line) => !/ 20[04]$/.test(line))).toEqual([]);

    expect(r.stateAfterConnect).toBe('connected');
    expect(r.createRoot).toBe('/browser');
    expect(r.createA).toBe('/browser/a');
    expect(r.getData).toMatchObject({ data: 'v1', stat: { version: 0, dataLength: 2, numChildren: 0 } });
    expect(r.getData.stat.mzxid).toBe(r.getData.stat.czxid);
    expect(r.duplicateCreate).toEqual({ name: 'NodeExistsError', code: -110, isNodeExistsError: true, path: '/browser/a' });

    expect(r.watchedGetData).toEqual({ data: 'v1', version: 0 });
    expect(r.setData).toMatchObject({ version: 1, dataLength: 2, czxid: r.getData.stat.czxid });
    expect(r.setData.mzxid).toBeGreaterThan(r.setData.czxid);
    expect(r.oneShotEvent).toEqual({ type: 'NodeDataChanged', path: '/browser/a', zxid: r.setData.mzxid });

    expect(r.multi).toEqual([{ op: 'check' }, { op: 'create', path: '/browser/b' }, { op: 'setData', version: 2 }]);
    expect(r.afterMulti).toMatchObject({ data: 'v3', stat: { version: 2 } });
    expect(r.afterMulti.stat.mzxid).toBeGreaterThan(r.setData.mzxid);
    expect(r.getChildren).toMatchObject({ children: ['a', 'b'], more: false, stat: { numChildren: 2, cversion: 2, version: 0 } });
    expect(r.deleteB).toEqual({ existsAfter: null });

    // setData(v2); the multi's create and setData, at one zxid; then the delete, later.
    const multiZxid = r.afterMulti.stat.mzxid;
    expect(r.persistentEvents.slice(0, 3)).toEqual([
      { type: 'NodeDataChanged', path: '/browser/a', zxid: r.setData.mzxid },
      { type: 'NodeCreated', path: '/browser/b', zxid: multiZxid },
      { type: 'NodeDataChanged', path: '/browser/a', zxid: multiZxid },
    ]);
    expect(r.persistentEvents[3]).toMatchObject({ type: 'NodeDeleted', path: '/browser/b' });
    expect(r.persistentEvents[3]!.zxid).toBeGreaterThan(multiZxid);
    expect(r.stateAfterClose).toBe('closed');

    // The browser's writes are in the ensemble, as a Node client reads them.
    const observer = await connect(ensemble.connectString);
    try {
      const a = await observer.getData('/browser/a');
      expect({ data: a.data && fromUtf8(a.data), version: a.stat.version, mzxid: a.stat.mzxid }).toEqual({
        data: 'v3',
        version: 2,
        mzxid: multiZxid,
      });
      expect((await observer.getChildren('/browser')).children).toEqual(['a']);
    } finally {
      await observer.close();
    }
  });
});
