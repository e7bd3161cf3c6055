import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BadVersionError, ErrorCode, NoAuthError, NoNodeError, utf8 } from '../../src/index.js';
import type { Stat } from '../../src/index.js';
import { describeFailure, formatData, formatHelp, formatJson, formatResult, formatStat, formatText } from '../../src/shell/format.js';
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
