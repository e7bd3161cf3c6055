/** Path helpers the tree needs beyond @arbor/protocol's. */

/**
 * A flat copy of a string. `slice` of 13+ characters makes a V8 sliced string that keeps the
 * whole source (a txn's full path) alive; a child name is kept for the node's lifetime, so it
 * is worth one copy at creation. The JSON round trip is the portable way to force it.
 */
export function ownString(s: string): string {
  return s.length < 13 ? s : (JSON.parse(JSON.stringify(s)) as string);
}

/** '/a/b' → '/a' and 'b' in one pass; the root has no parent. */
export function splitPath(path: string): { parent: string; name: string } {
  const i = path.lastIndexOf('/');
  return { parent: i <= 0 ? '/' : path.slice(0, i), name: path.slice(i + 1) };
}
