import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { connected } from './helpers/harness.js';

describe('smoke', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());
  it('creates and reads', async () => {
    const { client, ensemble } = await connected({ chroot: '/app' });
    expect(await client.create('/a', 'hello')).toBe('/a');
    const { data, stat } = await client.getData('/a');
    expect(new TextDecoder().decode(data!)).toBe('hello');
    expect(stat.version).toBe(0);
    expect(ensemble.dataOf('/app/a')).toBe('hello');
    await client.close();
    expect(client.state).toBe('closed');
  });
});
