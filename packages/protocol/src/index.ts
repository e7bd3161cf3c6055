export * from './errors.js';
export * from './stat.js';
export * from './create-mode.js';
export * from './acl.js';
export * from './path.js';
export * from './events.js';
export * from './msgpack.js';
