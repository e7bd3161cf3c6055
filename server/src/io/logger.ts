import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * The one pino root of a member process. Components get children bound to
 * `{ member, component }` (STYLE.md 18); messages are short and stable, fields first.
 * Logs go to stderr so that stdout stays free for the CLI's own output (the connect string).
 */
export function createRootLogger(options: { memberId?: number; level: string }): Logger {
  const base = options.memberId === undefined ? {} : { member: options.memberId };
  return pino({ level: options.level, base, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ fd: 2, sync: false }));
}
