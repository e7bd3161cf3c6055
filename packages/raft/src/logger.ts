// The tiny logger the core is handed (STYLE.md 18). The signature matches pino's
// `logger.info(fields, message)`, so the server can pass a pino child logger as is; scenario
// tests pass a capturing logger and print the lines into the golden output.

export type LogFields = Readonly<Record<string, unknown>>;

export interface Logger {
  debug(fields: LogFields, message: string): void;
  info(fields: LogFields, message: string): void;
  warn(fields: LogFields, message: string): void;
}

export const nullLogger: Logger = Object.freeze({
  debug() {},
  info() {},
  warn() {},
});

export type LogLevel = 'debug' | 'info' | 'warn';

export interface LogLine {
  readonly level: LogLevel;
  readonly message: string;
  readonly fields: LogFields;
}

/** A logger that keeps every line, for tests and the simulator's failure reports. */
export class CapturingLogger implements Logger {
  readonly lines: LogLine[] = [];
  constructor(
    private readonly bound: LogFields = {},
    private readonly minLevel: LogLevel = 'debug',
    private readonly sink: LogLine[] | null = null,
  ) {}

  debug(fields: LogFields, message: string): void {
    this.push('debug', fields, message);
  }
  info(fields: LogFields, message: string): void {
    this.push('info', fields, message);
  }
  warn(fields: LogFields, message: string): void {
    this.push('warn', fields, message);
  }

  /** A logger writing into the same line list with extra bound fields (like pino's child()). */
  child(bound: LogFields): CapturingLogger {
    return new CapturingLogger({ ...this.bound, ...bound }, this.minLevel, this.sink ?? this.lines);
  }

  private push(level: LogLevel, fields: LogFields, message: string): void {
    if (LEVEL_RANK[level] < LEVEL_RANK[this.minLevel]) return;
    (this.sink ?? this.lines).push({ level, message, fields: { ...this.bound, ...fields } });
  }
}

const LEVEL_RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2 };

/** `level message k=v k=v`, fields in insertion order; byte arrays as hex. */
export function formatLogLine(line: LogLine): string {
  const parts = [line.level.toUpperCase(), line.message];
  for (const [key, value] of Object.entries(line.fields)) parts.push(`${key}=${formatValue(value)}`);
  return parts.join(' ');
}

function formatValue(value: unknown): string {
  if (value instanceof Uint8Array) return bytesToHex(value);
  if (Array.isArray(value)) return `[${value.map(formatValue).join(',')}]`;
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

function bytesToHex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}
