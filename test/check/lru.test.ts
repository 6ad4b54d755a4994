import { describe, expect, it } from 'vitest';
import { LruCache } from '../../src/check/lru.js';

describe('L1 cache (CLOCK)', () => {
  it('never holds more than its bound', () => {
    const cache = new LruCache<number>(100);
    for (let i = 0; i < 1000; i++) {
      cache.set(`g${i % 7}`, String(i), i);
      if (i % 3 === 0) cache.get(`g${(i - 1) % 7}`, String(i - 1));
      expect(cache.size).toBeLessThanOrEqual(100);
    }
    expect(cache.size).toBe(100);
  });

  it('evicts the oldest entry nobody read, and keeps the ones in use', () => {
    const cache = new LruCache<number>(3);
    cache.set('g', 'a', 1);
    cache.set('g', 'b', 2);
    cache.set('g', 'c', 3);
    expect(cache.get('g', 'a')).toBe(1);
    cache.set('g', 'd', 4); // b is the oldest unread
    expect([cache.get('g', 'a'), cache.get('g', 'b'), cache.get('g', 'c'), cache.get('g', 'd')]).toEqual([1, undefined, 3, 4]);
  });

  it('when every entry was read, the oldest goes after its second chance', () => {
    const cache = new LruCache<number>(2);
    cache.set('g', 'a', 1);
    cache.set('g', 'b', 2);
    cache.get('g', 'a');
    cache.get('g', 'b');
    cache.set('g', 'c', 3);
    expect([cache.get('g', 'a'), cache.get('g', 'b'), cache.get('g', 'c')]).toEqual([undefined, 2, 3]);
  });

  it('replacing a key keeps one entry with the new value', () => {
    const cache = new LruCache<number>(2);
    cache.set('g', 'a', 1);
    cache.set('g', 'a', 2);
    expect(cache.size).toBe(1);
    expect(cache.get('g', 'a')).toBe(2);
    cache.delete('g', 'a');
    expect(cache.get('g', 'a')).toBeUndefined();
  });
});

describe('L1 cache keys', () => {
  it('tells entries apart by both keys', () => {
    const cache = new LruCache<string>(2);
    cache.set('acme', 'u1', 'acme/u1');
    cache.set('globex', 'u1', 'globex/u1');
    expect([cache.get('acme', 'u1'), cache.get('globex', 'u1'), cache.get('acme', 'u2')]).toEqual(['acme/u1', 'globex/u1', undefined]);
    expect(cache.delete('acme', 'u1')).toBe(true);
    expect(cache.delete('acme', 'u1')).toBe(false);
    cache.set('acme', 'u2', 'acme/u2');
    cache.set('initech', 'u1', 'initech/u1'); // full: globex/u1 was read, so acme/u2 (unread) goes
    expect([cache.get('globex', 'u1'), cache.get('acme', 'u2'), cache.get('initech', 'u1')]).toEqual(['globex/u1', undefined, 'initech/u1']);
    expect(cache.size).toBe(2);
  });

  it('drops a whole group, and only that group, freeing its room', () => {
    const cache = new LruCache<string>(3);
    cache.set('acme', 'u1', 'acme/u1');
    cache.set('acme', 'u2', 'acme/u2');
    cache.set('globex', 'u1', 'globex/u1');
    cache.deleteGroup('acme');
    cache.deleteGroup('initech'); // nothing to drop
    expect(cache.size).toBe(1);
    expect([cache.get('acme', 'u1'), cache.get('acme', 'u2'), cache.get('globex', 'u1')]).toEqual([undefined, undefined, 'globex/u1']);
    cache.set('initech', 'u1', 'initech/u1');
    cache.set('initech', 'u2', 'initech/u2');
    expect(cache.size).toBe(3);
    expect(cache.get('globex', 'u1')).toBe('globex/u1');
  });
});
