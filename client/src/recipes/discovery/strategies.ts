import type { ServiceInstance } from './instance.js';

/**
 * Picks one instance from the current list (sorted by id). Pure given its own state: the
 * provider calls it with whatever the cache holds at that moment.
 */
export interface SelectionStrategy {
  select<M>(instances: readonly ServiceInstance<M>[]): ServiceInstance<M> | undefined;
}

/** Uniformly at random (`random`: a uniform [0, 1) source, default Math.random). */
export function randomStrategy(random: () => number = Math.random): SelectionStrategy {
  return {
    select: (instances) => (instances.length === 0 ? undefined : instances[Math.floor(random() * instances.length) % instances.length]),
  };
}

/**
 * Each call takes the next instance in id order. When instances come and go, the rotation
 * continues after the id picked last, so no instance is skipped or served twice in a row
 * because the list shifted.
 */
export function roundRobinStrategy(): SelectionStrategy {
  let lastId: string | undefined;
  return {
    select: (instances) => {
      if (instances.length === 0) return undefined;
      const next = lastId === undefined ? instances[0] : (instances.find((i) => i.id > (lastId as string)) ?? instances[0]);
      lastId = next?.id;
      return next;
    },
  };
}

/**
 * The same instance on every call while it is listed; when it vanishes, another is chosen with
 * `fallback` (default random) and stuck to.
 */
export function stickyStrategy(fallback: SelectionStrategy = randomStrategy()): SelectionStrategy {
  let stuckId: string | undefined;
  return {
    select: (instances) => {
      const current = stuckId === undefined ? undefined : instances.find((i) => i.id === stuckId);
      if (current !== undefined) return current;
      const chosen = fallback.select(instances);
      stuckId = chosen?.id;
      return chosen;
    },
  };
}

/** A strategy by name, or one given. */
export type StrategyOption = 'random' | 'round-robin' | 'sticky' | SelectionStrategy;

export function toStrategy(option: StrategyOption): SelectionStrategy {
  if (typeof option !== 'string') return option;
  switch (option) {
    case 'random':
      return randomStrategy();
    case 'round-robin':
      return roundRobinStrategy();
    case 'sticky':
      return stickyStrategy();
  }
}
