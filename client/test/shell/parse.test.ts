import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  COMMANDS,
  UsageError,
  completeCommand,
  createModeFor,
  findCommand,
  parseCommand,
  parseShellArgs,
  quoteWord,
  splitCommands,
} from '../../src/shell/parse.js';

const words = (script: string): string[][] => splitCommands(script).map((c) => c.words);
const parse = (line: string) => parseCommand(splitCommands(line)[0]?.words ?? []);
const usage = (line: string): UsageError => {
  try {
    parse(line);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return error as UsageError;
  }
  throw new Error(`'${line}' parsed`);
};

describe('splitCommands', () => {
  it('splits commands at ; and newlines and words at blanks, dropping empty commands', () => {
    expect(words('ls /; get /a\n\n  stat   /b ;;')).toEqual([
      ['ls', '/'],
      ['get', '/a'],
      ['stat', '/b'],
    ]);
    expect(splitCommands('ls /;  get -s /a  ').map((c) => c.text)).toEqual(['ls /', 'get -s /a']);
  });

  it('reads \'…\' literally and "…" with escapes; quotes hide ; and #', () => {
    expect(words(`set /a 'x; y # z'`)).toEqual([['set', '/a', 'x; y # z']]);
    expect(words(`set /a "say \\"hi\\" \\\\ \\n"`)).toEqual([['set', '/a', 'say "hi" \\ \\n']]);
    expect(words(`set /a ''`)).toEqual([['set', '/a', '']]);
    expect(words(`set /a pre'mid'"post"`)).toEqual([['set', '/a', 'premidpost']]);
    expect(words('set /a x\\ y')).toEqual([['set', '/a', 'x y']]);
  });

  it('treats # at the start of a word as a comment to the end of the line', () => {
    expect(words('ls / # list the root\n# a whole comment line\nget /a#b')).toEqual([
      ['ls', '/'],
      ['get', '/a#b'],
    ]);
    expect(splitCommands('ls / # note').map((c) => c.text)).toEqual(['ls /']);
  });

  it('rejects unterminated quotes and a trailing backslash', () => {
    expect(() => splitCommands(`set /a 'x`)).toThrow(UsageError);
    expect(() => splitCommands(`set /a "x`)).toThrow(/unterminated double quote/);
    expect(() => splitCommands('ls \\')).toThrow(UsageError);
  });

  it('reads back any words written with quoteWord (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.string({ unit: 'grapheme' }), { minLength: 1, maxLength: 5 }), { maxLength: 4 }), (commands) => {
        const script = commands.map((ws) => ws.map(quoteWord).join(' ')).join(' ; ');
        expect(words(script)).toEqual(commands);
      }),
    );
  });
});

