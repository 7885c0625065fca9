package dev.kiln.cuda;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.spi.DeviceBuffer;
import dev.kiln.kernels.spi.KernelImpl;
import dev.kiln.kernels.spi.Plan;
import dev.kiln.kernels.spi.Stream;

/**
 * What the CUDA kernel implementations share: their device, name and op kind, and the checks that the
 * stream and buffers handed to a plan belong to this device (the facade validated everything else).
 */
abstract class CudaKernel implements KernelImpl {
    /** Threads per block of the elementwise-style kernels. */
    static final int THREADS = 256;

    final CudaDevice device;
    private final String name;
    private final OpKind kind;

    CudaKernel(CudaDevice device, String name, OpKind kind) {
        this.device = device;
        this.name = name;
        this.kind = kind;
    }

    @Override public String name() { return name; }

    @Override public OpKind kind() { return kind; }

    /** Blocks for a grid-stride loop over {@code work} items: enough to fill the GPU, at least one. */
    int blocks(long work, int threads) {
        long wanted = Math.ceilDiv(Math.max(1, work), threads);
        return (int) Math.min(wanted, 32L * Math.max(1, device.multiprocessors()));
    }

    /** The plan's stream as a CUDA stream of this device. */
    CudaStream stream(Stream s, OpDesc desc) {
        if (s instanceof CudaStream cs && cs.device() == device) return cs;
        throw new IllegalArgumentException(desc.opName() + ": stream " + s + " does not belong to " + device.name());
    }

    /** Operand {@code arg} as a buffer of this device. */
    CudaBuffer buffer(Args args, Arg arg, OpDesc desc) {
        DeviceBuffer b = args.get(arg);
        if (b instanceof CudaBuffer cb && cb.device() == device) return cb;
        throw new IllegalArgumentException(desc.opName() + ": operand " + arg + " (" + b + ") is not a buffer of "
                + device.name());
    }

    /** A plan whose execution is one action; the descriptor and kernel were fixed at plan time. */
    record SimplePlan(OpDesc desc, String implementation, Action action) implements Plan {
        @Override public void execute(Stream stream, Args args) { action.run(stream, args); }
    }

    @FunctionalInterface
    interface Action {
        void run(Stream stream, Args args);
    }

    Plan plan(OpDesc desc, Action action) { return new SimplePlan(desc, name, action); }
}
