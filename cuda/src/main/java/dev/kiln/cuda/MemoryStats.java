package dev.kiln.cuda;

/**
 * Counters of a CUDA device's caching allocator, for leak checks, tests and {@code kiln info}. Bytes are
 * size-class bytes (a request rounded up). Cached blocks are free for reuse (including those released but
 * not yet known to be idle); backing allocations and frees count cuMemAlloc/cuMemFree calls; reuses count
 * requests served from the cache; waits count device synchronisations before reusing released blocks.
 */
public record MemoryStats(long liveBytes, long liveBlocks, long cachedBytes, long cachedBlocks, long backingAllocations,
                          long backingFrees, long reuses, long waits) {}
