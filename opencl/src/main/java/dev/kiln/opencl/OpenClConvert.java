package dev.kiln.opencl;

import dev.kiln.kernels.DType;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.ConvertDesc;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.spi.KernelImpl;
import dev.kiln.kernels.spi.Plan;
import dev.kiln.kernels.spi.Support;

/**
 * f32 to f16 / bf16 and back (convert.cl), every {@link ConvertDesc}, one work-item per element. Integer
 * arithmetic on the bit patterns, so the results are the reference's bits on any device (rounding to nearest
 * even, subnormals, infinities and NaN payloads), whether or not it has cl_khr_fp16. An empty conversion
 * enqueues nothing.
 */
final class OpenClConvert implements KernelImpl {
    static final String SOURCE = ClPrograms.resource("convert.cl");

    private final OpenClDevice device;

    OpenClConvert(OpenClDevice device) { this.device = device; }

    @Override public String name() { return "opencl-convert"; }

    @Override public OpKind kind() { return OpKind.CONVERT; }

    @Override public Support supports(OpDesc desc) {
        return desc instanceof ConvertDesc ? Support.YES : Support.no("not a conversion");
    }

    @Override public Plan plan(OpDesc desc) {
        ConvertDesc d = (ConvertDesc) desc;
        String kernelName = "convert_" + name(d.from()) + "_" + name(d.to());
        ClKernel kernel = ClPlan.kernels(device, "convert.cl", SOURCE, kernelName).getFirst();
        long[][] launch;
        try {
            launch = ClPlan.linear(kernel, Math.max(1, d.count()), 256);
        } catch (RuntimeException e) {
            kernel.close();
            throw e;
        }
        return new ClPlan(d, name(), kernel, (k, stream, args) -> {
            OpenClBuffer src = ClPlan.buf(k, args, Arg.SRC), dst = ClPlan.buf(k, args, Arg.DST);
            if (d.count() > 0) k.launch(stream, launch[0], launch[1], src, dst, d.count());
        });
    }

    private static String name(DType t) { return t.lower(); }
}
