import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { MemberMetrics, MemberStatus } from './member-runtime.js';
import type { Logger } from './logger.js';
import { METRICS_CONTENT_TYPE, renderMetrics } from './metrics-text.js';

/**
 * The admin port (plain HTTP, GET only):
 * - /healthz: 200 while the process serves;
 * - /readyz: 200 once the member knows a leader, else 503;
 * - /status: the member's status as JSON;
 * - /metrics: Prometheus text.
 * A fault reading the runtime answers 500 and never stops the member.
 */
export interface AdminSource {
  status(): MemberStatus;
  metrics(): MemberMetrics;
}

export interface AdminHttpOptions {
  source: AdminSource;
  host?: string;
  /** 0: any free port. */
  port: number;
  logger: Logger;
}

export interface AdminHttp {
  readonly port: number;
  close(): Promise<void>;
}

function reply(res: ServerResponse, code: number, type: string, body: string): void {
  res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}

function handle(source: AdminSource, req: IncomingMessage, res: ServerResponse): void {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    reply(res, 405, 'text/plain', 'only GET\n');
    return;
  }
  switch (path) {
    case '/healthz':
      reply(res, 200, 'text/plain', 'ok\n');
      return;
    case '/readyz': {
      const status = source.status();
      if (status.leaderId > 0) reply(res, 200, 'text/plain', `ready (leader ${status.leaderId})\n`);
      else reply(res, 503, 'text/plain', 'no leader known\n');
      return;
    }
    case '/status':
      reply(res, 200, 'application/json', JSON.stringify(source.status()) + '\n');
      return;
    case '/metrics':
      reply(res, 200, METRICS_CONTENT_TYPE, renderMetrics(source.metrics(), source.status()));
      return;
    default:
      reply(res, 404, 'text/plain', 'not found (try /healthz, /readyz, /status, /metrics)\n');
  }
}

export function startAdminHttp(options: AdminHttpOptions): Promise<AdminHttp> {
  const server: Server = createServer((req, res) => {
    try {
      handle(options.source, req, res);
    } catch (err) {
      options.logger.error({ err: (err as Error).message }, 'admin request failed');
      if (!res.headersSent) reply(res, 500, 'text/plain', `error: ${(err as Error).message}\n`);
      else res.end();
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      resolve({
        port,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}
