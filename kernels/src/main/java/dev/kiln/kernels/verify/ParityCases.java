package dev.kiln.kernels.verify;

import dev.kiln.kernels.DType;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.*;
import dev.kiln.kernels.desc.ConvDesc.ConvPass;
import dev.kiln.kernels.desc.NormDesc.Mode;
import dev.kiln.kernels.desc.NormDesc.NormKind;
import dev.kiln.kernels.desc.PoolDesc.PoolKind;

import java.util.ArrayList;
import java.util.List;

/**
 * The deterministic case lists behind {@link Parity#cases}. Each list cycles the variants of its family
 * (passes, transposes, epilogues, formats) against awkward sizes so that every variant meets several sizes,
 * and ends with its one larger case, which {@link #spread} always keeps.
 */
final class ParityCases {
    private ParityCases() {}

    static List<OpDesc> all(OpKind kind) {
        return switch (kind) {
            case GEMM -> gemm();
            case CONV -> conv();
            case UNARY -> unary();
            case BINARY -> binary();
            case REDUCE -> reduce();
            case SOFTMAX -> softmax();
            case NORM -> norm();
            case POOL -> pool();
            case PIXEL_SHUFFLE -> pixelShuffle();
            case SPMM -> spmm();
            case QGEMM -> qgemm();
            case DSMM -> SparseCases.dsmm();
            case SDDMM -> SparseCases.sddmm();
            case QUANTIZE -> QuantCases.quantize();
            case CONVERT -> QuantCases.convert();
            case BLAS1 -> Blas1Cases.blas1();
        };
    }

    /** At most {@code max} cases evenly spread over the list, always keeping the first and the last. */
    static List<OpDesc> spread(List<OpDesc> list, int max) {
        if (max <= 0 || list.size() <= max) return List.copyOf(list);
        if (max == 1) return List.of(list.getLast());
        List<OpDesc> out = new ArrayList<>(max);
        for (int i = 0; i < max; i++) out.add(list.get((int) Math.round((double) i * (list.size() - 1) / (max - 1))));
        return List.copyOf(out);
    }

    private static final Transpose[][] TRANSPOSES = {
            {Transpose.N, Transpose.N}, {Transpose.N, Transpose.T}, {Transpose.T, Transpose.N}, {Transpose.T, Transpose.T}};
    private static final double[][] ALPHA_BETA = {{1, 0}, {1, 1}, {-1.5, 0.5}, {0.5, 0}, {2, -1}};

    private static List<OpDesc> gemm() {
        int[][] sizes = {{1, 1, 1}, {1, 1, 7}, {2, 3, 1}, {3, 2, 7}, {7, 13, 17}, {13, 7, 3}, {17, 1, 31}, {1, 33, 13},
                {31, 17, 2}, {33, 31, 63}, {63, 3, 17}, {127, 2, 33}, {5, 127, 1}, {2, 257, 3}, {3, 5, 0}, {0, 7, 3}, {67, 45, 129}};
        Activation[] acts = Activation.values();
        List<OpDesc> list = new ArrayList<>();
        int epilogues = 0;
        for (int i = 0; i < sizes.length; i++) {
            for (int t = 0; t < TRANSPOSES.length; t++) {
                int v = i + t;
                DType dtype = v % 4 == 3 ? DType.F64 : DType.F32;
                int[] s = sizes[i];
                GemmDesc d = GemmDesc.of(dtype, TRANSPOSES[t][0], TRANSPOSES[t][1], s[0], s[1], s[2],
                        ALPHA_BETA[v % 5][0], ALPHA_BETA[v % 5][1]);
                if (v % 3 == 1) d = d.withLeadingDims(d.lda() + 3, d.ldb() + 1, d.ldc() + 5);
                if (v % 7 == 3) {
                    long sa = Check.span("gemm", d.rowsA(), d.colsA(), d.lda()) + 2;
                    long sb = v % 2 == 0 ? 0 : Check.span("gemm", d.rowsB(), d.colsB(), d.ldb()) + 1;
                    d = d.withBatch(3, sa, sb, Check.span("gemm", d.m(), d.n(), d.ldc()) + 3);
                }
                if (v % 4 == 2) d = d.withEpilogue(epilogues % 4 != 1, acts[epilogues++ % acts.length]);
                list.add(d);
            }
        }
        list.add(GemmDesc.of(DType.F32, Transpose.N, Transpose.T, 257, 130, 300, 1, 0).withEpilogue(true, Activation.GELU));
        return list;
    }

