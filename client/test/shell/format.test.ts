import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BadVersionError, ErrorCode, NoAuthError, NoNodeError, utf8 } from '../../src/index.js';
import type { Stat } from '../../src/index.js';
import {
  describeFailure,
  formatAddress,
  formatData,
  formatDuration,
  formatHelp,
  formatJson,
  formatResult,
  formatStat,
  formatTable,
  formatText,
} from '../../src/shell/format.js';
import type { LockEntry } from '../../src/shell/format.js';
import { COMMANDS, UsageError } from '../../src/shell/parse.js';

const stat: Stat = {
  czxid: 3,
  mzxid: 7,
  pzxid: 5,
  ctime: 1_700_000_000_000,
  mtime: 1_700_000_001_000,
  version: 2,
  cversion: 1,
  aversion: 0,
  ephemeralOwner: 0x1a2b,
  dataLength: 5,
  numChildren: 1,
};

describe('text for people', () => {
  it('prints a stat one field a line, times as ISO and ms, the owner in hex', () => {
    const lines = formatStat(stat).split('\n');
    expect(lines).toHaveLength(11);
    expect(lines[0]).toBe('czxid = 3');
    expect(lines[3]).toBe('ctime = 2023-11-14T22:13:20.000Z (1700000000000)');
    expect(lines[8]).toBe('ephemeralOwner = 0x1a2b');
  });

  it('prints data as text, null as null, and other bytes as a hex note', () => {
    expect(formatData(null)).toBe('null');
    expect(formatData(new Uint8Array())).toBe('');
    expect(formatData(utf8('héllo'))).toBe('héllo');
    expect(formatData(new Uint8Array([0xff, 0x00]))).toBe('<2 bytes, not UTF-8: ff00>');
  });

  it('prints each result kind', () => {
    expect(formatText({ command: 'ls', path: '/', children: ['a', 'b'] })).toBe('a\nb');
    expect(formatText({ command: 'ls', path: '/', children: [], stat })).toBe(formatStat(stat));
    expect(formatText({ command: 'ls', path: '/', paths: ['/', '/a'] })).toBe('/\n/a');
    expect(formatText({ command: 'get', path: '/a', data: utf8('x'), stat })).toBe(`x\n${formatStat(stat)}`);
    expect(formatText({ command: 'get', path: '/a', watchEvent: { type: 'NodeDataChanged', path: '/a', zxid: 9 } })).toBe(
      'WATCHER:: NodeDataChanged /a (zxid 9)',
    );
    expect(formatText({ command: 'create', path: '/q/n-0000000001', stat })).toBe('Created /q/n-0000000001');
    expect(formatText({ command: 'watch', path: '/a', event: { type: 'NodeCreated', path: '/a/b', zxid: 4 } })).toBe(
      'NodeCreated /a/b (zxid 4)',
    );
    expect(
      formatText({
        command: 'getAcl',
        path: '/',
        acl: [
          { perms: 31, id: { scheme: 'world', id: 'anyone' } },
          { perms: 1, id: { scheme: 'ip', id: '::1' } },
        ],
        stat,
      }),
    ).toBe('world:anyone:cdrwa\nip:::1:r');
    expect(formatText({ command: 'whoami', identities: [{ scheme: 'ip', id: '127.0.0.1' }] })).toBe('ip:127.0.0.1');
    expect(formatText({ command: 'history', history: ['ls /', 'get /a'] })).toBe('   1  ls /\n   2  get /a');
    for (const quiet of ['set', 'setAcl'] as const) expect(formatText({ command: quiet, path: '/a', stat })).toBe('');
    expect(formatText({ command: 'deleteall', path: '/a', deleted: 3 })).toBe('');
  });

  it('lists every command in help, and details one', () => {
    const help = formatHelp();
    for (const spec of COMMANDS) expect(help).toContain(spec.usage);
    expect(formatHelp('create')).toMatch(/^usage: create \[-e\]/);
    expect(formatHelp('create')).toContain('-t N  TTL in ms');
    expect(formatHelp('rmr')).toContain('aliases: rmr');
    expect(formatHelp('services')).toContain('--root PATH  the discovery root (default /services)');
    for (const name of ['lock', 'election', 'services']) expect(help).toContain(`\n  ${name} `);
  });

  it('prints durations rounded down, in the largest two units', () => {
    expect(
      [0, 999, 1000, 12_345, 59_999, 60_000, 125_000, 3_599_999, 3_600_000, 7_620_000, 86_400_000, 273_600_000].map(formatDuration),
    ).toEqual(['0ms', '999ms', '1.0s', '12.3s', '59.9s', '1m00s', '2m05s', '59m59s', '1h00m', '2h07m', '1d00h', '3d04h']);
    expect(formatDuration(-5)).toBe('0ms');
  });

  it('never prints a shorter duration for a longer wait (property)', () => {
    const rank = (text: string): number => {
      const m = /^(\d+)ms$|^(\d+\.\d)s$|^(\d+)m(\d\d)s$|^(\d+)h(\d\d)m$|^(\d+)d(\d\d)h$/.exec(text);
      expect(m).not.toBeNull();
      const n = (i: number): number => Number((m as RegExpExecArray)[i]);
      if (m?.[1] !== undefined) return n(1);
      if (m?.[2] !== undefined) return n(2) * 1000;
      if (m?.[3] !== undefined) return n(3) * 60_000 + n(4) * 1000;
      if (m?.[5] !== undefined) return n(5) * 3_600_000 + n(6) * 60_000;
      return n(7) * 86_400_000 + n(8) * 3_600_000;
    };
    fc.assert(
      fc.property(fc.nat(10 * 86_400_000), fc.nat(10 * 86_400_000), (a, b) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        expect(rank(formatDuration(lo))).toBeLessThanOrEqual(rank(formatDuration(hi)));
        expect(rank(formatDuration(lo))).toBeLessThanOrEqual(lo);
      }),
    );
  });

  it('pads table columns to the widest cell, the last one unpadded', () => {
    expect(
      formatTable(
        ['A', 'BB', 'C'],
        [
          ['xxx', '', 'z'],
          ['y', 'b', ''],
        ],
      ),
    ).toBe('A    BB  C\nxxx      z\ny    b');
    expect(formatAddress('10.0.0.1', 80)).toBe('10.0.0.1:80');
    expect(formatAddress('fe80::1', 443)).toBe('[fe80::1]:443');
  });

  it('prints lock, election and services results', () => {
    const entry = (role: 'holder' | 'waiter', sequence: number, extra: Partial<LockEntry> = {}): LockEntry => ({
      role,
      name: `lock-${String(sequence).padStart(10, '0')}`,
      path: `/l/lock-${String(sequence).padStart(10, '0')}`,
      sequence,
      fencingToken: sequence,
      sessionId: 0x1a + sequence,
      createdAtMs: 0,
      waitedMs: 1500 * (sequence + 1),
      ...extra,
    });
    expect(formatText({ command: 'lock', path: '/l', kind: 'mutex', holders: [entry('holder', 3)], waiters: [entry('waiter', 4)] })).toBe(
      [
        '/l: mutex, 1 holder, 1 waiter',
        'ROLE    SESSION  WAITED  TOKEN  NODE',
        'holder  0x1d     6.0s    3      lock-0000000003',
        'waiter  0x1e     7.5s    4      lock-0000000004',
      ].join('\n'),
    );
    expect(formatText({ command: 'lock', path: '/l', kind: 'empty', holders: [], waiters: [] })).toBe('/l: no holders, no waiters');
    expect(formatText({ command: 'lock', path: '/s', kind: 'semaphore', holders: [], waiters: [] })).toBe(
      '/s: semaphore, no holders, no waiters',
    );
    const doc = JSON.parse(formatJson({ command: 'lock', path: '/l', kind: 'mutex', holders: [entry('holder', 3)], waiters: [] }));
    expect(doc.holders[0]).toEqual({ ...entry('holder', 3), session: '0x1d' });
    expect(formatText({ command: 'election', path: '/e', leader: null, candidates: [] })).toBe('/e: no leader, no candidates');
    const leader = {
      id: '',
      payload: null,
      name: 'latch-0000000000',
      path: '/e/latch-0000000000',
      sequence: 0,
      sessionId: 255,
      createdAtMs: 0,
      waitedMs: 10,
    };
    expect(formatText({ command: 'election', path: '/e', leader, candidates: [] })).toBe(
      [
        '/e: leader (no id) (session 0xff, payload -), 0 candidates queued',
        'ROLE    ID  SESSION  WAITED  TOKEN  PAYLOAD  NODE',
        'leader  -   0xff     10ms    0      -        latch-0000000000',
      ].join('\n'),
    );
    expect(formatText({ command: 'services', root: '/services', services: [] })).toBe('no services under /services');
    expect(formatText({ command: 'services', root: '/r', service: 'api', path: '/r/api', instances: [], ignored: ['x', 'y'] })).toBe(
      'api under /r: no instances\n(ignored 2 nodes that are not service instances: x, y)',
    );
  });
});

