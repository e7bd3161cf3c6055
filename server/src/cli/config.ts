import { readFileSync } from 'node:fs';
import { DEFAULT_LIMITS, type Limits } from '@arbor/protocol';
import { MEMBER_SETTING_DEFAULTS, type MemberAddress } from '../io/member-settings.js';

export type { MemberAddress };

/** Everything a member needs to run. Each field is a documented setting (docs/operations.md). */
export interface MemberConfig {
  /** This member's id; must be one of `members`. */
  id: number;
  members: MemberAddress[];
  /** Where the Raft log (SQLite) and snapshots live. */
  dataDir: string;
  /** Length of one Raft tick. Election timeout and heartbeat are counted in ticks. */
  tickMs: number;
  electionTicks: number;
  heartbeatTicks: number;
  sessionTimeoutMinMs: number;
  sessionTimeoutMaxMs: number;
  /** Take a snapshot and compact the log after this many applied entries. */
  snapshotEveryEntries: number;
  /** Committed changes kept for resuming persistent watches after a reconnect. */
  changeWindowEntries: number;
  connectionsMax: number;
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
  limits: Limits;
  /**
   * Addresses this member uses to reach each peer's peer port, when they differ from the
   * members list (a fault-injection proxy in between). Keyed by member id.
   */
  peerRoutes?: Record<string, { host: string; port: number }>;
}

/**
 * The settings a member's config may give beyond who it is and where its data lives (id, members,
 * dataDir, peerRoutes): each has a default, and `limits` may name only the limits it changes.
 */
export type MemberSettings = Partial<Omit<MemberConfig, 'id' | 'members' | 'dataDir' | 'peerRoutes' | 'limits'>> & {
  limits?: Partial<Limits>;
};

/** The defaults of the settings a config may leave out (io/member-settings.ts, where the member applies them). */
export const CONFIG_DEFAULTS = MEMBER_SETTING_DEFAULTS satisfies Partial<MemberConfig>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

function integer(value: unknown, field: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(`${field} must be an integer in ${min}..${max}, not ${JSON.stringify(value)}`);
  }
  return n;
}

function port(value: unknown, field: string, allowZero = false): number {
  return integer(value, field, allowZero ? 0 : 1, 65535);
}

/**
 * Parses a members list written as `id=host:clientPort:peerPort[:adminPort],...`
 * (the form flags and environment variables use).
 */
export function parseMembersList(text: string): MemberAddress[] {
  return text
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .map((part) => {
      const m = /^(\d+)=([^:]+):(\d+):(\d+)(?::(\d+))?$/.exec(part);
      if (m === null) throw new ConfigError(`member '${part}' is not id=host:clientPort:peerPort[:adminPort]`);
      return { id: Number(m[1]), host: m[2] ?? '', clientPort: Number(m[3]), peerPort: Number(m[4]), adminPort: Number(m[5] ?? 0) };
    });
}

