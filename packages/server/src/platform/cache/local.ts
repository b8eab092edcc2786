// This process's copy of cache entries, in front of the shared store: least recently used first out,
// bounded by size. It is only ever served after the request's own generation read matched the
// entry's generation, so it is exactly as fresh as an entry from Redis; losing it (a cold start of
// an edge function, a restart) costs one Redis read, nothing else.

export interface LocalEntry {
  generation: string;
  etag: string;
  body: string;
}

export interface LocalCache {
  get(key: string): LocalEntry | undefined;
  set(key: string, entry: LocalEntry): void;
  delete(key: string): void;
  /** What the entries held take, in the estimate `set` bounds. */
  size(): number;
}

/**
 * An LRU bounded by `maxBytes`, estimated as two bytes per character of key, ETag and body (what a
 * JS string may take) plus a fixed overhead. An entry larger than an eighth of the bound is not
 * kept (one big answer would evict everything else). `maxBytes` 0: nothing is kept.
 */
export function createLocalCache(maxBytes: number): LocalCache {
  // A Map iterates in insertion order: re-inserting on use keeps the least recent first.
  const entries = new Map<string, { entry: LocalEntry; bytes: number }>();
  let total = 0;
  const costOf = (key: string, entry: LocalEntry) =>
    2 * (key.length + entry.generation.length + entry.etag.length + entry.body.length) + 100;

  function remove(key: string) {
    const found = entries.get(key);
    if (!found) return;
    entries.delete(key);
    total -= found.bytes;
  }

  return {
    get(key) {
      const found = entries.get(key);
      if (!found) return undefined;
      entries.delete(key);
      entries.set(key, found);
      return found.entry;
    },
    set(key, entry) {
      remove(key);
      const bytes = costOf(key, entry);
      if (bytes > maxBytes / 8) return;
      entries.set(key, { entry, bytes });
      total += bytes;
      for (const oldest of entries.keys()) {
        if (total <= maxBytes) break;
        remove(oldest);
      }
    },
    delete: remove,
    size: () => total,
  };
}
