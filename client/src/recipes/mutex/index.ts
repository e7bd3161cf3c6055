export { Mutex, MutexLease } from './mutex.js';
export type { AcquireOptions, MutexOptions } from './mutex.js';
