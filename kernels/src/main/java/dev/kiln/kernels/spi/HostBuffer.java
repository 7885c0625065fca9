package dev.kiln.kernels.spi;

import dev.kiln.kernels.DType;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * A buffer in host memory: native memory from its own arena, or a view of a caller's array or segment
 * (zero copy; closing the view does not free the caller's memory). CPU kernels work on these directly.
 */
public final class HostBuffer implements DeviceBuffer {
    private final Device device;
    private final DType dtype;
    private final long count;
    private final MemorySegment segment;
    private final Arena arena;
    private volatile boolean closed;

    private HostBuffer(Device device, DType dtype, long count, MemorySegment segment, Arena arena) {
        this.device = device;
        this.dtype = dtype;
        this.count = count;
        this.segment = segment;
        this.arena = arena;
    }

    /** Fresh native memory, 64-byte aligned, zeroed, freed by {@link #close()}. */
    public static HostBuffer allocate(Device owner, DType dtype, long count) {
        if (dtype == null) throw new IllegalArgumentException("allocate: dtype is null");
        if (count < 0) throw new IllegalArgumentException("allocate: negative element count " + count);
        Arena arena = Arena.ofShared();
        try {
            return new HostBuffer(owner, dtype, count, arena.allocate(Math.max(1, dtype.bytes(count)), 64).asSlice(0, dtype.bytes(count)), arena);
        } catch (RuntimeException | OutOfMemoryError e) {
            arena.close();
            throw e;
        }
    }

    public static HostBuffer wrap(float[] array) {
        if (array == null) throw new IllegalArgumentException("wrap: array is null");
        return wrap(array, 0, array.length);
    }

    /** A view of {@code array[offset .. offset+length)}. */
    public static HostBuffer wrap(float[] array, int offset, int length) {
        if (array == null) throw new IllegalArgumentException("wrap: array is null");
        if (offset < 0 || length < 0 || (long) offset + length > array.length)
            throw new IllegalArgumentException("wrap: range of " + length + " elements at offset " + offset
                    + " is outside the array of " + array.length);
        return new HostBuffer(null, DType.F32, length, MemorySegment.ofArray(array).asSlice(offset * 4L, length * 4L), null);
    }

    public static HostBuffer wrap(double[] array) {
        if (array == null) throw new IllegalArgumentException("wrap: array is null");
        return new HostBuffer(null, DType.F64, array.length, MemorySegment.ofArray(array), null);
    }

    public static HostBuffer wrap(int[] array) {
        if (array == null) throw new IllegalArgumentException("wrap: array is null");
        return new HostBuffer(null, DType.S32, array.length, MemorySegment.ofArray(array), null);
    }

    /** A view of raw bytes holding {@code byteSize/dtype-size} elements of {@code dtype} (s8, u8, s4, b1...). */
    public static HostBuffer wrap(byte[] array, DType dtype) {
        if (array == null) throw new IllegalArgumentException("wrap: array is null");
        return wrap(MemorySegment.ofArray(array), dtype);
    }

    /** A view of a segment as elements of {@code dtype}; the count is its size over the element size. */
    public static HostBuffer wrap(MemorySegment segment, DType dtype) {
        if (segment == null) throw new IllegalArgumentException("wrap: segment is null");
        if (dtype == null) throw new IllegalArgumentException("wrap: dtype is null");
        long count = segment.byteSize() * 8 / dtype.bits();
        return new HostBuffer(null, dtype, count, segment, null);
    }

    @Override public Device device() { return device; }

    @Override public DType dtype() { return dtype; }

    @Override public long count() { return count; }

    @Override public boolean isClosed() { return closed; }

    @Override public boolean isHost() { return true; }

    @Override public MemorySegment hostSegment() {
        ensureOpen("hostSegment");
        return segment;
    }

    @Override public void writeBytes(long byteOffset, MemorySegment src) {
        ensureOpen("writeBytes");
        MemorySegment.copy(src, 0, segment, byteOffset, src.byteSize());
    }

    @Override public void readBytes(long byteOffset, MemorySegment dst) {
        ensureOpen("readBytes");
        MemorySegment.copy(segment, byteOffset, dst, 0, dst.byteSize());
    }

    @Override public void close() {
        if (closed) return;
        closed = true;
        if (arena != null) arena.close();
    }

    @Override public String toString() {
        return "HostBuffer[" + count + " " + dtype.lower() + (arena == null ? ", view" : "") + (closed ? ", closed" : "") + "]";
    }
}
