package dev.kiln.opencl;

import dev.kiln.kernels.DType;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.spi.Device;
import dev.kiln.kernels.spi.DeviceKind;
import dev.kiln.kernels.spi.F32Only;
import dev.kiln.kernels.spi.KernelImpl;
import dev.kiln.kernels.spi.Support;
import org.jocl.CL;
import org.jocl.cl_command_queue;
import org.jocl.cl_context;
import org.jocl.cl_device_id;
import org.jocl.cl_platform_id;

import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;

/**
 * One OpenCL device with its own context and a default in-order queue ({@code -Dkiln.opencl.profile=true}
 * enables queue profiling). Extra streams are extra queues on the same context. The device owns every
 * native object made through it: {@link #close()} releases kernels, programs, buffers, queues and the
 * context, in that order, so buffers or plans left open are released too (and then refuse use).
 */
public final class OpenClDevice implements Device {
    private final cl_device_id id;
    private final cl_context context;
    private final String name;
    private final DeviceKind kind;
    private final long memoryBytes;
    private final Map<String, String> properties;
    private final double gflops;
    private final boolean profiling = Boolean.getBoolean("kiln.opencl.profile");
    private final int preferredFloatWidth;
    private final boolean fp64;
    private final KernelTimes kernelTimes = new KernelTimes();
    private final GemmTuner gemmTuner;
    private final OpenClStream defaultStream;
    private final ClPrograms programs;
    private final Map<OpKind, List<KernelImpl>> impls = new EnumMap<>(OpKind.class);
    private final Set<OpenClStream> streams = ConcurrentHashMap.newKeySet();
    private final Set<OpenClBuffer> buffers = ConcurrentHashMap.newKeySet();
    private final Set<ClKernel> kernels = ConcurrentHashMap.newKeySet();
    private final AtomicBoolean closed = new AtomicBoolean();

