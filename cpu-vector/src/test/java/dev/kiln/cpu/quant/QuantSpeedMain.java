package dev.kiln.cpu.quant;

import dev.kiln.cpu.CpuThreads;
import dev.kiln.cpu.VectorSupport;
import dev.kiln.cpu.Width;
import dev.kiln.cpu.gemm.VectorGemm;
import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.ArgSpec;
import dev.kiln.kernels.desc.GemmDesc;
import dev.kiln.kernels.desc.QGemmDesc;
import dev.kiln.kernels.spi.HostBuffer;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Throughput of the low-bit kernels next to our f32 GEMM/GEMV in the same JVM (a printout, not a test):
 * multiply-adds per second (m n k per second; for binary each bit counts as one), best of repeated runs
 * over ~2 s each, so a busy machine shows its quiet moments. After
 * {@code mvn -Dkiln.buildSuffix=-quant -pl cpu-vector -am test-compile}, from the repository root:
 * <pre>
 * java --add-modules jdk.incubator.vector -cp cpu-vector/target-quant/classes:cpu-vector/target-quant/test-classes:kernels/target-quant/classes \
 *      dev.kiln.cpu.quant.QuantSpeedMain 1      # threads
 * </pre>
 */
public final class QuantSpeedMain {
    private QuantSpeedMain() {}

    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();

    public static void main(String[] args) {
        CpuThreads.setThreads(args.length > 0 ? Integer.parseInt(args[0]) : 1);
        Width w = VectorSupport.width();
        System.out.println("width " + w + ", threads " + CpuThreads.threads());
        for (int n : new int[]{1024, 2048}) {
            double f = f32(w, GemmDesc.of(n, n, n));
            double s8 = quant(w, QGemmDesc.s8(n, n, n, DType.S32));
            double u8 = quant(w, QGemmDesc.u8s8(n, n, n, DType.S32));
            print("gemm " + n, f, "s8s8", s8, "u8s8", u8);
        }
        double fv = f32(w, GemmDesc.of(4096, 1, 4096));
        double s8v = quant(w, QGemmDesc.s8(1, 4096, 4096, DType.S32));
        double s4v = quant(w, QGemmDesc.s4(1, 4096, 4096, 32));
        print("gemv 4096^2", fv, "s8s8", s8v, "s4/32", s4v);
        double dv = f32Dots(w, 4096, 4096);
        print("gemv vs dots", dv, "s8s8", s8v, "s4/32", s4v);
        double fb = f32(w, GemmDesc.of(1024, 1024, 1024));
        double b1 = quant(w, QGemmDesc.binary(1024, 1024, 1024, DType.S32));
        double s4g = quant(w, QGemmDesc.s4(1024, 1024, 1024, 32));
        double lm = quant(w, QGemmDesc.lmul(256, 256, 1024, 3));
        print("gemm 1024", fb, "b1", b1, "s4/32", s4g);
        System.out.printf(Locale.ROOT, "lmul 256x256x1024: %.2f GMAC/s%n", lm);
    }

    private static void print(String what, double f32, String n1, double r1, String n2, double r2) {
        System.out.printf(Locale.ROOT, "%-12s f32 %7.2f GMAC/s | %-5s %7.2f GMAC/s (%.2fx) | %-5s %7.2f GMAC/s (%.2fx)%n",
                what, f32, n1, r1, r1 / f32, n2, r2, r2 / f32);
    }

    /** Best multiply-adds per nanosecond (= G/s) of {@code body} over about two seconds. */
    private static double best(double macs, Runnable body) {
        double best = 0;
        long until = System.nanoTime() + 2_000_000_000L;
        do {
            long t0 = System.nanoTime();
            body.run();
            best = Math.max(best, macs / (System.nanoTime() - t0));
        } while (System.nanoTime() < until);
        return best;
    }

    private static double f32(Width w, GemmDesc g) {
        try (HostBuffer a = random(DType.F32, (long) g.m() * g.k()); HostBuffer b = random(DType.F32, (long) g.k() * g.n());
             HostBuffer c = random(DType.F32, (long) g.m() * g.n())) {
            return best(g.flops() / 2, () -> VectorGemm.run(w, g, a.hostSegment(), b.hostSegment(), c.hostSegment(), null));
        }
    }

    /**
     * A fairer f32 GEMV baseline than the GEMM with n = 1 (which packs B into 2-vector-wide slivers and so
     * computes 32 columns to keep one): y = W x as row dot products, 4 accumulators, rows spread over the pool.
     */
    private static double f32Dots(Width w, int rows, int k) {
        try (HostBuffer wt = random(DType.F32, (long) rows * k); HostBuffer x = random(DType.F32, k); HostBuffer y = random(DType.F32, rows)) {
            MemorySegment ws = wt.hostSegment(), xs = x.hostSegment(), ys = y.hostSegment();
            var fs = w.floats();
            int l = fs.length();
            return best((double) rows * k, () -> CpuThreads.parallelFor(rows / 64, t -> {
                for (int r = t * 64; r < t * 64 + 64; r++) {
                    long base = (long) r * k * 4;
                    FloatVector s0 = FloatVector.zero(fs), s1 = s0, s2 = s0, s3 = s0;
                    for (int p = 0; p < k; p += 4 * l) {
                        s0 = FloatVector.fromMemorySegment(fs, ws, base + 4L * p, NATIVE)
                                .fma(FloatVector.fromMemorySegment(fs, xs, 4L * p, NATIVE), s0);
                        s1 = FloatVector.fromMemorySegment(fs, ws, base + 4L * (p + l), NATIVE)
                                .fma(FloatVector.fromMemorySegment(fs, xs, 4L * (p + l), NATIVE), s1);
                        s2 = FloatVector.fromMemorySegment(fs, ws, base + 4L * (p + 2 * l), NATIVE)
                                .fma(FloatVector.fromMemorySegment(fs, xs, 4L * (p + 2 * l), NATIVE), s2);
                        s3 = FloatVector.fromMemorySegment(fs, ws, base + 4L * (p + 3 * l), NATIVE)
                                .fma(FloatVector.fromMemorySegment(fs, xs, 4L * (p + 3 * l), NATIVE), s3);
                    }
                    ys.setAtIndex(ValueLayout.JAVA_FLOAT, r, s0.add(s1).add(s2.add(s3)).reduceLanes(VectorOperators.ADD));
                }
            }));
        }
    }

    private static double quant(Width w, QGemmDesc d) {
        List<HostBuffer> list = new ArrayList<>();
        Args args = Args.of();
        for (ArgSpec s : d.args()) {
            HostBuffer h = random(s.dtype(), s.count());
            list.add(h);
            args.put(s.arg(), h);
        }
        double r = best(d.flops() / 2, () -> VectorQGemm.run(w, d, args));
        list.forEach(HostBuffer::close);
        return r;
    }

    private static HostBuffer random(DType dtype, long count) {
        HostBuffer h = HostBuffer.allocate(null, dtype, count);
        MemorySegment s = h.hostSegment();
        SplittableRandom r = new SplittableRandom(count);
        if (dtype == DType.F32) for (long i = 0; i < count; i++) s.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) r.nextDouble(-1, 1));
        else for (long i = 0; i < s.byteSize(); i++) s.set(ValueLayout.JAVA_BYTE, i, (byte) r.nextInt());
        return h;
    }
}
