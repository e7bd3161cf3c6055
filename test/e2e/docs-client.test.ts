// docs/client.md's examples, run: every ```ts block of the page is an async function body with
// `client` (a connected client), `connectString` and `arbor` (the @arbor/client module) in
// scope, run against a real 1-member ensemble and expected to finish without throwing within
// 10 s. Blocks marked ```ts no-run are only compiled. Each block gets a fresh subtree: its
// client and connectString are rooted (chroot) at a node of its own, so every block starts from
// an empty tree, as the page tells its readers.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as sdk from '@arbor/client';
import type { ArborClient, ClientOptions } from '@arbor/client';
import { Ensemble } from '@arbor/testing';

const DOC_PATH = fileURLToPath(new URL('../../docs/client.md', import.meta.url));
const BLOCK_TIMEOUT_MS = 10_000;
/** Fence info strings the page may use; anything else (```typescript, ```js) would be skipped silently, so it fails. */
const KNOWN_FENCES = new Set(['ts', 'ts no-run', 'sh']);
const PARAMS = ['client', 'connectString', 'arbor', 'console'] as const;

interface Block {
  /** 1-based position among the page's ts blocks. */
  index: number;
  /** 1-based line of the opening fence. */
  line: number;
  /** The nearest heading above it, for the test name. */
  heading: string;
  run: boolean;
  code: string;
}

/** The ts blocks of a markdown page, and the info string of every fence (to catch unknown ones). */
export function extractBlocks(markdown: string): { blocks: Block[]; fences: { info: string; line: number }[] } {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  const fences: { info: string; line: number }[] = [];
  let heading = '(top)';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    const open = /^```(.*)$/.exec(line);
    if (open === null) {
      const h = /^#{1,6}\s+(.*)$/.exec(line);
      if (h !== null) heading = (h[1] as string).trim();
      continue;
    }
    const info = (open[1] as string).trim();
    fences.push({ info, line: i + 1 });
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && !/^```\s*$/.test(lines[j] as string)) body.push(lines[j++] as string);
    if (j >= lines.length) throw new Error(`unclosed code fence at line ${i + 1}`);
    if (info === 'ts' || info === 'ts no-run') {
      blocks.push({ index: blocks.length + 1, line: i + 1, heading, run: info === 'ts', code: body.join('\n') });
    }
    i = j;
  }
  return { blocks, fences };
}

/**
 * Turns an example into a function body: `import { a, b as c } from '@arbor/client'` becomes
 * `const { a, b: c } = arbor;` (type-only imports vanish), and the whole is wrapped in a block
 * so that an example may declare its own `client`. Examples are plain JavaScript (the JS
 * subset of TypeScript), so nothing else needs stripping; TypeScript syntax fails to compile.
 */
export function toFunctionBody(code: string): string {
  const body = code.replace(/^\s*import\s+(type\s+)?([\s\S]*?)\s+from\s+['"]([^'"]+)['"];?[ \t]*$/gm, (_m, typeOnly, clause, source) => {
    if (source !== '@arbor/client') throw new Error(`examples import only @arbor/client, not '${source}'`);
    if (typeOnly !== undefined) return '';
    const what = (clause as string).trim();
    const star = /^\*\s+as\s+(\w+)$/.exec(what);
    if (star !== null) return star[1] === 'arbor' ? '' : `const ${star[1]} = arbor;`;
    if (!what.startsWith('{')) throw new Error(`unsupported import clause '${what}'`);
    const names = what
      .slice(1, -1)
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '' && !s.startsWith('type '))
      .map((s) => s.replace(/^(\w+)\s+as\s+(\w+)$/, '$1: $2'));
    return names.length === 0 ? '' : `const { ${names.join(', ')} } = arbor;`;
  });
  return `{\n${body}\n}`;
}

type ExampleFn = (client: ArborClient, connectString: string, arbor: typeof sdk, console: Console) => Promise<void>;
const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (...args: string[]) => ExampleFn;

