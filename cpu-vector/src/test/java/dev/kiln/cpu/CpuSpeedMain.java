package dev.kiln.cpu;

import dev.kiln.cpu.eltwise.VectorUnary;
import dev.kiln.cpu.gemm.VectorGemm;
import dev.kiln.cpu.reduce.VectorSoftmax;
import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.GemmDesc;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.desc.SoftmaxDesc;
import dev.kiln.kernels.desc.UnaryDesc;
import dev.kiln.kernels.desc.UnaryOp;
import dev.kiln.kernels.spi.HostBuffer;

import java.util.Locale;

/**
 * A quick throughput printout for the vector kernels (not a test and not the benchmark: bench/ has the
 * JMH classes). Best of repeated runs over a few seconds, so a busy machine shows its quiet moments.
 * After {@code mvn -Dkiln.buildSuffix=-cpu -pl cpu-vector -am test-compile}, from the repository root:
 * <pre>
 * java --add-modules jdk.incubator.vector -cp cpu-vector/target-cpu/classes:cpu-vector/target-cpu/test-classes:kernels/target-cpu/classes \
 *      dev.kiln.cpu.CpuSpeedMain 512 1 1048576    # GEMM size, threads, elementwise count
 * </pre>
 */
public final class CpuSpeedMain {
    private CpuSpeedMain() {}

    public static void main(String[] args) {
        int n = args.length > 0 ? Integer.parseInt(args[0]) : 512;
        CpuThreads.setThreads(args.length > 1 ? Integer.parseInt(args[1]) : 1);
        Width w = VectorSupport.width();
        System.out.println("width " + w + ", threads " + CpuThreads.threads() + ", self-check " + VectorSupport.selfCheck().detail());
        try (HostBuffer a = random(n * n, 1); HostBuffer b = random(n * n, 2); HostBuffer c = random(n * n, 3)) {
            GemmDesc g = GemmDesc.of(n, n, n);
            time(g, () -> VectorGemm.run(w, g, a.hostSegment(), b.hostSegment(), c.hostSegment(), null));
        }
        int count = args.length > 2 ? Integer.parseInt(args[2]) : 1 << 20;
        try (HostBuffer x = random(count, 4); HostBuffer y = random(count, 5)) {
            UnaryDesc u = new UnaryDesc(UnaryOp.GELU, count);
            time(u, () -> VectorUnary.run(w, u, Args.of(Arg.SRC, x, Arg.DST, y)));
            UnaryDesc r = new UnaryDesc(UnaryOp.RELU, count);
            time(r, () -> VectorUnary.run(w, r, Args.of(Arg.SRC, x, Arg.DST, y)));
            SoftmaxDesc s = SoftmaxDesc.rows(count / 1024, 1024, false);
            time(s, () -> VectorSoftmax.run(w, s, Args.of(Arg.SRC, x, Arg.DST, y)));
        }
    }

    private static void time(OpDesc d, Runnable body) {
        double best = 0;
        long until = System.nanoTime() + 4_000_000_000L;
        while (System.nanoTime() < until) {
            long t0 = System.nanoTime();
            body.run();
            best = Math.max(best, d.flops() / (System.nanoTime() - t0));
        }
        System.out.printf(Locale.ROOT, "%-10s %-22s best %8.2f GFLOP/s (%s)%n", d.opName(), d.shape(), best,
                d instanceof GemmDesc ? "2mnk" : "op's own flop count");
    }

    private static HostBuffer random(int n, long seed) {
        HostBuffer h = HostBuffer.allocate(null, DType.F32, n);
        h.copyFrom(TestData.floats(n, seed));
        return h;
    }
}
