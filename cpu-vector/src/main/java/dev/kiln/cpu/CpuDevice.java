package dev.kiln.cpu;

import dev.kiln.cpu.blas1.VectorBlas1;
import dev.kiln.cpu.conv.VectorConv;
import dev.kiln.cpu.conv.VectorPixelShuffle;
import dev.kiln.cpu.conv.VectorPool;
import dev.kiln.cpu.eltwise.VectorBinary;
import dev.kiln.cpu.eltwise.VectorUnary;
import dev.kiln.cpu.gemm.VectorGemm;
import dev.kiln.cpu.quant.VectorConvert;
import dev.kiln.cpu.quant.VectorQGemm;
import dev.kiln.cpu.quant.VectorQuantize;
import dev.kiln.cpu.reduce.VectorReduce;
import dev.kiln.cpu.reduce.VectorSoftmax;
import dev.kiln.cpu.sparse.VectorSparse;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.BinaryDesc;
import dev.kiln.kernels.desc.Blas1Desc;
import dev.kiln.kernels.desc.ConvDesc;
import dev.kiln.kernels.desc.ConvertDesc;
import dev.kiln.kernels.desc.GemmDesc;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.desc.PixelShuffleDesc;
import dev.kiln.kernels.desc.PoolDesc;
import dev.kiln.kernels.desc.QGemmDesc;
import dev.kiln.kernels.desc.QuantizeDesc;
import dev.kiln.kernels.desc.ReduceDesc;
import dev.kiln.kernels.desc.SoftmaxDesc;
import dev.kiln.kernels.desc.UnaryDesc;
import dev.kiln.kernels.ref.RefKernels;
import dev.kiln.kernels.spi.Device;
import dev.kiln.kernels.spi.DeviceBuffer;
import dev.kiln.kernels.spi.DeviceKind;
import dev.kiln.kernels.spi.HostBuffer;
import dev.kiln.kernels.spi.KernelImpl;
import dev.kiln.kernels.spi.Stream;
import dev.kiln.kernels.spi.Support;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;

/**
 * The host CPU as a Kiln device: host memory ({@link HostBuffer}), synchronous streams, and per op family
 * the Vector API implementations first and the reference kernels last, so every op runs. The vector
 * implementations decide at planning time, through {@link VectorSupport}, whether they may run.
 */
public final class CpuDevice implements Device {
    /** A guess of the sustained clock in GHz, only for {@link #estimatedGflops()}. */
    private static final double CLOCK_GUESS_GHZ = 2.5;
    /** FMA units per core assumed by {@link #estimatedGflops()} (two on current x86 and big ARM cores). */
    private static final int FMA_UNITS = 2;

    private final Stream defaultStream = new CpuStream(this);
    private final Map<OpKind, List<KernelImpl>> impls = new EnumMap<>(OpKind.class);

    public CpuDevice() {
        vector(OpKind.GEMM, "vector-gemm", d -> VectorGemm.supports((GemmDesc) d),
                (w, d, a) -> VectorGemm.run(w, (GemmDesc) d, a.host(Arg.A), a.host(Arg.B), a.host(Arg.C),
                        ((GemmDesc) d).bias() ? a.host(Arg.BIAS) : null));
        vector(OpKind.UNARY, "vector-unary", d -> VectorUnary.supports((UnaryDesc) d),
                (w, d, a) -> VectorUnary.run(w, (UnaryDesc) d, a));
        vector(OpKind.BINARY, "vector-binary", d -> VectorBinary.supports((BinaryDesc) d),
                (w, d, a) -> VectorBinary.run(w, (BinaryDesc) d, a));
        vector(OpKind.REDUCE, "vector-reduce", d -> VectorReduce.supports((ReduceDesc) d),
                (w, d, a) -> VectorReduce.run(w, (ReduceDesc) d, a.host(Arg.SRC), a.host(Arg.DST)));
        vector(OpKind.SOFTMAX, "vector-softmax", d -> VectorSoftmax.supports((SoftmaxDesc) d),
                (w, d, a) -> VectorSoftmax.run(w, (SoftmaxDesc) d, a));
        vector(OpKind.CONV, "vector-conv", d -> VectorConv.supports((ConvDesc) d),
                (w, d, a) -> VectorConv.run(w, (ConvDesc) d, a));
        vector(OpKind.POOL, "vector-pool", d -> VectorPool.supports((PoolDesc) d),
                (w, d, a) -> VectorPool.run(w, (PoolDesc) d, a));
        vector(OpKind.PIXEL_SHUFFLE, "vector-pixel-shuffle", d -> VectorPixelShuffle.supports((PixelShuffleDesc) d),
                (w, d, a) -> VectorPixelShuffle.run(w, (PixelShuffleDesc) d, a));
        vector(OpKind.NORM, "vector-norm", d -> dev.kiln.cpu.norm.VectorNorm.supports((dev.kiln.kernels.desc.NormDesc) d),
                (w, d, a) -> dev.kiln.cpu.norm.VectorNorm.run(w, (dev.kiln.kernels.desc.NormDesc) d, a));
        vector(OpKind.QGEMM, "vector-qgemm", d -> VectorQGemm.supports((QGemmDesc) d),
                (w, d, a) -> VectorQGemm.run(w, (QGemmDesc) d, a));
        vector(OpKind.QUANTIZE, "vector-quantize", d -> VectorQuantize.supports((QuantizeDesc) d),
                (w, d, a) -> VectorQuantize.run(w, (QuantizeDesc) d, a));
        vector(OpKind.CONVERT, "vector-convert", d -> VectorConvert.supports((ConvertDesc) d),
                (w, d, a) -> VectorConvert.run(w, (ConvertDesc) d, a));
        vector(OpKind.BLAS1, "vector-blas1", d -> VectorBlas1.supports((Blas1Desc) d),
                (w, d, a) -> VectorBlas1.run(w, (Blas1Desc) d, a));
        for (OpKind kind : new OpKind[] {OpKind.SPMM, OpKind.DSMM, OpKind.SDDMM}) vector(kind, "vector-sparse", VectorSparse::supports, VectorSparse::run);
        for (OpKind kind : OpKind.values()) {
            List<KernelImpl> list = new ArrayList<>(impls.getOrDefault(kind, List.of()));
            list.add(RefKernels.impl(kind));
            impls.put(kind, List.copyOf(list));
        }
    }

