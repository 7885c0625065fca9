package dev.kiln.kernels.verify;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.*;
import dev.kiln.kernels.desc.QGemmDesc.QuantType;
import dev.kiln.kernels.ref.RefKernels;
import dev.kiln.kernels.spi.HostBuffer;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.EnumMap;
import java.util.Map;

/**
 * Tolerances and element magnitudes.
 *
 * <p>Why these numbers. A float sum computed in any order has the error {@code sum_k delta_k s_k}, with
 * {@code |delta_k| <= u} (u = 2^-24 for f32) and {@code s_k} its partial sums. For the zero-mean random
 * terms this harness generates, the partial sums stay near {@code sqrt(k)} times a term, and a plain
 * sequential f32 loop (the worst realistic kernel) has an error whose standard deviation is about
 * {@code 0.4 u * sum|terms|}, independent of the length (worked out for products of uniform [-1, 1] values).
 * So accumulating ops allow {@code 32 u * sum|terms|}: about 80 standard deviations of the sequential loop,
 * room for blocked, tree-shaped and transform-based (Winograd) kernels, and still far below a single dropped
 * or doubled term. The sum of |terms| is measured, not guessed: the harness runs the reference once more on
 * the absolute values of the inputs ({@link #magnitudes}), which gives exactly sum |a||b| for GEMM,
 * convolution and sparse products. A base relative term covers the final roundings: 1e-6 (a few ulps) for
 * plain arithmetic, 4e-6 for a GEMM activation epilogue, 1e-5 where a backend evaluates exp, log, tanh or
 * sqrt elementwise (fast implementations are a few ulps off), those with an absolute 1e-6 for results near
 * zero (log near 1). Ops whose terms do not have mean zero (softmax sums exponentials, norms sum squares)
 * use Higham and Mary's probabilistic bound instead, {@code 16 sqrt(K) u} relative to the element's scale:
 * for norms the sum of |terms| from the formulas ({@link NormMagnitudes}), for softmax the element's own
 * size plus the row's mean size (its gradient cancels). f64 uses u = 2^-53 twice (the reference rounds as well).
 * Data movement, max and integer results are exact.
 */
final class ParityTolerances {
    private ParityTolerances() {}

    private static final double U32 = 0x1p-24, U64 = 0x1p-53;
    private static final double TINY = 1e-30; // zero results must be zero; this only absorbs flushed denormals
    private static final double PLAIN = 1e-6, EPILOGUE = 4e-6, TRANSCENDENTAL = 1e-5;

    static Tolerance of(OpDesc desc) {
        return switch (desc) {
            case GemmDesc g -> accumulating(g.dtype(), transcendental(g.activation()) ? EPILOGUE : PLAIN);
            case ConvDesc ignored -> accumulating(DType.F32, PLAIN);
            case UnaryDesc u -> switch (u.op()) {
                case RELU, NEG, ABS, SQUARE -> accumulating(DType.F32, PLAIN);
                default -> new Tolerance(TRANSCENDENTAL, 1e-6);
            };
            case BinaryDesc ignored -> accumulating(DType.F32, PLAIN);
            case ReduceDesc r -> r.op() == ReduceOp.SUM || r.op() == ReduceOp.MEAN ? accumulating(DType.F32, PLAIN) : Tolerance.exact();
            case SoftmaxDesc s -> cancelling(s.length());
            case NormDesc n -> cancelling(n.norm() == NormDesc.NormKind.BATCH ? (long) n.n() * n.spatial() : n.c());
            case PoolDesc p -> p.pool() == PoolDesc.PoolKind.MAX && p.pass() == Pass.FORWARD ? Tolerance.exact()
                    : accumulating(DType.F32, PLAIN);
            case PixelShuffleDesc ignored -> Tolerance.exact();
            case SpmmDesc ignored -> accumulating(DType.F32, PLAIN);
            case DsmmDesc ignored -> accumulating(DType.F32, PLAIN);
            case SddmmDesc ignored -> accumulating(DType.F32, PLAIN);
            // f32 arithmetic fully specified by the descriptor: bit-exact, except a computed b1 scale (a mean summed in any order)
            case QuantizeDesc q -> q.qtype() == DType.B1 && q.computeScales() ? new Tolerance(1e-6, 0) : Tolerance.exact();
            case ConvertDesc ignored -> Tolerance.exact();
            // SCAL rounds one product, as the reference's double product rounded to the dtype does: exact
            case Blas1Desc b -> b.op() == Blas1Op.SCAL ? Tolerance.exact() : accumulating(b.dtype(), PLAIN);
            case QGemmDesc q -> switch (q.type()) {
                // the s32 accumulator is exact; an f32 output only rounds the conversion and two scale products
                case S8S8, U8S8, B1 -> q.out() != DType.F32 ? Tolerance.exact() : accumulating(DType.F32, PLAIN);
                case S4, LMUL -> accumulating(DType.F32, PLAIN);
            };
        };
    }

    private static boolean transcendental(Activation a) { return a != Activation.NONE && a != Activation.RELU; }

    private static Tolerance accumulating(DType dtype, double base) {
        if (dtype == DType.F64) return new Tolerance(base * 1e-8 + 2 * 32 * U64, base > PLAIN ? 1e-15 : TINY);
        return new Tolerance(base + 32 * U32, base > PLAIN ? 1e-6 : TINY);
    }

