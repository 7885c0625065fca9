package dev.kiln.cuda;

import dev.kiln.kernels.DType;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.spi.Device;
import dev.kiln.kernels.spi.DeviceBuffer;
import dev.kiln.kernels.spi.DeviceKind;
import dev.kiln.kernels.spi.F32Only;
import dev.kiln.kernels.spi.KernelImpl;
import dev.kiln.kernels.spi.Stream;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUresult;

import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

import static jcuda.driver.JCudaDriver.cuCtxSetCurrent;
import static jcuda.driver.JCudaDriver.cuDeviceGet;
import static jcuda.driver.JCudaDriver.cuDeviceGetAttribute;
import static jcuda.driver.JCudaDriver.cuDeviceGetName;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRelease;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRetain;
import static jcuda.driver.JCudaDriver.cuDeviceTotalMem;
import static jcuda.driver.JCudaDriver.cuDriverGetVersion;

/**
 * One NVIDIA GPU through the CUDA driver API. Uses the device's primary context (shared with any other
 * CUDA user in the process), made current on the calling thread by every operation, so any thread may
 * use the device. Memory comes from a caching allocator ({@link #memoryStats()}); device code is loaded
 * once per device on first use; the default stream and any stream from {@link #newStream()} are blocking
 * CUstreams. {@link #close()} destroys the streams, unloads the modules, frees the cached memory and
 * releases the primary context.
 */
public final class CudaDevice implements Device {
    private static final System.Logger LOG = System.getLogger("dev.kiln.cuda");

    private final CUdevice device = new CUdevice();
    private final CUcontext context = new CUcontext();
    private final int ordinal;
    private final String name;
    private final int computeMajor, computeMinor, multiprocessors, clockKHz;
    private final long memoryBytes;
    private final String driverVersion;
    private final Map<String, String> properties;
    private final CudaMemory memory;
    private final CudaModules modules;
    private final CudaStream defaultStream;
    private final Set<CudaStream> streams = ConcurrentHashMap.newKeySet();
    private final Map<OpKind, List<KernelImpl>> implementations = new EnumMap<>(OpKind.class);
    private final CublasGemm cublasGemm;
    private volatile boolean closed;

    /** Opens device {@code ordinal} (cuInit already done); {@code cublas} is "available" or "absent: why". */
    CudaDevice(int ordinal, String cublas) {
        this.ordinal = ordinal;
        CudaException.check("get CUDA device " + ordinal, cuDeviceGet(device, ordinal));
        byte[] raw = new byte[256];
        CudaException.check("name of CUDA device " + ordinal, cuDeviceGetName(raw, raw.length, device));
        int len = 0;
        while (len < raw.length && raw[len] != 0) len++;
        this.name = new String(raw, 0, len, StandardCharsets.UTF_8).trim();
        this.computeMajor = attribute(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, 0);
        this.computeMinor = attribute(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, 0);
        this.multiprocessors = attribute(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, 1);
        this.clockKHz = attribute(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_CLOCK_RATE, 1_500_000);
        long[] total = new long[1];
        CudaException.check("memory size of " + name, cuDeviceTotalMem(total, device));
        this.memoryBytes = total[0];
        int[] driver = new int[1];
        CudaException.check("driver version", cuDriverGetVersion(driver));
        this.driverVersion = driver[0] / 1000 + "." + driver[0] % 1000 / 10;

        CudaException.check("retain the primary context of " + name, cuDevicePrimaryCtxRetain(context, device));
        try {
            makeCurrent();
            // Cache up to an eighth of the device: enough for a training step's temporaries to be reused.
            this.memory = new CudaMemory(name, memoryBytes / 8);
            this.modules = new CudaModules(this);
            this.defaultStream = new CudaStream(this, true);
        } catch (RuntimeException e) {
            cuDevicePrimaryCtxRelease(device);
            throw e;
        }
        Map<String, String> p = new LinkedHashMap<>();
        p.put("name", name);
        p.put("ordinal", Integer.toString(ordinal));
        p.put("compute capability", computeMajor + "." + computeMinor);
        p.put("multiprocessors", Integer.toString(multiprocessors));
        p.put("clock", clockKHz / 1000 + " MHz");
        p.put("memory", memoryBytes + " bytes (" + memoryBytes / (1 << 20) + " MiB)");
        p.put("driver version", driverVersion);
        p.put("device code", DeviceCode.Family.GEMM.resource(computeMajor).substring(DeviceCode.DIR.length())
                + " and others, PTX from nvcc " + DeviceCode.nvccVersion());
        p.put("cublas", cublas);
        this.properties = Collections.unmodifiableMap(p);

        // cuBLAS comes second: the own kernel has the epilogue and is what the parity suite checks for f32.
        this.cublasGemm = cublas.equals("available") ? new CublasGemm(this) : null;
        implementations.putAll(kernels(this, computeMajor, CudaGemm.tf32Requested(), cublasGemm));
    }