    private static ConvDesc conv(int n, int c, int h, int w, int k, int r, int s, int stride, int pad) {
        return ConvDesc.conv2d(n, c, h, w, k, r, s, stride, pad);
    }

    private static List<OpDesc> conv() {
        List<ConvDesc> geometries = List.of(
                conv(1, 1, 1, 1, 1, 1, 1, 1, 0),
                conv(1, 3, 7, 7, 2, 3, 3, 1, 1),
                conv(2, 2, 13, 7, 3, 3, 3, 2, 1),
                conv(1, 4, 17, 13, 5, 1, 1, 1, 0),
                conv(1, 3, 9, 11, 5, 3, 2, 1, 0).withDilation(2, 3),
                conv(2, 4, 8, 8, 6, 3, 3, 1, 1).withGroups(2),
                conv(1, 6, 13, 13, 6, 3, 3, 1, 1).withGroups(6),
                conv(1, 4, 9, 7, 8, 3, 3, 2, 1).withGroups(4),
                conv(1, 4, 5, 7, 3, 3, 3, 2, 1).asTransposed(1, 1),
                conv(2, 2, 4, 4, 4, 4, 4, 2, 1).asTransposed(0, 0),
                conv(1, 4, 6, 5, 2, 3, 3, 1, 0).withGroups(2).asTransposed(0, 0),
                ConvDesc.conv1d(2, 3, 33, 5, 3, 1, 1, 1, 1),
                ConvDesc.conv1d(1, 4, 31, 4, 5, 2, 2, 2, 2),
                new ConvDesc(1, 2, 17, 12, 3, 5, 3, 2, 1, 2, 0, 1, 1, 1, false, 0, 0, ConvPass.FORWARD, false));
        List<OpDesc> list = new ArrayList<>();
        ConvPass[] passes = ConvPass.values();
        for (int i = 0; i < geometries.size(); i++) {
            for (ConvPass pass : passes) {
                ConvDesc d = geometries.get(i).withPass(pass);
                if (pass != ConvPass.BACKWARD_DATA && (i + pass.ordinal()) % 2 == 1) d = d.withBias(true);
                list.add(d);
            }
        }
        ConvDesc large = conv(2, 16, 33, 33, 24, 3, 3, 1, 1);
        list.add(large.withPass(ConvPass.BACKWARD_WEIGHTS).withBias(true));
        list.add(large.withPass(ConvPass.BACKWARD_DATA));
        list.add(large.withBias(true));
        return list;
    }

    private static final int[] COUNTS = {1, 2, 3, 7, 13, 17, 31, 33, 63, 127, 257, 1000, 4099};

    private static List<OpDesc> unary() {
        List<OpDesc> list = new ArrayList<>();
        int i = 0;
        for (UnaryOp op : UnaryOp.values())
            for (Pass pass : Pass.values()) list.add(new UnaryDesc(op, COUNTS[i++ % COUNTS.length], pass));
        list.add(new UnaryDesc(UnaryOp.GELU, 0, Pass.FORWARD));
        list.add(new UnaryDesc(UnaryOp.TANH, 65537, Pass.BACKWARD));
        return list;
    }

    private static final Shape[][] BROADCASTS = {
            {Shape.of(1), Shape.of(1)}, {Shape.of(7), Shape.of(7)}, {Shape.of(13, 17), Shape.of(13, 17)},
            {Shape.of(3, 1, 5), Shape.of(1, 4, 1)}, {Shape.of(1), Shape.of(7, 13)}, {Shape.of(33, 17), Shape.of(17)},
            {Shape.of(2, 1, 3), Shape.of(2, 5, 3)}, {Shape.of(257), Shape.of(1)}, {Shape.of(4, 1), Shape.of(1, 127)},
            {Shape.of(2, 3, 1, 7), Shape.of(3, 5, 1)}};