describe('parseCommand', () => {
  it('parses every command of the table', () => {
    expect(parse('ls -R -s /a')).toEqual({ name: 'ls', path: '/a', recursive: true, stat: true });
    expect(parse('get -w /a')).toEqual({ name: 'get', path: '/a', stat: false, watch: true });
    expect(parse('stat /a')).toEqual({ name: 'stat', path: '/a' });
    expect(parse('set /a data -v 3')).toEqual({ name: 'set', path: '/a', data: 'data', version: 3 });
    expect(parse('set /a x')).toEqual({ name: 'set', path: '/a', data: 'x', version: -1 });
    expect(parse('delete -v 0 /a')).toEqual({ name: 'delete', path: '/a', version: 0 });
    expect(parse('deleteall /a')).toEqual({ name: 'deleteall', path: '/a' });
    expect(parse('rmr /a')).toEqual({ name: 'deleteall', path: '/a' });
    expect(parse('sync /')).toEqual({ name: 'sync', path: '/' });
    expect(parse('watch -R --count 2 /a')).toEqual({ name: 'watch', path: '/a', recursive: true, count: 2 });
    expect(parse('watch --count=5 /a')).toEqual({ name: 'watch', path: '/a', recursive: false, count: 5 });
    expect(parse('watch /a')).toEqual({ name: 'watch', path: '/a', recursive: false });
    expect(parse('getAcl /a')).toEqual({ name: 'getAcl', path: '/a' });
    expect(parse('setacl -v 1 /a world:anyone:r')).toEqual({
      name: 'setAcl',
      path: '/a',
      acl: [{ perms: 1, id: { scheme: 'world', id: 'anyone' } }],
      version: 1,
    });
    expect(parse('addauth digest u:p')).toEqual({ name: 'addauth', scheme: 'digest', credentials: 'u:p' });
    expect(parse('WHOAMI')).toEqual({ name: 'whoami' });
    expect(parse('history')).toEqual({ name: 'history' });
    expect(parse('help')).toEqual({ name: 'help' });
    expect(parse('help getacl')).toEqual({ name: 'help', command: 'getAcl' });
    expect(parse('exit')).toEqual({ name: 'quit' });
  });

  it('parses create with its flags, data and ACL', () => {
    expect(parse('create /a')).toEqual({ name: 'create', path: '/a', data: null, mode: 'PERSISTENT' });
    expect(parse("create /a ''")).toEqual({ name: 'create', path: '/a', data: '', mode: 'PERSISTENT' });
    expect(parse('create -e -s /q/n- x')).toEqual({ name: 'create', path: '/q/n-', data: 'x', mode: 'EPHEMERAL_SEQUENTIAL' });
    expect(parse('create -c /c')).toEqual({ name: 'create', path: '/c', data: null, mode: 'CONTAINER' });
    expect(parse('create -t 500 /t d')).toEqual({ name: 'create', path: '/t', data: 'd', mode: 'PERSISTENT_WITH_TTL', ttlMs: 500 });
    expect(parse('create /a d world:anyone:cr')).toMatchObject({ acl: [{ perms: 5, id: { scheme: 'world', id: 'anyone' } }] });
    expect(parse('create /a -- -1')).toMatchObject({ data: '-1' });
  });

  it('maps create flags to modes, and rejects the combinations that have none (property)', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.boolean(), fc.boolean(), fc.boolean(), (ephemeral, sequential, container, ttl) => {
        const invalid = (container && (ephemeral || sequential || ttl)) || (ttl && ephemeral);
        if (invalid) {
          expect(() => createModeFor({ ephemeral, sequential, container, ttl })).toThrow(UsageError);
          return;
        }
        const mode = createModeFor({ ephemeral, sequential, container, ttl });
        expect(mode.startsWith('EPHEMERAL')).toBe(ephemeral);
        expect(mode.includes('SEQUENTIAL')).toBe(sequential);
        expect(mode === 'CONTAINER').toBe(container);
        expect(mode.endsWith('WITH_TTL')).toBe(ttl);
      }),
    );
  });

  it('rejects bad usage with a message naming the command', () => {
    expect(usage('frobnicate /a').message).toMatch(/unknown command 'frobnicate'/);
    expect(usage('ls -x /').message).toMatch(/unknown option '-x'/);
    expect(usage('ls -x /').command).toBe('ls');
    expect(usage('get').message).toMatch(/missing path/);
    expect(usage('set /a').message).toMatch(/missing data/);
    expect(usage('setAcl').message).toMatch(/missing path and acl/);
    expect(usage('stat /a /b').message).toMatch(/unexpected argument '\/b'/);
    expect(usage('set -v x /a d').message).toMatch(/-v needs an integer/);
    expect(usage('set -v -2 /a d').message).toMatch(/-v needs an integer ≥ -1/);
    expect(usage('set /a d -v').message).toMatch(/-v needs a value/);
    expect(usage('create -t 0 /a').message).toMatch(/-t needs an integer ≥ 1/);
    expect(usage('create -e -t 5 /a').message).toMatch(/cannot be combined with -e/);
    expect(usage('create -c -s /a').message).toMatch(/-c \(container\)/);
    expect(usage('watch --count 0 /a').message).toMatch(/--count/);
    expect(usage('setAcl /a world:anyone:xyz').message).toMatch(/unknown permission 'x'/);
    expect(usage('ls -R=1 /').message).toMatch(/unknown option/);
    expect(usage('help nope').message).toMatch(/no command 'nope'/);
  });

  it('has a table whose usage lines start with the name and whose examples parse', () => {
    for (const spec of COMMANDS) {
      expect(spec.usage.split(' ')[0]).toBe(spec.name);
      expect(findCommand(spec.name.toUpperCase())).toBe(spec);
      expect(parse(spec.example).name).toBe(spec.name);
    }
  });

  it('parses lock, election and services (the root default, --root, one service)', () => {
    expect(parse('lock /locks/db')).toEqual({ name: 'lock', path: '/locks/db' });
    expect(parse('election /e')).toEqual({ name: 'election', path: '/e' });
    expect(parse('services')).toEqual({ name: 'services', root: '/services', path: '/services' });
    expect(parse('services api')).toEqual({ name: 'services', root: '/services', service: 'api', path: '/services/api' });
    expect(parse('services api --root /apps/svc')).toEqual({ name: 'services', root: '/apps/svc', service: 'api', path: '/apps/svc/api' });
    expect(parse('services --root=/ api')).toEqual({ name: 'services', root: '/', service: 'api', path: '/api' });
    expect(usage('lock').message).toMatch(/missing path/);
    expect(usage('election /a /b').message).toMatch(/unexpected argument '\/b'/);
    expect(usage('services a b').message).toMatch(/unexpected argument 'b'/);
    expect(usage('services --root').message).toMatch(/--root needs a value/);
    expect(usage('services --root= api').message).toMatch(/--root needs a path/);
    expect(usage('services a/b').message).toMatch(/one path segment, not 'a\/b'/);
    expect(usage('services ..').command).toBe('services');
  });

  it('completes command names', () => {
    expect(completeCommand('l')).toEqual([['ls', 'lock'], 'l']);
    expect(completeCommand('se')[0]).toEqual(['set', 'setAcl', 'services']);
    expect(completeCommand('el')).toEqual([['election'], 'el']);
    expect(completeCommand('de')).toEqual([['delete', 'deleteall'], 'de']);
    expect(completeCommand('get')[0]).toEqual(['get', 'getAcl']);
    expect(completeCommand('ls /a')).toEqual([[], 'ls /a']);
  });
});

