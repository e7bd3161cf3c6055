// A static server for the browser test: one HTML page whose import map points '@arbor/client',
// '@arbor/protocol' and 'msgpackr' at the built ES modules as they are on disk (client/dist,
// packages/protocol/dist, msgpackr's browser build) — no bundler — plus the page's scenario,
// and POST /result, where the page sends what it saw. It logs every request, so the test can
// check which modules the browser loaded (and that it never asked for the Node-only one).

import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { dirname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SCENARIO = fileURLToPath(new URL('./scenario.ts', import.meta.url));
/** Bound on the page's POST body. */
const RESULT_BYTES_MAX = 1 << 20;

/** A directory served under a URL prefix. */
interface Mount {
  prefix: string;
  dir: string;
}

/** What the page POSTed: the scenario's report, or the error that stopped it. */
export type PageResult = { ok: true; report: unknown } | { ok: false; error: string };

export interface StaticServer {
  /** http://127.0.0.1:<port>/ */
  url: string;
  /** Every request, as "METHOD /path status". */
  requests: string[];
  /** Resolves with the first POST /result. */
  result: Promise<PageResult>;
  close(): Promise<void>;
}

/** A package's directory and the file its package.json exports for a condition (browser, then default). */
function packageEntry(dir: string, conditions: readonly string[]): { dir: string; entry: string } {
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { exports?: Record<string, unknown> };
  const dot = pkg.exports?.['.'];
  if (typeof dot !== 'object' || dot === null) throw new Error(`${dir}/package.json has no exports["."] object`);
  for (const condition of conditions) {
    const target = (dot as Record<string, unknown>)[condition];
    if (typeof target === 'string') return { dir, entry: target.replace(/^\.\//, '') };
  }
  throw new Error(`${dir}/package.json exports["."] has none of ${conditions.join(', ')}`);
}

/** node_modules/<name> as Node would find it from `from` (walking up), without `require.resolve` (msgpackr does not export package.json). */
function findPackage(name: string, from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dirname(dir) === dir) throw new Error(`package ${name} not found above ${from}`);
  }
}

/** The mounts and import map of the page; throws if a build the page needs is missing. */
export function modules(): { mounts: Mount[]; importMap: { imports: Record<string, string> } } {
  const client = packageEntry(join(ROOT, 'client'), ['browser', 'default']);
  const protocol = packageEntry(join(ROOT, 'packages/protocol'), ['browser', 'default']);
  const msgpackr = packageEntry(findPackage('msgpackr', join(ROOT, 'packages/protocol')), ['browser', 'default']);
  for (const [what, p] of [
    ['client', client],
    ['protocol', protocol],
  ] as const) {
    if (!existsSync(join(p.dir, p.entry))) {
      throw new Error(`${join(p.dir, p.entry)} is missing: build the ${what} first (npx tsc -b client/tsconfig.json)`);
    }
  }
  // Each entry is served from its package directory, so that relative imports inside resolve.
  const mounts: Mount[] = [
    { prefix: '/arbor-client/', dir: client.dir },
    { prefix: '/arbor-protocol/', dir: protocol.dir },
    { prefix: '/msgpackr/', dir: msgpackr.dir },
  ];
  const importMap = {
    imports: {
      '@arbor/client': `/arbor-client/${client.entry}`,
      '@arbor/protocol': `/arbor-protocol/${protocol.entry}`,
      msgpackr: `/msgpackr/${msgpackr.entry}`,
    },
  };
  return { mounts, importMap };
}

/**
 * The page: the import map, then a module that imports the scenario, runs it and POSTs the
 * outcome. A dynamic import, so that a module that fails to load or resolve is reported too.
 */
export function pageHtml(importMap: object, config: object): string {
  const json = (value: unknown): string => JSON.stringify(value).replace(/</g, '\\u003c');
  return `<!doctype html>
<html>
<head><meta charset="utf-8"><title>arbor browser test</title><link rel="icon" href="data:,">
<script type="importmap">${json(importMap)}</script>
</head>
<body>
<script type="module">
const post = (body) => fetch('/result', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
import('/scenario.js')
  .then((scenario) => scenario.run(${json(config)}))
  .then((report) => post({ ok: true, report }))
  .catch((error) => post({ ok: false, error: String(error && error.stack ? error.stack : error) }));
</script>
</body>
</html>
`;
}

/** scenario.ts as the browser gets it: types stripped, imports left for the import map. */
function scenarioJs(): string {
  const source = readFileSync(SCENARIO, 'utf8');
  return ts.transpileModule(source, {
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, verbatimModuleSyntax: true },
    fileName: SCENARIO,
  }).outputText;
}

const TYPES: Record<string, string> = { '.js': 'text/javascript', '.map': 'application/json', '.html': 'text/html' };

/** The file under a mount that a URL path names, or undefined (also for anything escaping the mount). */
function resolveFile(mounts: readonly Mount[], urlPath: string): string | undefined {
  for (const { prefix, dir } of mounts) {
    if (!urlPath.startsWith(prefix)) continue;
    const file = normalize(join(dir, decodeURIComponent(urlPath.slice(prefix.length))));
    if (!file.startsWith(dir + sep)) return undefined;
    return existsSync(file) && statSync(file).isFile() ? file : undefined;
  }
  return undefined;
}

export async function startStaticServer(config: object): Promise<StaticServer> {
  const { mounts, importMap } = modules();
  const html = pageHtml(importMap, config);
  const requests: string[] = [];
  let deliver!: (result: PageResult) => void;
  const result = new Promise<PageResult>((resolve) => (deliver = resolve));

  const send = (req: IncomingMessage, res: ServerResponse, status: number, type: string, body: string | Buffer): void => {
    requests.push(`${req.method} ${req.url} ${status}`);
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
    res.end(body);
  };

  const server = createServer((req, res) => {
    const urlPath = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    if (req.method === 'POST' && urlPath === '/result') {
      const chunks: Buffer[] = [];
      let bytes = 0;
      req.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes <= RESULT_BYTES_MAX) chunks.push(chunk);
      });
      req.on('end', () => {
        send(req, res, 204, 'text/plain', '');
        try {
          deliver(JSON.parse(Buffer.concat(chunks).toString('utf8')) as PageResult);
        } catch (error) {
          deliver({ ok: false, error: `unreadable POST /result (${bytes} bytes): ${(error as Error).message}` });
        }
      });
      return;
    }
    if (req.method !== 'GET') return send(req, res, 405, 'text/plain', 'method not allowed');
    if (urlPath === '/') return send(req, res, 200, 'text/html; charset=utf-8', html);
    if (urlPath === '/scenario.js') {
      try {
        return send(req, res, 200, 'text/javascript', scenarioJs());
      } catch (error) {
        return send(req, res, 500, 'text/plain', String(error));
      }
    }
    const file = resolveFile(mounts, urlPath);
    if (file === undefined) return send(req, res, 404, 'text/plain', 'not found');
    const ext = file.slice(file.lastIndexOf('.'));
    send(req, res, 200, TYPES[ext] ?? 'application/octet-stream', readFileSync(file));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('static server has no port');
  return {
    url: `http://127.0.0.1:${address.port}/`,
    requests,
    result,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
