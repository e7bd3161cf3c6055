/**
 * A znode's metadata, with ZooKeeper's field names and meaning (see SEMANTICS.md).
 * zxids are log indexes; they are JavaScript numbers (safe up to 2^53, which a log index
 * cannot reach in practice). Times are milliseconds since the epoch from the leader's clock.
 */
export interface Stat {
  /** zxid of the change that created the node. */
  czxid: number;
  /** zxid of the last setData (equals czxid until the first). */
  mzxid: number;
  /** zxid of the last create or delete of a direct child (equals czxid until the first). */
  pzxid: number;
  ctime: number;
  mtime: number;
  /** Number of setData calls on the node. */
  version: number;
  /** Number of creates and deletes of direct children. */
  cversion: number;
  /** Number of setACL calls on the node. */
  aversion: number;
  /** Owning session id for an ephemeral node, 0 otherwise. */
  ephemeralOwner: number;
  dataLength: number;
  numChildren: number;
}

export const STAT_FIELDS = [
  'czxid',
  'mzxid',
  'pzxid',
  'ctime',
  'mtime',
  'version',
  'cversion',
  'aversion',
  'ephemeralOwner',
  'dataLength',
  'numChildren',
] as const satisfies readonly (keyof Stat)[];