    OpenClDevice(cl_platform_id platform, cl_device_id id) {
        this.id = id;
        // Queries first: they create nothing, so a failure here leaks nothing.
        this.name = ClInfo.deviceString(id, CL.CL_DEVICE_NAME);
        long type = ClInfo.deviceLong(id, CL.CL_DEVICE_TYPE);
        this.kind = (type & CL.CL_DEVICE_TYPE_GPU) != 0 ? DeviceKind.GPU
                : (type & CL.CL_DEVICE_TYPE_CPU) != 0 ? DeviceKind.CPU : DeviceKind.ACCELERATOR;
        this.memoryBytes = ClInfo.deviceLong(id, CL.CL_DEVICE_GLOBAL_MEM_SIZE);
        int units = ClInfo.deviceInt(id, CL.CL_DEVICE_MAX_COMPUTE_UNITS);
        int clockMhz = ClInfo.deviceInt(id, CL.CL_DEVICE_MAX_CLOCK_FREQUENCY);
        String extensions = ClInfo.deviceString(id, CL.CL_DEVICE_EXTENSIONS);
        Map<String, String> props = new LinkedHashMap<>();
        props.put("platform", ClInfo.platformString(platform, CL.CL_PLATFORM_NAME));
        props.put("device", name);
        props.put("type", kind.name().toLowerCase());
        props.put("version", ClInfo.deviceString(id, CL.CL_DEVICE_VERSION));
        props.put("driver version", ClInfo.deviceString(id, CL.CL_DRIVER_VERSION));
        props.put("compute units", Integer.toString(units));
        props.put("max clock MHz", Integer.toString(clockMhz));
        props.put("global memory MiB", Long.toString(memoryBytes >> 20));
        props.put("local memory KiB", Long.toString(ClInfo.deviceLong(id, CL.CL_DEVICE_LOCAL_MEM_SIZE) >> 10));
        props.put("max work-group size", Long.toString(ClInfo.deviceSize(id, CL.CL_DEVICE_MAX_WORK_GROUP_SIZE)));
        List<String> noted = new ArrayList<>();
        for (String ext : List.of("cl_khr_fp16", "cl_khr_fp64", "cl_khr_subgroups", "cl_intel_subgroups"))
            if ((" " + extensions + " ").contains(" " + ext + " ")) noted.add(ext);
        props.put("extensions of note", noted.isEmpty() ? "none" : String.join(" ", noted));
        this.preferredFloatWidth = ClInfo.deviceInt(id, CL.CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT);
        props.put("preferred float vector", Integer.toString(preferredFloatWidth));
        this.fp64 = noted.contains("cl_khr_fp64");
        props.put("gemm variant without tuning", GemmVariant.defaultFor(kind, preferredFloatWidth).name(DType.F32));
        props.put("profiling", Boolean.toString(profiling));
        this.properties = Collections.unmodifiableMap(props);
        // A rough peak, only for dispatch's copy-versus-compute choice: flops per cycle per compute unit
        // taken as 16 for CPU-type devices (8 f32 lanes x FMA) and 128 for GPUs (64 lanes x FMA).
        this.gflops = units * (clockMhz / 1000.0) * (kind == DeviceKind.GPU ? 128 : 16);
        this.programs = new ClPrograms(this);
        this.gemmTuner = new GemmTuner(programs.cacheDir(), OpenClGemm.SOURCE, GemmVariant.defaultFor(kind, preferredFloatWidth),
                System.err::println);
        // The implementations (and their .cl sources) load before any native object exists, so a missing
        // resource cannot leak a context.
        impls.put(OpKind.GEMM, List.of(new OpenClGemm(this)));
        // The .cl kernels below are float code: F32Only makes them decline the f64 descriptors the reference
        // also computes, so such calls fall back to the host instead of reading doubles as floats.
        impls.put(OpKind.UNARY, List.of(F32Only.wrap(new OpenClElementwise.Unary(this))));
        impls.put(OpKind.BINARY, List.of(F32Only.wrap(new OpenClElementwise.Binary(this)), F32Only.wrap(new OpenClBroadcast(this))));
        impls.put(OpKind.SOFTMAX, List.of(F32Only.wrap(new OpenClSoftmax(this))));
        impls.put(OpKind.REDUCE, List.of(F32Only.wrap(new OpenClReduce(this))));
        impls.put(OpKind.CONV, List.of(F32Only.wrap(new OpenClConvGemm(this)), F32Only.wrap(new OpenClConv(this))));
        impls.put(OpKind.POOL, List.of(F32Only.wrap(new OpenClPool(this))));
        impls.put(OpKind.NORM, List.of(F32Only.wrap(new OpenClNorm(this))));
        impls.put(OpKind.SPMM, List.of(new OpenClSparse(this)));
        impls.put(OpKind.DSMM, List.of(new OpenClDsmm(this)));
        impls.put(OpKind.SDDMM, List.of(new OpenClSddmm(this)));
        impls.put(OpKind.QGEMM, List.of(new OpenClQGemm(this)));
        impls.put(OpKind.QUANTIZE, List.of(new OpenClQuantize(this)));
        impls.put(OpKind.CONVERT, List.of(new OpenClConvert(this)));
        impls.put(OpKind.PIXEL_SHUFFLE, List.of(F32Only.wrap(new OpenClPixelShuffle(this))));

        int[] err = new int[1];
        this.context = CL.clCreateContext(null, 1, new cl_device_id[] {id}, null, null, err);
        OpenClException.check(err[0], "clCreateContext", null);
        ClLive.created(ClLive.Kind.CONTEXT);
        try {
            this.defaultStream = new OpenClStream(this, createQueue(profiling), true, profiling);
        } catch (RuntimeException e) {
            releaseContext();
            throw e;
        }
    }

    @SuppressWarnings("deprecation") // clCreateCommandQueue is deprecated in 2.0 but the one call every ICD has
    private cl_command_queue createQueue(boolean profile) {
        int[] err = new int[1];
        cl_command_queue q = CL.clCreateCommandQueue(context, id, profile ? CL.CL_QUEUE_PROFILING_ENABLE : 0, err);
        OpenClException.check(err[0], "clCreateCommandQueue", null);
        ClLive.created(ClLive.Kind.QUEUE);
        return q;
    }

    @Override public String backend() { return "opencl"; }

    @Override public String name() { return name; }

    @Override public DeviceKind kind() { return kind; }

    /** GPU 200, accelerator 150, CPU-type 50: an OpenCL CPU driver such as POCL ranks below the native CPU backend (100). */
    @Override public int priority() {
        return switch (kind) { case GPU -> 200; case ACCELERATOR -> 150; case CPU -> 50; };
    }

    @Override public long memoryBytes() { return memoryBytes; }

    @Override public Map<String, String> properties() { return properties; }

    /** False even for CPU drivers: operands live in cl_mem objects and are copied in and out. */
    @Override public boolean usesHostMemory() { return false; }

    @Override public double estimatedGflops() { return gflops; }

    /** PCIe-class for GPUs; CPU drivers share memory but a copy is still a memcpy, so large but finite. */
    @Override public double copyBandwidthGBps() { return kind == DeviceKind.GPU ? 10 : 20; }

    @Override public List<KernelImpl> implementations(OpKind kind) { return impls.getOrDefault(kind, List.of()); }

