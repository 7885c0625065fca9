package dev.kiln.cpu.quant;

import dev.kiln.cpu.CpuThreads;
import dev.kiln.cpu.Width;
import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.QuantizeDesc;
import dev.kiln.kernels.desc.QuantizeDesc.Granularity;
import dev.kiln.kernels.desc.QuantizeDesc.Mode;
import dev.kiln.kernels.ref.RefQuantize;
import dev.kiln.kernels.spi.Support;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Quantise, dequantise and fake-quantise on the CPU ({@link QuantizeDesc}), bit for bit the reference's
 * results. Scales are computed first when the op computes them ({@link QuantStats}); then the tensor is cut
 * into fixed tasks of {@value #CHUNK} elements (b1 quantisation: of whole rows, so no two tasks write one
 * byte), and each task walks its runs of elements that share a scale, with vector bodies
 * ({@link QuantBlocks}) over whole vectors and {@link RefQuantize}'s scalar functions for the rest. The
 * stochastic rounding numbers hash the flat element index, so results do not depend on the thread count.
 * Element by element (parallel, but scalar): per-channel scales on the last axis (runs of one element) and
 * b1 dequantisation.
 */
public final class VectorQuantize {
    private VectorQuantize() {}

    static final int CHUNK = 1 << 14;
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;

    public static Support supports(QuantizeDesc d) { return Support.YES; }

    public static void run(Width w, QuantizeDesc d, Args a) {
        int n = Math.toIntExact(d.scaleCount());
        float[] scales = new float[n];
        int[] zeros = new int[n];
        MemorySegment src = a.host(Arg.SRC), dst = a.host(Arg.DST);
        if (d.computeScales()) {
            QuantStats.compute(w, d, src, scales, zeros);
            MemorySegment.copy(scales, 0, a.host(Arg.SCALES), ValueLayout.JAVA_FLOAT_UNALIGNED, 0, n);
            if (!d.symmetric()) MemorySegment.copy(zeros, 0, a.host(Arg.ZERO_POINTS), ValueLayout.JAVA_INT_UNALIGNED, 0, n);
        } else {
            MemorySegment.copy(a.host(Arg.SCALES), ValueLayout.JAVA_FLOAT_UNALIGNED, 0, scales, 0, n);
            if (!d.symmetric()) MemorySegment.copy(a.host(Arg.ZERO_POINTS), ValueLayout.JAVA_INT_UNALIGNED, 0, zeros, 0, n);
        }
        long count = d.count();
        if (d.qtype() == DType.B1 && d.mode() == Mode.QUANTIZE) {
            int row = d.rowLength();
            long rows = count / row, perTask = Math.max(1, CHUNK / row);
            CpuThreads.parallelFor(Math.toIntExact(Math.ceilDiv(rows, perTask)), t -> {
                for (long r = t * perTask; r < Math.min(rows, (t + 1) * perTask); r++) QuantBlocks.binaryRow(w, d, src, dst, r);
            });
            return;
        }
        CpuThreads.parallelFor(Math.toIntExact(Math.ceilDiv(count, CHUNK)), t -> {
            long from = (long) t * CHUNK, to = Math.min(count, from + CHUNK);
            int key = RefQuantize.key(d.seed(), from >>> 32);      // a task never crosses a multiple of 2^32
            long start = from;
            if (QuantBlocks.nibbleGroups(w, d)) start = QuantBlocks.nibbleGroups(w, d, src, dst, from, to, scales, zeros, key);
            for (long i = start; i < to; ) {
                long end = Math.min(to, runEnd(d, i, to));
                int g = RefQuantize.scaleIndex(d, i);
                span(w, d, src, dst, i, end, scales[g], zeros[g], key);
                i = end;
            }
        });
    }

    /** The end of the run of elements from {@code i} that share its scale. */
    private static long runEnd(QuantizeDesc d, long i, long to) {
        return switch (d.granularity()) {
            case TENSOR -> to;
            case GROUP -> (i / d.groupSize() + 1) * d.groupSize();
            case CHANNEL -> (i / d.inner() + 1) * d.inner();
        };
    }

    /** Elements [from, to) with one scale: vectors where the layout allows, the scalar contract elsewhere. */
    private static void span(Width w, QuantizeDesc d, MemorySegment src, MemorySegment dst, long from, long to, float s, int z, int key) {
        long i = from;
        boolean stochastic = d.rounding() == QuantizeDesc.Rounding.STOCHASTIC;
        boolean scalarOnly = d.granularity() == Granularity.CHANNEL && d.inner() == 1 || d.qtype() == DType.B1 && d.mode() == Mode.DEQUANTIZE;
        if (!scalarOnly) {
            if (d.qtype() == DType.S4 && d.mode() != Mode.FAKE && (i & 1) == 1 && i < to) scalar(d, src, dst, i++, s, z, stochastic);
            i = QuantBlocks.body(w, d, src, dst, i, to, s, z, key);
        }
        for (; i < to; i++) scalar(d, src, dst, i, s, z, stochastic);
    }

    /** One element by {@link RefQuantize}'s scalar functions. */
    static void scalar(QuantizeDesc d, MemorySegment src, MemorySegment dst, long i, float s, int z, boolean stochastic) {
        if (d.mode() == Mode.DEQUANTIZE) {
            dst.setAtIndex(F, i, RefQuantize.dequantize(RefQuantize.load(d, src, i), s, z));
            return;
        }
        float x = src.getAtIndex(F, i), u = stochastic ? RefQuantize.uniform(d.seed(), i) : 0;
        int q = d.qtype() == DType.B1 ? RefQuantize.binarize(x, stochastic, u) : RefQuantize.quantize(x, s, z, d.qmin(), d.qmax(), stochastic, u);
        if (d.mode() == Mode.FAKE) {
            dst.setAtIndex(F, i, RefQuantize.dequantize(q, s, z));
            return;
        }
        switch (d.qtype()) {
            case S8, U8 -> dst.set(ValueLayout.JAVA_BYTE, i, (byte) q);
            case S4 -> {
                byte old = dst.get(ValueLayout.JAVA_BYTE, i >> 1);
                int b = (i & 1) == 0 ? (old & 0xF0) | (q & 0xF) : (old & 0x0F) | ((q & 0xF) << 4);
                dst.set(ValueLayout.JAVA_BYTE, i >> 1, (byte) b);
            }
            default -> throw new AssertionError("b1 quantisation goes by rows");
        }
    }
}
