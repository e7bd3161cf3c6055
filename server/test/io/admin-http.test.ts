import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'node:http';
import { pino } from 'pino';
import { startAdminHttp, type AdminHttp, type AdminSource } from '../../src/io/admin-http.js';
import { renderMetrics } from '../../src/io/metrics-text.js';
import type { MemberMetrics, MemberStatus } from '../../src/io/member-runtime.js';

const logger = pino({ level: 'silent' });

function status(overrides: Partial<MemberStatus> = {}): MemberStatus {
  return {
    id: 1,
    role: 'leader',
    term: 3,
    leaderId: 1,
    commitIndex: 10,
    appliedIndex: 9,
    followers: [
      { id: 2, match: 9, lag: 1 },
      { id: 3, match: 10, lag: 0 },
    ],
    sessions: 4,
    watches: 5,
    znodes: 6,
    digest: 'abcd',
    lastZxid: '0x300000009',
    ...overrides,
  } as MemberStatus;
}

function metrics(): MemberMetrics {
  return {
    requests: { getData: 3, 'we"ird\\op': 1 },
    latencyMsSum: { getData: 12, 'we"ird\\op': 2 },
    fsyncCount: 2,
    fsyncMsSum: 5,
    commitCount: 7,
    commitMsSum: 14,
    elections: 1,
    pendingProposals: 0,
    pendingReads: 0,
    connections: 2,
    eventLoopLagMs: Infinity,
  };
}

function get(port: number, path: string, method = 'GET'): Promise<{ code: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ code: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    });
    req.setTimeout(5_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

let admin: AdminHttp | null = null;
async function start(source: AdminSource): Promise<number> {
  admin = await startAdminHttp({ source, port: 0, logger });
  return admin.port;
}
afterEach(async () => {
  await admin?.close();
  admin = null;
});

/** Prometheus text 0.0.4: comment lines HELP/TYPE, sample lines `name{labels} value`. */
function checkPrometheus(text: string): void {
  expect(text.endsWith('\n')).toBe(true);
  const typed = new Set<string>();
  const sample =
    /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*")(,[a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*")*\})? (-?[0-9.e+-]+|NaN|[+-]Inf)$/;
  for (const line of text.trimEnd().split('\n')) {
    const help = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .+$/.exec(line);
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge)$/.exec(line);
    if (help !== null) continue;
    if (type !== null) {
      expect(typed.has(type[1] as string), `one TYPE line for ${type[1]}`).toBe(false);
      typed.add(type[1] as string);
      continue;
    }
    const m = sample.exec(line);
    expect(m, `sample line: ${line}`).not.toBeNull();
    expect(typed.has(m?.[1] as string), `TYPE before ${line}`).toBe(true);
  }
}

describe('admin http', () => {
  it('/healthz answers 200', async () => {
    const port = await start({ status, metrics });
    expect((await get(port, '/healthz')).code).toBe(200);
  });

  it('/readyz is 200 with a known leader and 503 without', async () => {
    let leaderId = 0;
    const port = await start({ status: () => status({ leaderId }), metrics });
    expect((await get(port, '/readyz')).code).toBe(503);
    leaderId = 2;
    const ready = await get(port, '/readyz');
    expect(ready.code).toBe(200);
    expect(ready.body).toContain('2');
  });

  it('/status is the source status as JSON', async () => {
    const port = await start({ status, metrics });
    const res = await get(port, '/status?pretty=1');
    expect(res.code).toBe(200);
    expect(res.type).toContain('application/json');
    expect(JSON.parse(res.body)).toEqual(status());
  });

  it('/metrics is valid Prometheus text with the counters and gauges', async () => {
    const port = await start({ status, metrics });
    const res = await get(port, '/metrics');
    expect(res.code).toBe(200);
    expect(res.type).toContain('text/plain; version=0.0.4');
    checkPrometheus(res.body);
    expect(res.body).toContain('arbor_requests_total{op="getData"} 3\n');
    expect(res.body).toContain('arbor_requests_total{op="we\\"ird\\\\op"} 1\n');
    expect(res.body).toContain('arbor_request_latency_seconds_sum{op="getData"} 0.012\n');
    expect(res.body).toContain('arbor_is_leader 1\n');
    expect(res.body).toContain('arbor_follower_lag_entries{follower="2"} 1\n');
    expect(res.body).toContain('arbor_event_loop_lag_seconds +Inf\n');
  });

  it('renders without a status and with no followers', () => {
    checkPrometheus(renderMetrics(metrics()));
    checkPrometheus(renderMetrics({ ...metrics(), requests: {}, latencyMsSum: {} }, status({ followers: [], role: 'follower' })));
    expect(renderMetrics({ ...metrics(), fsyncMsSum: Number.NaN })).toContain('arbor_fsync_seconds_sum NaN\n');
  });

  it('unknown path 404, POST 405', async () => {
    const port = await start({ status, metrics });
    expect((await get(port, '/nope')).code).toBe(404);
    expect((await get(port, '/status', 'POST')).code).toBe(405);
  });

  it('a source that throws answers 500 and the server keeps serving', async () => {
    let fail = true;
    const port = await start({
      status: () => {
        if (fail) throw new Error('runtime gone');
        return status();
      },
      metrics,
    });
    for (const path of ['/status', '/readyz', '/metrics']) {
      const res = await get(port, path);
      expect(res.code).toBe(500);
      expect(res.body).toContain('runtime gone');
    }
    expect((await get(port, '/healthz')).code).toBe(200);
    fail = false;
    expect((await get(port, '/status')).code).toBe(200);
  });
});
