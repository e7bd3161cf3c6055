// @arbor/server — the ensemble member.
export type { ClientLink, ClientService, ConnectionId } from './core/client-port.js';
export { Member, type MemberHost, type MemberOptions, type PeerEnvelope, type SnapshotReport } from './core/member.js';
export { decodeLogEntry, encodeLogEntry, LogEntryError, LOG_ENTRY_VERSION, type StampedTxn } from './core/log-entry.js';
export {
  startMember,
  type MemberMetrics,
  type MemberRole,
  type MemberRuntime,
  type MemberRuntimeOptions,
  type MemberStatus,
} from './io/member-runtime.js';
export { MemberServerError, startMemberServer, type MemberServer, type MemberServerOptions } from './io/member-server.js';
export type { MemberAddress } from './io/member-settings.js';
export type { MemberConfig, MemberSettings } from './cli/config.js';
export { createRootLogger, type Logger } from './io/logger.js';
