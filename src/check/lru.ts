interface Slot<V> {
  value: V;
  /** Read since it was inserted or last given its second chance. */
  used: boolean;
}

/**
 * A bounded map that evicts roughly the least recently used entry: CLOCK, or "second
 * chance", on top of Map's insertion order. A hit only marks its entry, so the hot path
 * never reorders the map (strict LRU deletes and re-inserts the key on every hit); when
 * full, the oldest entry goes unless it was read, in which case it moves to the young end
 * unmarked and the next oldest is considered.
 */
export class LruCache<K, V> {
  readonly #slots = new Map<K, Slot<V>>();
  constructor(readonly maxEntries: number) {}

  get(key: K): V | undefined {
    const slot = this.#slots.get(key);
    if (slot === undefined) return undefined;
    slot.used = true;
    return slot.value;
  }

  set(key: K, value: V): void {
    // Room is made before the new entry goes in, so it is never its own victim.
    if (!this.#slots.delete(key) && this.#slots.size >= this.maxEntries) this.#evictOne();
    this.#slots.set(key, { value, used: false });
  }

  #evictOne(): void {
    // Ends within one pass: every entry it skips loses its mark.
    for (const [key, slot] of this.#slots) {
      this.#slots.delete(key);
      if (!slot.used) return;
      slot.used = false;
      this.#slots.set(key, slot);
    }
  }

  delete(key: K): void {
    this.#slots.delete(key);
  }

  clear(): void {
    this.#slots.clear();
  }

  get size(): number {
    return this.#slots.size;
  }
}
