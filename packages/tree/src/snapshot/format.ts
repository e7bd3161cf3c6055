import { ArborError, ErrorCode } from '@arbor/protocol';

/**
 * Snapshot stream format, version 1.
 *
 * A sequence of frames, each a 4-byte big-endian payload length and one msgpack value. Chunks
 * are slices of that byte stream of any size: a reader must accept them split anywhere.
 *
 *   header   {format: 'arbor-tree-snapshot', version: 1, zxid, nodes, sessions, acls, resultsPerSession}
 *   acl      [1, aclId, [[perms, scheme, id], ...]]                    every ACL list in use
 *   node     [2, depth, name, data, aclId, czxid, mzxid, pzxid, ctime, mtime,
 *             version, cversion, aversion, kind, owner, creations]     pre-order, siblings by name;
 *                                                                      the root first: depth 0, name ''
 *   session  [3, id, password, timeoutMs, evictedUpTo, resultCount]
 *   result   [4, requestId, result]                                    resultCount of them after their session, oldest first
 *   end      [9, frames, checksum, digest]
 *
 * `frames` counts the frames before the end record; `checksum` is the Hasher of every one of
 * them (length, then payload bytes); `digest` is the tree's digest, recomputed by the reader.
 */
export const SNAPSHOT_FORMAT = 'arbor-tree-snapshot';
export const SNAPSHOT_VERSION = 1;
export const TAG_ACL = 1;
export const TAG_NODE = 2;
export const TAG_SESSION = 3;
export const TAG_RESULT = 4;
export const TAG_END = 9;
export const CHECKSUM_SEED = 0x736e6170;
export const SNAPSHOT_CHUNK_BYTES_DEFAULT = 1024 * 1024;
/** Largest frame a reader accepts: far above any record (a node's data is 1 MiB by default). */
export const SNAPSHOT_FRAME_BYTES_MAX_DEFAULT = 256 * 1024 * 1024;

/** A snapshot that cannot be restored: damaged, truncated, of another format, or inconsistent. */
export class SnapshotError extends ArborError {
  constructor(message: string) {
    super(ErrorCode.DATAINCONSISTENCY, `snapshot rejected: ${message}`);
  }
}