    /**
     * The kernel implementations of {@code device} per op kind, best first ({@code cublas}, where present, after
     * the own GEMM; the TF32 GEMM before it, enabled by {@code tf32} on compute capability 8.0+). Constructing them touches no driver, and their {@code supports} answers depend on the
     * descriptor only, so tests ask them with a null device, without a GPU. The float kernels are wrapped in
     * {@link F32Only}: f64 descriptors fall back to the host reference.
     */
    static Map<OpKind, List<KernelImpl>> kernels(CudaDevice device, int computeMajor, boolean tf32, CublasGemm cublas) {
        Map<OpKind, List<KernelImpl>> m = new EnumMap<>(OpKind.class);
        // The TF32 kernel first: it declines everything, with the reason, unless asked for (see CudaGemm).
        List<KernelImpl> gemm = new java.util.ArrayList<>(List.of(new CudaGemm(device, tf32, computeMajor), new CudaGemm(device)));
        if (cublas != null) gemm.add(cublas);
        m.put(OpKind.GEMM, List.copyOf(gemm));
        m.put(OpKind.UNARY, List.of(F32Only.wrap(new CudaElementwise.Unary(device))));
        m.put(OpKind.BINARY, List.of(F32Only.wrap(new CudaElementwise.Binary(device)), F32Only.wrap(new CudaBroadcast(device))));
        m.put(OpKind.SOFTMAX, List.of(F32Only.wrap(new CudaSoftmax(device))));
        m.put(OpKind.REDUCE, List.of(F32Only.wrap(new CudaReduce(device))));
        // The im2col + GEMM path first: it declines depthwise, thin and tiny convolutions, which the direct kernel takes.
        m.put(OpKind.CONV, List.of(F32Only.wrap(new CudaConvGemm(device)), F32Only.wrap(new CudaConv(device))));
        m.put(OpKind.NORM, List.of(F32Only.wrap(new CudaNorm(device))));
        m.put(OpKind.POOL, List.of(F32Only.wrap(new CudaPool(device))));
        m.put(OpKind.PIXEL_SHUFFLE, List.of(F32Only.wrap(new CudaPixelShuffle(device))));
        for (OpKind sparse : List.of(OpKind.SPMM, OpKind.DSMM, OpKind.SDDMM))
            m.put(sparse, List.of(F32Only.wrap(new CudaSparse(device, sparse))));
        // Low-bit kinds are not f32 descriptors: not wrapped. The tensor-core int8 GEMM first; it declines the other types.
        m.put(OpKind.QGEMM, List.of(new CudaQGemm(device, computeMajor), new CudaQGemm(device)));
        m.put(OpKind.QUANTIZE, List.of(new CudaQuantize(device)));
        m.put(OpKind.CONVERT, List.of(new CudaConvert(device)));
        return m;
    }

    private int attribute(int attribute, int fallback) {
        int[] v = new int[1];
        return cuDeviceGetAttribute(v, attribute, device) == CUresult.CUDA_SUCCESS ? v[0] : fallback;
    }

