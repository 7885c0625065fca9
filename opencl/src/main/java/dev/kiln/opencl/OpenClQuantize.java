package dev.kiln.opencl;

import dev.kiln.kernels.DType;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.desc.QuantizeDesc;
import dev.kiln.kernels.desc.QuantizeDesc.Mode;
import dev.kiln.kernels.desc.QuantizeDesc.Rounding;
import dev.kiln.kernels.spi.KernelImpl;
import dev.kiln.kernels.spi.Plan;
import dev.kiln.kernels.spi.Support;

import java.util.ArrayList;
import java.util.List;

/**
 * Quantise, dequantise and fake-quantise (quantize.cl), every {@link QuantizeDesc}: s8, u8, s4 and b1, per
 * tensor, channel or group, symmetric or not, nearest-even or stochastic (the reference's counter hash of
 * seed and flat index, so the same bits), scales given or computed. Computed scales take a first kernel
 * (min, max and the b1 sum of |x|): one work-item per scale when there are many scales (64 or more) or few
 * elements per scale, else one work-group per scale; the element pass follows on the same in-order queue, a
 * work-item per run of 16 consecutive elements (their scale index followed without a division per element). Bit-exact with the reference except a computed b1 scale, a mean summed in another order.
 * Needs cl_khr_fp64: the quotients x / s are formed in double and rounded once, the correctly rounded f32
 * division the descriptor specifies (OpenCL's f32 division may be off by 2.5 ulp).
 */
final class OpenClQuantize implements KernelImpl {
    static final String SOURCE = ClPrograms.resource("quantize.cl");
    /** Must match Q_WG in quantize.cl (quant_stats needs work-groups of exactly this size). */
    static final int WG = 64;

    private final OpenClDevice device;

    OpenClQuantize(OpenClDevice device) { this.device = device; }

    @Override public String name() { return "opencl-quantize"; }

    @Override public OpKind kind() { return OpKind.QUANTIZE; }

    @Override public Support supports(OpDesc desc) {
        if (!(desc instanceof QuantizeDesc d)) return Support.no("not a quantisation");
        if (!device.fp64())
            return Support.no("opencl: " + d.opName() + " divides in double for correctly rounded f32 quotients and "
                    + device.name() + " has no cl_khr_fp64");
        return Support.YES;
    }

    @Override public Plan plan(OpDesc desc) {
        QuantizeDesc d = (QuantizeDesc) desc;
        int qtype = switch (d.qtype()) { case S8 -> 0; case U8 -> 1; case S4 -> 2; default -> 3; };
        String element = switch (d.mode()) {
            case DEQUANTIZE -> "dequant";
            case FAKE -> "quant_fake";
            case QUANTIZE -> switch (d.qtype()) { case S4 -> "quant_to_s4"; case B1 -> "quant_to_b1"; default -> "quant_to_bytes"; };
        };
        long count = d.count();
        int channels = (int) d.scaleCount();
        long perScale = count / channels;
        // Many scales, or few elements each: a work-item per scale; else a work-group per scale.
        boolean serial = channels >= 64 || perScale <= WG;
        String stats = serial ? "quant_stats_serial" : "quant_stats";
        List<ClKernel> ks = d.computeScales() ? kernels(qtype, stats, element) : kernels(qtype, element);
        long[][] launch, statsLaunch;
        try {
            if (d.computeScales() && !serial && ks.getFirst().maxWorkGroupSize() < WG)
                throw new IllegalStateException("opencl: quant_stats needs work-groups of " + WG + " on " + device.name()
                        + ", which allows " + ks.getFirst().maxWorkGroupSize());
            launch = ClPlan.linear(ks.getLast(), workItems(d), 256);
            statsLaunch = !d.computeScales() ? null : serial ? ClPlan.linear(ks.getFirst(), channels, 64)
                    : new long[][] {{(long) channels * WG}, {WG}};
        } catch (RuntimeException e) {
            for (ClKernel k : ks) k.close();
            throw e;
        }
        long inner = switch (d.granularity()) { case TENSOR -> count; case CHANNEL -> d.inner(); case GROUP -> d.groupSize(); };
        int symmetric = d.symmetric() ? 1 : 0, stochastic = d.rounding() == Rounding.STOCHASTIC ? 1 : 0;
        return new ClPlan(d, name() + "-" + d.qtype().lower(), ks, (kernels, stream, args) -> {
            ClKernel k = kernels.getLast();
            OpenClBuffer src = ClPlan.buf(k, args, Arg.SRC), dst = ClPlan.buf(k, args, Arg.DST), scales = ClPlan.buf(k, args, Arg.SCALES);
            // Symmetric quantisation has no ZERO_POINTS; the kernels never read them then, but want a valid cl_mem.
            OpenClBuffer zeros = d.symmetric() ? scales : ClPlan.buf(k, args, Arg.ZERO_POINTS);
            if (d.computeScales())
                kernels.getFirst().launch(stream, statsLaunch[0], statsLaunch[1], src, scales, zeros, perScale, inner, channels, symmetric,
                        d.qmin(), d.qmax());
            switch (k.name()) {
                case "dequant" -> k.launch(stream, launch[0], launch[1], src, scales, zeros, dst, count, inner, channels, symmetric,
                        d.rowLength());
                case "quant_to_b1" -> k.launch(stream, launch[0], launch[1], src, dst, workItems(d), d.rowLength(), stochastic, d.seed());
                default -> k.launch(stream, launch[0], launch[1], src, scales, zeros, dst, count, inner, channels, symmetric,
                        d.qmin(), d.qmax(), stochastic, d.seed());
            }
        });
    }

    /** Must match Q_RUN in quantize.cl: consecutive elements per work-item of the element pass. */
    static final int RUN = 16;

    /** Work-items of the element pass: one per run of {@link #RUN} elements, or to b1 one per byte (up to 8 of a row). */
    private static long workItems(QuantizeDesc d) {
        if (d.mode() == Mode.QUANTIZE && d.qtype() == DType.B1) return d.storedCount() / 8;
        return Math.ceilDiv(d.count(), RUN);
    }

    /** Kernels {@code names} of quantize.cl built for {@code qtype}; those made are released if one fails. */
    private List<ClKernel> kernels(int qtype, String... names) {
        var program = device.programs().program("quantize.cl q" + qtype, SOURCE, "-DQ_TYPE=" + qtype);
        List<ClKernel> out = new ArrayList<>(names.length);
        try {
            for (String n : names) out.add(device.programs().kernel(program, n));
        } catch (RuntimeException e) {
            for (ClKernel k : out) k.close();
            throw e;
        }
        return out;
    }
}
