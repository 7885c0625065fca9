package dev.kiln.kernels.ref;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.*;
import dev.kiln.kernels.desc.ConvDesc.ConvPass;
import dev.kiln.kernels.desc.NormDesc.Mode;
import dev.kiln.kernels.desc.NormDesc.NormKind;
import dev.kiln.kernels.desc.PoolDesc.PoolKind;
import dev.kiln.kernels.spi.HostBuffer;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every op kind has a reference kernel: for each {@link OpKind}, small descriptors covering each of its
 * passes, modes and variants are run through {@link RefKernels#run} on random inputs, and every output
 * must be fully written (poison gone), finite and not all zero. The switch over OpKind has no default,
 * so a new kind does not compile until it is added here.
 */
class EveryOpKindTest {
    private static List<OpDesc> descriptors(OpKind kind) {
        List<OpDesc> list = new ArrayList<>();
        switch (kind) {
            case GEMM -> {
                list.add(GemmDesc.of(5, 7, 3));
                list.add(GemmDesc.of(DType.F64, Transpose.T, Transpose.T, 4, 3, 6, 1.5, 0.5).withEpilogue(true, Activation.GELU));
            }
            case CONV -> {
                ConvDesc c = new ConvDesc(2, 4, 6, 5, 6, 3, 2, 2, 1, 1, 1, 1, 2, 2, false, 0, 0, ConvPass.FORWARD, true);
                ConvDesc t = c.asTransposed(1, 0);
                for (ConvPass p : ConvPass.values()) { list.add(c.withPass(p)); list.add(t.withPass(p)); }
            }
            case UNARY -> {
                for (UnaryOp op : UnaryOp.values()) for (Pass p : Pass.values()) list.add(new UnaryDesc(op, 23, p));
            }
            case BINARY -> {
                for (BinaryOp op : BinaryOp.values())
                    for (Pass p : Pass.values()) list.add(new BinaryDesc(op, Shape.of(3, 1, 5), Shape.of(4, 1), p));
            }
            case REDUCE -> { for (ReduceOp op : ReduceOp.values()) list.add(new ReduceDesc(op, 3, 5, 2)); }
            case SOFTMAX -> {
                for (boolean log : new boolean[] {false, true}) for (Pass p : Pass.values()) list.add(new SoftmaxDesc(2, 7, 3, log, p));
            }
            case NORM -> {
                for (NormKind nk : NormKind.values())
                    for (Mode m : Mode.values())
                        if (nk == NormKind.BATCH || m != Mode.INFERENCE)
                            list.add(new NormDesc(nk, 3, 4, nk == NormKind.BATCH ? 5 : 1, 1e-5, m));
            }
            case POOL -> {
                for (PoolKind pk : PoolKind.values())
                    for (Pass p : Pass.values()) list.add(new PoolDesc(pk, 2, 3, 7, 6, 3, 2, 2, 1, 1, 1, pk == PoolKind.AVG, p));
            }
            case PIXEL_SHUFFLE -> {
                list.add(new PixelShuffleDesc(2, 9, 2, 3, 3, false));
                list.add(new PixelShuffleDesc(2, 2, 6, 4, 2, true));
            }
            case SPMM -> {
                list.add(SpmmDesc.csr(5, 3, 4, 20));
                list.add(SpmmDesc.bsr(4, 3, 6, 6, 2, 2));
                list.add(SpmmDesc.twoFour(3, 5, 8));
            }
            case DSMM -> {
                list.add(DsmmDesc.timesTransposed(3, 5, 4, 20));
                list.add(DsmmDesc.times(3, 5, 4, 20));
            }
            case SDDMM -> {
                list.add(SddmmDesc.of(4, 5, 3, 20));
                list.add(SddmmDesc.transposedInputs(4, 5, 3, 20));
            }
            case QUANTIZE -> {
                for (QuantizeDesc.Mode mode : QuantizeDesc.Mode.values())
                    for (DType q : new DType[] {DType.S8, DType.U8, DType.S4, DType.B1}) {
                        QuantizeDesc d = QuantizeDesc.of(mode, q, Shape.of(3, 4, 16));
                        list.add(d);
                        list.add(d.perChannel(1).stochastic(5));
                        list.add(d.perGroup(8).withComputedScales(false));
                    }
            }
            case CONVERT -> {
                list.add(new ConvertDesc(DType.F32, DType.F16, 9));
                list.add(new ConvertDesc(DType.F16, DType.F32, 9));
                list.add(new ConvertDesc(DType.F32, DType.BF16, 9));
                list.add(new ConvertDesc(DType.BF16, DType.F32, 9));
            }
            case BLAS1 -> {
                for (DType t : new DType[] {DType.F32, DType.F64}) {
                    list.add(Blas1Desc.dot(t, 9, 2, 1));
                    list.add(Blas1Desc.axpy(t, 9, 1.5, 1, 1));
                    list.add(Blas1Desc.scal(t, 9, -0.5, 1));
                }
            }
            case QGEMM -> {
                for (DType out : new DType[] {DType.S32, DType.F32}) {
                    list.add(QGemmDesc.s8(3, 4, 9, out));
                    list.add(QGemmDesc.u8s8(3, 4, 9, out));
                    list.add(QGemmDesc.binary(3, 4, 13, out));
                }
                list.add(QGemmDesc.s4(3, 4, 12, 4));
                list.add(QGemmDesc.lmul(3, 4, 9, 3));
                list.add(QGemmDesc.lmul(3, 4, 9, 4));
            }
        }
        return list;
    }

    @Test void everyKindHasAReferenceThatWritesEveryOutput() {
        Random r = new Random(91);
        EnumSet<OpKind> seen = EnumSet.noneOf(OpKind.class);
        for (OpKind kind : OpKind.values()) {
            List<OpDesc> descs = descriptors(kind);
            assertTrue(!descs.isEmpty(), kind + " has no descriptor here");
            for (OpDesc d : descs) {
                assertEquals(kind, d.kind(), d.opName());
                runAndCheck(d, r);
                seen.add(d.kind());
            }
        }
        assertEquals(EnumSet.allOf(OpKind.class), seen);
    }

    private static void runAndCheck(OpDesc d, Random r) {
        Args args = Args.of();
        List<HostBuffer> outs = new ArrayList<>();
        try {
            for (ArgSpec s : d.args()) {
                HostBuffer b = HostBuffer.allocate(null, s.dtype(), s.count());
                if (s.access().reads()) fill(d, s, b, r);
                else poison(b);
                if (s.access().writes()) outs.add(b);
                args.put(s.arg(), b);
            }
            RefKernels.run(d, args);
            String what = d.opName() + " " + d.shape();
            for (ArgSpec s : d.args()) {
                if (!s.access().writes()) continue;
                HostBuffer b = (HostBuffer) args.get(s.arg());
                boolean nonZero = false;
                if (s.dtype().isPacked() || s.dtype().bits() == 16) { // no get(i): the bytes must not all be zero
                    byte[] raw = new byte[(int) b.byteSize()];
                    b.copyTo(java.lang.foreign.MemorySegment.ofArray(raw));
                    boolean any = false;
                    for (byte x : raw) any |= x != 0;
                    assertTrue(any, what + " " + s.arg() + " is all zero");
                    continue;
                }
                for (long i = 0; i < b.count(); i++) {
                    double v = b.get(i);
                    if (s.dtype() == DType.S32) assertNotEquals(Integer.MIN_VALUE, (int) v, what + " " + s.arg() + "[" + i + "] not written");
                    else assertTrue(Double.isFinite(v), what + " " + s.arg() + "[" + i + "] = " + v);
                    nonZero |= v != 0;
                }
                // Indices and argmax may legitimately be all zero in a tiny case; values may not.
                if (s.dtype() != DType.S32) assertTrue(nonZero, what + " " + s.arg() + " is all zero");
            }
        } finally {
            for (var b : args.asMap().values()) b.close();
        }
    }

    private static void poison(HostBuffer b) {
        for (long i = 0; i < b.count(); i++) {
            if (b.dtype() == DType.S32) b.hostSegment().setAtIndex(java.lang.foreign.ValueLayout.JAVA_INT, i, Integer.MIN_VALUE);
            else if (b.dtype() == DType.F32) b.hostSegment().setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, i, Float.NaN);
            else if (b.dtype() == DType.F64) b.hostSegment().setAtIndex(java.lang.foreign.ValueLayout.JAVA_DOUBLE, i, Double.NaN);
        }
    }

    /** Valid random contents for an input: index arrays that index, positive variances, random bytes. */
    private static void fill(OpDesc d, ArgSpec s, HostBuffer b, Random r) {
        switch (s.dtype()) {
            case F32 -> {
                float[] v = RefCase.rand(r, (int) s.count());
                if (s.arg() == Arg.VARIANCE || s.arg() == Arg.RSTD || s.arg() == Arg.SCALES || d instanceof UnaryDesc u && (u.op() == UnaryOp.LOG || u.op() == UnaryOp.SQRT))
                    for (int i = 0; i < v.length; i++) v[i] = Math.abs(v[i]) + 0.5f;
                if (d instanceof BinaryDesc bd && bd.op() == BinaryOp.DIV && s.arg() == Arg.SRC2)
                    for (int i = 0; i < v.length; i++) v[i] += v[i] < 0 ? -0.5f : 0.5f;
                b.copyFrom(v);
            }
            case F64 -> {
                double[] v = new double[(int) s.count()];
                for (int i = 0; i < v.length; i++) v[i] = r.nextDouble() * 2 - 1;
                b.copyFrom(java.lang.foreign.MemorySegment.ofArray(v));
            }
            case S32 -> b.copyFrom(indices(d, s));
            case F16, BF16 -> { // finite values: random bits would hold NaNs and infinities
                float[] v = RefCase.rand(r, (int) s.count());
                java.lang.foreign.MemorySegment seg = b.hostSegment();
                for (int i = 0; i < v.length; i++)
                    seg.setAtIndex(java.lang.foreign.ValueLayout.JAVA_SHORT, i, s.dtype() == DType.F16 ? RefConvert.f32ToF16(v[i]) : RefConvert.f32ToBf16(v[i]));
            }
            default -> {
                byte[] raw = new byte[(int) b.byteSize()];
                r.nextBytes(raw);
                b.copyFrom(raw);
            }
        }
    }

    private static int[] indices(OpDesc d, ArgSpec s) {
        int[] v = new int[(int) s.count()];
        if (d instanceof SpmmDesc sp) {
            // Dense storage in sparse form: every row (block row) holds every column (block column).
            int rows = sp.format() == SpmmDesc.SparseFormat.BSR ? sp.m() / sp.blockRows() : sp.m();
            int cols = sp.format() == SpmmDesc.SparseFormat.BSR ? sp.k() / sp.blockCols() : sp.k();
            assertEquals((long) rows * cols, sp.nnz(), "test descriptors store every entry");
            for (int i = 0; i < v.length; i++) v[i] = s.arg() == Arg.ROW_PTR ? i * cols : i % cols;
        } else if (d instanceof DsmmDesc || d instanceof SddmmDesc) { // dense storage in sparse form, as above
            int rows = d instanceof DsmmDesc ds ? ds.sparseRows() : ((SddmmDesc) d).m();
            int cols = d instanceof DsmmDesc ds ? ds.sparseCols() : ((SddmmDesc) d).n();
            int nnz = d instanceof DsmmDesc ds ? ds.nnz() : ((SddmmDesc) d).nnz();
            assertEquals((long) rows * cols, nnz, "test descriptors store every entry");
            for (int i = 0; i < v.length; i++) v[i] = s.arg() == Arg.ROW_PTR ? i * cols : i % cols;
        } else if (d instanceof PoolDesc p) {
            for (int i = 0; i < v.length; i++) v[i] = (i * 7) % (p.h() * p.w());
        }
        return v;
    }
}
