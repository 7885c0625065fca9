package dev.kiln.cuda;

import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUresult;
import org.junit.jupiter.api.Test;

import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Errors become {@link CudaException}s naming the op and the CUDA error, and the caching allocator's counters
 * come back to zero on every failure path. The device memory is a fake injected under {@link CudaMemory}
 * (its handles are plain CUdeviceptr objects, never passed to a driver), so this runs without a GPU; the same
 * failures on a real GPU are in {@link CudaDeviceTest}.
 */
class CudaErrorTest {
    /** A device memory of {@code capacity} bytes whose next allocate, wait or free can be made to fail. */
    static final class FailingMemory implements BlockPool.Backing<CUdeviceptr> {
        final long capacity;
        long used;
        // Identity: unallocated CUdeviceptr objects all hold address 0 and are equal().
        final Set<CUdeviceptr> live = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        final java.util.Map<CUdeviceptr, Long> sizes = new java.util.IdentityHashMap<>();
        int failAllocate, failWait, failFree;   // CUresult codes to fail with once, 0 for none

        FailingMemory(long capacity) { this.capacity = capacity; }

        @Override public CUdeviceptr allocate(long bytes) {
            if (failAllocate != 0) {
                int r = failAllocate;
                failAllocate = 0;
                throw new CudaException("cuMemAlloc of " + bytes + " bytes on fake", r);
            }
            if (used + bytes > capacity) return null;
            CUdeviceptr p = new CUdeviceptr();
            used += bytes;
            live.add(p);
            sizes.put(p, bytes);
            return p;
        }

        @Override public void free(CUdeviceptr handle) {
            assertTrue(live.remove(handle), "freed twice or never allocated");
            used -= sizes.remove(handle);
            if (failFree != 0) {   // the driver freed it but reports an earlier asynchronous error
                int r = failFree;
                failFree = 0;
                throw new CudaException("cuMemFree on fake", r);
            }
        }

        @Override public void awaitIdle() {
            if (failWait != 0) {
                int r = failWait;
                failWait = 0;
                throw new CudaException("wait for fake before reusing released memory", r);
            }
        }
    }

    private static void assertNothingLive(CudaMemory memory) {
        MemoryStats s = memory.stats();
        assertEquals(0, s.liveBytes(), s.toString());
        assertEquals(0, s.liveBlocks(), s.toString());
    }

    @Test void anAllocationLargerThanTheDeviceNamesTheOpAndTheError() {
        FailingMemory fake = new FailingMemory(1 << 20);
        CudaMemory memory = new CudaMemory("fake GPU", 1 << 16, fake);
        var kept = memory.allocate(4096);
        CudaException e = assertThrows(CudaException.class, () -> memory.allocate(2L << 20));
        assertEquals(CUresult.CUDA_ERROR_OUT_OF_MEMORY, e.result());
        assertTrue(e.getMessage().startsWith("allocate 2097152 bytes on fake GPU: CUDA_ERROR_OUT_OF_MEMORY"), e.getMessage());
        assertTrue(e.getMessage().contains("4096 bytes live in 1 buffers"), e.getMessage());
        assertEquals(4096, memory.stats().liveBytes(), "the failed request left the live counters alone");
        memory.release(kept);
        assertNothingLive(memory);
        memory.close();
        assertEquals(0, fake.used);
    }

    @Test void outOfMemoryFreesTheCacheBeforeGivingUp() {
        FailingMemory fake = new FailingMemory(1 << 20);
        CudaMemory memory = new CudaMemory("fake GPU", 1 << 20, fake);
        memory.release(memory.allocate(600 << 10));   // cached, not freed
        assertEquals(1, memory.stats().cachedBlocks());
        var big = memory.allocate(900 << 10);          // only fits once the cache is freed
        assertEquals(0, memory.stats().cachedBlocks());
        memory.release(big);
        memory.close();
        assertNothingLive(memory);
        assertEquals(0, fake.used);
    }

    @Test void aDriverErrorWhileAllocatingLeavesTheCountersAlone() {
        FailingMemory fake = new FailingMemory(1 << 20);
        CudaMemory memory = new CudaMemory("fake GPU", 1 << 16, fake);
        fake.failAllocate = CUresult.CUDA_ERROR_ILLEGAL_ADDRESS;
        CudaException e = assertThrows(CudaException.class, () -> memory.allocate(1000));
        assertTrue(e.getMessage().contains("CUDA_ERROR_ILLEGAL_ADDRESS"), e.getMessage());
        assertNothingLive(memory);
        assertEquals(0, memory.stats().backingAllocations());
        memory.release(memory.allocate(1000));   // the next request works
        memory.close();
        assertEquals(0, fake.used);
    }

    @Test void aFailedWaitKeepsReleasedBlocksPendingAndLosesNone() {
        FailingMemory fake = new FailingMemory(1 << 20);
        CudaMemory memory = new CudaMemory("fake GPU", 1 << 16, fake);
        memory.release(memory.allocate(1000));
        fake.failWait = CUresult.CUDA_ERROR_LAUNCH_FAILED;
        CudaException e = assertThrows(CudaException.class, () -> memory.allocate(1000));
        assertTrue(e.getMessage().contains("CUDA_ERROR_LAUNCH_FAILED"), e.getMessage());
        assertNothingLive(memory);
        assertEquals(1, memory.stats().cachedBlocks(), "the released block is still there to reuse or free");
        var again = memory.allocate(1000);
        assertEquals(1, memory.stats().reuses());
        memory.release(again);
        memory.close();
        assertNothingLive(memory);
        assertEquals(0, fake.used);
        assertEquals(0, memory.stats().cachedBytes());
    }

    @Test void aFailedFreeWhileClosingStillCountsTheBlockGone() {
        FailingMemory fake = new FailingMemory(1 << 20);
        CudaMemory memory = new CudaMemory("fake GPU", 1 << 16, fake);
        memory.release(memory.allocate(1000));
        memory.release(memory.allocate(5000));
        fake.failFree = CUresult.CUDA_ERROR_ILLEGAL_ADDRESS;
        assertThrows(CudaException.class, memory::close);
        assertNothingLive(memory);
        memory.close();   // a second close frees what the failed one did not reach
        assertEquals(0, memory.stats().cachedBlocks());
        assertEquals(0, fake.used, "no device memory left behind");
    }

    @Test void launchFailuresNameTheOpKernelShapeAndError() {
        CudaException e = CudaModules.Kernel.launchFailure("conv", "conv_fwd_8", "NVIDIA H100", 10, 2, 3, 2048,
                CUresult.CUDA_ERROR_INVALID_VALUE);
        assertEquals("conv: launch conv_fwd_8 on NVIDIA H100 (grid 10x2x3, block 2048): CUDA_ERROR_INVALID_VALUE"
                + " (more than 1024 threads per block)", e.getMessage());
        assertEquals(CUresult.CUDA_ERROR_INVALID_VALUE, e.result());
        CudaException res = CudaModules.Kernel.launchFailure("gemm", "sgemm_nn", "GPU", 1, 1, 1, 256,
                CUresult.CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES);
        assertTrue(res.getMessage().endsWith("CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES"), res.getMessage());
    }
}
