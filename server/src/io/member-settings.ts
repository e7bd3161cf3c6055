/**
 * The settings a member runs with that the io layer needs, with their defaults. The defaults
 * live here, beside the code that applies them (member-server.ts), so that io does not depend on
 * the command around it: the cli's configuration (server/src/cli/config.ts) validates a file,
 * the environment and flags, and fills what they leave out from here. docs/operations.md
 * documents each setting.
 */

/** One member of the ensemble as every member sees it. */
export interface MemberAddress {
  id: number;
  host: string;
  clientPort: number;
  peerPort: number;
  /** 0: no admin HTTP port. */
  adminPort: number;
}

export const MEMBER_SETTING_DEFAULTS = {
  tickMs: 50,
  electionTicks: 10,
  heartbeatTicks: 1,
  sessionTimeoutMinMs: 1_000,
  sessionTimeoutMaxMs: 60_000,
  snapshotEveryEntries: 50_000,
  changeWindowEntries: 100_000,
  connectionsMax: 10_000,
  logLevel: 'info',
} as const;