describe('JSON for scripts', () => {
  it('prints one parseable line per result, with data as UTF-8 or base64', () => {
    const text = formatJson({ command: 'get', path: '/a', data: utf8('hi'), stat });
    expect(text).not.toContain('\n');
    expect(JSON.parse(text)).toEqual({ command: 'get', path: '/a', data: 'hi', encoding: 'utf8', stat });
    expect(JSON.parse(formatJson({ command: 'get', path: '/a', data: new Uint8Array([0xff]) }))).toEqual({
      command: 'get',
      path: '/a',
      data: '/w==',
      encoding: 'base64',
    });
    expect(JSON.parse(formatJson({ command: 'get', path: '/a', data: null }))).toEqual({ command: 'get', path: '/a', data: null });
    expect(
      JSON.parse(formatJson({ command: 'getAcl', path: '/', acl: [{ perms: 5, id: { scheme: 'world', id: 'anyone' } }], stat })),
    ).toEqual({
      command: 'getAcl',
      path: '/',
      acl: [{ scheme: 'world', id: 'anyone', perms: 'cr' }],
      aclText: 'world:anyone:cr',
      stat,
    });
    expect(JSON.parse(formatResult({ command: 'set', path: '/a', stat }, 'json'))).toEqual({ command: 'set', path: '/a', stat });
    expect(JSON.parse(formatJson({ command: 'help', topic: 'ls' })).commands).toHaveLength(1);
  });

  it('round-trips any data through the JSON document (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const doc = JSON.parse(formatJson({ command: 'get', path: '/a', data: bytes })) as { data: string; encoding: string };
        const back = doc.encoding === 'utf8' ? utf8(doc.data) : new Uint8Array(Buffer.from(doc.data, 'base64'));
        expect(back).toEqual(bytes);
      }),
    );
  });
});

