package dev.kiln.opencl;

import dev.kiln.kernels.DType;
import dev.kiln.kernels.spi.DeviceBuffer;
import org.jocl.CL;
import org.jocl.Pointer;
import org.jocl.cl_mem;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A cl_mem of {@link #count()} elements. Copies are blocking transfers on the device's default queue, so
 * work enqueued on other streams must be synchronized before reading. Host memory is passed to JOCL
 * without a copy where it can be: a native segment as a direct ByteBuffer, a heap segment as its backing
 * array plus byte offset (JOCL pins arrays only for the duration of a blocking call, which these are);
 * anything else (e.g. a read-only heap segment) is staged through native memory.
 */
public final class OpenClBuffer implements DeviceBuffer {
    /** Direct ByteBuffers hold at most 2^31-1 bytes; larger native copies go in chunks of this size. */
    private static final long CHUNK = 1L << 30;

    private final OpenClDevice device;
    private final DType dtype;
    private final long count;
    private final cl_mem mem;
    private final AtomicBoolean closed = new AtomicBoolean();

    OpenClBuffer(OpenClDevice device, DType dtype, long count, cl_mem mem) {
        this.device = device;
        this.dtype = dtype;
        this.count = count;
        this.mem = mem;
    }

    @Override public OpenClDevice device() { return device; }

    @Override public DType dtype() { return dtype; }

    @Override public long count() { return count; }

    @Override public boolean isClosed() { return closed.get(); }

    @Override public boolean isHost() { return false; }

    @Override public MemorySegment hostSegment() {
        ensureOpen("hostSegment");
        throw new UnsupportedOperationException("opencl: buffer lives in device memory; copy it out with copyTo");
    }

    /** The cl_mem for kernel arguments; throws {@link IllegalStateException} after close. */
    cl_mem mem(String what) {
        ensureOpen(what);
        return mem;
    }

    @Override public void writeBytes(long byteOffset, MemorySegment src) { transfer(true, byteOffset, src); }

    @Override public void readBytes(long byteOffset, MemorySegment dst) { transfer(false, byteOffset, dst); }

    private void transfer(boolean write, long offset, MemorySegment host) {
        ensureOpen(write ? "writeBytes" : "readBytes");
        assert offset >= 0 && offset + host.byteSize() <= byteSize() : "range checked by DeviceBuffer";
        if (host.byteSize() == 0) return;
        if (host.isNative()) {
            for (long done = 0; done < host.byteSize(); done += CHUNK) {
                long len = Math.min(CHUNK, host.byteSize() - done);
                enqueue(write, offset + done, len, Pointer.to(host.asSlice(done, len).asByteBuffer()));
            }
            return;
        }
        Pointer array = arrayPointer(host);
        if (array != null) {
            enqueue(write, offset, host.byteSize(), array);
            return;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment staging = arena.allocate(host.byteSize(), 64);
            if (write) MemorySegment.copy(host, 0, staging, 0, host.byteSize());
            transfer(write, offset, staging);
            if (!write) MemorySegment.copy(staging, 0, host, 0, host.byteSize());
        }
    }

    /** A heap segment's backing array at the segment's start, or null when the array is not reachable. */
    private static Pointer arrayPointer(MemorySegment heap) {
        Object base = heap.heapBase().orElse(null);
        Pointer p = switch (base) {
            case byte[] a -> Pointer.to(a);
            case float[] a -> Pointer.to(a);
            case int[] a -> Pointer.to(a);
            case double[] a -> Pointer.to(a);
            case long[] a -> Pointer.to(a);
            case short[] a -> Pointer.to(a);
            case char[] a -> Pointer.to(a);
            case null, default -> null;
        };
        // For heap segments address() is the byte offset into the array.
        return p == null ? null : p.withByteOffset(heap.address());
    }

    private void enqueue(boolean write, long offset, long len, Pointer host) {
        var queue = device.defaultStream().queue();
        int rc = write
                ? CL.clEnqueueWriteBuffer(queue, mem, CL.CL_TRUE, offset, len, host, 0, null, null)
                : CL.clEnqueueReadBuffer(queue, mem, CL.CL_TRUE, offset, len, host, 0, null, null);
        OpenClException.check(rc, write ? "clEnqueueWriteBuffer" : "clEnqueueReadBuffer", null);
    }

    /** Sets every byte to zero on the device (clEnqueueFillBuffer, then waits); for scratch such as tuning operands. */
    void fillZero() {
        ensureOpen("fillZero");
        var queue = device.defaultStream().queue();
        long bytes = byteSize();
        if (bytes == 0) return;
        // The pattern size must divide the size; every dtype's buffer is whole bytes, so one byte always does.
        int rc = CL.clEnqueueFillBuffer(queue, mem, Pointer.to(new byte[] {0}), 1, 0, bytes, 0, null, null);
        OpenClException.check(rc, "clEnqueueFillBuffer", null);
        OpenClException.check(CL.clFinish(queue), "clFinish", null);
    }

    /** Releases the cl_mem exactly once; later calls do nothing. */
    @Override public void close() {
        if (!release()) return;
        device.forget(this);
    }

    boolean release() {
        if (!closed.compareAndSet(false, true)) return false;
        int rc = CL.clReleaseMemObject(mem);
        if (rc == CL.CL_SUCCESS) ClLive.released(ClLive.Kind.MEM);
        OpenClException.check(rc, "clReleaseMemObject", null);
        return true;
    }

    @Override public String toString() {
        return "OpenClBuffer[" + count + " " + dtype.lower() + " on " + device.name() + (isClosed() ? ", closed" : "") + "]";
    }
}
