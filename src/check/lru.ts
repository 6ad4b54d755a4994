interface Slot<V> {
  readonly group: string;
  readonly key: string;
  value: V;
  /** Read since it was inserted or last given its second chance. */
  used: boolean;
}

/**
 * A bounded map of (group, key) pairs that evicts roughly the least recently used entry:
 * CLOCK, or "second chance", on top of a Set's insertion order. A hit only marks its
 * entry, so the hot path never reorders anything (strict LRU deletes and re-inserts on
 * every hit); when full, the oldest entry goes unless it was read, in which case it moves
 * to the young end unmarked and the next oldest is considered.
 *
 * Two keys rather than one joined string: the check path looks entries up by the company
 * and user ids JSON.parse just produced, whose hashes V8 computes once, where a joined key
 * is a new string to hash on every request.
 */
export class LruCache<V> {
  readonly #groups = new Map<string, Map<string, Slot<V>>>();
  /** Every slot, oldest first: the clock hand starts at the front. */
  readonly #order = new Set<Slot<V>>();
  constructor(readonly maxEntries: number) {}

  get(group: string, key: string): V | undefined {
    const slot = this.#groups.get(group)?.get(key);
    if (slot === undefined) return undefined;
    slot.used = true;
    return slot.value;
  }

  /** The value without marking it used: for looks that are not hits (comparing before a set). */
  peek(group: string, key: string): V | undefined {
    return this.#groups.get(group)?.get(key)?.value;
  }

  set(group: string, key: string, value: V): void {
    // Room is made before the new entry goes in, so it is never its own victim.
    if (!this.delete(group, key) && this.#order.size >= this.maxEntries) this.#evictOne();
    let members = this.#groups.get(group);
    if (members === undefined) this.#groups.set(group, (members = new Map()));
    const slot: Slot<V> = { group, key, value, used: false };
    members.set(key, slot);
    this.#order.add(slot);
  }

  #evictOne(): void {
    // Ends within one pass: every entry it skips loses its mark.
    for (const slot of this.#order) {
      this.#order.delete(slot);
      if (!slot.used) {
        this.#unindex(slot);
        return;
      }
      slot.used = false;
      this.#order.add(slot);
    }
  }

  #unindex(slot: Slot<V>): void {
    const members = this.#groups.get(slot.group);
    if (members === undefined) return;
    members.delete(slot.key);
    if (members.size === 0) this.#groups.delete(slot.group);
  }

  /** True when there was an entry to delete. */
  delete(group: string, key: string): boolean {
    const slot = this.#groups.get(group)?.get(key);
    if (slot === undefined) return false;
    this.#order.delete(slot);
    this.#unindex(slot);
    return true;
  }

  /** Drops every entry of the group. */
  deleteGroup(group: string): void {
    const members = this.#groups.get(group);
    if (members === undefined) return;
    for (const slot of members.values()) this.#order.delete(slot);
    this.#groups.delete(group);
  }

  clear(): void {
    this.#groups.clear();
    this.#order.clear();
  }

  get size(): number {
    return this.#order.size;
  }
}