    private static List<OpDesc> binary() {
        List<OpDesc> list = new ArrayList<>();
        for (BinaryOp op : BinaryOp.values())
            for (Pass pass : Pass.values())
                for (int j = 0; j < 4; j++) {
                    Shape[] s = BROADCASTS[(op.ordinal() * 2 + pass.ordinal() + 3 * j) % BROADCASTS.length];
                    list.add(new BinaryDesc(op, s[0], s[1], pass));
                }
        list.add(new BinaryDesc(BinaryOp.MUL, Shape.of(8, 33, 65), Shape.of(33, 1), Pass.BACKWARD));
        return list;
    }

    private static final int[][] THREE_D = {{1, 1, 1}, {1, 257, 1}, {7, 13, 1}, {3, 17, 5}, {1, 1000, 3}, {33, 31, 2},
            {2, 63, 7}, {5, 1, 9}, {1, 4099, 1}, {17, 2, 33}};

    private static List<OpDesc> reduce() {
        List<OpDesc> list = new ArrayList<>();
        for (int i = 0; i < THREE_D.length; i++)
            for (ReduceOp op : ReduceOp.values()) {
                int[] s = THREE_D[(i + op.ordinal()) % THREE_D.length];
                list.add(new ReduceDesc(op, s[0], s[1], s[2]));
            }
        list.add(new ReduceDesc(ReduceOp.SUM, 64, 1031, 3));
        return list;
    }

    private static List<OpDesc> softmax() {
        List<OpDesc> list = new ArrayList<>();
        for (int i = 0; i < THREE_D.length; i++)
            for (int v = 0; v < 4; v++) {
                int[] s = THREE_D[(i + v) % THREE_D.length];
                list.add(new SoftmaxDesc(s[0], s[1], s[2], v % 2 == 1, v < 2 ? Pass.FORWARD : Pass.BACKWARD));
            }
        list.add(new SoftmaxDesc(128, 1000, 1, false, Pass.BACKWARD));
        return list;
    }

    private static List<OpDesc> norm() {
        int[][] batch = {{2, 3, 1}, {1, 7, 13}, {3, 17, 5}, {4, 2, 33}, {2, 16, 63}, {1, 1, 2}};
        int[][] rows = {{3, 1}, {7, 13}, {2, 257}, {17, 33}, {5, 1000}, {1, 2}};
        List<OpDesc> list = new ArrayList<>();
        for (int i = 0; i < batch.length; i++) {
            for (Mode mode : Mode.values()) list.add(new NormDesc(NormKind.BATCH, batch[i][0], batch[i][1], batch[i][2], 1e-5, mode));
            for (NormKind kind : new NormKind[] {NormKind.LAYER, NormKind.RMS})
                for (Mode mode : new Mode[] {Mode.TRAINING, Mode.BACKWARD}) {
                    int[] r = rows[(i + kind.ordinal()) % rows.length];
                    list.add(new NormDesc(kind, r[0], r[1], 1, 1e-5, mode));
                }
        }
        list.add(new NormDesc(NormKind.BATCH, 2, 24, 33 * 33, 1e-5, Mode.BACKWARD));
        return list;
    }

    private static List<OpDesc> pool() {
        int[][] geometries = { // n, c, h, w, kh, kw, strideH, strideW, padH, padW
                {1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, {1, 2, 4, 4, 2, 2, 2, 2, 0, 0}, {2, 3, 7, 7, 3, 3, 1, 1, 1, 1},
                {1, 2, 13, 17, 3, 3, 2, 2, 1, 1}, {1, 3, 1, 33, 1, 3, 1, 2, 0, 1}, {2, 2, 9, 9, 9, 9, 1, 1, 0, 0},
                {1, 4, 17, 13, 2, 3, 2, 1, 1, 1}, {1, 2, 31, 7, 5, 2, 3, 2, 2, 1}};
        List<OpDesc> list = new ArrayList<>();
        for (int i = 0; i < geometries.length; i++) {
            int[] g = geometries[i];
            for (PoolKind pool : PoolKind.values())
                for (Pass pass : Pass.values())
                    list.add(new PoolDesc(pool, g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9],
                            pool == PoolKind.AVG && i % 2 == 1, pass));
        }
        list.add(PoolDesc.of(PoolKind.MAX, 2, 16, 33, 33, 3, 2, 1).withPass(Pass.BACKWARD));
        return list;
    }

