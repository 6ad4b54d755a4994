import { describe, expect, it } from 'vitest';
import { LruCache } from '../../src/check/lru.js';

describe('L1 cache (CLOCK)', () => {
  it('never holds more than its bound', () => {
    const cache = new LruCache<number, number>(100);
    for (let i = 0; i < 1000; i++) {
      cache.set(i, i);
      if (i % 3 === 0) cache.get(i - 1);
      expect(cache.size).toBeLessThanOrEqual(100);
    }
    expect(cache.size).toBe(100);
  });

  it('evicts the oldest entry nobody read, and keeps the ones in use', () => {
    const cache = new LruCache<string, number>(3);
    cache.set('a', 1);
    cache.set('b', 2);
    cache.set('c', 3);
    expect(cache.get('a')).toBe(1);
    cache.set('d', 4); // b is the oldest unread
    expect([cache.get('a'), cache.get('b'), cache.get('c'), cache.get('d')]).toEqual([1, undefined, 3, 4]);
  });

  it('when every entry was read, the oldest goes after its second chance', () => {
    const cache = new LruCache<string, number>(2);
    cache.set('a', 1);
    cache.set('b', 2);
    cache.get('a');
    cache.get('b');
    cache.set('c', 3);
    expect([cache.get('a'), cache.get('b'), cache.get('c')]).toEqual([undefined, 2, 3]);
  });

  it('replacing a key keeps one entry with the new value', () => {
    const cache = new LruCache<string, number>(2);
    cache.set('a', 1);
    cache.set('a', 2);
    expect(cache.size).toBe(1);
    expect(cache.get('a')).toBe(2);
    cache.delete('a');
    expect(cache.get('a')).toBeUndefined();
  });
});