/** Checks a raw settings object (file, flags and env merged) and fills defaults. Throws ConfigError with a precise message. */
export function validateConfig(raw: Record<string, unknown>): MemberConfig {
  const membersRaw = typeof raw.members === 'string' ? parseMembersList(raw.members) : raw.members;
  if (!Array.isArray(membersRaw) || membersRaw.length === 0) throw new ConfigError('members must list at least one member');
  const members = membersRaw.map((m: unknown, i): MemberAddress => {
    if (typeof m !== 'object' || m === null) throw new ConfigError(`members[${i}] must be an object`);
    const r = m as Record<string, unknown>;
    const host = r.host ?? '127.0.0.1';
    if (typeof host !== 'string' || host === '') throw new ConfigError(`members[${i}].host must be a host name or address`);
    return {
      id: integer(r.id, `members[${i}].id`, 1, 255),
      host,
      clientPort: port(r.clientPort, `members[${i}].clientPort`),
      peerPort: port(r.peerPort, `members[${i}].peerPort`),
      adminPort: port(r.adminPort ?? 0, `members[${i}].adminPort`, true),
    };
  });
  const ids = new Set(members.map((m) => m.id));
  if (ids.size !== members.length) throw new ConfigError('member ids must be unique');
  const id = integer(raw.id, 'id', 1, 255);
  if (!ids.has(id)) throw new ConfigError(`id ${id} is not one of the members (${[...ids].join(', ')})`);
  if (typeof raw.dataDir !== 'string' || raw.dataDir === '') throw new ConfigError('dataDir must be a directory path');
  const logLevel = raw.logLevel ?? CONFIG_DEFAULTS.logLevel;
  if (typeof logLevel !== 'string' || !(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new ConfigError(`logLevel must be one of ${LOG_LEVELS.join(', ')}, not ${JSON.stringify(logLevel)}`);
  }
  const tickMs = integer(raw.tickMs ?? CONFIG_DEFAULTS.tickMs, 'tickMs', 1, 60_000);
  const electionTicks = integer(raw.electionTicks ?? CONFIG_DEFAULTS.electionTicks, 'electionTicks', 2, 10_000);
  const heartbeatTicks = integer(raw.heartbeatTicks ?? CONFIG_DEFAULTS.heartbeatTicks, 'heartbeatTicks', 1, 10_000);
  if (heartbeatTicks >= electionTicks)
    throw new ConfigError(`heartbeatTicks (${heartbeatTicks}) must be below electionTicks (${electionTicks})`);
  const sessionTimeoutMinMs = integer(raw.sessionTimeoutMinMs ?? CONFIG_DEFAULTS.sessionTimeoutMinMs, 'sessionTimeoutMinMs', 1);
  const sessionTimeoutMaxMs = integer(raw.sessionTimeoutMaxMs ?? CONFIG_DEFAULTS.sessionTimeoutMaxMs, 'sessionTimeoutMaxMs', 1);
  if (sessionTimeoutMinMs > sessionTimeoutMaxMs) {
    throw new ConfigError(`sessionTimeoutMinMs (${sessionTimeoutMinMs}) must not exceed sessionTimeoutMaxMs (${sessionTimeoutMaxMs})`);
  }
  const limitsRaw = (raw.limits ?? {}) as Record<string, unknown>;
  const limits: Limits = { ...DEFAULT_LIMITS };
  for (const key of Object.keys(DEFAULT_LIMITS) as (keyof Limits)[]) {
    if (limitsRaw[key] !== undefined) limits[key] = integer(limitsRaw[key], `limits.${key}`, 1);
  }
  for (const key of Object.keys(limitsRaw)) {
    if (!(key in DEFAULT_LIMITS))
      throw new ConfigError(`limits.${key} is not a known limit (known: ${Object.keys(DEFAULT_LIMITS).join(', ')})`);
  }
  if (limits.frameBytesMax < limits.dataBytesMax + 1024) {
    throw new ConfigError('limits.frameBytesMax must leave at least 1 KiB beyond limits.dataBytesMax for the header, path and ACL');
  }
  const config: MemberConfig = {
    id,
    members,
    dataDir: raw.dataDir,
    tickMs,
    electionTicks,
    heartbeatTicks,
    sessionTimeoutMinMs,
    sessionTimeoutMaxMs,
    snapshotEveryEntries: integer(raw.snapshotEveryEntries ?? CONFIG_DEFAULTS.snapshotEveryEntries, 'snapshotEveryEntries', 1),
    changeWindowEntries: integer(raw.changeWindowEntries ?? CONFIG_DEFAULTS.changeWindowEntries, 'changeWindowEntries', 0),
    connectionsMax: integer(raw.connectionsMax ?? CONFIG_DEFAULTS.connectionsMax, 'connectionsMax', 1),
    logLevel: logLevel as MemberConfig['logLevel'],
    limits,
  };
  if (raw.peerRoutes !== undefined) config.peerRoutes = raw.peerRoutes as MemberConfig['peerRoutes'];
  return config;
}

const ENV_KEYS: Record<string, string> = {
  ARBOR_ID: 'id',
  ARBOR_MEMBERS: 'members',
  ARBOR_DATA_DIR: 'dataDir',
  ARBOR_TICK_MS: 'tickMs',
  ARBOR_ELECTION_TICKS: 'electionTicks',
  ARBOR_HEARTBEAT_TICKS: 'heartbeatTicks',
  ARBOR_SESSION_TIMEOUT_MIN_MS: 'sessionTimeoutMinMs',
  ARBOR_SESSION_TIMEOUT_MAX_MS: 'sessionTimeoutMaxMs',
  ARBOR_SNAPSHOT_EVERY_ENTRIES: 'snapshotEveryEntries',
  ARBOR_LOG_LEVEL: 'logLevel',
};

/** Flag name (kebab-case) → setting. */
const FLAG_KEYS: Record<string, string> = Object.fromEntries(
  Object.values(ENV_KEYS).map((key) => [key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`), key]),
);

/**
 * Loads a member's configuration: the JSON file (if any), then environment variables
 * (ARBOR_*), then flags (`--data-dir DIR` …); later sources win.
 */
export function loadConfig(options: {
  file?: string;
  env: Record<string, string | undefined>;
  flags: Record<string, string>;
}): MemberConfig {
  let raw: Record<string, unknown> = {};
  if (options.file !== undefined) {
    let text: string;
    try {
      text = readFileSync(options.file, 'utf8');
    } catch (err) {
      throw new ConfigError(`cannot read config file ${options.file}: ${(err as Error).message}`);
    }
    try {
      raw = JSON.parse(text) as Record<string, unknown>;
    } catch (err) {
      throw new ConfigError(`config file ${options.file} is not valid JSON: ${(err as Error).message}`);
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
      throw new ConfigError(`config file ${options.file} must hold a JSON object`);
  }
  for (const [envKey, key] of Object.entries(ENV_KEYS)) {
    const value = options.env[envKey];
    if (value !== undefined && value !== '') raw[key] = value;
  }
  for (const [flag, value] of Object.entries(options.flags)) {
    const key = FLAG_KEYS[flag];
    if (key === undefined)
      throw new ConfigError(
        `unknown flag --${flag} (known: ${Object.keys(FLAG_KEYS)
          .map((f) => `--${f}`)
          .join(', ')})`,
      );
    raw[key] = value;
  }
  return validateConfig(raw);
}
