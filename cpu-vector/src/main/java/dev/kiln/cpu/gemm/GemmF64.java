package dev.kiln.cpu.gemm;

import dev.kiln.cpu.VectorActivation;
import dev.kiln.cpu.Width;
import dev.kiln.kernels.desc.Activation;
import dev.kiln.kernels.desc.GemmDesc;
import dev.kiln.kernels.desc.Transpose;
import jdk.incubator.vector.DoubleVector;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The f64 GEMM block: the same loops and 6 x (2 vectors) microkernel as the f32 path ({@link VectorGemm},
 * {@link GemmMicro}), on double lanes and double scratch. Packed B has the f32 layout; packed A here keeps
 * the older interleaved layout (kc groups of mr values, row index fastest), which {@link GemmPack} replaced
 * for f32 by whole rows (bulk copies; 4096x64x4096 went from 63 to 80 GFLOP/s): not yet done for f64.
 * Kept apart because the Vector API has no element-type-generic vectors that C2 compiles well.
 * Accumulation is in f64; the epilogue is scalar (it is O(mn) against O(mnk)).
 */
final class GemmF64 {
    private GemmF64() {}

    private static final ValueLayout.OfDouble D = ValueLayout.JAVA_DOUBLE_UNALIGNED;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();

    /** Per-thread packing buffers, grown on demand and kept. */
    static final class Scratch {
        double[] a = new double[0], b = new double[0], tile = new double[0];

        Scratch ensure(GemmBlocking g) {
            if (a.length < g.mc() * g.kc()) a = new double[g.mc() * g.kc()];
            if (b.length < g.nc() * g.kc()) b = new double[g.nc() * g.kc()];
            if (tile.length < g.mr() * g.nr()) tile = new double[g.mr() * g.nr()];
            return this;
        }
    }

    static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    /** One mc x nc block of C at (i0, j0) of batch {@code batch}, all of k; see {@link VectorGemm}. */
    static void block(Width w, GemmBlocking g, GemmDesc d, MemorySegment a, MemorySegment b, MemorySegment c,
                      MemorySegment bias, int batch, int i0, int j0, Scratch s) {
        int mc = Math.min(g.mc(), d.m() - i0), nc = Math.min(g.nc(), d.n() - j0), k = d.k();
        int mr = g.mr(), nr = g.nr();
        long baseA = batch * d.strideA(), baseB = batch * d.strideB(), baseC = batch * d.strideC() + (long) i0 * d.ldc() + j0;
        boolean ta = d.transA() == Transpose.T, tb = d.transB() == Transpose.T;
        int p0 = 0;
        do { // once even when k == 0, so that C = beta*C (+ epilogue) still happens
            int kc = Math.min(g.kc(), k - p0);
            packB(b, baseB, d.ldb(), tb, p0, kc, j0, nc, nr, s.b);
            packA(a, baseA, d.lda(), ta, i0, mc, p0, kc, mr, s.a);
            for (int ir = 0; ir < mc; ir += mr) { // rows outer, as in VectorGemm (and for the same reasons)
                for (int jr = 0; jr < nc; jr += nr) {
                    kernel(w, kc, s.a, ir * kc, s.b, jr * kc, s.tile);
                    writeBack(s.tile, nr, c, baseC + (long) ir * d.ldc() + jr, d.ldc(), Math.min(mr, mc - ir),
                            Math.min(nr, nc - jr), d.alpha(), d.beta(), p0 == 0);
                }
            }
            p0 += kc;
        } while (p0 < k);
        if (d.bias() || d.activation() != Activation.NONE) {
            for (int i = 0; i < mc; i++) {
                long row = baseC + (long) i * d.ldc();
                for (int j = 0; j < nc; j++) {
                    double v = c.getAtIndex(D, row + j) + (bias != null ? bias.getAtIndex(D, j0 + j) : 0);
                    c.setAtIndex(D, row + j, VectorActivation.scalar(d.activation(), v));
                }
            }
        }
    }

