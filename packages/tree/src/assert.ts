/**
 * A broken invariant is a bug, not bad input (STYLE.md 17): fail fast, in production too.
 * Bad input never reaches an assert; it becomes an ArborError with a stable code.
 */
export class AssertionError extends Error {
  constructor(message: string) {
    super(`tree invariant broken: ${message}`);
    this.name = 'AssertionError';
  }
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}
