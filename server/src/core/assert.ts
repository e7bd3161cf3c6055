/**
 * A broken invariant of the member's own logic (a bug, never bad input: bad input gets an error
 * answer). Throws, so that the member stops instead of going on from a state it cannot explain.
 */
export function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`core invariant broken: ${message}`);
}
