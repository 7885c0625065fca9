package dev.kiln.cuda;

import java.util.ArrayDeque;
import java.util.Map;
import java.util.TreeMap;

/**
 * The bookkeeping of a caching allocator, apart from the driver calls so that it can be tested without a
 * GPU. Requests are rounded up to a size class (at least {@value #MIN_CLASS} bytes, then four classes per
 * power of two, so at most 25% is wasted); a released block goes on its class's free list and serves the
 * next request of that class without a driver call. When the cached bytes pass the limit, cached blocks
 * are freed (see {@link #trimTo}); when the backing store is out of memory, the whole cache is freed and
 * the allocation retried once. Thread-safe (one lock; allocation is not on a hot path of the kernels).
 *
 * <p>A block released while a kernel may still use it (launches are asynchronous) must not serve a
 * request before that kernel ends, so released blocks wait on a pending list; the next acquire that
 * finds pending blocks first waits for the device ({@link Backing#awaitIdle()}, once for all of them)
 * and then moves them to the free lists.
 *
 * @param <H> the backing store's handle of one block (a device pointer)
 */
final class BlockPool<H> {
    static final long MIN_CLASS = 512;

    /** Where blocks come from. {@link #allocate} returns null when out of memory and throws on other errors. */
    interface Backing<H> {
        H allocate(long bytes);

        /** Frees a block; may wait for work still using it. */
        void free(H handle);

        /** Waits until no queued work can still touch a released block. */
        void awaitIdle();
    }

    /** One block handed out: the handle and its size class in bytes. */
    record Block<H>(H handle, long bytes) {}

    private final Backing<H> backing;
    private final long cacheLimit;
    private final TreeMap<Long, ArrayDeque<H>> free = new TreeMap<>();
    private final ArrayDeque<Block<H>> pending = new ArrayDeque<>();
    // cachedBytes and cachedBlocks count the pending blocks too.
    private long liveBytes, liveBlocks, cachedBytes, cachedBlocks, backingAllocations, backingFrees, reuses, waits;
    private boolean closed;

    /** @param cacheLimit the most bytes kept in free lists; beyond it released blocks go back to the backing store */
    BlockPool(Backing<H> backing, long cacheLimit) {
        if (cacheLimit < 0) throw new IllegalArgumentException("block pool: negative cache limit " + cacheLimit);
        this.backing = backing;
        this.cacheLimit = cacheLimit;
    }

    /** The size class of a request of {@code bytes} (> 0): the smallest class at least that large. */
    static long sizeClass(long bytes) {
        if (bytes <= 0) throw new IllegalArgumentException("block pool: request of " + bytes + " bytes");
        if (bytes <= MIN_CLASS) return MIN_CLASS;
        long pow = Long.highestOneBit(bytes - 1);           // pow < bytes <= 2*pow
        long step = pow / 4;
        long cls = pow + Math.ceilDiv(bytes - pow, step) * step;
        if (cls < bytes) throw new IllegalArgumentException("block pool: request of " + bytes + " bytes is too large");
        return cls;
    }

    /** A block of at least {@code bytes}; null when the backing store is out of memory even after a trim. */
    synchronized Block<H> acquire(long bytes) {
        if (closed) throw new IllegalStateException("block pool is closed");
        long cls = sizeClass(bytes);
        if (!pending.isEmpty()) {
            backing.awaitIdle();
            waits++;
            for (Block<H> b : pending) free.computeIfAbsent(b.bytes(), k -> new ArrayDeque<>()).push(b.handle());
            pending.clear();
        }
        ArrayDeque<H> list = free.get(cls);
        H handle;
        if (list != null) {
            handle = list.pop();
            if (list.isEmpty()) free.remove(cls);   // trimTo relies on every listed class having a block
            cachedBytes -= cls;
            cachedBlocks--;
            reuses++;
        } else {
            handle = backing.allocate(cls);
            if (handle == null && cachedBlocks > 0) {
                trimTo(0);
                handle = backing.allocate(cls);
            }
            if (handle == null) return null;
            backingAllocations++;
        }
        liveBytes += cls;
        liveBlocks++;
        return new Block<>(handle, cls);
    }

    /** Takes a block back: cached for reuse, or freed when the pool is closed or over its cache limit. */
    synchronized void release(Block<H> block) {
        liveBytes -= block.bytes();
        liveBlocks--;
        assert liveBytes >= 0 && liveBlocks >= 0 : "block released twice";
        if (closed || block.bytes() > cacheLimit) {
            freeBlock(block.handle());
            return;
        }
        pending.push(block);
        cachedBytes += block.bytes();
        cachedBlocks++;
        if (cachedBytes > cacheLimit) trimTo(cacheLimit);
    }

    /**
     * Frees cached blocks until at most {@code limit} bytes stay cached: pending blocks first, oldest release
     * first (the backing store's free waits for their work), then free blocks, largest first.
     */
    synchronized void trimTo(long limit) {
        while (cachedBytes > limit && !pending.isEmpty()) {
            Block<H> oldest = pending.removeLast();
            cachedBytes -= oldest.bytes();
            cachedBlocks--;
            freeBlock(oldest.handle());
        }
        while (cachedBytes > limit) {
            Map.Entry<Long, ArrayDeque<H>> largest = free.lastEntry();
            H handle = largest.getValue().pop();
            if (largest.getValue().isEmpty()) free.remove(largest.getKey());
            cachedBytes -= largest.getKey();
            cachedBlocks--;
            freeBlock(handle);
        }
    }

    /** Frees the cache; blocks still live are freed as they are released. Returns the stats at close. */
    synchronized MemoryStats close() {
        trimTo(0);
        closed = true;
        return stats();
    }

    synchronized MemoryStats stats() {
        return new MemoryStats(liveBytes, liveBlocks, cachedBytes, cachedBlocks, backingAllocations, backingFrees, reuses, waits);
    }

    private void freeBlock(H handle) {
        backingFrees++;
        backing.free(handle);
    }
}
