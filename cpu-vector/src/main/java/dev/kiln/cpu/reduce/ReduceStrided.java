package dev.kiln.cpu.reduce;

import dev.kiln.cpu.CpuThreads;
import dev.kiln.cpu.Width;
import dev.kiln.kernels.desc.ReduceDesc;
import dev.kiln.kernels.desc.ReduceOp;
import jdk.incubator.vector.FloatVector;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Reductions over an axis that is not the last (inner > 1): dst[o][i] = op over l of src[o][l][i], e.g. a bias
 * gradient (the sum over axis 0 of N x F) or a per-channel maximum. Vectors run along i, where the data is
 * contiguous. SUM, MEAN and MAX add the length rows of a column block straight into dst (row 0 copied, then
 * one vector op per element and row, in row order), so each result is the reference's order in f32 and
 * independent of width and threads. ARGMAX works a vector of columns at a time ({@link ArgMax#columns}).
 * Task units are (outer slice, block of columns, {@link #block}), grouped by a rule that ignores the thread count.
 */
final class ReduceStrided {
    private ReduceStrided() {}

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    /** Columns per task unit: 8 KB of results, which stay in L1 while the rows stream past. */
    static final int BLOCK = 2048;

    static void run(Width w, ReduceDesc d, MemorySegment src, MemorySegment dst) {
        int len = d.length(), inner = d.inner();
        int block = block(d.outer(), inner), blocks = Math.ceilDiv(inner, block);
        long units = (long) d.outer() * blocks;
        long perTask = Math.max(1, VectorReduce.TASK_ELEMENTS / ((long) len * Math.min(inner, block)));
        CpuThreads.parallelFor(Math.toIntExact(Math.ceilDiv(units, perTask)), t -> {
            for (long u = t * perTask, end = Math.min(units, u + perTask); u < end; u++) {
                int o = (int) (u / blocks), c0 = (int) (u % blocks) * block, width = Math.min(block, inner - c0);
                long base = (long) o * len * inner + c0, at = (long) o * inner + c0;
                if (d.op() == ReduceOp.ARGMAX) argmax(w, src, base, len, inner, dst, at, width);
                else block(w, d.op(), src, base, len, inner, dst, at, width);
            }
        });
    }

    /**
     * Columns per task unit: {@value #BLOCK}, or fewer (down to 64) when there are few outer slices, so that a
     * single wide reduction (a bias gradient) still makes about 8 units. Depends on the shape only.
     */
    static int block(long slices, int inner) {
        if (slices * Math.ceilDiv(inner, BLOCK) >= 8) return BLOCK;
        long even = inner * slices / 8 / 64 * 64;
        return (int) Math.max(64, Math.min(BLOCK, even));
    }

    /** SUM, MEAN or MAX of {@code width} columns: rows accumulated into dst[at..at+width). */
    private static void block(Width w, ReduceOp op, MemorySegment src, long base, int len, int inner,
                              MemorySegment dst, long at, int width) {
        var s = w.floats();
        int l = s.length();
        MemorySegment.copy(src, base * 4, dst, at * 4, width * 4L);
        boolean max = op == ReduceOp.MAX;
        for (int r = 1; r < len; r++) {
            long row = base + (long) r * inner;
            int c = 0;
            for (; c <= width - l; c += l) {
                FloatVector acc = FloatVector.fromMemorySegment(s, dst, (at + c) * 4, NATIVE);
                FloatVector x = FloatVector.fromMemorySegment(s, src, (row + c) * 4, NATIVE);
                // each branch stores its own result: a vector merged from two branches would be boxed
                if (max) acc.max(x).intoMemorySegment(dst, (at + c) * 4, NATIVE);
                else acc.add(x).intoMemorySegment(dst, (at + c) * 4, NATIVE);
            }
            for (; c < width; c++) {
                float acc = dst.getAtIndex(F, at + c), x = src.getAtIndex(F, row + c);
                dst.setAtIndex(F, at + c, max ? Math.max(acc, x) : acc + x);
            }
        }
        if (op == ReduceOp.MEAN) {
            FloatVector n = FloatVector.broadcast(s, (float) len);
            int c = 0;
            for (; c <= width - l; c += l)
                FloatVector.fromMemorySegment(s, dst, (at + c) * 4, NATIVE).div(n).intoMemorySegment(dst, (at + c) * 4, NATIVE);
            for (; c < width; c++) dst.setAtIndex(F, at + c, dst.getAtIndex(F, at + c) / len);
        }
    }

    private static void argmax(Width w, MemorySegment src, long base, int len, int inner, MemorySegment dst, long at, int width) {
        int l = w.floats().length(), c = 0;
        for (; c <= width - l; c += l) ArgMax.columns(w, src, base + c, len, inner, dst, at + c);
        for (; c < width; c++) dst.setAtIndex(ValueLayout.JAVA_INT_UNALIGNED, at + c, ArgMax.column(src, base + c, len, inner));
    }
}