    private static List<OpDesc> pixelShuffle() {
        return List.of(
                new PixelShuffleDesc(1, 1, 1, 1, 1, false), new PixelShuffleDesc(1, 1, 1, 1, 1, true),
                new PixelShuffleDesc(1, 4, 3, 5, 2, false), new PixelShuffleDesc(1, 3, 4, 6, 2, true),
                new PixelShuffleDesc(2, 9, 7, 2, 3, false), new PixelShuffleDesc(2, 2, 9, 3, 3, true),
                new PixelShuffleDesc(1, 8, 13, 17, 2, false), new PixelShuffleDesc(1, 5, 14, 18, 2, true),
                new PixelShuffleDesc(2, 1, 16, 16, 4, true), new PixelShuffleDesc(2, 32, 17, 9, 4, false));
    }

    private static List<OpDesc> spmm() {
        double[][] csr = {{1, 1, 1, 1}, {1, 7, 13, 0.3}, {7, 13, 17, 0.2}, {13, 1, 31, 0.5}, {17, 33, 7, 0},
                {31, 17, 63, 0.05}, {33, 2, 127, 0.1}, {63, 31, 33, 1}, {127, 7, 257, 0.02}};
        int[][] bsr = {{2, 3, 2, 2, 2}, {4, 7, 6, 2, 3}, {6, 13, 8, 3, 4}, {16, 5, 16, 4, 4}, {9, 17, 12, 1, 4},
                {32, 33, 64, 4, 1}, {20, 1, 15, 5, 5}};
        double[] bsrDensity = {1, 0.5, 0.3, 0.25, 0.4, 0.1, 0};
        int[][] twoFour = {{1, 1, 4}, {3, 7, 8}, {7, 13, 16}, {17, 5, 12}, {31, 33, 64}, {64, 17, 128}};
        List<OpDesc> list = new ArrayList<>();
        for (double[] s : csr) list.add(SpmmDesc.csr((int) s[0], (int) s[1], (int) s[2], (int) Math.round(s[3] * s[0] * s[2])));
        for (int i = 0; i < bsr.length; i++) {
            int[] s = bsr[i];
            long blocks = (long) (s[0] / s[3]) * (s[2] / s[4]);
            list.add(SpmmDesc.bsr(s[0], s[1], s[2], (int) Math.round(bsrDensity[i] * blocks), s[3], s[4]));
        }
        for (int[] s : twoFour) list.add(SpmmDesc.twoFour(s[0], s[1], s[2]));
        list.add(SpmmDesc.csr(64, 1, 300, 64 * 300 / 4));   // SpMV with long rows (CUDA: a warp per row)
        list.add(SpmmDesc.csr(257, 64, 300, 257 * 300 / 20));
        return list;
    }

    private static List<OpDesc> qgemm() {
        int[][] sizes = {{1, 1, 1}, {2, 3, 7}, {7, 13, 17}, {13, 7, 33}, {17, 31, 63}, {33, 17, 127}, {3, 65, 257}, {5, 2, 1000}};
        int[][] s4 = {{1, 1, 2, 2}, {2, 3, 8, 8}, {7, 13, 16, 4}, {13, 7, 34, 17}, {17, 31, 64, 32}, {33, 17, 128, 128}, {3, 65, 258, 2}};
        List<OpDesc> list = new ArrayList<>();
        for (int i = 0; i < sizes.length; i++) {
            int[] s = sizes[i];
            DType out = i % 2 == 0 ? DType.S32 : DType.F32;
            list.add(QGemmDesc.s8(s[0], s[1], s[2], out));
            list.add(QGemmDesc.u8s8(s[1], s[0], s[2], out == DType.S32 ? DType.F32 : DType.S32));
            list.add(QGemmDesc.binary(s[0], s[1], s[2], out));
            list.add(QGemmDesc.lmul(s[1], s[0], s[2], 3 + i % 2));
            if (i < s4.length) list.add(QGemmDesc.s4(s4[i][0], s4[i][1], s4[i][2], s4[i][3]));
        }
        list.add(QGemmDesc.s8(17, 33, 70, DType.S8));   // requantised int8 outputs
        list.add(QGemmDesc.u8s8(5, 64, 257, DType.S8));
        list.add(QGemmDesc.s8(96, 80, 1024, DType.F32));
        return list;
    }
}
