package dev.kiln.bench;

import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/**
 * JMH for the GEMM family: f32 row-major NN square GEMM, C = A·B, per backend. Sizes are the parity
 * tests' awkward ones plus 256, 512 and 1024; {@code backend} is a Kiln backend ({@code cpu},
 * {@code opencl}, {@code cuda}, or {@code backend/impl}) or {@code openblas}, the native peer. A backend
 * missing here fails its trial in {@code @Setup} with the reason (JMH reports it and moves on). Each
 * trial checks its kernel once before timing: a 17x13x7 GEMM against the reference, then the benchmark
 * size Freivalds-style (see {@link GemmOperands}). The secondary result {@code gflop} is GFLOP/s (an
 * operations counter of 2·m·n·k / 10^9 per call, normalised per second by JMH). {@code threads} sets the
 * CPU backend's pool and OpenBLAS (0 leaves the defaults).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class GemmBenchmark {
    @Param({"1", "3", "7", "13", "17", "127", "257", "1000", "256", "512", "1024"})
    public int size;

    @Param({"cpu", "opencl", "cuda", "openblas"})
    public String backend;

    @Param({"0"})
    public int threads;

    private GemmRunner runner;
    private double gflopPerCall;

    /** GFLOP/s as a JMH secondary result. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Flops {
        public double gflop;

        @Setup(Level.Iteration) public void reset() { gflop = 0; }
    }

    @Setup(Level.Trial)
    public void setup() throws Exception {
        GemmBench.Shape small = new GemmBench.Shape(17, 13, 7), shape = new GemmBench.Shape(size, size, size);
        try (GemmRunner check = open(GemmOperands.random(small, 7))) {
            check.run();
            String verdict = GemmOperands.random(small, 7).checkReference(check.result());
            if (!verdict.equals("ok")) throw new IllegalStateException(backend + " gemm 17x13x7 against the reference: " + verdict);
        }
        GemmOperands ops = GemmOperands.random(shape, 42);
        runner = open(ops);
        runner.run();
        String verdict = ops.check(runner.result());
        if (!verdict.equals("ok")) {
            runner.close();
            throw new IllegalStateException(backend + " gemm " + size + ": " + verdict);
        }
        gflopPerCall = runner.flops() * 1e-9;
        System.out.println("# " + backend + " gemm " + size + " via " + runner.implementation() + ": checked");
    }

    private GemmRunner open(GemmOperands ops) throws Backends.Unavailable {
        if (backend.equals("openblas")) {
            OpenBlas blas = OpenBlas.load().orElseThrow(() -> new Backends.Unavailable("skip openblas: " + OpenBlas.absentReason()));
            if (threads > 0) blas.setThreads(threads);
            return GemmRunner.openblas(blas, ops, false);
        }
        if (threads > 0 && Backends.backendName(backend).equals("cpu")) {
            String note = Backends.setCpuThreads(threads);
            if (note != null) throw new Backends.Unavailable(note);
        }
        try {
            return GemmRunner.kiln(backend, Backends.device(backend), ops);
        } catch (Backends.Unavailable e) {
            throw new Backends.Unavailable("skip " + backend + ": " + e.getMessage());
        }
    }

    @Benchmark
    public void gemm(Flops flops) {
        runner.run();
        flops.gflop += gflopPerCall;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (runner != null) runner.close();
        runner = null;
    }
}