function compile(block: Block): ExampleFn {
  try {
    return new AsyncFunction(...PARAMS, toFunctionBody(block.code));
  } catch (error) {
    throw new Error(`docs/client.md line ${block.line}: the example is not plain JavaScript: ${(error as Error).message}`);
  }
}

/** A console that keeps what examples print, so the test output stays readable. */
function quietConsole(out: unknown[][]): Console {
  const keep = (...args: unknown[]): void => void out.push(args);
  return { ...console, log: keep, info: keep, warn: keep, error: keep, debug: keep } as Console;
}

const { blocks, fences } = extractBlocks(readFileSync(DOC_PATH, 'utf8'));

describe('docs/client.md', () => {
  it('marks every code block ts, ts no-run or sh, has runnable examples, and few no-run ones', () => {
    expect(fences.filter((f) => !KNOWN_FENCES.has(f.info))).toEqual([]);
    expect(blocks.filter((b) => b.run).length).toBeGreaterThanOrEqual(25);
    expect(blocks.filter((b) => !b.run).length).toBeLessThanOrEqual(3);
  });

  it('turns imports into names taken from the module', () => {
    expect(toFunctionBody("import { connect, NoNodeError as Missing } from '@arbor/client';\nx();")).toBe(
      '{\nconst { connect, NoNodeError: Missing } = arbor;\nx();\n}',
    );
    expect(toFunctionBody("import type { Stat } from '@arbor/client';\nimport * as arbor from '@arbor/client';")).toBe('{\n\n\n}');
    expect(() => toFunctionBody("import pino from 'pino';")).toThrow(/only @arbor\/client/);
  });

  it.each(blocks.filter((b) => !b.run).map((b) => [b.line, b] as const))('the no-run example at line %i compiles', (_line, block) => {
    expect(compile(block)).toBeTypeOf('function');
  });

  describe('runnable examples against a 1-member ensemble', () => {
    let ensemble: Ensemble;
    let admin: ArborClient;
    beforeAll(async () => {
      ensemble = await Ensemble.start({ members: 1 });
      admin = await sdk.connect(ensemble.connectString, { sessionTimeoutMs: 10_000 });
    });
    afterAll(async () => {
      await admin?.close();
      await ensemble?.stop();
    });

    it.each(blocks.filter((b) => b.run).map((b) => [b.line, b.heading, b] as const))(
      'the example at line %i (%s) completes within 10 s',
      async (_line, _heading, block) => {
        const fn = compile(block);
        const root = `/docs-client/example-${block.index}`;
        await admin.create(root, null, { createParents: true });
        const connectString = `${ensemble.connectString}${root}`;
        // Every client an example makes is closed afterwards, whatever the example does.
        const opened: ArborClient[] = [];
        class TrackedClient extends sdk.ArborClient {
          constructor(text: string, options?: ClientOptions) {
            super(text, options);
            opened.push(this);
          }
        }
        const trackedConnect: typeof sdk.connect = async (text, options) => {
          const made = await sdk.connect(text, options);
          opened.push(made);
          return made;
        };
        const arbor = { ...sdk, ArborClient: TrackedClient, connect: trackedConnect } as typeof sdk;
        const client = await trackedConnect(connectString, { sessionTimeoutMs: 10_000 });
        const printed: unknown[][] = [];
        let timer: ReturnType<typeof setTimeout> | undefined;
        try {
          await Promise.race([
            fn(client, connectString, arbor, quietConsole(printed)),
            new Promise<never>((_, reject) => {
              timer = setTimeout(
                () => reject(new Error(`the example at docs/client.md line ${block.line} did not finish within ${BLOCK_TIMEOUT_MS} ms`)),
                BLOCK_TIMEOUT_MS,
              );
            }),
          ]);
        } finally {
          clearTimeout(timer);
          await Promise.all(opened.map((c) => c.close()));
        }
        // The example ran on a live session until the end (it did not, say, fail its client).
        expect(opened.every((c) => c.state === 'closed')).toBe(true);
      },
      BLOCK_TIMEOUT_MS + 10_000,
    );
  });
});