describe('parseShellArgs', () => {
  it('reads --connect, -c, --json and --timeout-ms, or the connect string as the first argument', () => {
    expect(parseShellArgs(['--connect', 'h:1,h:2/app', '-c', 'ls /', '--json'])).toEqual({
      connectString: 'h:1,h:2/app',
      script: 'ls /',
      json: true,
      help: false,
    });
    expect(parseShellArgs(['h:1', '--timeout-ms=500'])).toEqual({ connectString: 'h:1', json: false, help: false, timeoutMs: 500 });
    expect(parseShellArgs(['-c', 'ls /', '-c', 'stat /']).script).toBe('ls /\nstat /');
    expect(parseShellArgs([]).connectString).toBe('127.0.0.1:2181');
    expect(parseShellArgs(['--help']).help).toBe(true);
  });

  it('rejects unknown flags, missing values and a second connect string', () => {
    expect(() => parseShellArgs(['--nope'])).toThrow(/unexpected argument '--nope'/);
    expect(() => parseShellArgs(['-c'])).toThrow(/-c needs a value/);
    expect(() => parseShellArgs(['--connect', 'a:1', 'b:2'])).toThrow(UsageError);
    expect(() => parseShellArgs(['--timeout-ms', '0'])).toThrow(/positive integer/);
    expect(() => parseShellArgs(['--connect', ''])).toThrow(UsageError);
  });
});
