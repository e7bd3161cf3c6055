import { describe, it } from 'vitest';
import {
  MemoryLogStore,
  MemorySnapshotStore,
  MemoryStableStore,
  describeLogStoreContract,
  describeSnapshotStoreContract,
  describeStableStoreContract,
} from '@arbor/raft';

describe('MemoryLogStore contract', () => describeLogStoreContract({ it }, () => new MemoryLogStore()));
describe('MemoryStableStore contract', () => describeStableStoreContract({ it }, () => new MemoryStableStore()));
describe('MemorySnapshotStore contract', () => describeSnapshotStoreContract({ it }, () => new MemorySnapshotStore()));