    @Override public Support supports(OpDesc desc) {
        if (implementations(desc.kind()).isEmpty()) return Support.no("opencl: no " + desc.kind().lower() + " kernels yet");
        return Device.super.supports(desc);
    }

    /** Allocates a read-write cl_mem; a zero-element buffer still gets one byte, as OpenCL rejects size 0. */
    @Override public OpenClBuffer allocate(DType dtype, long count) {
        ensureOpen();
        if (dtype == null) throw new IllegalArgumentException("opencl allocate: dtype is null");
        if (count < 0) throw new IllegalArgumentException("opencl allocate: negative element count " + count);
        long bytes = dtype.bytes(count);
        int[] err = new int[1];
        var mem = CL.clCreateBuffer(context, CL.CL_MEM_READ_WRITE, Math.max(1, bytes), null, err);
        if (err[0] != CL.CL_SUCCESS)
            throw new OpenClException("clCreateBuffer", null, err[0], count + " " + dtype.lower() + " (" + bytes + " bytes) on " + name);
        ClLive.created(ClLive.Kind.MEM);
        OpenClBuffer b = new OpenClBuffer(this, dtype, count, mem);
        buffers.add(b);
        return b;
    }

    @Override public OpenClStream defaultStream() {
        ensureOpen();
        return defaultStream;
    }

    @Override public OpenClStream newStream() { return newStream(profiling); }

    /** A new queue, profiling or not whatever {@code -Dkiln.opencl.profile} says (the GEMM tuner times with one). */
    OpenClStream newStream(boolean profile) {
        ensureOpen();
        OpenClStream s = new OpenClStream(this, createQueue(profile), false, profile);
        streams.add(s);
        return s;
    }

    /** True when queues were created with profiling ({@code -Dkiln.opencl.profile=true}): kernel times are then kept. */
    public boolean profiling() { return profiling; }

    /** Device time of every kernel read so far from profiling queues (all zero without profiling); for benchmarks. */
    public KernelTimes kernelTimes() { return kernelTimes; }

    /** Running totals of kernel device time: launches counted and nanoseconds between their START and END events. */
    public static final class KernelTimes {
        private final LongAdder launches = new LongAdder(), nanos = new LongAdder();

        void add(long kernelNanos) {
            launches.increment();
            nanos.add(kernelNanos);
        }

        public long launches() { return launches.sum(); }

        public long nanos() { return nanos.sum(); }
    }

    /** CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT: 16 on AVX-512 CPUs under POCL, 8 with AVX2. */
    int preferredFloatWidth() { return preferredFloatWidth; }

    /** Whether the device has cl_khr_fp64 (double kernels build). */
    boolean fp64() { return fp64; }

    GemmTuner gemmTuner() { return gemmTuner; }

    ClPrograms programs() { return programs; }


    cl_context context() { return context; }

    cl_device_id id() { return id; }

    void track(ClKernel k) { kernels.add(k); }

    void forget(ClKernel k) { kernels.remove(k); }

    void forget(OpenClBuffer b) { buffers.remove(b); }

    void forget(OpenClStream s) { streams.remove(s); }

    private void ensureOpen() {
        if (closed.get()) throw new IllegalStateException("opencl: device " + name + " is closed");
    }

    /**
     * Releases everything, dependents first. Every release is attempted even when one fails; the first
     * failure is rethrown at the end.
     */
    @Override public void close() {
        if (!closed.compareAndSet(false, true)) return;
        List<RuntimeException> failures = new ArrayList<>();
        // Queued work first, so nothing still running sees its kernels or buffers go.
        for (OpenClStream s : List.copyOf(streams)) attempt(failures, s::finish);
        attempt(failures, defaultStream::finish);
        for (ClKernel k : List.copyOf(kernels)) attempt(failures, k::release);
        kernels.clear();
        attempt(failures, programs::close);
        for (OpenClBuffer b : List.copyOf(buffers)) attempt(failures, b::release);
        buffers.clear();
        for (OpenClStream s : List.copyOf(streams)) attempt(failures, s::release);
        streams.clear();
        attempt(failures, defaultStream::release);
        attempt(failures, this::releaseContext);
        if (!failures.isEmpty()) throw failures.getFirst();
    }

    private static void attempt(List<RuntimeException> failures, Runnable r) {
        try {
            r.run();
        } catch (RuntimeException e) {
            failures.add(e);
        }
    }

    private void releaseContext() {
        int rc = CL.clReleaseContext(context);
        if (rc == CL.CL_SUCCESS) ClLive.released(ClLive.Kind.CONTEXT);
        OpenClException.check(rc, "clReleaseContext", null);
    }

    @Override public String toString() { return "OpenClDevice[" + name + ", " + kind.name().toLowerCase() + "]"; }
}
