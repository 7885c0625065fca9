package dev.kiln.cpu.sparse;

import dev.kiln.cpu.CpuThreads;
import dev.kiln.cpu.VectorSupport;
import dev.kiln.cpu.Width;
import dev.kiln.kernels.sparse.BsrMatrix;
import dev.kiln.kernels.sparse.CsrMatrix;
import dev.kiln.kernels.sparse.TwoFourMatrix;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

/**
 * Not a test: times the SpMM kernels against the dense SGEMM on 4096 x 4096 x 256, interleaved, best of
 * several runs (the figures to compare on a shared machine). Args: sparsity [threads].
 */
public final class SparseSpeedMain {
    static final int CR = Integer.getInteger("rows", 128);
    public static void main(String[] args) {
        double sp = args.length > 0 ? Double.parseDouble(args[0]) : 0.9;
        int m = args.length > 2 ? Integer.parseInt(args[2]) : 4096, k = args.length > 3 ? Integer.parseInt(args[3]) : 4096, n = 256;
        CpuThreads.setThreads(args.length > 1 ? Integer.parseInt(args[1]) : 1);
        Width w = VectorSupport.width();
        SplittableRandom r = new SplittableRandom(1);
        float[] a = new float[m * k], b = new float[k * n], c = new float[m * n];
        boolean[] keep = new boolean[m * k], blocks = new boolean[m * k];
        for (int i = 0; i < a.length; i++) { a[i] = (float) r.nextDouble(); keep[i] = r.nextDouble() >= sp; }
        for (int bi = 0; bi < m / 16; bi++)
            for (int bj = 0; bj < k / 16; bj++)
                if (r.nextDouble() >= sp) for (int i = 0; i < 16; i++) java.util.Arrays.fill(blocks, (bi * 16 + i) * k + bj * 16, (bi * 16 + i) * k + bj * 16 + 16, true);
        for (int i = 0; i < b.length; i++) b[i] = (float) r.nextDouble();
        CsrMatrix csr = CsrMatrix.fromDense(a, m, k, keep);
        BsrMatrix bsr = BsrMatrix.fromDense(a, m, k, 16, 16, blocks);
        TwoFourMatrix tf = TwoFourMatrix.fromDense(a, m, k);
        int[] rp = csr.rowPtr(), ci = csr.colIdx(), brp = bsr.rowPtr(), bci = bsr.colIdx();
        float[] va = csr.values(), bva = bsr.values(), tv = tf.values();
        byte[] tm = tf.meta();
        Arena arena = Arena.ofShared();
        MemorySegment ga = arena.allocate(4L * m * k, 64), gb = arena.allocate(4L * k * n, 64), gc = arena.allocate(4L * m * n, 64);
        dev.kiln.kernels.desc.GemmDesc gd = dev.kiln.kernels.desc.GemmDesc.of(m, n, k);
        double[] best = {1e9, 1e9, 1e9, 1e9};
        for (int rep = 0; rep < (args.length > 4 ? Integer.parseInt(args[4]) : 8); rep++) {
            long t0 = System.nanoTime();
            dev.kiln.cpu.gemm.VectorGemm.run(w, gd, ga, gb, gc, null);
            long t1 = System.nanoTime();
            CpuThreads.parallelFor((m + CR - 1) / CR, t -> CsrKernel.rows(w, rp, ci, va, b, n, k, c, n, 0, t * CR, Math.min(m, t * CR + CR), 0, n));
            long t2 = System.nanoTime();
            CpuThreads.parallelFor((m + CR - 1) / CR, t -> TwoFourKernel.rows(w, k, tv, tm, b, n, c, n, t * CR, Math.min(m, t * CR + CR), 0, n));
            long t3 = System.nanoTime();
            CpuThreads.parallelFor(m / 128, t -> BsrKernel.blockRows(w, 16, 16, brp, bci, bva, b, n, c, n, t * 8, t * 8 + 8, 0, n));
            long t4 = System.nanoTime();
            best[0] = Math.min(best[0], (t1 - t0) / 1e6);
            best[1] = Math.min(best[1], (t2 - t1) / 1e6);
            best[2] = Math.min(best[2], (t3 - t2) / 1e6);
            best[3] = Math.min(best[3], (t4 - t3) / 1e6);
        }
        // the whole path as the device runs it: native operands through VectorSparse.run (copies into arrays included)
        dev.kiln.kernels.spi.HostBuffer nb = dev.kiln.kernels.spi.HostBuffer.allocate(null, dev.kiln.kernels.DType.F32, (long) k * n),
                nc = dev.kiln.kernels.spi.HostBuffer.allocate(null, dev.kiln.kernels.DType.F32, (long) m * n),
                nr = dev.kiln.kernels.spi.HostBuffer.allocate(null, dev.kiln.kernels.DType.S32, m + 1L),
                ni = dev.kiln.kernels.spi.HostBuffer.allocate(null, dev.kiln.kernels.DType.S32, csr.nnz()),
                nv = dev.kiln.kernels.spi.HostBuffer.allocate(null, dev.kiln.kernels.DType.F32, csr.nnz());
        nb.copyFrom(b);
        nr.copyFrom(rp);
        ni.copyFrom(ci);
        nv.copyFrom(va);
        dev.kiln.kernels.Args na = dev.kiln.kernels.Args.of(dev.kiln.kernels.desc.Arg.ROW_PTR, nr, dev.kiln.kernels.desc.Arg.COL_IDX, ni,
                dev.kiln.kernels.desc.Arg.VALUES, nv, dev.kiln.kernels.desc.Arg.B, nb).put(dev.kiln.kernels.desc.Arg.C, nc);
        double[] full = new double[8];
        for (int rep = 0; rep < full.length; rep++) {
            long t0 = System.nanoTime();
            VectorSparse.run(w, csr.spmmDesc(n), na);
            full[rep] = (System.nanoTime() - t0) / 1e6;
        }
        System.out.println("csr through VectorSparse.run, native operands, ms: " + java.util.Arrays.toString(full));
        System.out.printf("sparsity %.2f best ms: dense %.1f  csr %.1f (x%.2f)  2:4 %.1f (x%.2f)  bsr16 %.1f (x%.2f)%n", sp, best[0],
                best[1], best[0] / best[1], best[2], best[0] / best[2], best[3], best[0] / best[3]);
    }
}
