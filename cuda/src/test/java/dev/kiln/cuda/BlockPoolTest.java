package dev.kiln.cuda;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The caching allocator's bookkeeping against a fake device memory with a capacity. */
class BlockPoolTest {
    /** Hands out numbered handles; tracks what is allocated so double frees and leaks show. */
    static final class FakeMemory implements BlockPool.Backing<Long> {
        final long capacity;
        long used, next = 1, idleWaits;
        final Set<Long> allocated = new HashSet<>();
        final java.util.Map<Long, Long> sizes = new java.util.HashMap<>();

        FakeMemory(long capacity) { this.capacity = capacity; }

        @Override public Long allocate(long bytes) {
            if (used + bytes > capacity) return null;
            used += bytes;
            long h = next++;
            allocated.add(h);
            sizes.put(h, bytes);
            return h;
        }

        @Override public void free(Long handle) {
            assertTrue(allocated.remove(handle), "freed twice or never allocated: " + handle);
            used -= sizes.remove(handle);
        }

        @Override public void awaitIdle() { idleWaits++; }
    }

    @Test
    void sizeClassesCoverTheRequestWithAtMostAQuarterWaste() {
        Random rnd = new Random(7);
        long previous = 0;
        for (long bytes = 1; bytes < 1 << 22; bytes += 1 + rnd.nextInt(97)) {
            long cls = BlockPool.sizeClass(bytes);
            assertTrue(cls >= bytes, bytes + " -> " + cls);
            assertTrue(cls >= previous, "classes grow with the request: " + bytes + " -> " + cls);
            if (bytes > BlockPool.MIN_CLASS) assertTrue(cls <= bytes * 1.25 + 1, bytes + " -> " + cls + " wastes too much");
            assertEquals(cls, BlockPool.sizeClass(cls), "a class maps to itself: " + cls);
            previous = cls;
        }
        assertEquals(BlockPool.MIN_CLASS, BlockPool.sizeClass(1));
        assertEquals(640, BlockPool.sizeClass(513));
        assertEquals(1L << 40, BlockPool.sizeClass(1L << 40));
        assertThrows(IllegalArgumentException.class, () -> BlockPool.sizeClass(0));
    }

    @Test
    void releasedBlocksAreReusedAfterOneWaitForTheDevice() {
        FakeMemory mem = new FakeMemory(1 << 20);
        BlockPool<Long> pool = new BlockPool<>(mem, 1 << 20);
        BlockPool.Block<Long> a = pool.acquire(1000), b = pool.acquire(1000), c = pool.acquire(3000);
        assertEquals(3, mem.allocated.size());
        assertEquals(new MemoryStats(1024 + 1024 + 3072, 3, 0, 0, 3, 0, 0, 0), pool.stats());
        pool.release(a);
        pool.release(b);
        assertEquals(2, pool.stats().cachedBlocks());
        assertEquals(0, mem.idleWaits, "a release must not block on the device");

        BlockPool.Block<Long> d = pool.acquire(900);   // same class as a and b
        assertEquals(1, mem.idleWaits, "pending blocks are reused only after the device is idle");
        assertTrue(d.handle().equals(a.handle()) || d.handle().equals(b.handle()), "served from the cache");
        BlockPool.Block<Long> e = pool.acquire(1024);
        assertNotEquals(d.handle(), e.handle());
        assertEquals(1, mem.idleWaits, "one wait covers every block pending at the time");
        assertEquals(3, mem.allocated.size(), "no new driver allocation");
        MemoryStats s = pool.stats();
        assertEquals(3, s.liveBlocks());
        assertEquals(1024 + 1024 + 3072, s.liveBytes());
        assertEquals(2, s.reuses());
        assertEquals(0, s.cachedBlocks());

        for (BlockPool.Block<Long> x : List.of(c, d, e)) pool.release(x);
        assertEquals(0, pool.stats().liveBlocks());
        MemoryStats closed = pool.close();
        assertEquals(0, closed.cachedBytes());
        assertTrue(mem.allocated.isEmpty(), "close frees every cached block: " + mem.allocated);
        assertEquals(3, closed.backingFrees());
        assertThrows(IllegalStateException.class, () -> pool.acquire(1));
    }