describe('failures', () => {
  it("names the shell command and path once, with the error's code name", () => {
    const error = new BadVersionError(ErrorCode.BADVERSION, 'setData /a: expected version 7, the node has version 1', {
      op: 'setData',
      path: '/a',
    });
    const failure = describeFailure(error, { command: 'set', path: '/a' });
    expect(failure.kind).toBe('error');
    expect(failure.line).toBe('set /a: expected version 7, the node has version 1 (BADVERSION)');
    expect(JSON.parse(failure.json)).toEqual({
      command: 'set',
      path: '/a',
      error: { code: -103, name: 'BADVERSION', message: 'expected version 7, the node has version 1' },
    });
  });

  it('keeps the inner operation when it concerns another node', () => {
    const error = new NoAuthError(ErrorCode.NOAUTH, 'not authorised', { op: 'delete', path: '/a/b' });
    expect(describeFailure(error, { command: 'deleteall', path: '/a' }).line).toBe('deleteall /a: delete /a/b: not authorised (NOAUTH)');
  });

  it('shows usage errors with the usage line, and other errors as one line', () => {
    const usage = describeFailure(new UsageError('missing path', 'ls'), { command: 'ls' });
    expect(usage).toMatchObject({ kind: 'usage', line: 'ls: missing path (usage: ls [-R] [-s] path)' });
    expect(describeFailure(new Error('two\n  lines'), { command: 'get', path: '/x' }).line).toBe('get /x: two lines');
    expect(describeFailure(new NoNodeError(ErrorCode.NONODE, 'the node does not exist', {})).line).toBe('the node does not exist (NONODE)');
  });
});
