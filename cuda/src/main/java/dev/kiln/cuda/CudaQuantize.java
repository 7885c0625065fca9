package dev.kiln.cuda;

import dev.kiln.kernels.DType;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.desc.QuantizeDesc;
import dev.kiln.kernels.desc.QuantizeDesc.Mode;
import dev.kiln.kernels.desc.QuantizeDesc.Rounding;
import dev.kiln.kernels.spi.Plan;
import dev.kiln.kernels.spi.Support;

import java.util.function.Function;

/**
 * Quantise, dequantise and fake-quantise ({@code quantize.cu}), every {@link QuantizeDesc}, bit for bit the
 * reference. When the op computes its scales, {@code quantize_scales} runs first (one block per scale, a
 * fixed reduction tree, no atomics) and writes SCALES (and ZERO_POINTS), which the element kernel then reads.
 * The element kernel is one thread per element, except quantisation to s4 (a thread per byte, two elements)
 * and to b1 (a thread per byte of the packed rows), so that no two threads write one byte.
 */
final class CudaQuantize extends CudaKernel {
    /** Threads per block of quantize_scales (QZ_THREADS of quantize.cu). */
    static final int SCALE_THREADS = 256;
    /** Scales reduced per launch at most, one block each (the kernel strides over the rest). */
    static final int MAX_SCALE_BLOCKS = 1 << 16;

    CudaQuantize(CudaDevice device) { super(device, "cuda-quantize", OpKind.QUANTIZE); }

    @Override public Support supports(OpDesc desc) { return check(desc); }

    static Support check(OpDesc desc) {
        if (!(desc instanceof QuantizeDesc d)) return Support.no("not a quantize descriptor: " + desc.opName());
        if (d.scaleCount() > Integer.MAX_VALUE)
            return Support.no("cuda-quantize indexes scales with an int, got " + d.scaleCount() + " scales for " + d.tensor());
        return Support.YES;
    }

    /** Q_S8, Q_U8, Q_S4, Q_B1 of quantize.cu. */
    static int qtypeCode(DType t) {
        return switch (t) {
            case S8 -> 0;
            case U8 -> 1;
            case S4 -> 2;
            case B1 -> 3;
            default -> throw new IllegalArgumentException("quantize: no qtype code for " + t.lower());
        };
    }

    /** The element kernel: quantize_s4_pairs / quantize_b1_bytes for quantisation to s4 / b1, else quantize_elems. */
    static String entry(QuantizeDesc d) {
        if (d.mode() == Mode.QUANTIZE && d.qtype() == DType.S4) return DeviceCode.QUANTIZE_S4_PAIRS;
        if (d.mode() == Mode.QUANTIZE && d.qtype() == DType.B1) return DeviceCode.QUANTIZE_B1_BYTES;
        return DeviceCode.QUANTIZE_ELEMS;
    }

    /** Work items of the element kernel: bytes for s4 and b1 quantisation, elements otherwise. */
    static long work(QuantizeDesc d) {
        return switch (entry(d)) {
            case DeviceCode.QUANTIZE_S4_PAIRS -> (d.count() + 1) / 2;
            case DeviceCode.QUANTIZE_B1_BYTES -> d.count() / d.rowLength() * ((d.rowLength() + 7) / 8);
            default -> d.count();
        };
    }

    /** The scale of flat element i is scales[(i / div) % mod]: {@link dev.kiln.kernels.ref.RefQuantize#scaleIndex}. */
    record ScaleIndex(long div, int mod) {
        static ScaleIndex of(QuantizeDesc d) {
            return switch (d.granularity()) {
                case TENSOR -> new ScaleIndex(1, 1);
                case CHANNEL -> new ScaleIndex(d.inner(), d.tensor().dim(d.axis()));
                case GROUP -> new ScaleIndex(d.groupSize(), (int) d.scaleCount());
            };
        }

        int of(long i) { return (int) (i / div % mod); }
    }

    /**
     * The elements of each scale for quantize_scales: element e (of {@code per}) of scale st is at
     * (e / inner) * outerStride + st * setStride + e % inner.
     */
    record ScaleSets(int sets, long per, long inner, long outerStride, long setStride) {
        static ScaleSets of(QuantizeDesc d) {
            long count = d.count();
            return switch (d.granularity()) {
                case TENSOR -> new ScaleSets(1, count, count, 0, 0);
                case CHANNEL -> {
                    int dim = d.tensor().dim(d.axis());
                    yield new ScaleSets(dim, count / dim, d.inner(), (long) dim * d.inner(), d.inner());
                }
                case GROUP -> new ScaleSets((int) d.scaleCount(), d.groupSize(), d.groupSize(), 0, d.groupSize());
            };
        }

        long at(int st, long e) { return e / inner * outerStride + st * setStride + e % inner; }
    }

    /**
     * The element kernels' arguments (QZ_PARAMS of quantize.cu): SRC, DST, SCALES, ZERO_POINTS (null when
     * symmetric), count, mode, qtype, div, mod, qmin, qmax, stochastic, seed, rowLength, rowBytes.
     */
    static Object[] elementArguments(QuantizeDesc d, Function<Arg, Object> operand) {
        ScaleIndex index = ScaleIndex.of(d);
        return new Object[] {operand.apply(Arg.SRC), operand.apply(Arg.DST), operand.apply(Arg.SCALES),
                d.symmetric() ? null : operand.apply(Arg.ZERO_POINTS), d.count(), d.mode().ordinal(), qtypeCode(d.qtype()),
                index.div(), index.mod(), d.qmin(), d.qmax(), d.rounding() == Rounding.STOCHASTIC ? 1 : 0, d.seed(),
                d.rowLength(), (d.rowLength() + 7) / 8};
    }

    /**
     * quantize_scales' arguments: SRC, SCALES, ZERO_POINTS (null when symmetric), sets, per, inner, outerStride,
     * setStride, qtype, symmetric, qmin, qmax.
     */
    static Object[] scaleArguments(QuantizeDesc d, Function<Arg, Object> operand) {
        ScaleSets s = ScaleSets.of(d);
        return new Object[] {operand.apply(Arg.SRC), operand.apply(Arg.SCALES), d.symmetric() ? null : operand.apply(Arg.ZERO_POINTS),
                s.sets(), s.per(), s.inner(), s.outerStride(), s.setStride(), qtypeCode(d.qtype()), d.symmetric() ? 1 : 0,
                d.qmin(), d.qmax()};
    }

    @Override public Plan plan(OpDesc desc) {
        QuantizeDesc d = (QuantizeDesc) desc;
        assert check(d).ok() : check(d).reason();
        CudaModules.Kernel scales = d.computeScales() ? device.modules().kernel(DeviceCode.Family.QUANTIZE, DeviceCode.QUANTIZE_SCALES) : null;
        CudaModules.Kernel elements = device.modules().kernel(DeviceCode.Family.QUANTIZE, entry(d));
        int scaleBlocks = (int) Math.min(d.scaleCount(), MAX_SCALE_BLOCKS);
        int blocks = blocks(work(d), THREADS);
        return plan(d, (stream, args) -> {
            CudaStream s = stream(stream, d);
            Function<Arg, Object> operand = arg -> buffer(args, arg, d);
            if (scales != null) scales.launch(d.opName(), s, scaleBlocks, 1, 1, SCALE_THREADS, scaleArguments(d, operand));
            elements.launch(d.opName(), s, blocks, 1, 1, THREADS, elementArguments(d, operand));
        });
    }
}
