// docs/protocol.md against the code: the op table is generated from the descriptors
// (UPDATE_DOCS=1 rewrites it), and every code, field and example byte the page lists is checked.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  CreateMode,
  DEFAULT_LIMITS,
  ErrorCode,
  EventType,
  OP_NAMES,
  Ops,
  Perms,
  STAT_FIELDS,
  XID_PING,
  decodeRequest,
  decodeServerFrame,
  encodeClientFrame,
  encodeServerFrame,
} from '@arbor/protocol';

const docPath = fileURLToPath(new URL('../../../docs/protocol.md', import.meta.url));
const doc = readFileSync(docPath, 'utf8');

function renderOpTable(): string {
  const rows = OP_NAMES.map((name) => {
    const op = Ops[name];
    return `| \`${name}\` | ${op.code} | ${op.writes ? 'yes' : '—'} | ${op.reads ? 'yes' : '—'} | ${op.watch ?? '—'} |`;
  });
  return ['| op | code | writes | read | watch flag sets |', '| --- | --- | --- | --- | --- |', ...rows].join('\n');
}

const OPS_BEGIN = /<!-- ops:begin[^>]*-->\n/;
const OPS_END = '<!-- ops:end -->';

describe('docs/protocol.md', () => {
  it('has the op table generated from the descriptors', () => {
    const begin = OPS_BEGIN.exec(doc);
    const end = doc.indexOf(OPS_END);
    expect(begin, 'the ops:begin marker').not.toBeNull();
    expect(end, 'the ops:end marker').toBeGreaterThan(0);
    const start = (begin?.index ?? 0) + (begin?.[0].length ?? 0);
    const table = doc.slice(start, end).trim();
    const expected = renderOpTable();
    if (table !== expected && process.env['UPDATE_DOCS'] === '1') {
      writeFileSync(docPath, `${doc.slice(0, start)}${expected}\n${doc.slice(end)}`);
      return;
    }
    expect(table, 'run with UPDATE_DOCS=1 to regenerate').toBe(expected);
  });

  it('describes every op in a section headed by its name and code', () => {
    const headings = doc.split('\n').filter((line) => line.startsWith('### '));
    for (const name of OP_NAMES) {
      expect(
        headings.some((h) => h.includes(`\`${name}\` (${Ops[name].code})`)),
        `a heading with \`${name}\` (${Ops[name].code})`,
      ).toBe(true);
    }
  });

  it('lists every error code with its value', () => {
    for (const [name, value] of Object.entries(ErrorCode)) expect(doc).toContain(`| \`${name}\` | ${value} |`);
  });

  it('lists the Stat fields, create modes, perms and event types with their values', () => {
    for (const field of STAT_FIELDS) expect(doc).toContain(`| \`${field}\` |`);
    for (const [name, value] of Object.entries(CreateMode)) expect(doc).toContain(`| \`${name}\` | ${value} |`);
    for (const [name, value] of Object.entries(Perms)) expect(doc).toContain(`| \`${name}\` | ${value} |`);
    for (const [name, value] of Object.entries(EventType))
      if (value !== EventType.None) expect(doc).toContain(`| \`${name}\` | ${value} |`);
  });

  it('lists every limit with its default', () => {
    for (const [name, value] of Object.entries(DEFAULT_LIMITS)) {
      const row = doc.split('\n').find((line) => line.startsWith(`| \`${name}\` |`));
      expect(row, `a row for ${name}`).toBeDefined();
      expect(row?.split('|')[2]?.replace(/\s/g, '')).toMatch(new RegExp(`^${value}`));
    }
  });

  it('shows the bytes the codec writes', () => {
    const example = (name: string) => {
      const m = new RegExp(`<!-- example:${name} -->\\n\`\`\`\\n([0-9a-f ]+)\\n\`\`\``).exec(doc);
      expect(m, `example ${name}`).not.toBeNull();
      return Uint8Array.from((m?.[1] ?? '').split(' ').map((h) => parseInt(h, 16)));
    };
    const request = { xid: 1, op: Ops.getData.code, args: { path: '/a', watch: true } };
    expect(example('getData-request')).toEqual(encodeClientFrame(request));
    expect(decodeRequest(example('getData-request'))).toEqual({ ok: true, value: { ...request, name: 'getData' } });

    const stat = { czxid: 3, mzxid: 5, pzxid: 3, ctime: 1_700_000_000_000, mtime: 1_700_000_000_500, version: 1, cversion: 0, aversion: 0 };
    const response = {
      xid: 1,
      zxid: 5,
      err: 0,
      res: { data: new TextEncoder().encode('hi'), stat: { ...stat, ephemeralOwner: 0, dataLength: 2, numChildren: 0 } },
    };
    expect(example('getData-response')).toEqual(encodeServerFrame(response));
    expect(decodeServerFrame(example('getData-response'), { opOf: () => 'getData' })).toEqual({
      ok: true,
      value: { kind: 'response', frame: response },
    });

    expect(example('ping-request')).toEqual(encodeClientFrame({ xid: XID_PING, op: Ops.ping.code, args: {} }));
  });
});
