package dev.kiln.cuda;

import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUresult;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static jcuda.driver.JCudaDriver.cuCtxSynchronize;
import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoH;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoD;

/**
 * Device memory of one {@link CudaDevice}: a {@link BlockPool} over cuMemAlloc/cuMemFree, and the
 * host-device copies. Blocks come from cuMemAlloc, so every buffer starts 256-byte aligned (the kernels
 * rely on 16). Callers make the device's context current first.
 *
 * <p>Copies are synchronous (cuMemcpyHtoD/DtoH on the legacy default stream, which waits for work on
 * the device's blocking streams first), so a read after a kernel sees its result. Host memory is reached
 * without an extra copy: a native segment through its direct {@link java.nio.ByteBuffer} (in chunks below
 * 2 GB), a heap segment through a JCuda pointer to its Java array plus the segment's offset. Anything
 * else (a heap segment over an unusual array type) is staged through a temporary native buffer.
 */
final class CudaMemory {
    /** Chunk size for native segments: a ByteBuffer holds at most 2^31-1 bytes. */
    private static final long CHUNK = 1L << 30;

    private final String deviceName;
    private final BlockPool<CUdeviceptr> pool;

    CudaMemory(String deviceName, long cacheLimit) { this(deviceName, cacheLimit, driverMemory(deviceName)); }

    /** Over another backing store: tests inject failures through it, without a GPU. */
    CudaMemory(String deviceName, long cacheLimit, BlockPool.Backing<CUdeviceptr> backing) {
        this.deviceName = deviceName;
        this.pool = new BlockPool<>(backing, cacheLimit);
    }

    /** cuMemAlloc / cuMemFree / cuCtxSynchronize; out of memory is null, so the pool can trim and retry. */
    private static BlockPool.Backing<CUdeviceptr> driverMemory(String deviceName) {
        return new BlockPool.Backing<>() {
            @Override public CUdeviceptr allocate(long bytes) {
                CUdeviceptr ptr = new CUdeviceptr();
                int r = cuMemAlloc(ptr, bytes);
                if (r == CUresult.CUDA_ERROR_OUT_OF_MEMORY) return null;
                CudaException.check("cuMemAlloc of " + bytes + " bytes on " + deviceName, r);
                return ptr;
            }

            @Override public void free(CUdeviceptr handle) {
                CudaException.check("cuMemFree on " + deviceName, cuMemFree(handle));   // waits for the device itself
            }

            @Override public void awaitIdle() {
                CudaException.check("wait for " + deviceName + " before reusing released memory", cuCtxSynchronize());
            }
        };
    }

    /** A block of at least {@code bytes} (> 0); throws {@link CudaException} when the device is full. */
    BlockPool.Block<CUdeviceptr> allocate(long bytes) {
        BlockPool.Block<CUdeviceptr> block = pool.acquire(bytes);
        if (block == null) {
            MemoryStats s = pool.stats();
            throw new CudaException("allocate " + bytes + " bytes on " + deviceName, CUresult.CUDA_ERROR_OUT_OF_MEMORY,
                    s.liveBytes() + " bytes live in " + s.liveBlocks() + " buffers, " + s.cachedBytes() + " cached");
        }
        return block;
    }

    void release(BlockPool.Block<CUdeviceptr> block) { pool.release(block); }

    MemoryStats stats() { return pool.stats(); }

    MemoryStats close() { return pool.close(); }

    /** Copies all of {@code src} to device address {@code dst}. */
    void toDevice(CUdeviceptr dst, MemorySegment src) {
        long size = src.byteSize();
        if (size == 0) return;
        Pointer array = arrayPointer(src);
        if (array != null) {
            CudaException.check("copy " + size + " bytes to " + deviceName, cuMemcpyHtoD(dst, array, size));
        } else if (src.isNative()) {
            for (long at = 0; at < size; at += CHUNK) {
                long n = Math.min(CHUNK, size - at);
                CudaException.check("copy " + size + " bytes to " + deviceName,
                        cuMemcpyHtoD(dst.withByteOffset(at), Pointer.to(src.asSlice(at, n).asByteBuffer()), n));
            }
        } else {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment staged = arena.allocate(size, 16);
                staged.copyFrom(src);
                toDevice(dst, staged);
            }
        }
    }

    /** Copies {@code dst.byteSize()} bytes from device address {@code src} into {@code dst}. */
    void toHost(MemorySegment dst, CUdeviceptr src) {
        long size = dst.byteSize();
        if (size == 0) return;
        Pointer array = arrayPointer(dst);
        if (array != null) {
            CudaException.check("copy " + size + " bytes from " + deviceName, cuMemcpyDtoH(array, src, size));
        } else if (dst.isNative()) {
            for (long at = 0; at < size; at += CHUNK) {
                long n = Math.min(CHUNK, size - at);
                CudaException.check("copy " + size + " bytes from " + deviceName,
                        cuMemcpyDtoH(Pointer.to(dst.asSlice(at, n).asByteBuffer()), src.withByteOffset(at), n));
            }
        } else {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment staged = arena.allocate(size, 16);
                toHost(staged, src);
                dst.copyFrom(staged);
            }
        }
    }

    /** A JCuda pointer into the Java array behind a heap segment, at the segment's offset; else null. */
    private static Pointer arrayPointer(MemorySegment seg) {
        if (seg.isNative()) return null;
        Object base = seg.heapBase().orElse(null);
        Pointer p = switch (base) {
            case byte[] a -> Pointer.to(a);
            case short[] a -> Pointer.to(a);
            case char[] a -> Pointer.to(a);
            case int[] a -> Pointer.to(a);
            case float[] a -> Pointer.to(a);
            case long[] a -> Pointer.to(a);
            case double[] a -> Pointer.to(a);
            case null, default -> null;
        };
        // For a heap segment, address() is the byte offset into the array.
        return p == null ? null : p.withByteOffset(seg.address());
    }
}
