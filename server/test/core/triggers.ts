import { EventType, parentPath } from '@arbor/protocol';
import type { WatchTrigger } from '@arbor/protocol';

/** The triggers the tree reports for each change (SEMANTICS.md, Watches), for tests. */
export const change = {
  create: (path: string, zxid: number): WatchTrigger[] => [
    { type: EventType.NodeCreated, path, zxid },
    { type: EventType.NodeChildrenChanged, path: parentPath(path), zxid },
  ],
  setData: (path: string, zxid: number): WatchTrigger[] => [{ type: EventType.NodeDataChanged, path, zxid }],
  delete: (path: string, zxid: number): WatchTrigger[] => [
    { type: EventType.NodeDeleted, path, zxid },
    { type: EventType.NodeChildrenChanged, path: parentPath(path), zxid },
  ],
};
export type ChangeName = keyof typeof change;
