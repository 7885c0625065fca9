package dev.kiln.cpu.sparse;

import dev.kiln.cpu.CpuThreads;
import dev.kiln.cpu.VectorSupport;
import dev.kiln.cpu.Width;
import dev.kiln.cpu.gemm.VectorGemm;
import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.GemmDesc;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.sparse.BsrMatrix;
import dev.kiln.kernels.sparse.CsrMatrix;
import dev.kiln.kernels.sparse.TwoFourMatrix;
import dev.kiln.kernels.spi.HostBuffer;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Not a test: times the SpMM kernels as the device runs them (native operands through {@link VectorSparse#run})
 * against the dense SGEMM on 4096 x 4096 x 256, interleaved round by round, and prints medians and bests of
 * wall time and (one thread) of the calling thread's CPU time, the figures to compare on a shared machine.
 * Args: sparsity [threads [rounds]].
 */
public final class SparseSpeedMain {
    public static void main(String[] args) {
        double sp = args.length > 0 ? Double.parseDouble(args[0]) : 0.9;
        CpuThreads.setThreads(args.length > 1 ? Integer.parseInt(args[1]) : 1);
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 8, m = 4096, k = 4096, n = 256;
        Width w = VectorSupport.width();
        SplittableRandom r = new SplittableRandom(1);
        float[] a = new float[m * k], b = new float[k * n];
        boolean[] keep = new boolean[m * k], blocks = new boolean[m * k];
        for (int i = 0; i < a.length; i++) { a[i] = (float) (r.nextDouble() * 2 - 1); keep[i] = r.nextDouble() >= sp; }
        for (int bi = 0; bi < m / 16; bi++)
            for (int bj = 0; bj < k / 16; bj++)
                if (r.nextDouble() >= sp) for (int i = 0; i < 16; i++) Arrays.fill(blocks, (bi * 16 + i) * k + bj * 16, (bi * 16 + i) * k + bj * 16 + 16, true);
        for (int i = 0; i < b.length; i++) b[i] = (float) (r.nextDouble() * 2 - 1);
        CsrMatrix csr = CsrMatrix.fromDense(a, m, k, keep);
        BsrMatrix bsr = BsrMatrix.fromDense(a, m, k, 16, 16, blocks);
        TwoFourMatrix tf = TwoFourMatrix.fromDense(a, m, k);
        HostBuffer nb = floats(b), nc = HostBuffer.allocate(null, DType.F32, (long) m * n), na = floats(a);
        Args dense = Args.of(Arg.A, na, Arg.B, nb, Arg.C, nc);
        Args csrArgs = Args.of(Arg.ROW_PTR, ints(csr.rowPtr()), Arg.COL_IDX, ints(csr.colIdx()), Arg.VALUES, floats(csr.values()), Arg.B, nb)
                .put(Arg.C, nc);
        Args bsrArgs = Args.of(Arg.ROW_PTR, ints(bsr.rowPtr()), Arg.COL_IDX, ints(bsr.colIdx()), Arg.VALUES, floats(bsr.values()), Arg.B, nb)
                .put(Arg.C, nc);
        HostBuffer meta = HostBuffer.allocate(null, DType.U8, tf.meta().length);
        meta.copyFrom(tf.meta());
        Args tfArgs = Args.of(Arg.VALUES, floats(tf.values()), Arg.META, meta, Arg.B, nb).put(Arg.C, nc);
        GemmDesc gd = GemmDesc.of(m, n, k);
        OpDesc[] descs = {csr.spmmDesc(n), tf.spmmDesc(n), bsr.spmmDesc(n)};
        Args[] argList = {csrArgs, tfArgs, bsrArgs};
        String[] names = {"csr", "2:4", "bsr16"};
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        double[][] wall = new double[4][rounds], cpu = new double[4][rounds];
        for (int rep = 0; rep < rounds; rep++)
            for (int x = 0; x < 4; x++) {
                long c0 = mx.getCurrentThreadCpuTime(), t0 = System.nanoTime();
                if (x == 0) VectorGemm.run(w, gd, na.hostSegment(), nb.hostSegment(), nc.hostSegment(), null);
                else VectorSparse.run(w, descs[x - 1], argList[x - 1]);
                wall[x][rep] = (System.nanoTime() - t0) / 1e6;
                cpu[x][rep] = (mx.getCurrentThreadCpuTime() - c0) / 1e6;
            }
        System.out.printf("sparsity %.2f, %d threads, %d rounds (after the first), ms median/best wall, median cpu of this thread:%n", sp,
                CpuThreads.threads(), rounds - 1);
        double dm = median(wall[0]), dc = median(cpu[0]);
        for (int x = 0; x < 4; x++) {
            String name = x == 0 ? "dense" : names[x - 1];
            System.out.printf("  %-6s %8.1f %8.1f %8.1f   ratio wall %.2f  cpu %.2f%n", name, median(wall[x]), best(wall[x]), median(cpu[x]),
                    dm / median(wall[x]), dc / median(cpu[x]));
        }
    }

    private static double median(double[] v) {
        double[] s = Arrays.copyOfRange(v, 1, v.length);
        Arrays.sort(s);
        return s[s.length / 2];
    }

    private static double best(double[] v) { return Arrays.stream(v, 1, v.length).min().orElse(0); }

    /** -Dheap=true: operands as heap arrays (no per-call copies), to see the kernels alone. */
    private static final boolean HEAP = Boolean.getBoolean("heap");

    private static HostBuffer floats(float[] v) {
        if (HEAP) return HostBuffer.wrap(v);
        HostBuffer h = HostBuffer.allocate(null, DType.F32, v.length);
        h.copyFrom(v);
        return h;
    }

    private static HostBuffer ints(int[] v) {
        if (HEAP) return HostBuffer.wrap(v);
        HostBuffer h = HostBuffer.allocate(null, DType.S32, v.length);
        h.copyFrom(v);
        return h;
    }
}