    private static Tolerance cancelling(long terms) {
        return new Tolerance(TRANSCENDENTAL + 16 * U32 * Math.sqrt(Math.max(1, terms)), 1e-6);
    }

    /** Ops whose scale adds the expected output's mean size: softmax gradients cancel within a row. */
    static boolean cancels(OpDesc desc) { return desc instanceof SoftmaxDesc; }

    /**
     * Per-element sum of |terms| for each output of an op that is linear in its float inputs, from the
     * reference run on absolute values (through a surrogate descriptor where abs would change the op: no
     * activation, |alpha|, |beta|; ADD for max/min gradients; a dequantised f32 GEMM for s4 and L-Mul); null
     * for other ops, whose scale is the expected value itself.
     */
    static Map<Arg, MemorySegment> magnitudes(OpDesc desc, Map<Arg, HostBuffer> inputs, Closer closer) {
        OpDesc m = switch (desc) {
            case GemmDesc g -> new GemmDesc(g.dtype(), g.transA(), g.transB(), g.m(), g.n(), g.k(), g.lda(), g.ldb(), g.ldc(),
                    Math.abs(g.alpha()), Math.abs(g.beta()), g.batch(), g.strideA(), g.strideB(), g.strideC(), g.bias(), Activation.NONE);
            case ConvDesc c -> c;
            case SpmmDesc s -> s;
            case DsmmDesc s -> s;
            case SddmmDesc s -> s;
            case Blas1Desc b -> new Blas1Desc(b.op(), b.dtype(), b.n(), Math.abs(b.alpha()), b.incx(), b.incy());
            case PoolDesc p -> p.pool() == PoolDesc.PoolKind.MAX && p.pass() == Pass.FORWARD ? null : p;
            case ReduceDesc r -> r.op() == ReduceOp.SUM || r.op() == ReduceOp.MEAN ? r : null;
            case BinaryDesc b when b.pass() == Pass.BACKWARD ->
                    b.op() == BinaryOp.MAX || b.op() == BinaryOp.MIN ? new BinaryDesc(BinaryOp.ADD, b.a(), b.b(), Pass.BACKWARD) : b;
            case NormDesc n -> null; // handled below, from the formulas
            case QGemmDesc q when q.type() == QuantType.S4 || q.type() == QuantType.LMUL ->
                    GemmDesc.of(DType.F32, Transpose.N, Transpose.T, q.m(), q.n(), q.k(), 1, 0);
            default -> null;
        };
        if (desc instanceof NormDesc n) return NormMagnitudes.of(n, inputs, closer);
        if (m == null) return null;
        Args args = Args.of();
        Map<Arg, MemorySegment> outputs = new EnumMap<>(Arg.class);
        for (ArgSpec spec : m.args()) {
            HostBuffer b = closer.add(HostBuffer.allocate(null, spec.dtype(), ParityInputs.allocated(spec)));
            HostBuffer src = inputs.get(spec.arg());
            if (spec.access().reads()) {
                if (desc instanceof QGemmDesc q && spec.arg() == Arg.B) dequantised(q, inputs, b.hostSegment());
                else MemorySegment.copy(src.hostSegment(), 0, b.hostSegment(), 0, Math.min(src.byteSize(), b.byteSize()));
                abs(b.hostSegment(), spec.dtype(), b.count());
            }
            if (spec.access().writes()) outputs.put(spec.arg(), b.hostSegment());
            args.put(spec.arg(), b);
        }
        RefKernels.run(m, args);
        for (Map.Entry<Arg, MemorySegment> e : outputs.entrySet()) abs(e.getValue(), m.spec(e.getKey()).dtype(), m.spec(e.getKey()).count());
        return outputs;
    }

    /** B of a QGEMM as n x k f32: s4 values times their group's scale, or the L-Mul operand itself. */
    private static void dequantised(QGemmDesc q, Map<Arg, HostBuffer> inputs, MemorySegment dst) {
        MemorySegment b = inputs.get(Arg.B).hostSegment();
        long count = (long) q.n() * q.k();
        if (q.type() == QuantType.LMUL) {
            MemorySegment.copy(b, 0, dst, 0, count * 4);
            return;
        }
        MemorySegment scales = inputs.get(Arg.SCALES).hostSegment();
        for (long i = 0; i < count; i++) {
            int byt = b.get(ValueLayout.JAVA_BYTE, i >> 1);
            int nib = (i & 1) == 0 ? byt & 0xF : (byt >> 4) & 0xF;
            long row = i / q.k(), col = i % q.k();
            float scale = scales.getAtIndex(ValueLayout.JAVA_FLOAT, row * (q.k() / q.groupSize()) + col / q.groupSize());
            dst.setAtIndex(ValueLayout.JAVA_FLOAT, i, (nib >= 8 ? nib - 16 : nib) * scale);
        }
    }

    private static void abs(MemorySegment seg, DType dtype, long count) {
        if (dtype == DType.F32)
            for (long i = 0; i < count; i++) seg.setAtIndex(ValueLayout.JAVA_FLOAT, i, Math.abs(seg.getAtIndex(ValueLayout.JAVA_FLOAT, i)));
        else if (dtype == DType.F64)
            for (long i = 0; i < count; i++) seg.setAtIndex(ValueLayout.JAVA_DOUBLE, i, Math.abs(seg.getAtIndex(ValueLayout.JAVA_DOUBLE, i)));
    }
}
