package dev.kiln.kernels.verify;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.*;
import dev.kiln.kernels.desc.NormDesc.Mode;
import dev.kiln.kernels.desc.PoolDesc.PoolKind;
import dev.kiln.kernels.ref.RefKernels;
import dev.kiln.kernels.spi.HostBuffer;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.EnumMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Seeded operands for one descriptor, valid for its op: random floats in [-1, 1) (positive where the op
 * needs it), full-range bytes for s8/u8/s4/b1, sorted in-range sparse structures, and for backward passes
 * the saved forward values (norm statistics, max-pool indices, softmax output) computed by the reference on
 * the same random input. Outputs are poisoned ({@link #POISON_F32} etc.) and carry {@link #guard} extra
 * poisoned elements, so an unwritten element or a write past the end is seen. Everything is drawn from one
 * {@link SplittableRandom} in the order of {@link OpDesc#args()}, so a seed reproduces the inputs exactly.
 */
final class ParityInputs {
    private ParityInputs() {}

    static final int POISON_F32 = Float.floatToRawIntBits(Float.NaN);
    static final long POISON_F64 = Double.doubleToRawLongBits(Double.NaN);
    /** An s32 that no kernel output in the suite legitimately takes (and a NaN bit pattern as f32). */
    static final int POISON_S32 = 0x7FC0DEAD;

    /** Extra elements after each output, poisoned: 16 elements, or 64 bytes' worth of packed ones. */
    static long guard(DType dtype) { return dtype.bits() >= 8 ? 16 : 512 / dtype.bits(); }

    static long allocated(ArgSpec spec) { return spec.access().writes() ? spec.count() + guard(spec.dtype()) : spec.count(); }

    /** Fresh host operands for every argument of {@code desc}; the caller closes them through {@code closer}. */
    static Map<Arg, HostBuffer> generate(OpDesc desc, long seed, Closer closer) {
        SplittableRandom rnd = new SplittableRandom(seed);
        Map<Arg, HostBuffer> map = new EnumMap<>(Arg.class);
        for (ArgSpec spec : desc.args()) {
            HostBuffer b = closer.add(HostBuffer.allocate(null, spec.dtype(), allocated(spec)));
            MemorySegment seg = b.hostSegment();
            if (spec.access().reads()) randomFill(seg, spec.dtype(), rnd, 0, b.count());
            if (spec.access() == ArgSpec.Access.OUT) poison(seg, spec.dtype(), 0, b.count());
            else if (spec.access() == ArgSpec.Access.INOUT) poison(seg, spec.dtype(), spec.count(), b.count());
            map.put(spec.arg(), b);
        }
        adjust(desc, map, rnd, closer);
        return map;
    }

    /** Replaces the generic random values where the op needs a domain, a structure or forward results. */
    private static void adjust(OpDesc desc, Map<Arg, HostBuffer> in, SplittableRandom rnd, Closer closer) {
        switch (desc) {
            case UnaryDesc u when u.op() == UnaryOp.LOG || u.op() == UnaryOp.SQRT -> fillF32(in.get(Arg.SRC), rnd, 0.05, 2);
            case BinaryDesc b when b.op() == BinaryOp.DIV -> awayFromZero(in.get(Arg.SRC2), rnd);
            case NormDesc n when n.mode() == Mode.INFERENCE -> fillF32(in.get(Arg.VARIANCE), rnd, 0.25, 1.5);
            case NormDesc n when n.mode() == Mode.BACKWARD -> normStatistics(n, in, rnd, closer);
            case PoolDesc p when p.pool() == PoolKind.MAX && p.pass() == Pass.BACKWARD -> poolIndices(p, in, rnd, closer);
            case SoftmaxDesc s when s.pass() == Pass.BACKWARD -> softmaxOutput(s, in, rnd, closer);
            case SpmmDesc s -> SparseInputs.fill(s, in, rnd);
            case DsmmDesc s -> SparseInputs.structure(s.sparseRows(), s.sparseCols(), s.nnz(), in, rnd);
            case SddmmDesc s -> SparseInputs.structure(s.m(), s.n(), s.nnz(), in, rnd);
            case QuantizeDesc q -> QuantCases.fill(q, in, rnd);
            case QGemmDesc q when q.out() == DType.S8 -> QuantCases.fill(q, in, rnd);
            case ConvertDesc c -> QuantCases.fill(c, in, rnd);
            default -> { }
        }
    }

    /** MEAN and RSTD of a training-mode forward over this SRC (and a random BETA, which they do not depend on). */
    private static void normStatistics(NormDesc n, Map<Arg, HostBuffer> in, SplittableRandom rnd, Closer closer) {
        NormDesc fwd = new NormDesc(n.norm(), n.n(), n.c(), n.spatial(), n.eps(), Mode.TRAINING);
        Args args = forwardArgs(fwd, in, rnd, closer);
        RefKernels.run(fwd, args);
        copyInto(args.get(Arg.RSTD).hostSegment(), in.get(Arg.RSTD));
        if (in.containsKey(Arg.MEAN)) copyInto(args.get(Arg.MEAN).hostSegment(), in.get(Arg.MEAN));
    }

    /** INDICES of a max-pool forward over a random SRC (the backward pass itself does not read SRC). */
    private static void poolIndices(PoolDesc p, Map<Arg, HostBuffer> in, SplittableRandom rnd, Closer closer) {
        PoolDesc fwd = p.withPass(Pass.FORWARD);
        Args args = forwardArgs(fwd, in, rnd, closer);
        RefKernels.run(fwd, args);
        copyInto(args.get(Arg.INDICES).hostSegment(), in.get(Arg.INDICES));
    }

    /** DST of a forward softmax over a random SRC: the backward pass is only meaningful on real outputs. */
    private static void softmaxOutput(SoftmaxDesc s, Map<Arg, HostBuffer> in, SplittableRandom rnd, Closer closer) {
        SoftmaxDesc fwd = new SoftmaxDesc(s.outer(), s.length(), s.inner(), s.log(), Pass.FORWARD);
        Args args = forwardArgs(fwd, in, rnd, closer);
        RefKernels.run(fwd, args);
        copyInto(args.get(Arg.DST).hostSegment(), in.get(Arg.DST));
    }

    /** Host args for a forward descriptor: inputs shared with {@code in} where both have them, else random. */
    private static Args forwardArgs(OpDesc fwd, Map<Arg, HostBuffer> in, SplittableRandom rnd, Closer closer) {
        Args args = Args.of();
        for (ArgSpec spec : fwd.args()) {
            HostBuffer shared = in.get(spec.arg());
            if (!spec.access().writes() && shared != null && shared.dtype() == spec.dtype() && shared.count() >= spec.count()) {
                args.put(spec.arg(), shared);
                continue;
            }
            HostBuffer b = closer.add(HostBuffer.allocate(null, spec.dtype(), spec.count()));
            if (spec.access().reads()) randomFill(b.hostSegment(), spec.dtype(), rnd, 0, b.count());
            args.put(spec.arg(), b);
        }
        return args;
    }

    private static void copyInto(MemorySegment from, HostBuffer to) {
        MemorySegment.copy(from, 0, to.hostSegment(), 0, Math.min(from.byteSize(), to.byteSize()));
    }

    static void randomFill(MemorySegment seg, DType dtype, SplittableRandom rnd, long from, long to) {
        switch (dtype) {
            case F32 -> { for (long i = from; i < to; i++) seg.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) rnd.nextDouble(-1, 1)); }
            case F64 -> { for (long i = from; i < to; i++) seg.setAtIndex(ValueLayout.JAVA_DOUBLE, i, rnd.nextDouble(-1, 1)); }
            case S32 -> { for (long i = from; i < to; i++) seg.setAtIndex(ValueLayout.JAVA_INT, i, rnd.nextInt(-1000, 1000)); }
            default -> { // bytes, full range; packed types get random nibbles and bits, padding included
                long a = dtype.bytes(from), b = dtype.bytes(to);
                for (long i = a; i < b; i++) seg.set(ValueLayout.JAVA_BYTE, i, (byte) rnd.nextInt(256));
            }
        }
    }

    static void fillF32(HostBuffer b, SplittableRandom rnd, double lo, double hi) {
        MemorySegment seg = b.hostSegment();
        for (long i = 0; i < b.count(); i++) seg.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) rnd.nextDouble(lo, hi));
    }

    /** Divisors in +-[0.5, 1.5): the quotient and its gradient stay in a range f32 compares well. */
    private static void awayFromZero(HostBuffer b, SplittableRandom rnd) {
        MemorySegment seg = b.hostSegment();
        for (long i = 0; i < b.count(); i++)
            seg.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) ((rnd.nextBoolean() ? 1 : -1) * rnd.nextDouble(0.5, 1.5)));
    }

    static void poison(MemorySegment seg, DType dtype, long from, long to) {
        switch (dtype) {
            case F64 -> { for (long i = from; i < to; i++) seg.setAtIndex(ValueLayout.JAVA_LONG, i, POISON_F64); }
            case F32 -> { for (long i = from; i < to; i++) seg.setAtIndex(ValueLayout.JAVA_INT, i, POISON_F32); }
            case S32 -> { for (long i = from; i < to; i++) seg.setAtIndex(ValueLayout.JAVA_INT, i, POISON_S32); }
            default -> { for (long i = dtype.bytes(from); i < dtype.bytes(to); i++) seg.set(ValueLayout.JAVA_BYTE, i, (byte) 0xA5); }
        }
    }
}
