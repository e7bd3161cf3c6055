export { CounterContentionError, CounterFormatError, CounterRangeError, SharedCounter } from './counter.js';
export type { CompareAndSetResult, CounterSubscription, CounterValue, OnChangeOptions, SharedCounterOptions } from './counter.js';
