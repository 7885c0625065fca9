package dev.kiln.bench;

import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.spi.Device;
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
 * The JMH skeleton of every op family but GEMM (which has its own, with the OpenBLAS peer): a subclass
 * turns its {@code shape} parameter into a descriptor, this class plans it on {@code backend} ({@code cpu},
 * {@code opencl}, {@code cuda} or {@code backend/impl}), checks it once against the reference with the
 * parity harness, and times execute + synchronise. A backend missing here, or one that declines the op,
 * fails its trial in {@code @Setup} with the reason (JMH reports it and goes on). Secondary results:
 * {@code gflop} (the descriptor's FLOP count) and {@code gbyte} (every operand read once and every result written once: the
 * least traffic, so GB/s against the machine's bandwidth says how close a memory-bound op is), per second.
 * {@code threads} sets the CPU backend's pool (0 leaves the default).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public abstract class OpBenchmark {
    @Param({"cpu", "opencl", "cuda"})
    public String backend;

    @Param({"0"})
    public int threads;

    private OpRunner runner;
    private double gflopPerCall, gbytePerCall;

    /** The op to time, from the subclass's {@code @Param} fields. */
    protected abstract OpDesc desc();

    /**
     * The descriptor checked against the reference before timing: the timed one by default; a family whose
     * reference is too slow at benchmark sizes (convolution) returns a small one of the same variant.
     */
    protected OpDesc checkDesc() { return desc(); }

    /** GFLOP/s and GB/s as JMH secondary results. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Rates {
        public double gflop, gbyte;

        @Setup(Level.Iteration) public void reset() { gflop = 0; gbyte = 0; }
    }

    @Setup(Level.Trial)
    public void setup() throws Exception {
        if (threads > 0 && Backends.backendName(backend).equals("cpu")) {
            String note = Backends.setCpuThreads(threads);
            if (note != null) throw new Backends.Unavailable(note);
        }
        OpDesc desc = desc();
        Device device;
        try {
            device = Backends.device(backend);
            runner = new OpRunner(backend, device, desc, 42);
        } catch (Backends.Unavailable e) {
            throw new Backends.Unavailable("skip " + backend + ": " + e.getMessage());
        }
        String verdict = OpRunner.check(backend, device, checkDesc(), 42);
        if (!verdict.equals("ok")) {
            tearDown();
            throw new IllegalStateException(backend + " " + desc.opName() + " " + checkDesc().shape() + " against the reference: " + verdict);
        }
        gflopPerCall = desc.flops() * 1e-9;
        gbytePerCall = OpRunner.bytes(desc) * 1e-9;
        System.out.println("# " + backend + " " + desc.opName() + " " + desc.shape() + " via " + runner.implementation() + ": checked");
    }

    @Benchmark
    public void op(Rates rates) {
        runner.run();
        rates.gflop += gflopPerCall;
        rates.gbyte += gbytePerCall;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (runner != null) runner.close();
        runner = null;
    }

    /** Comma-separated positive ints of a shape parameter, with the family's name in the error. */
    protected static int[] ints(String family, String shape, int count) {
        String[] parts = shape.split(",");
        if (parts.length != count)
            throw new IllegalArgumentException(family + ": shape '" + shape + "' needs " + count + " comma-separated numbers");
        int[] v = new int[count];
        for (int i = 0; i < count; i++) v[i] = Integer.parseInt(parts[i].trim());
        return v;
    }
}
