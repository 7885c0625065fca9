package dev.kiln.cpu.quant;

import dev.kiln.cpu.CpuThreads;
import dev.kiln.cpu.VectorSupport;
import dev.kiln.cpu.Width;
import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.ArgSpec;
import dev.kiln.kernels.desc.ConvertDesc;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.desc.QuantizeDesc;
import dev.kiln.kernels.desc.QuantizeDesc.Mode;
import dev.kiln.kernels.desc.Shape;
import dev.kiln.kernels.spi.HostBuffer;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Throughput of the quantisation and conversion kernels in GB/s of operand traffic (bytes read plus bytes
 * written, {@link OpDesc#operandBytes}), beside a plain copy of 64 MB in the same JVM (a printout, not a
 * test; best of repeated runs over ~1 s each). After {@code mvn -Dkiln.buildSuffix=-quant -pl cpu-vector
 * -am test-compile}, from the repository root:
 * <pre>
 * java --add-modules jdk.incubator.vector -cp cpu-vector/target-quant/classes:cpu-vector/target-quant/test-classes:kernels/target-quant/classes \
 *      dev.kiln.cpu.quant.QuantizeSpeedMain 1      # threads
 * </pre>
 */
public final class QuantizeSpeedMain {
    private QuantizeSpeedMain() {}

    public static void main(String[] args) {
        CpuThreads.setThreads(args.length > 0 ? Integer.parseInt(args[0]) : 1);
        Width w = VectorSupport.width();
        System.out.println("width " + w + ", threads " + CpuThreads.threads() + "; 16M f32 elements (64 MB) per op");
        Shape shape = Shape.of(4096, 4096);
        try (HostBuffer a = HostBuffer.allocate(null, DType.F32, 1L << 24); HostBuffer b = HostBuffer.allocate(null, DType.F32, 1L << 24)) {
            int t = CpuThreads.threads();
            long chunk = (1L << 24) / t;
            double copy = best(2.0 * a.byteSize(), () -> CpuThreads.parallelFor(t, i ->
                    MemorySegment.copy(a.hostSegment(), i * chunk * 4, b.hostSegment(), i * chunk * 4, chunk * 4)));
            System.out.printf(Locale.ROOT, "%-52s %7.1f GB/s%n", "copy (MemorySegment.copy, read + write)", copy);
        }
        List<OpDesc> descs = List.of(
                QuantizeDesc.of(Mode.FAKE, DType.S8, shape),
                QuantizeDesc.of(Mode.FAKE, DType.S8, shape).withComputedScales(false),
                QuantizeDesc.of(Mode.FAKE, DType.S8, shape).perChannel(0).stochastic(1),
                QuantizeDesc.of(Mode.FAKE, DType.S4, shape).perGroup(32),
                QuantizeDesc.of(Mode.FAKE, DType.B1, shape).withComputedScales(false),
                QuantizeDesc.of(Mode.QUANTIZE, DType.S8, shape).withComputedScales(false),
                QuantizeDesc.of(Mode.QUANTIZE, DType.S4, shape).perGroup(32).withComputedScales(false),
                QuantizeDesc.of(Mode.QUANTIZE, DType.B1, shape).withComputedScales(false),
                QuantizeDesc.of(Mode.DEQUANTIZE, DType.S8, shape),
                QuantizeDesc.of(Mode.DEQUANTIZE, DType.S4, shape).perGroup(32),
                new ConvertDesc(DType.F32, DType.F16, 1L << 24), new ConvertDesc(DType.F16, DType.F32, 1L << 24),
                new ConvertDesc(DType.F32, DType.BF16, 1L << 24), new ConvertDesc(DType.BF16, DType.F32, 1L << 24));
        for (OpDesc d : descs) {
            List<HostBuffer> list = new ArrayList<>();
            Args ops = Args.of();
            for (ArgSpec s : d.args()) {
                HostBuffer h = random(s, d);
                list.add(h);
                ops.put(s.arg(), h);
            }
            double gbps = best(d.operandBytes(), () -> {
                if (d instanceof QuantizeDesc q) VectorQuantize.run(w, q, ops);
                else VectorConvert.run(w, (ConvertDesc) d, ops);
            });
            System.out.printf(Locale.ROOT, "%-52s %7.1f GB/s%n", d.opName() + " " + d.shape(), gbps);
            list.forEach(HostBuffer::close);
        }
    }

    private static double best(double bytes, Runnable r) {
        double best = 0;
        long end = System.nanoTime() + 1_000_000_000L;
        for (int i = 0; i < 3 || System.nanoTime() < end; i++) {
            long t0 = System.nanoTime();
            r.run();
            best = Math.max(best, bytes / (System.nanoTime() - t0));
        }
        return best;
    }

    private static HostBuffer random(ArgSpec s, OpDesc d) {
        HostBuffer h = HostBuffer.allocate(null, s.dtype(), s.count());
        MemorySegment seg = h.hostSegment();
        SplittableRandom r = new SplittableRandom(s.count());
        if (s.dtype() == DType.F32) {
            boolean scale = s.arg() == dev.kiln.kernels.desc.Arg.SCALES;
            for (long i = 0; i < s.count(); i++) seg.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) (scale ? r.nextDouble(0.01, 0.02) : r.nextDouble(-1, 1)));
        } else if (s.dtype() != DType.S32) {
            for (long i = 0; i < seg.byteSize(); i++) seg.set(ValueLayout.JAVA_BYTE, i, (byte) r.nextInt());
        }
        return h;
    }
}
