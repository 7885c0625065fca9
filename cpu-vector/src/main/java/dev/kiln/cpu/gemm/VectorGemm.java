package dev.kiln.cpu.gemm;

import dev.kiln.cpu.CpuThreads;
import dev.kiln.cpu.VectorActivation;
import dev.kiln.cpu.Width;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.Activation;
import dev.kiln.kernels.desc.GemmDesc;
import dev.kiln.kernels.desc.Transpose;
import dev.kiln.kernels.spi.Support;

import java.lang.foreign.MemorySegment;

/**
 * GEMM the BLIS way, f32 here and f64 in {@link GemmF64} (see {@link GemmDesc} for the contract; row-major,
 * element offsets): C is cut into fixed mc x nc blocks per batch, one task each, spread over
 * {@link CpuThreads}. A task loops over k in panels of kc: packs its kc x nc panel of B and mc x kc panel
 * of A into thread-local scratch, then runs the microkernel over mr-high slivers of A (outer) and
 * nr-wide slivers of B (inner). The block grid and the k panels do not depend on the thread count, so
 * results are bit-identical for any number of threads. Accumulation is in the dtype (FMA), per k panel;
 * bias and activation are applied after the last. f32 GEMVs (n == 1 or m == 1) go to {@link GemmGemv}, which
 * reads the matrix once without packing, and small f32 GEMMs to {@link GemmSmall}, which does not pack.
 */
public final class VectorGemm {
    private VectorGemm() {}

    /** Yes for f32 and f64 (the descriptor admits nothing else). */
    public static Support supports(GemmDesc d) {
        if (d.dtype() != DType.F32 && d.dtype() != DType.F64) return Support.no("vector gemm is f32/f64 only, got " + d.dtype().lower());
        return Support.YES;
    }

    /** Per-thread packing buffers, grown on demand and kept: no allocation per call once warm. */
    private static final class Scratch {
        float[] a = new float[0], b = new float[0], tile = new float[0];

        Scratch ensure(GemmBlocking g) {
            if (a.length < g.mc() * g.kc()) a = new float[g.mc() * g.kc()];
            if (b.length < g.nc() * g.kc()) b = new float[g.nc() * g.kc()];
            if (tile.length < g.mr() * g.nr()) tile = new float[g.mr() * g.nr()];
            return this;
        }

        float[] tile(GemmBlocking g) {
            if (tile.length < g.mr() * g.nr()) tile = new float[g.mr() * g.nr()];
            return tile;
        }
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    /** Runs {@code d} on host segments; {@code bias} is null unless {@code d.bias()}. */
    public static void run(Width w, GemmDesc d, MemorySegment a, MemorySegment b, MemorySegment c, MemorySegment bias) {
        if (d.m() == 0 || d.n() == 0) return;
        boolean f64 = d.dtype() == DType.F64;
        if (!f64 && GemmGemv.applies(d)) { // memory-bound: read the matrix once, no packing
            GemmGemv.run(w, d, a, b, c, bias);
            return;
        }
        if (!f64 && GemmSmall.applies(d)) { // packing would cost more than the multiply
            GemmSmall.run(w, d, a, b, c, bias);
            return;
        }
        int lanes = f64 ? w.doubles().length() : w.floats().length();
        GemmBlocking rule = GemmBlocking.forLanes(lanes, f64 ? 8 : 4, d.k());
        if (!f64 && sharedPacking(rule, d)) { // packed once per k panel: blocks need not reuse a wide panel of B
            runShared(w, rule.oneSliverOfB(lanes, d.m(), d.n()).fitTasks(d.m(), d.n()), d, a, b, c, bias);
            return;
        }
        GemmBlocking g = rule.fitTasks(d.m(), d.n());
        int tilesM = Math.ceilDiv(d.m(), g.mc()), tilesN = Math.ceilDiv(d.n(), g.nc());
        int perBatch = tilesM * tilesN;
        CpuThreads.parallelFor(Math.multiplyExact(d.batch(), perBatch), t -> {
            int batch = t / perBatch, r = t % perBatch, i0 = (r / tilesN) * g.mc(), j0 = (r % tilesN) * g.nc();
            if (f64) GemmF64.block(w, g, d, a, b, c, bias, batch, i0, j0, GemmF64.SCRATCH.get().ensure(g));
            else block(w, g, d, a, b, c, bias, batch, i0, j0, SCRATCH.get().ensure(g));
        });
    }

