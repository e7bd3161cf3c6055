export { NodeCache } from './node-cache.js';
export type { NodeCacheOptions } from './node-cache.js';
export { TreeCache } from './tree-cache.js';
export type { CacheStartOptions, CacheState, DecodeOption, TreeCacheOptions } from './tree-cache.js';
export type { CacheEvent, CachedNode, Decoder } from './view.js';
