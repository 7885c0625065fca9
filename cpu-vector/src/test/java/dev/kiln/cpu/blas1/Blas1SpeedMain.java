package dev.kiln.cpu.blas1;

import dev.kiln.cpu.CpuThreads;
import dev.kiln.cpu.VectorSupport;
import dev.kiln.cpu.Width;
import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.Blas1Desc;
import dev.kiln.kernels.spi.HostBuffer;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * Not a test: times sdot, saxpy and sscal as the device runs them ({@link VectorBlas1#run}) on native segments
 * and on float[] views (the facade's arrays), rounds interleaved, and prints the median GB/s of each: the
 * figures to compare two loop variants on a shared machine. Args: n [threads [rounds]].
 */
public final class Blas1SpeedMain {
    public static void main(String[] args) {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 65536;
        CpuThreads.setThreads(args.length > 1 ? Integer.parseInt(args[1]) : 1);
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 15;
        Width w = VectorSupport.width();
        HostBuffer nx = HostBuffer.allocate(null, DType.F32, n), ny = HostBuffer.allocate(null, DType.F32, n), out = HostBuffer.allocate(null, DType.F32, 1);
        float[] ax = new float[n], ay = new float[n];
        for (int i = 0; i < n; i++) { ax[i] = (i % 7) * 0.25f - 0.5f; ay[i] = (i % 5) * 0.5f - 1; }
        nx.copyFrom(ax);
        ny.copyFrom(ay);
        HostBuffer hx = HostBuffer.wrap(ax), hy = HostBuffer.wrap(ay);
        Blas1Desc dot = Blas1Desc.dot(DType.F32, n, 1, 1), axpy = Blas1Desc.axpy(DType.F32, n, 1e-3, 1, 1), scal = Blas1Desc.scal(DType.F32, n, -1, 1);
        Runnable[] calls = {
                () -> VectorBlas1.run(w, dot, Args.of(Arg.SRC, nx, Arg.SRC2, ny, Arg.DST, out)),
                () -> VectorBlas1.run(w, axpy, Args.of(Arg.SRC, nx, Arg.DST, ny)),
                () -> VectorBlas1.run(w, scal, Args.of(Arg.DST, nx)),
                () -> VectorBlas1.run(w, dot, Args.of(Arg.SRC, hx, Arg.SRC2, hy, Arg.DST, out)),
                () -> VectorBlas1.run(w, axpy, Args.of(Arg.SRC, hx, Arg.DST, hy)),
                () -> VectorBlas1.run(w, scal, Args.of(Arg.DST, hx))};
        String[] names = {"sdot native", "saxpy native", "sscal native", "sdot array", "saxpy array", "sscal array"};
        double[] bytes = {8.0 * n, 12.0 * n, 8.0 * n, 8.0 * n, 12.0 * n, 8.0 * n};
        int reps = Math.max(1, (int) (2e8 / n)); // about 0.1-0.3 s a round
        double[][] t = new double[calls.length][rounds];
        for (int warm = 0; warm < 3; warm++) for (Runnable c : calls) for (int i = 0; i < reps; i++) c.run();
        for (int r = 0; r < rounds; r++)
            for (int c = 0; c < calls.length; c++) {
                long t0 = System.nanoTime();
                for (int i = 0; i < reps; i++) calls[c].run();
                t[c][r] = (System.nanoTime() - t0) * 1e-9 / reps;
            }
        System.out.printf("n=%d threads=%d width=%s reps=%d rounds=%d%n", n, CpuThreads.threads(), w, reps, rounds);
        for (int c = 0; c < calls.length; c++) {
            Arrays.sort(t[c]);
            System.out.printf("%-14s median %8.2f us  %7.1f GB/s   best %7.1f GB/s%n", names[c], t[c][rounds / 2] * 1e6,
                    bytes[c] / t[c][rounds / 2] * 1e-9, bytes[c] / t[c][0] * 1e-9);
        }
    }
}