    /** The most floats of packed A and B (one k panel of each, whole) {@link #runShared} keeps per calling thread. */
    private static final long SHARED_FLOATS = 16L << 20;
    private static final boolean SHARED = !"false".equals(System.getProperty("kiln.gemm.sharedPacking"));

    /** Packed A and B of the whole problem for one k panel, owned by the calling thread and read by all tasks. */
    private static final class Shared {
        float[] a = new float[0], b = new float[0];
    }

    /** Rows of B per packing task in {@link #runShared}. */
    private static final int B_ROWS = 64;

    private static final ThreadLocal<Shared> SHARED_SCRATCH = ThreadLocal.withInitial(Shared::new);

    private static boolean sharedPacking(GemmBlocking g, GemmDesc d) {
        long rows = (long) Math.ceilDiv(d.m(), g.mr()) * g.mr(), cols = (long) Math.ceilDiv(d.n(), g.nr()) * g.nr();
        return SHARED && (rows + cols) * Math.min(g.kc(), Math.max(d.k(), 1)) <= SHARED_FLOATS;
    }

    /**
     * The same blocks, k panels and microkernel calls as {@link #block} (so the same bits), but each k panel of A
     * and B is packed once for the whole problem, by all threads, instead of once per task: with per-task packing
     * B was packed m/mc times and A n/nc times, which at 2048^3 cost about a sixth of the time beside a
     * microkernel that runs at ~96% of the FMA peak on its own. Per batch and k panel: one parallel pass packs
     * A (in mc-row chunks) and B (in nc-column chunks) into the calling thread's buffers, a second runs the mc x
     * nc blocks of C; the last panel's pass applies the epilogue.
     */
    private static void runShared(Width w, GemmBlocking g, GemmDesc d, MemorySegment a, MemorySegment b, MemorySegment c,
                                  MemorySegment bias) {
        int m = d.m(), n = d.n(), k = d.k(), mr = g.mr(), nr = g.nr(), mc = g.mc(), nc = g.nc();
        int tilesM = Math.ceilDiv(m, mc), tilesN = Math.ceilDiv(n, nc);
        int kcMax = Math.min(g.kc(), Math.max(k, 1));
        // B is packed in chunks of rows (untransposed: one sequential stream each, see GemmPack.packBRows) or of two
        // slivers (transposed), not of nc columns: a small problem's single nc block would otherwise be packed by
        // one thread while the other waits
        boolean ta = d.transA() == Transpose.T, tb = d.transB() == Transpose.T;
        int bChunk = tb ? 2 * nr : B_ROWS, chunksB = Math.ceilDiv(tb ? n : kcMax, bChunk);
        Shared sh = SHARED_SCRATCH.get();
        int aFloats = Math.ceilDiv(m, mr) * mr * kcMax, bFloats = Math.ceilDiv(n, nr) * nr * kcMax;
        if (sh.a.length < aFloats) sh.a = new float[aFloats];
        if (sh.b.length < bFloats) sh.b = new float[bFloats];
        float[] pa = sh.a, pb = sh.b;
        float alpha = (float) d.alpha(), beta = (float) d.beta();
        for (int batch = 0; batch < d.batch(); batch++) {
            long baseA = batch * d.strideA(), baseB = batch * d.strideB(), baseC0 = batch * d.strideC();
            int p0 = 0;
            do { // once even when k == 0, so that C = beta*C (+ epilogue) still happens
                int kc = Math.min(g.kc(), k - p0), p = p0;
                boolean first = p0 == 0, last = p0 + kc >= k;
                CpuThreads.parallelFor(tilesM + chunksB, t -> {
                    if (t < tilesM) GemmPack.packA(a, baseA, d.lda(), ta, t * mc, Math.min(mc, m - t * mc), p, kc, mr, pa, t * mc * kc);
                    else if (tb) {
                        int j0 = (t - tilesM) * bChunk;
                        GemmPack.packB(w, b, baseB, d.ldb(), true, p, kc, j0, Math.min(bChunk, n - j0), nr, pb, j0 * kc);
                    } else {
                        int q = (t - tilesM) * bChunk; // the last panel can be shorter than kcMax: fewer chunks have rows
                        if (q < kc) GemmPack.packBRows(w, b, baseB, d.ldb(), p, kc, q, Math.min(kc, q + bChunk), 0, n, nr, pb, 0);
                    }
                });
                CpuThreads.parallelFor(tilesM * tilesN, t -> {
                    int i0 = (t / tilesN) * mc, j0 = (t % tilesN) * nc;
                    int rowsBlock = Math.min(mc, m - i0), colsBlock = Math.min(nc, n - j0);
                    long baseC = baseC0 + (long) i0 * d.ldc() + j0;
                    tiles(w, g, kc, pa, i0 * kc, pb, j0 * kc, SCRATCH.get().tile(g), c, baseC, d.ldc(), rowsBlock, colsBlock,
                            alpha, beta, first);
                    if (last) epilogue(w, d, c, baseC, rowsBlock, colsBlock, bias, j0);
                });
                p0 += kc;
            } while (p0 < k);
        }
    }

