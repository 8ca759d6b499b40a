import { describe, expect, it } from 'vitest';
import { KeyedMutex } from './keyed-mutex.js';

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('KeyedMutex', () => {
  it('runs holders of one key one at a time, in arrival order, and other keys alongside', async () => {
    const m = new KeyedMutex();
    const log: string[] = [];
    const job = (key: string, name: string) =>
      m.run(key, async () => {
        log.push(`start ${name}`);
        await tick();
        log.push(`end ${name}`);
        return name;
      });
    const results = await Promise.all([job('/NSG/a', 'a1'), job('/nsg/A', 'a2'), job('/nsg/b', 'b1')]);
    expect(results).toEqual(['a1', 'a2', 'b1']);
    // a2 waits for a1 (same id, other case); b1 starts before a1 ends.
    expect(log.indexOf('start a2')).toBeGreaterThan(log.indexOf('end a1'));
    expect(log.indexOf('start b1')).toBeLessThan(log.indexOf('end a1'));
    expect(m.size).toBe(0);
  });

  it('releases the key when a holder throws', async () => {
    const m = new KeyedMutex();
    await expect(m.run('k', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(m.run('k', () => Promise.resolve(7))).resolves.toBe(7);
    expect(m.size).toBe(0);
  });
});
