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
 * Low-bit GEMM (qgemm.cl), every {@link QuantType}, one work-item per output element:
 * <ul>
 * <li>s8 x s8 and u8 x s8: exact s32 accumulation; s32 output, or f32 / requantised s8 with the scales
 *     applied in double as the reference does (so only on devices with cl_khr_fp64).</li>
 * <li>b1: XNOR-popcount on pairs of 64-bit words, four columns per work-item, exact; s32, or f32 scaled in
 *     double as for s8.</li>
 * <li>s4: f32 activations times packed s4 weights, one f32 scale per group, f32 accumulation; for groups
 *     that are multiples of 16, a work-item takes four columns with 16-wide vectors (nibbles unpacked in
 *     registers), otherwise one element with scalar nibbles.</li>
 * <li>lmul: each product replaced by L-Mul, computed on the bit patterns exactly as the reference's
 *     {@code RefQGemm.lmul} (including rounding to subnormals), 16 lanes of integer arithmetic at a time, a
 *     work-item per four columns; summed in f32.</li>
 * </ul>
 */
final class OpenClQGemm implements KernelImpl {
    static final String SOURCE = ClPrograms.resource("qgemm.cl");

    private final OpenClDevice device;

    OpenClQGemm(OpenClDevice device) { this.device = device; }

    @Override public String name() { return "opencl-qgemm"; }

    @Override public OpKind kind() { return OpKind.QGEMM; }

    @Override public Support supports(OpDesc desc) {
        if (!(desc instanceof QGemmDesc d)) return Support.no("not a qgemm");
        boolean scaled = d.type() != QuantType.S4 && d.type() != QuantType.LMUL && d.out() != DType.S32;
        if (scaled && !device.fp64())
            return Support.no("opencl: " + d.out().lower() + " output of " + d.opName() + " scales in double and " + device.name()
                    + " has no cl_khr_fp64 (s32 output only)");
        return Support.YES;
    }

    @Override public Plan plan(OpDesc desc) {
        QGemmDesc d = (QGemmDesc) desc;
        String options = (d.type() == QuantType.U8S8 ? "-DQ_U8" : "") + (device.fp64() ? " -DQ_F64" : "");
        String kernelName = switch (d.type()) {
            case S8S8, U8S8 -> "qgemm_i8";
            case S4 -> d.groupSize() % 16 == 0 ? "qgemm_s4_v16" : "qgemm_s4";
            case B1 -> "qgemm_b1_v16";
            case LMUL -> "qgemm_lmul_v16";
        };
        // The _v16 kernels give each work-item four consecutive columns.
        int columnItems = kernelName.endsWith("_v16") ? Math.ceilDiv(d.n(), 4) : d.n();
        // u8 needs its own build (-DQ_U8); the other types share one program.
        var program = device.programs().program("qgemm.cl" + (d.type() == QuantType.U8S8 ? " u8" : ""), SOURCE, options.strip());
        ClKernel kernel = device.programs().kernel(program, kernelName);
        long[][] launch;
        try {
            launch = OpenClSparse.rows(kernel, columnItems, d.m());
        } catch (RuntimeException e) {
            kernel.close();
            throw e;
        }
        int out = switch (d.out()) { case S32 -> 0; case F32 -> 1; default -> 2; };
        return new ClPlan(d, name() + "-" + d.type().lower() + (kernelName.endsWith("_v16") ? "-v16" : ""), kernel, (k, stream, args) -> {
            OpenClBuffer a = ClPlan.buf(k, args, Arg.A), b = ClPlan.buf(k, args, Arg.B), c = ClPlan.buf(k, args, Arg.C);
            switch (d.type()) {
                case S4 -> k.launch(stream, launch[0], launch[1], a, b, ClPlan.buf(k, args, Arg.SCALES), c, d.m(), d.n(), d.k(), d.groupSize());
                case LMUL -> k.launch(stream, launch[0], launch[1], a, b, c, d.m(), d.n(), d.k(), d.mantissaBits());
                default -> {
                    // Without scales (s32 output) the kernel never reads them, but OpenCL wants valid cl_mems.
                    OpenClBuffer srcScales = out == 0 ? c : ClPlan.buf(k, args, Arg.SRC_SCALES), scales = out == 0 ? c : ClPlan.buf(k, args, Arg.SCALES);
                    k.launch(stream, launch[0], launch[1], a, b, srcScales, scales, c, d.m(), d.n(), d.k(), out);
                }
            }
        });
    }
}
