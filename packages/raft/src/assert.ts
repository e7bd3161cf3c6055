// Invariant checks that stay on in production (STYLE.md 17): a broken invariant is a bug, and
// continuing would risk replicating corrupt state, so fail fast.

export class RaftInvariantError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RaftInvariantError';
  }
}

export function assert(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) throw new RaftInvariantError(typeof message === 'string' ? message : message());
}
