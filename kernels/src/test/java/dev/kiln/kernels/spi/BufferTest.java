package dev.kiln.kernels.spi;

import dev.kiln.kernels.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.lang.foreign.MemorySegment;

import static org.junit.jupiter.api.Assertions.*;

/** HostBuffer and the DeviceBuffer copy contract: sizes checked with the numbers named, nothing usable after close. */
class BufferTest {
    private static <T extends Throwable> void fails(Class<T> type, Executable call, String... fragments) {
        T e = assertThrows(type, call);
        for (String f : fragments)
            assertTrue(e.getMessage().contains(f), "message \"" + e.getMessage() + "\" lacks \"" + f + "\"");
    }

    @Test void allocateIsZeroedAndRoundTrips() {
        try (HostBuffer b = HostBuffer.allocate(null, DType.F32, 7)) {
            assertEquals(7, b.count());
            assertEquals(28, b.byteSize());
            for (int i = 0; i < 7; i++) assertEquals(0.0, b.get(i));
            float[] in = {1.5f, -2, 3, 4, 5, 6, 7.25f}, out = new float[7];
            b.copyFrom(in);
            b.copyTo(out);
            assertArrayEquals(in, out);
            float[] part = new float[4];
            b.copyTo(part, 1, 5, 2);
            assertArrayEquals(new float[] {0, 6, 7.25f, 0}, part);
            b.copyFrom(new float[] {9, 8}, 0, 3, 2);
            assertEquals(9.0, b.get(3));
            assertEquals(8.0, b.get(4));
        }
        try (HostBuffer s4 = HostBuffer.allocate(null, DType.S4, 5)) {
            assertEquals(3, s4.byteSize(), "five nibbles round up to three bytes");
            byte[] raw = {0x21, 0x43, 0x05};
            s4.copyFrom(raw);
            byte[] back = new byte[3];
            s4.copyTo(back);
            assertArrayEquals(raw, back);
            fails(UnsupportedOperationException.class, () -> s4.get(0), "not s4");
        }
    }

    @Test void viewsAreZeroCopy() {
        float[] array = {1, 2, 3, 4, 5};
        HostBuffer view = HostBuffer.wrap(array, 1, 3);
        assertEquals(3, view.count());
        assertEquals(2.0, view.get(0));
        view.copyFrom(new float[] {-1, -2, -3});
        assertArrayEquals(new float[] {1, -1, -2, -3, 5}, array);
        view.close();
        assertArrayEquals(new float[] {1, -1, -2, -3, 5}, array, "closing a view leaves the caller's array alone");
        byte[] s8 = {-1, 2};
        assertEquals(-1.0, HostBuffer.wrap(s8, DType.S8).get(0));
        assertEquals(255.0, HostBuffer.wrap(s8, DType.U8).get(0));
        assertEquals(2, HostBuffer.wrap(new int[] {4, 5}).count());
        assertEquals(4, HostBuffer.wrap(new byte[2], DType.S4).count());
    }

    @Test void copySizesAreChecked() {
        try (HostBuffer b = HostBuffer.allocate(null, DType.F32, 6); HostBuffer ints = HostBuffer.allocate(null, DType.S32, 6)) {
            fails(IllegalArgumentException.class, () -> b.copyFrom(new float[5]), "copy: array has 5 elements, buffer has 6 f32");
            fails(IllegalArgumentException.class, () -> b.copyTo(new float[7]), "array has 7 elements, buffer has 6");
            fails(IllegalArgumentException.class, () -> b.copyFrom(new float[4], 0, 3, 4),
                    "copyFrom(float[])", "range of 4 elements", "buffer index 3", "buffer 6 elements");
            fails(IllegalArgumentException.class, () -> b.copyTo(new float[4], 2, 0, 3), "copyTo(float[])", "array offset 2", "array length 4");
            fails(IllegalArgumentException.class, () -> b.copyFrom(new float[4], 0, 0, -1), "range of -1 elements");
            fails(IllegalArgumentException.class, () -> b.copyFrom(new float[4], -1, 0, 1), "array offset -1");
            fails(IllegalArgumentException.class, () -> b.copyFrom(new float[4], 0, -2, 1), "buffer index -2");
            fails(IllegalArgumentException.class, () -> ints.copyFrom(new float[6]), "buffer holds s32, not f32");
            fails(IllegalArgumentException.class, () -> b.copyTo(new int[6]), "buffer holds f32, not s32");
            fails(IllegalArgumentException.class, () -> b.copyFrom(new byte[23]), "segment has 23 bytes, buffer has 24 (6 f32)");
            fails(IllegalArgumentException.class, () -> b.copyTo(MemorySegment.ofArray(new byte[25])), "segment has 25 bytes, buffer has 24");
            fails(IllegalArgumentException.class, () -> b.copyFrom((MemorySegment) null), "segment is null");
            fails(IndexOutOfBoundsException.class, () -> b.get(6), "index 6 of 6");
            fails(IndexOutOfBoundsException.class, () -> b.get(-1), "index -1");
            float[] untouched = {7, 7, 7, 7};
            assertThrows(IllegalArgumentException.class, () -> b.copyTo(untouched, 0, 4, 4));
            assertArrayEquals(new float[] {7, 7, 7, 7}, untouched, "a rejected copy writes nothing");
        }
    }

    @Test void nothingWorksAfterClose() {
        HostBuffer allocated = HostBuffer.allocate(null, DType.F32, 4);
        HostBuffer view = HostBuffer.wrap(new float[4]);
        for (HostBuffer b : new HostBuffer[] {allocated, view}) {
            b.close();
            assertTrue(b.isClosed());
            b.close();   // twice is harmless
            fails(IllegalStateException.class, () -> b.copyFrom(new float[4]), "closed");
            fails(IllegalStateException.class, () -> b.copyTo(new float[4]), "closed");
            fails(IllegalStateException.class, () -> b.copyFrom(new float[2], 0, 0, 2), "closed");
            fails(IllegalStateException.class, () -> b.copyFrom(new byte[16]), "closed");
            fails(IllegalStateException.class, () -> b.get(0), "closed");
            fails(IllegalStateException.class, b::hostSegment, "hostSegment", "closed");
            fails(IllegalStateException.class, () -> b.writeBytes(0, MemorySegment.ofArray(new byte[4])), "writeBytes", "closed");
            fails(IllegalStateException.class, () -> b.readBytes(0, MemorySegment.ofArray(new byte[4])), "readBytes", "closed");
            assertEquals(4, b.count(), "descriptive methods keep answering");
            assertTrue(b.toString().contains("closed"));
        }
    }

    @Test void badConstructionArguments() {
        fails(IllegalArgumentException.class, () -> HostBuffer.allocate(null, DType.F32, -1), "negative element count -1");
        fails(IllegalArgumentException.class, () -> HostBuffer.allocate(null, null, 1), "dtype is null");
        fails(IllegalArgumentException.class, () -> HostBuffer.wrap(new float[4], 2, 3), "range of 3 elements at offset 2", "array of 4");
        fails(IllegalArgumentException.class, () -> HostBuffer.wrap(new float[4], -1, 1), "offset -1");
        fails(IllegalArgumentException.class, () -> HostBuffer.wrap((float[]) null), "array is null");
        fails(IllegalArgumentException.class, () -> HostBuffer.wrap((MemorySegment) null, DType.F32), "segment is null");
        fails(IllegalArgumentException.class, () -> DType.F32.bytes(-2), "negative element count -2 for F32");
    }
}
