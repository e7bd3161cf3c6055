// @arbor/server — the ensemble member.
export type { ClientLink, ClientService, ConnectionId } from './core/client-port.js';
export { decodeLogEntry, encodeLogEntry, LogEntryError, LOG_ENTRY_VERSION, type StampedTxn } from './core/log-entry.js';