    private void vector(OpKind kind, String name, Function<OpDesc, Support> accepts, VectorImpl.Body body) {
        // These families' vector kernels are f32 code; they must decline the f64 descriptors the reference
        // also computes (gradient checks in double). GEMM's kernels check their dtype themselves.
        boolean f32Code = java.util.EnumSet.of(OpKind.UNARY, OpKind.BINARY, OpKind.REDUCE, OpKind.SOFTMAX, OpKind.CONV,
                OpKind.POOL, OpKind.NORM, OpKind.PIXEL_SHUFFLE).contains(kind);
        Function<OpDesc, Support> typed = !f32Code ? accepts : d -> {
            Support s = dev.kiln.kernels.spi.F32Only.check(name, d);
            return s.ok() ? accepts.apply(d) : s;
        };
        impls.put(kind, List.of(new VectorImpl(name, kind, typed, body)));
    }

    @Override public String backend() { return "cpu"; }

    @Override public String name() { return CpuInfo.modelName(); }

    @Override public DeviceKind kind() { return DeviceKind.CPU; }

    @Override public int priority() { return 100; }

    @Override public long memoryBytes() {
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os)
            return os.getTotalMemorySize();
        return Runtime.getRuntime().maxMemory();
    }

    @Override public Map<String, String> properties() {
        Map<String, String> p = new LinkedHashMap<>();
        p.put("cores", Integer.toString(Runtime.getRuntime().availableProcessors()));
        p.put("threads", Integer.toString(CpuThreads.threads()));
        Support s = VectorSupport.status();
        p.put("vector.hardware.bits", Integer.toString(VectorSupport.hardwareBits()));
        p.put("vector.kernels", s.ok() ? VectorSupport.width().toString() : "off: " + s.reason());
        p.put("vector.selfcheck", (VectorSupport.selfCheck().passed() ? "passed: " : "failed: ") + VectorSupport.selfCheck().detail());
        p.putAll(CpuInfo.caches());
        p.put("estimated.gflops", String.format(Locale.ROOT, "%.0f (rough: f32 lanes x 2 x %d FMA units x cores x %.1f GHz guess)",
                estimatedGflops(), FMA_UNITS, CLOCK_GUESS_GHZ));
        return p;
    }

    @Override public boolean usesHostMemory() { return true; }

    /**
     * A rough f32 peak, not a measurement: lanes x 2 flops per FMA x {@value #FMA_UNITS} FMA units x cores
     * x a {@value #CLOCK_GUESS_GHZ} GHz clock guess; the scalar width (1 lane) when vector kernels are off.
     */
    @Override public double estimatedGflops() {
        int lanes = VectorSupport.status().ok() ? VectorSupport.requestedBits() / 32 : 1;
        return lanes * 2.0 * FMA_UNITS * CpuThreads.threads() * CLOCK_GUESS_GHZ;
    }

    @Override public double copyBandwidthGBps() { return Double.POSITIVE_INFINITY; }

    @Override public List<KernelImpl> implementations(OpKind kind) { return impls.get(kind); }

    @Override public DeviceBuffer allocate(DType dtype, long count) { return HostBuffer.allocate(this, dtype, count); }

    @Override public Stream defaultStream() { return defaultStream; }

    @Override public Stream newStream() { return new CpuStream(this); }

    /** Nothing to release: buffers free their own memory and the thread pool is shared by all devices. */
    @Override public void close() {}

    @Override public String toString() { return "cpu:" + name(); }

    /** Host facts for properties, read once. */
    static final class CpuInfo {
        private CpuInfo() {}

        private static volatile String model;

        static String modelName() {
            String m = model;
            if (m == null) {
                m = System.getProperty("os.arch");
                try {
                    for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                        if (line.startsWith("model name")) {
                            m = line.substring(line.indexOf(':') + 1).trim();
                            break;
                        }
                    }
                } catch (IOException | RuntimeException e) {
                    // not Linux: keep the architecture name
                }
                model = m;
            }
            return m;
        }

        /** cache.L1d, cache.L1i, cache.L2, cache.L3 from sysfs when present (Linux), else nothing. */
        static Map<String, String> caches() {
            Map<String, String> out = new LinkedHashMap<>();
            for (int i = 0; i < 8; i++) {
                Path dir = Path.of("/sys/devices/system/cpu/cpu0/cache/index" + i);
                if (!Files.isDirectory(dir)) break;
                try {
                    String level = Files.readString(dir.resolve("level")).trim();
                    String type = Files.readString(dir.resolve("type")).trim();
                    String size = Files.readString(dir.resolve("size")).trim();
                    String suffix = type.equals("Data") ? "d" : type.equals("Instruction") ? "i" : "";
                    out.put("cache.L" + level + suffix, size);
                } catch (IOException | RuntimeException e) {
                    // an unreadable entry is left out
                }
            }
            return out;
        }
    }
}