    private static void block(Width w, GemmBlocking g, GemmDesc d, MemorySegment a, MemorySegment b, MemorySegment c,
                              MemorySegment bias, int batch, int i0, int j0, Scratch s) {
        int mc = Math.min(g.mc(), d.m() - i0), nc = Math.min(g.nc(), d.n() - j0), k = d.k();
        int mr = g.mr(), nr = g.nr();
        long baseA = batch * d.strideA(), baseB = batch * d.strideB(), baseC = batch * d.strideC() + (long) i0 * d.ldc() + j0;
        float alpha = (float) d.alpha(), beta = (float) d.beta();
        boolean ta = d.transA() == Transpose.T, tb = d.transB() == Transpose.T;
        int p0 = 0;
        do { // once even when k == 0, so that C = beta*C (+ epilogue) still happens
            int kc = Math.min(g.kc(), k - p0);
            boolean first = p0 == 0;
            GemmPack.packB(w, b, baseB, d.ldb(), tb, p0, kc, j0, nc, nr, s.b, 0);
            GemmPack.packA(a, baseA, d.lda(), ta, i0, mc, p0, kc, mr, s.a, 0);
            tiles(w, g, kc, s.a, 0, s.b, 0, s.tile, c, baseC, d.ldc(), mc, nc, alpha, beta, first);
            p0 += kc;
        } while (p0 < k);
        epilogue(w, d, c, baseC, mc, nc, bias, j0);
    }

    /**
     * One k panel of a rows x cols block of C (at element {@code baseC}) from packed A (slivers from {@code aAt})
     * and packed B (slivers from {@code bAt}). Rows outer: one mr x kc sliver of A stays in L1 while the kc x nc
     * panel of B streams from L2, and the write-back walks along rows of C (jr inner) instead of down a column
     * strip at stride ldc, which with power-of-two ldc landed every row of the strip in the same cache sets.
     */
    private static void tiles(Width w, GemmBlocking g, int kc, float[] pa, int aAt, float[] pb, int bAt, float[] tile,
                              MemorySegment c, long baseC, int ldc, int rowsBlock, int colsBlock, float alpha, float beta, boolean first) {
        int mr = g.mr(), nr = g.nr();
        boolean wide = nr == 4 * w.floats().length();
        for (int ir = 0; ir < rowsBlock; ir += mr) {
            int rows = Math.min(mr, rowsBlock - ir);
            for (int jr = 0; jr < colsBlock; jr += nr) {
                if (wide) GemmMicro.kernelWide(w, kc, pa, aAt + ir * kc, pb, bAt + jr * kc, tile);
                else GemmMicro.kernel(w, kc, pa, aAt + ir * kc, pb, bAt + jr * kc, tile);
                GemmMicro.writeBack(w, tile, nr, c, baseC + (long) ir * ldc + jr, ldc, rows, Math.min(nr, colsBlock - jr),
                        alpha, beta, first);
            }
        }
    }

    /** Bias and activation over a finished rows x cols block of C at element {@code baseC} (column {@code j0} of C). */
    private static void epilogue(Width w, GemmDesc d, MemorySegment c, long baseC, int rows, int cols, MemorySegment bias, int j0) {
        if (!d.bias() && d.activation() == Activation.NONE) return;
        for (int i = 0; i < rows; i++) VectorActivation.row(w, c, baseC + (long) i * d.ldc(), cols, bias, j0, d.activation());
    }
}