    @Test
    void theCacheStaysUnderItsLimit() {
        FakeMemory mem = new FakeMemory(1 << 24);
        BlockPool<Long> pool = new BlockPool<>(mem, 8192);
        List<BlockPool.Block<Long>> blocks = new ArrayList<>();
        for (long size : new long[] {512, 1024, 2048, 4096, 8192}) blocks.add(pool.acquire(size));
        for (BlockPool.Block<Long> b : blocks) pool.release(b);
        MemoryStats s = pool.stats();
        assertEquals(8192, s.cachedBytes(), "the oldest releases were freed until the limit held");
        assertEquals(mem.used, s.cachedBytes(), "what is cached is exactly what the device still holds");
        assertEquals(4, s.backingFrees());

        pool.release(pool.acquire(16384));   // larger than the whole cache: freed at once
        s = pool.stats();
        assertEquals(6, s.backingAllocations());
        assertEquals(5, s.backingFrees());
        assertEquals(8192, mem.used);
    }

    @Test
    void freeListsAreTrimmedLargestFirst() {
        FakeMemory mem = new FakeMemory(1 << 24);
        BlockPool<Long> pool = new BlockPool<>(mem, 1 << 20);
        BlockPool.Block<Long> big = pool.acquire(4096), mid = pool.acquire(2048);
        pool.release(big);
        pool.release(mid);
        BlockPool.Block<Long> live = pool.acquire(1);   // waits, moves both to the free lists, allocates 512
        assertEquals(2, pool.stats().cachedBlocks());
        pool.trimTo(2048);
        assertEquals(2048, pool.stats().cachedBytes(), "the 4096-byte block went, the 2048-byte one stayed");
        assertEquals(2048 + 512, mem.used);
        assertEquals(mid.handle(), pool.acquire(2000).handle(), "the survivor serves its class");
        pool.release(live);
    }

    @Test
    void outOfMemoryTrimsTheCacheAndRetriesOnce() {
        FakeMemory mem = new FakeMemory(4096);
        BlockPool<Long> pool = new BlockPool<>(mem, 1 << 20);
        BlockPool.Block<Long> a = pool.acquire(2048), b = pool.acquire(2048);
        pool.release(a);
        pool.release(b);
        assertEquals(4096, mem.used, "both blocks cached");
        BlockPool.Block<Long> big = pool.acquire(4096);   // another class: needs the cache freed
        assertNotNull(big, "the trim made room");
        assertEquals(4096, mem.used);
        assertEquals(0, pool.stats().cachedBlocks());
        assertNull(pool.acquire(512), "still full: null, and the caller reports out of memory");
        pool.release(big);
        pool.close();
        assertTrue(mem.allocated.isEmpty());
    }

    @Test
    void blocksReleasedAfterCloseGoStraightBack() {
        FakeMemory mem = new FakeMemory(1 << 20);
        BlockPool<Long> pool = new BlockPool<>(mem, 1 << 20);
        BlockPool.Block<Long> a = pool.acquire(100);
        MemoryStats atClose = pool.close();
        assertEquals(1, atClose.liveBlocks(), "a leak check sees the open buffer");
        pool.release(a);
        assertTrue(mem.allocated.isEmpty());
        assertEquals(0, pool.stats().liveBlocks());
    }

    @Test
    void randomTrafficKeepsTheCountersConsistent() {
        FakeMemory mem = new FakeMemory(1L << 26);
        BlockPool<Long> pool = new BlockPool<>(mem, 1 << 20);
        Random rnd = new Random(20261123);
        List<BlockPool.Block<Long>> live = new ArrayList<>();
        for (int step = 0; step < 5000; step++) {
            if (live.isEmpty() || rnd.nextInt(3) > 0) {
                live.add(pool.acquire(1 + rnd.nextInt(1 << (1 + rnd.nextInt(18)))));
            } else {
                pool.release(live.remove(rnd.nextInt(live.size())));
            }
            MemoryStats s = pool.stats();
            assertEquals(live.size(), s.liveBlocks());
            assertEquals(live.stream().mapToLong(BlockPool.Block::bytes).sum(), s.liveBytes());
            assertEquals(mem.used, s.liveBytes() + s.cachedBytes(), "device bytes = live + cached at step " + step);
            assertTrue(s.cachedBytes() <= 1 << 20);
        }
        for (BlockPool.Block<Long> b : live) pool.release(b);
        pool.close();
        assertTrue(mem.allocated.isEmpty(), "leaked " + mem.allocated.size() + " blocks");
    }
}
