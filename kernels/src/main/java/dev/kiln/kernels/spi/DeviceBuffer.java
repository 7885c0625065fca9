package dev.kiln.kernels.spi;

import dev.kiln.kernels.DType;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Typed memory of {@link #count()} elements on a device (or on the host). Copies are size-checked: a
 * whole-array copy needs exactly {@link #count()} elements (or {@link #byteSize()} bytes for byte arrays
 * and segments); ranged copies name their range. After close, every method that touches the contents
 * (copies, {@link #get}, {@link #hostSegment()}, {@link #readBytes}, {@link #writeBytes}) throws
 * {@link IllegalStateException}; the descriptive ones ({@link #dtype()}, {@link #count()}, {@link #device()})
 * keep answering so that error messages can name the buffer. Implementations provide the two
 * raw byte copies; the typed ones are defined here once.
 */
public interface DeviceBuffer extends AutoCloseable {
    /** The owning device, or null for host memory that belongs to no device (a wrapped user array). */
    Device device();

    DType dtype();

    long count();

    default long byteSize() { return dtype().bytes(count()); }

    boolean isClosed();

    /** True when {@link #hostSegment()} gives direct access to the contents. */
    boolean isHost();

    /** The contents as a host segment; only for {@link #isHost()} buffers. */
    MemorySegment hostSegment();

    /** Copies {@code src.byteSize()} bytes into this buffer at {@code byteOffset}. Range already checked. */
    void writeBytes(long byteOffset, MemorySegment src);

    /** Copies {@code dst.byteSize()} bytes from this buffer at {@code byteOffset}. Range already checked. */
    void readBytes(long byteOffset, MemorySegment dst);

    @Override void close();

    default void copyFrom(float[] src) { copyFrom(src, 0, 0, whole(src.length)); }

    default void copyFrom(float[] src, int srcOffset, long dstIndex, int count) {
        writeBytes(range(DType.F32, src.length, srcOffset, dstIndex, count, "copyFrom(float[])") * 4,
                MemorySegment.ofArray(src).asSlice(srcOffset * 4L, count * 4L));
    }

    default void copyTo(float[] dst) { copyTo(dst, 0, 0, whole(dst.length)); }

    default void copyTo(float[] dst, int dstOffset, long srcIndex, int count) {
        readBytes(range(DType.F32, dst.length, dstOffset, srcIndex, count, "copyTo(float[])") * 4,
                MemorySegment.ofArray(dst).asSlice(dstOffset * 4L, count * 4L));
    }

    default void copyFrom(int[] src) { copyFrom(src, 0, 0, whole(src.length)); }

    default void copyFrom(int[] src, int srcOffset, long dstIndex, int count) {
        writeBytes(range(DType.S32, src.length, srcOffset, dstIndex, count, "copyFrom(int[])") * 4,
                MemorySegment.ofArray(src).asSlice(srcOffset * 4L, count * 4L));
    }

    default void copyTo(int[] dst) { copyTo(dst, 0, 0, whole(dst.length)); }

    default void copyTo(int[] dst, int dstOffset, long srcIndex, int count) {
        readBytes(range(DType.S32, dst.length, dstOffset, srcIndex, count, "copyTo(int[])") * 4,
                MemorySegment.ofArray(dst).asSlice(dstOffset * 4L, count * 4L));
    }

    /** Raw bytes: exactly {@link #byteSize()} of them, for any dtype (f64, f16, s8, packed...). */
    default void copyFrom(byte[] src) { copyFrom(MemorySegment.ofArray(src)); }

    default void copyTo(byte[] dst) { copyTo(MemorySegment.ofArray(dst)); }

    /** Raw bytes: the segment must hold exactly {@link #byteSize()} bytes. */
    default void copyFrom(MemorySegment src) {
        checkBytes(src, "copyFrom(MemorySegment)");
        writeBytes(0, src);
    }

    default void copyTo(MemorySegment dst) {
        checkBytes(dst, "copyTo(MemorySegment)");
        readBytes(0, dst);
    }

    /** Reads element {@code i} as a double (f32, f64, s32, s8, u8 buffers); for tests and diagnostics. */
    default double get(long i) {
        ensureOpen("get");
        if (i < 0 || i >= count()) throw new IndexOutOfBoundsException("index " + i + " of " + count() + " elements");
        MemorySegment one = MemorySegment.ofArray(new byte[8]);
        long width = dtype().bits() / 8;
        if (width == 0 || dtype() == DType.F16 || dtype() == DType.BF16)
            throw new UnsupportedOperationException("get is for f32, f64, s32, s8 and u8 buffers, not " + dtype().lower());
        readBytes(i * width, one.asSlice(0, width));
        return switch (dtype()) {
            case F32 -> one.get(ValueLayout.JAVA_FLOAT_UNALIGNED, 0);
            case F64 -> one.get(ValueLayout.JAVA_DOUBLE_UNALIGNED, 0);
            case S32 -> one.get(ValueLayout.JAVA_INT_UNALIGNED, 0);
            case S8 -> one.get(ValueLayout.JAVA_BYTE, 0);
            default -> Byte.toUnsignedInt(one.get(ValueLayout.JAVA_BYTE, 0));
        };
    }

    default void ensureOpen(String what) {
        if (isClosed()) throw new IllegalStateException(what + ": buffer of " + count() + " " + dtype().lower() + " is closed");
    }

    private int whole(int length) {
        ensureOpen("copy");
        if (length != count())
            throw new IllegalArgumentException("copy: array has " + length + " elements, buffer has " + count() + " "
                    + dtype().lower() + " (use the ranged copy for part of a buffer)");
        return length;
    }

    private long range(DType want, int arrayLength, int arrayOffset, long bufferIndex, int count, String what) {
        ensureOpen(what);
        if (dtype() != want)
            throw new IllegalArgumentException(what + ": buffer holds " + dtype().lower() + ", not " + want.lower());
        if (count < 0 || arrayOffset < 0 || bufferIndex < 0 || (long) arrayOffset + count > arrayLength
                || bufferIndex + count > count())
            throw new IllegalArgumentException(what + ": range of " + count + " elements at array offset " + arrayOffset
                    + " (array length " + arrayLength + ") and buffer index " + bufferIndex + " (buffer " + count()
                    + " elements) is out of bounds");
        return bufferIndex;
    }

    private void checkBytes(MemorySegment seg, String what) {
        ensureOpen(what);
        if (seg == null) throw new IllegalArgumentException(what + ": segment is null");
        if (seg.byteSize() != byteSize())
            throw new IllegalArgumentException(what + ": segment has " + seg.byteSize() + " bytes, buffer has " + byteSize()
                    + " (" + count() + " " + dtype().lower() + ")");
    }
}
