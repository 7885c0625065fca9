package dev.kiln.kernels.testing;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.ArgSpec;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.ref.RefKernels;
import dev.kiln.kernels.spi.KernelImpl;
import dev.kiln.kernels.spi.Plan;
import dev.kiln.kernels.spi.Stream;
import dev.kiln.kernels.spi.Support;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiConsumer;

/** Deliberately broken kernels: the reference with one defect each, to show the harness catches it. */
final class Mutants {
    private Mutants() {}

    /** The reference, then {@code defect} applied to its outputs. */
    static KernelImpl after(OpKind kind, String name, BiConsumer<OpDesc, Args> defect) {
        return impl(kind, name, Support.YES, (desc, args) -> {
            RefKernels.run(desc, args);
            defect.accept(desc, args);
        });
    }

    static KernelImpl impl(OpKind kind, String name, Support support, BiConsumer<OpDesc, Args> body) {
        return new KernelImpl() {
            @Override public String name() { return name; }

            @Override public OpKind kind() { return kind; }

            @Override public Support supports(OpDesc desc) { return support; }

            @Override public Plan plan(OpDesc desc) {
                return new Plan() {
                    @Override public OpDesc desc() { return desc; }

                    @Override public String implementation() { return name; }

                    @Override public void execute(Stream stream, Args args) { body.accept(desc, args); }
                };
            }
        };
    }

    /** The first output of {@code desc}. */
    static ArgSpec firstOutput(OpDesc desc) {
        for (ArgSpec s : desc.args()) if (s.access().writes()) return s;
        throw new AssertionError(desc.opName() + " has no output");
    }

    /** Index of the largest-magnitude written (non-NaN) element of the first output, or -1 if there is none. */
    static long largest(OpDesc desc, Args args) {
        ArgSpec out = firstOutput(desc);
        MemorySegment seg = args.host(out.arg());
        long best = -1;
        double max = -1;
        for (long i = 0; i < out.count(); i++) {
            double v = get(seg, out.dtype(), i);
            if (!Double.isNaN(v) && Math.abs(v) > max) { max = Math.abs(v); best = i; }
        }
        return best;
    }

    /** Adds 1e-2 (times the value when it is larger than 1) to that element, or 1 to an integer. */
    static void perturb(OpDesc desc, Args args, AtomicLong where) {
        ArgSpec out = firstOutput(desc);
        long i = largest(desc, args);
        where.set(i);
        if (i < 0) return;
        MemorySegment seg = args.host(out.arg());
        double v = get(seg, out.dtype(), i);
        switch (out.dtype()) {
            case F32 -> seg.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) (v + 1e-2 * Math.max(1, Math.abs(v))));
            case F64 -> seg.setAtIndex(ValueLayout.JAVA_DOUBLE, i, v + 1e-2 * Math.max(1, Math.abs(v)));
            case S32 -> seg.setAtIndex(ValueLayout.JAVA_INT, i, (int) v + 1);
            case S8, U8 -> seg.set(ValueLayout.JAVA_BYTE, i, (byte) (seg.get(ValueLayout.JAVA_BYTE, i) ^ 1));
            case F16, BF16 -> seg.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, (short) (seg.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i) ^ 1));
            case S4 -> seg.set(ValueLayout.JAVA_BYTE, i >> 1, (byte) (seg.get(ValueLayout.JAVA_BYTE, i >> 1) ^ ((i & 1) == 0 ? 1 : 0x10)));
            case B1 -> seg.set(ValueLayout.JAVA_BYTE, i >> 3, (byte) (seg.get(ValueLayout.JAVA_BYTE, i >> 3) ^ (1 << (i & 7))));
            default -> throw new AssertionError("unexpected output dtype " + out.dtype());
        }
    }

    /** Zeros over every output's whole extent. */
    static void zero(OpDesc desc, Args args) {
        for (ArgSpec s : desc.args())
            if (s.access().writes()) args.host(s.arg()).asSlice(0, s.dtype().bytes(s.count())).fill((byte) 0);
    }

    static double get(MemorySegment seg, DType dtype, long i) {
        return switch (dtype) {
            case F32 -> seg.getAtIndex(ValueLayout.JAVA_FLOAT, i);
            case F64 -> seg.getAtIndex(ValueLayout.JAVA_DOUBLE, i);
            case S32 -> seg.getAtIndex(ValueLayout.JAVA_INT, i);
            case S8 -> seg.get(ValueLayout.JAVA_BYTE, i);
            case U8 -> Byte.toUnsignedInt(seg.get(ValueLayout.JAVA_BYTE, i));
            case F16, BF16 -> Short.toUnsignedInt(seg.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i)); // bits; perturbing flips the lowest
            case S4 -> ((seg.get(ValueLayout.JAVA_BYTE, i >> 1) >> ((i & 1) * 4)) << 28) >> 28;
            case B1 -> (seg.get(ValueLayout.JAVA_BYTE, i >> 3) >> (i & 7)) & 1;
            default -> throw new AssertionError("unexpected output dtype " + dtype);
        };
    }
}
