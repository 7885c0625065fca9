package dev.kiln.cpu.blas1;

import dev.kiln.cpu.CpuDevice;
import dev.kiln.cpu.CpuThreads;
import dev.kiln.cpu.VectorSupport;
import dev.kiln.cpu.TestWidths;
import dev.kiln.cpu.Width;
import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.Blas1Desc;
import dev.kiln.kernels.spi.HostBuffer;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The BLAS-1 kernels called directly, at every width the hardware has (128, 256, 512 bits: slower here than
 * in a one-width JVM, still correct; the 100003-element vectors at the default width only), on the three operand kinds the paths tell apart (arena segments,
 * float[] / double[] views at an offset, and a byte[]-backed segment, which takes the scalar loop):
 * lengths 0, 1, 7, 33, 257, 100003, increments 1, 2, 3, f32 and f64. Every element off the stride positions
 * is NaN before and must keep its bits; DOT is within 32u * sum|x*y| of a double sum, AXPY and SCAL are
 * bit for bit the correctly rounded fma(alpha, x, y) and alpha * x; DOT's bits do not depend on the thread
 * count, on array versus native operands or on a confined arena (run on the calling thread alone).
 */
class Blas1KernelsTest {
    private static final int[] LENGTHS = {0, 1, 7, 33, 257, 100003};
    private static final int[][] INCREMENTS = {{1, 1}, {2, 1}, {1, 3}, {3, 2}};

    private static List<Width> widths() { return TestWidths.available(); }

    /** One operand: a buffer of {@code length} elements holding the vector from element {@code off}. */
    private record Operand(HostBuffer buffer, MemorySegment vector) {}

    private enum Kind { NATIVE, ARRAY, BYTES }

    private static Operand operand(Arena arena, Kind kind, DType t, long length, int off) {
        long bytes = t.bytes(length);
        MemorySegment whole = switch (kind) {
            case NATIVE -> arena.allocate(bytes, 64);
            case ARRAY -> t == DType.F64 ? MemorySegment.ofArray(new double[(int) length]) : MemorySegment.ofArray(new float[(int) length]);
            case BYTES -> MemorySegment.ofArray(new byte[(int) bytes]);
        };
        MemorySegment v = whole.asSlice(t.bytes(off));
        return new Operand(HostBuffer.wrap(v, t), whole);
    }

    /** Random values at the stride positions, NaN (a fixed bit pattern) everywhere else, the offset included. */
    private static void fill(MemorySegment whole, DType t, int off, int n, int inc, SplittableRandom r) {
        long count = whole.byteSize() / (t == DType.F64 ? 8 : 4);
        for (long i = 0; i < count; i++) set(whole, t, i, Double.NaN);
        for (int i = 0; i < n; i++) set(whole, t, off + (long) i * inc, r.nextDouble(-1, 1));
    }