    /** As {@link GemmPack#packA}, on doubles. */
    private static void packA(MemorySegment a, long base, int lda, boolean trans, int i0, int mc, int p0, int kc, int mr, double[] dst) {
        for (int ir = 0, sliver = 0; ir < mc; ir += mr, sliver += kc * mr) {
            int rows = Math.min(mr, mc - ir);
            for (int p = 0, d = sliver; p < kc; p++, d += mr) {
                for (int r = 0; r < mr; r++) {
                    long src = trans ? base + (long) (p0 + p) * lda + i0 + ir + r : base + (long) (i0 + ir + r) * lda + p0 + p;
                    dst[d + r] = r < rows ? a.getAtIndex(D, src) : 0;
                }
            }
        }
    }

    /** As {@link GemmPack#packB}, on doubles (scalar copies: f64 GEMM is the less travelled path). */
    private static void packB(MemorySegment b, long base, int ldb, boolean trans, int p0, int kc, int j0, int nc, int nr, double[] dst) {
        for (int jr = 0, sliver = 0; jr < nc; jr += nr, sliver += kc * nr) {
            int cols = Math.min(nr, nc - jr);
            for (int p = 0, d = sliver; p < kc; p++, d += nr) {
                for (int j = 0; j < nr; j++) {
                    long src = trans ? base + (long) (j0 + jr + j) * ldb + p0 + p : base + (long) (p0 + p) * ldb + j0 + jr + j;
                    dst[d + j] = j < cols ? b.getAtIndex(D, src) : 0;
                }
            }
        }
    }

    /** As {@link GemmMicro#kernel}: 6 x (2 double vectors) of C in 12 accumulators. */
    private static void kernel(Width w, int kc, double[] a, int ai, double[] b, int bi, double[] tile) {
        var s = w.doubles();
        int l = s.length(), nr = 2 * l;
        DoubleVector c00 = DoubleVector.zero(s), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
        DoubleVector c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
        for (int p = 0; p < kc; p++, ai += 6, bi += nr) {
            DoubleVector b0 = DoubleVector.fromArray(s, b, bi), b1 = DoubleVector.fromArray(s, b, bi + l);
            DoubleVector x = DoubleVector.broadcast(s, a[ai]);
            c00 = x.fma(b0, c00);
            c01 = x.fma(b1, c01);
            x = DoubleVector.broadcast(s, a[ai + 1]);
            c10 = x.fma(b0, c10);
            c11 = x.fma(b1, c11);
            x = DoubleVector.broadcast(s, a[ai + 2]);
            c20 = x.fma(b0, c20);
            c21 = x.fma(b1, c21);
            x = DoubleVector.broadcast(s, a[ai + 3]);
            c30 = x.fma(b0, c30);
            c31 = x.fma(b1, c31);
            x = DoubleVector.broadcast(s, a[ai + 4]);
            c40 = x.fma(b0, c40);
            c41 = x.fma(b1, c41);
            x = DoubleVector.broadcast(s, a[ai + 5]);
            c50 = x.fma(b0, c50);
            c51 = x.fma(b1, c51);
        }
        c00.intoArray(tile, 0);
        c01.intoArray(tile, l);
        c10.intoArray(tile, nr);
        c11.intoArray(tile, nr + l);
        c20.intoArray(tile, 2 * nr);
        c21.intoArray(tile, 2 * nr + l);
        c30.intoArray(tile, 3 * nr);
        c31.intoArray(tile, 3 * nr + l);
        c40.intoArray(tile, 4 * nr);
        c41.intoArray(tile, 4 * nr + l);
        c50.intoArray(tile, 5 * nr);
        c51.intoArray(tile, 5 * nr + l);
    }

    /** As {@link GemmMicro#writeBack} (same formulas), scalar: C traffic is small next to the kernel's. */
    private static void writeBack(double[] tile, int nr, MemorySegment c, long ci, int ldc, int rows, int cols,
                                  double alpha, double beta, boolean first) {
        for (int r = 0; r < rows; r++) {
            long row = ci + (long) r * ldc;
            for (int j = 0; j < cols; j++) {
                double acc = tile[r * nr + j];
                double v;
                if (!first) v = Math.fma(acc, alpha, c.getAtIndex(D, row + j));
                else if (beta == 0) v = acc * alpha;
                else v = Math.fma(c.getAtIndex(D, row + j), beta, acc * alpha);
                c.setAtIndex(D, row + j, v);
            }
        }
    }
}