    /** Makes this device's context current on the calling thread; every driver call goes through here first. */
    void makeCurrent() {
        if (closed) throw new IllegalStateException("cuda: device " + name + " is closed");
        CudaException.check("make the context of " + name + " current", cuCtxSetCurrent(context));
    }

    CudaMemory memory() { return memory; }

    CudaModules modules() { return modules; }

    int computeMajor() { return computeMajor; }

    int multiprocessors() { return multiprocessors; }

    String driverVersion() { return driverVersion; }

    /** The caching allocator's counters: live and cached bytes and blocks, driver calls, reuses. */
    public MemoryStats memoryStats() { return memory.stats(); }

    @Override public String backend() { return "cuda"; }

    @Override public String name() { return name; }

    @Override public DeviceKind kind() { return DeviceKind.GPU; }

    @Override public int priority() { return 300; }

    @Override public long memoryBytes() { return memoryBytes; }

    @Override public Map<String, String> properties() { return properties; }

    @Override public boolean usesHostMemory() { return false; }

    /**
     * FP32 lanes x 2 (FMA) x clock x 0.6: the f32 peak scaled by what a hand-written SGEMM reaches. Lanes per
     * SM: 64 on compute capability 6.0, 7.x and 8.0 (data-centre parts), 128 on the rest.
     */
    @Override public double estimatedGflops() {
        int lanes = computeMajor == 7 || (computeMinor == 0 && (computeMajor == 6 || computeMajor == 8)) ? 64 : 128;
        return multiprocessors * lanes * 2.0 * clockKHz / 1e6 * 0.6;
    }

    /** Pageable-memory copies over PCIe 4.0 x16 reach about 12 GB/s; a guess until dispatch measures it. */
    @Override public double copyBandwidthGBps() { return 12; }

    @Override public List<KernelImpl> implementations(OpKind kind) {
        return implementations.getOrDefault(kind, List.of());
    }

    @Override public DeviceBuffer allocate(DType dtype, long count) {
        if (dtype == null) throw new IllegalArgumentException("cuda allocate: dtype is null");
        if (count < 0) throw new IllegalArgumentException("cuda allocate: negative element count " + count);
        long bytes = dtype.bytes(count);
        if (bytes == 0) return new CudaBuffer(this, dtype, count, null);
        makeCurrent();
        return new CudaBuffer(this, dtype, count, memory.allocate(bytes));
    }

    @Override public CudaStream defaultStream() { return defaultStream; }

    @Override public Stream newStream() {
        CudaStream s = new CudaStream(this, false);
        streams.add(s);
        return s;
    }

    /** A stream closed by its user leaves the set that {@link #close()} destroys. */
    void forget(CudaStream s) { streams.remove(s); }

    boolean isClosed() { return closed; }

    @Override public synchronized void close() {
        if (closed) return;
        RuntimeException failure = null;
        try {
            makeCurrent();
            if (cublasGemm != null) cublasGemm.close();   // before the streams it may still point at
            for (CudaStream s : streams) s.destroy();
            defaultStream.destroy();
            modules.close();
        } catch (RuntimeException e) {
            failure = e;
        }
        MemoryStats stats = null;
        try {
            stats = memory.close();
        } catch (RuntimeException e) {
            if (failure == null) failure = e; else failure.addSuppressed(e);
        }
        closed = true;
        int r = cuDevicePrimaryCtxRelease(device);
        if (stats != null && stats.liveBlocks() > 0)
            LOG.log(System.Logger.Level.WARNING, "cuda: closing " + name + " with " + stats.liveBlocks()
                    + " buffers still open (" + stats.liveBytes() + " bytes); they go when the primary context's last user releases it");
        if (failure != null) throw failure;
        CudaException.check("release the primary context of " + name, r);
    }

    @Override public String toString() {
        return "CudaDevice[" + ordinal + ": " + name + ", sm_" + computeMajor + computeMinor + (closed ? ", closed" : "") + "]";
    }
}
