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

/**
 * Arguments are evaluated before the call, so a message built from a template costs a string
 * (and number-to-string conversions) on every pass: on paths that run per apply, write
 * `if (broken) throw new AssertionError(\`…\`)` instead, which builds it only when thrown.
 */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}