    private static double get(MemorySegment s, DType t, long i) {
        return t == DType.F64 ? s.getAtIndex(ValueLayout.JAVA_DOUBLE_UNALIGNED, i) : s.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i);
    }

    private static void set(MemorySegment s, DType t, long i, double v) {
        if (t == DType.F64) s.setAtIndex(ValueLayout.JAVA_DOUBLE_UNALIGNED, i, v);
        else s.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, (float) v);
    }

    private static long bits(MemorySegment s, DType t, long i) {
        return t == DType.F64 ? s.getAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, i) : s.getAtIndex(ValueLayout.JAVA_INT_UNALIGNED, i);
    }

    @Test void everyPathWidthLengthAndIncrement() {
        SplittableRandom r = new SplittableRandom(20261123);
        int checked = 0;
        for (Width w : widths())
            for (Kind kind : Kind.values())
                for (DType t : new DType[] {DType.F32, DType.F64})
                    for (int n : LENGTHS)
                        for (int[] inc : INCREMENTS) {
                            // The long vector at the run's own width only: other widths run the Vector API's slow
                            // fallback here (see Width), and 257 elements already cover every tail there.
                            if (n > 1000 && w.bits() != VectorSupport.width().bits()) continue;
                            check(w, kind, t, n, inc[0], inc[1], r);
                            checked++;
                        }
        assertTrue(checked >= 3 * 2 * LENGTHS.length * INCREMENTS.length, "cases: " + checked);
    }

    private static void check(Width w, Kind kind, DType t, int n, int incx, int incy, SplittableRandom r) {
        String what = kind + " " + t.lower() + " n=" + n + " incx=" + incx + " incy=" + incy + " at " + w;
        int offX = 3, offY = 5;
        long lx = offX + Blas1Desc.span("test", n, incx) + 4, ly = offY + Blas1Desc.span("test", n, incy) + 4;
        double alpha = t == DType.F64 ? -1.3 : (float) -1.3;
        try (Arena arena = Arena.ofConfined()) {
            Operand x = operand(arena, kind, t, lx, offX), y = operand(arena, kind, t, ly, offY);
            fill(x.vector(), t, offX, n, incx, r);
            fill(y.vector(), t, offY, n, incy, r);
            MemorySegment x0 = arena.allocate(x.vector().byteSize()).copyFrom(x.vector());
            MemorySegment y0 = arena.allocate(y.vector().byteSize()).copyFrom(y.vector());

            // DOT into a poisoned one-element output
            HostBuffer dst = HostBuffer.allocate(null, t, 1);
            set(dst.hostSegment(), t, 0, Double.NaN);
            VectorBlas1.run(w, Blas1Desc.dot(t, n, incx, incy), Args.of(Arg.SRC, x.buffer(), Arg.SRC2, y.buffer(), Arg.DST, dst));
            double want = 0, mag = 0;
            for (int i = 0; i < n; i++) {
                double p = get(x0, t, offX + (long) i * incx) * get(y0, t, offY + (long) i * incy);
                want += p;
                mag += Math.abs(p);
            }
            double u = t == DType.F64 ? 0x1p-53 : 0x1p-24, got = get(dst.hostSegment(), t, 0);
            assertEquals(want, got, 32 * u * mag + (n == 0 ? 0 : 1e-30), "dot " + what);
            dst.close();

            // AXPY: every stride element is the correctly rounded fma; nothing else changes, x included
            VectorBlas1.run(w, Blas1Desc.axpy(t, n, alpha, incx, incy), Args.of(Arg.SRC, x.buffer(), Arg.DST, y.buffer()));
            sameExceptStrides(y0, y.vector(), t, offY, n, incy, "axpy " + what, i -> t == DType.F64
                    ? Math.fma(alpha, get(x0, t, offX + (long) i * incx), get(y0, t, offY + (long) i * incy))
                    : Math.fma((float) alpha, (float) get(x0, t, offX + (long) i * incx), (float) get(y0, t, offY + (long) i * incy)));
            sameExceptStrides(x0, x.vector(), t, offX, 0, incx, "axpy wrote x " + what, i -> 0.0);

            // SCAL of x
            VectorBlas1.run(w, Blas1Desc.scal(t, n, alpha, incx), Args.of(Arg.DST, x.buffer()));
            sameExceptStrides(x0, x.vector(), t, offX, n, incx, "scal " + what, i -> t == DType.F64
                    ? alpha * get(x0, t, offX + (long) i * incx) : (double) ((float) alpha * (float) get(x0, t, offX + (long) i * incx)));
        }
    }

    /** Elements on the n stride positions from off equal {@code want(i)} bit for bit; all others kept their bits. */
    private static void sameExceptStrides(MemorySegment before, MemorySegment after, DType t, int off, int n, int inc, String what,
                                          Function<Integer, Double> want) {
        long count = before.byteSize() / (t == DType.F64 ? 8 : 4);
        for (long e = 0; e < count; e++) {
            boolean onStride = e >= off && (e - off) % inc == 0 && (e - off) / inc < n;
            if (!onStride) {
                assertEquals(bits(before, t, e), bits(after, t, e), what + ": element " + e + " off the strides changed");
                continue;
            }
            int i = (int) ((e - off) / inc);
            double expect = want.apply(i);
            assertEquals(t == DType.F64 ? Double.doubleToRawLongBits(expect) : Float.floatToRawIntBits((float) expect), bits(after, t, e),
                    what + ": element " + i + " is " + get(after, t, e) + ", expected " + expect);
        }
    }

    @Test void dotBitsDoNotDependOnThreadsOrOperandKind() {
        int previous = CpuThreads.threads();
        Width w = VectorSupport.width();
        int n = 3 * VectorBlas1.PARALLEL_MIN + 17; // several chunks, spread over the pool
        try (Arena arena = Arena.ofShared(); Arena confined = Arena.ofConfined()) {
            for (DType t : new DType[] {DType.F32, DType.F64}) {
                List<Long> seen = new ArrayList<>();
                for (Kind kind : new Kind[] {Kind.NATIVE, Kind.ARRAY}) {
                    Operand x = operand(arena, kind, t, n, 0), y = operand(arena, kind, t, n, 0);
                    SplittableRandom same = new SplittableRandom(99); // the same values for both kinds
                    fill(x.vector(), t, 0, n, 1, same);
                    fill(y.vector(), t, 0, n, 1, same);
                    for (int threads : new int[] {1, 2}) {
                        CpuThreads.setThreads(threads);
                        HostBuffer dst = HostBuffer.allocate(null, t, 1);
                        VectorBlas1.run(w, Blas1Desc.dot(t, n, 1, 1), Args.of(Arg.SRC, x.buffer(), Arg.SRC2, y.buffer(), Arg.DST, dst));
                        seen.add(bits(dst.hostSegment(), t, 0));
                        dst.close();
                    }
                    if (kind == Kind.NATIVE) { // a confined arena's segments: pool threads may not touch them, one thread runs all
                        HostBuffer cx = HostBuffer.wrap(confined.allocate(x.vector().byteSize()).copyFrom(x.vector()), t);
                        HostBuffer cy = HostBuffer.wrap(confined.allocate(y.vector().byteSize()).copyFrom(y.vector()), t);
                        HostBuffer dst = HostBuffer.allocate(null, t, 1);
                        // through the device's plan, which keeps confined operands on the calling thread
                        new CpuDevice().implementations(OpKind.BLAS1).get(0).plan(Blas1Desc.dot(t, n, 1, 1))
                                .execute(null, Args.of(Arg.SRC, cx, Arg.SRC2, cy, Arg.DST, dst));
                        seen.add(bits(dst.hostSegment(), t, 0));
                        dst.close();
                    }
                }
                assertEquals(1, seen.stream().distinct().count(), t.lower() + " dot bits over 1/2 threads x native/array: " + seen);
            }
        } finally {
            CpuThreads.setThreads(previous);
        }
    }

    @Test void axpyWithAlphaZeroReadsNothing() {
        try (Arena arena = Arena.ofConfined()) {
            Operand x = operand(arena, Kind.NATIVE, DType.F32, 40, 0), y = operand(arena, Kind.NATIVE, DType.F32, 40, 0);
            fill(x.vector(), DType.F32, 0, 40, 1, new SplittableRandom(3));
            fill(y.vector(), DType.F32, 0, 40, 1, new SplittableRandom(4));
            set(x.vector(), DType.F32, 5, Float.POSITIVE_INFINITY);
            MemorySegment y0 = arena.allocate(160).copyFrom(y.vector());
            VectorBlas1.run(VectorSupport.width(), Blas1Desc.axpy(DType.F32, 40, 0, 1, 1), Args.of(Arg.SRC, x.buffer(), Arg.DST, y.buffer()));
            assertEquals(-1, y0.mismatch(y.vector()), "alpha 0 must leave y untouched (an infinity in x must not make a NaN)");
        }
    }
}
