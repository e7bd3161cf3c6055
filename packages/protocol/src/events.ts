/** Watch event types, with ZooKeeper's values (Watcher.Event.EventType). */
export const EventType = {
  None: -1,
  NodeCreated: 1,
  NodeDeleted: 2,
  NodeDataChanged: 3,
  NodeChildrenChanged: 4,
  DataWatchRemoved: 5,
  ChildWatchRemoved: 6,
  PersistentWatchRemoved: 7,
} as const;
export type EventTypeName = keyof typeof EventType;
export type EventType = (typeof EventType)[EventTypeName];

/** Kinds of watch, as in addWatch's mode and removeWatches' type (ZooKeeper's WatcherType and AddWatchMode). */
export const WatcherType = { Children: 1, Data: 2, Any: 3, Persistent: 4, PersistentRecursive: 5 } as const;
export type WatcherType = (typeof WatcherType)[keyof typeof WatcherType];

export const AddWatchMode = { PERSISTENT: 0, PERSISTENT_RECURSIVE: 1 } as const;
export type AddWatchMode = (typeof AddWatchMode)[keyof typeof AddWatchMode];

/** A change that fired, as the tree reports it when applying an entry: the server maps it to watches. */
export interface WatchTrigger {
  type: EventType;
  path: string;
  zxid: number;
}
