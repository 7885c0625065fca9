package dev.kiln.opencl;

import dev.kiln.kernels.DType;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.desc.QGemmDesc;
import dev.kiln.kernels.desc.QGemmDesc.QuantType;
import dev.kiln.kernels.spi.KernelImpl;
import dev.kiln.kernels.spi.Plan;
import dev.kiln.kernels.spi.Support;

/**
 * 8-bit GEMM (qgemm.cl): s8 x s8 and u8 x s8, exact s32 accumulation, one work-item per output element.
 * s32 output everywhere; the scaled f32 and requantised s8 outputs form their products in double like the
 * reference, so only on devices with cl_khr_fp64. The other quantised types (s4, b1, lmul) are declined.
 */
final class OpenClQGemm implements KernelImpl {
    static final String SOURCE = ClPrograms.resource("qgemm.cl");

    private final OpenClDevice device;

    OpenClQGemm(OpenClDevice device) { this.device = device; }

    @Override public String name() { return "opencl-qgemm-i8"; }

    @Override public OpKind kind() { return OpKind.QGEMM; }

    @Override public Support supports(OpDesc desc) {
        if (!(desc instanceof QGemmDesc d)) return Support.no("not a qgemm");
        if (d.type() != QuantType.S8S8 && d.type() != QuantType.U8S8)
            return Support.no("opencl: no " + d.opName() + " kernel (s8 x s8 and u8 x s8 only)");
        if (d.out() != DType.S32 && !device.fp64())
            return Support.no("opencl: " + d.out().lower() + " output of " + d.opName() + " scales in double and " + device.name()
                    + " has no cl_khr_fp64 (s32 output only)");
        return Support.YES;
    }

    @Override public Plan plan(OpDesc desc) {
        QGemmDesc d = (QGemmDesc) desc;
        String options = (d.type() == QuantType.U8S8 ? "-DQ_U8" : "") + (device.fp64() ? " -DQ_F64" : "");
        var program = device.programs().program("qgemm.cl " + d.type().lower(), SOURCE, options.strip());
        ClKernel kernel = device.programs().kernel(program, "qgemm_i8");
        long[][] launch;
        try {
            launch = OpenClSparse.rows(kernel, d.n(), d.m());
        } catch (RuntimeException e) {
            kernel.close();
            throw e;
        }
        int out = switch (d.out()) { case S32 -> 0; case F32 -> 1; default -> 2; };
        return new ClPlan(d, name(), kernel, (k, stream, args) -> {
            OpenClBuffer c = ClPlan.buf(k, args, Arg.C);
            // Without scales (s32 output) the kernel never reads them, but OpenCL wants valid cl_mems.
            OpenClBuffer srcScales = out == 0 ? c : ClPlan.buf(k, args, Arg.SRC_SCALES), scales = out == 0 ? c : ClPlan.buf(k, args, Arg.SCALES);
            k.launch(stream, launch[0], launch[1], ClPlan.buf(k, args, Arg.A), ClPlan.buf(k, args, Arg.B), srcScales, scales, c,
                    d.m(), d.n(), d.k(), out);
        });
    }
}
