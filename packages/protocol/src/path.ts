import { ArborError, ErrorCode } from './errors.js';

/** Longest path a member accepts, in UTF-16 code units. A setting on the member; this is its default. */
export const PATH_LENGTH_MAX_DEFAULT = 4096;

export interface PathOptions {
  /**
   * A sequential create may end in '/' (the counter becomes the last segment, as ZooKeeper
   * allows); the check is then made on the path with a digit appended.
   */
  sequential?: boolean;
  pathLengthMax?: number;
}

/**
 * Why a path is invalid, or undefined when it is valid. The message says what is wrong and
 * where (the index of the offending character), e.g. `empty segment at index 4 of '/a//b'`.
 * Rules (SEMANTICS.md, ZooKeeper's PathUtils): absolute; no trailing '/' except the root; no
 * empty, '.' or '..' segment; no NUL, control or non-character code units.
 */
export function pathProblem(path: unknown, options: PathOptions = {}): string | undefined {
  if (typeof path !== 'string') return `a path must be a string, not ${path === null ? 'null' : typeof path}`;
  const max = options.pathLengthMax ?? PATH_LENGTH_MAX_DEFAULT;
  if (path.length === 0) return 'a path must not be empty';
  if (path.length > max) return `path is ${path.length} characters long; the limit is ${max}`;
  const subject = options.sequential === true && path.endsWith('/') ? `${path}0` : path;
  if (subject[0] !== '/') return `path '${path}' must start with '/'`;
  if (subject.length === 1) return undefined;
  if (subject.endsWith('/')) return `path '${path}' must not end with '/'`;
  let segmentStart = 1;
  for (let i = 1; i <= subject.length; i++) {
    const c = i < subject.length ? subject.charCodeAt(i) : 0x2f;
    if (c === 0x2f) {
      const segment = subject.slice(segmentStart, i);
      if (segment.length === 0) return `empty segment at index ${segmentStart} of '${path}'`;
      if (segment === '.' || segment === '..') return `relative segment '${segment}' at index ${segmentStart} of '${path}'`;
      segmentStart = i + 1;
      continue;
    }
    const bad = invalidCharName(c);
    if (bad !== undefined) return `${bad} at index ${i} of ${JSON.stringify(path)}`;
  }
  return undefined;
}

function invalidCharName(c: number): string | undefined {
  if (c === 0) return 'NUL character';
  if ((c > 0x00 && c < 0x20) || (c >= 0x7f && c <= 0x9f)) return `control character U+${c.toString(16).padStart(4, '0').toUpperCase()}`;
  if ((c >= 0xd800 && c <= 0xf8ff) || (c >= 0xfff0 && c <= 0xffff)) return `disallowed character U+${c.toString(16).toUpperCase()}`;
  return undefined;
}

/** Throws BADARGUMENTS with {@link pathProblem}'s message when the path is invalid. */
export function validatePath(path: unknown, options: PathOptions = {}): asserts path is string {
  const problem = pathProblem(path, options);
  if (problem !== undefined) throw new ArborError(ErrorCode.BADARGUMENTS, problem);
}

/** Parent of a valid non-root path: '/a/b' → '/a', '/a' → '/'. */
export function parentPath(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

/** Last segment of a valid path: '/a/b' → 'b', '/' → ''. */
export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** '/a' + 'b' → '/a/b'; '/' + 'b' → '/b'. */
export function joinPath(parent: string, child: string): string {
  return parent === '/' ? `/${child}` : `${parent}/${child}`;
}

/** Is `path` equal to `ancestor` or below it? ('/rx' is not under '/r'.) */
export function isPathUnder(path: string, ancestor: string): boolean {
  if (ancestor === '/') return true;
  return path === ancestor || (path.startsWith(ancestor) && path.charCodeAt(ancestor.length) === 0x2f);
}

/**
 * Normalises a chroot given by a user: '/app/' → '/app', '' or '/' → '' (no chroot).
 * Throws BADARGUMENTS for an invalid chroot.
 */
export function normalizeChroot(chroot: string): string {
  if (chroot === '' || chroot === '/') return '';
  const trimmed = chroot.length > 1 && chroot.endsWith('/') ? chroot.slice(0, -1) : chroot;
  const problem = pathProblem(trimmed);
  if (problem !== undefined) throw new ArborError(ErrorCode.BADARGUMENTS, `invalid chroot: ${problem}`);
  return trimmed;
}

/** Client path → server path under a normalised chroot ('' means none). */
export function addChroot(chroot: string, path: string): string {
  if (chroot === '') return path;
  return path === '/' ? chroot : chroot + path;
}

/** Server path → client path; a path outside the chroot is returned unchanged. */
export function stripChroot(chroot: string, path: string): string {
  if (chroot === '' || !isPathUnder(path, chroot)) return path;
  return path.length === chroot.length ? '/' : path.slice(chroot.length);
}
