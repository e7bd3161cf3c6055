/**
 * A logger handed in by the application (STYLE.md 18), pino-compatible: fields first, then a
 * short stable message. A pino logger or child can be passed as is.
 */
export interface ClientLogger {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/** The default: logs nothing. */
export const silentLogger: ClientLogger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
};
