package dev.kiln.kernels.desc;

import dev.kiln.kernels.DType;
import dev.kiln.kernels.OpKind;

import java.util.ArrayList;
import java.util.List;

/**
 * Affine quantisation of an f32 tensor of shape {@code tensor} (row-major) to a low-bit integer type, its inverse,
 * and the two fused (fake quantisation, what quantisation-aware training runs forward).
 *
 * <p><b>Modes.</b> {@link Mode#QUANTIZE}: SRC f32 to DST {@code qtype}. {@link Mode#DEQUANTIZE}: SRC
 * {@code qtype} to DST f32. {@link Mode#FAKE}: SRC f32 to DST f32 = dequantise(quantise(SRC)) in one pass.
 *
 * <p><b>Granularity.</b> One scale (and zero point) per tensor, per channel along {@code axis} (scale index
 * of flat element i = (i / inner) % tensor[axis], inner = product of the dimensions after the axis), or per
 * group of {@code groupSize} consecutive elements along the last axis (scale index i / groupSize; the last
 * dimension must be a multiple of the group). SCALES and ZERO_POINTS hold {@link #scaleCount()} elements.
 *
 * <p><b>Integer grids.</b> s8: [-128, 127], symmetric [-127, 127]; u8: [0, 255], asymmetric only; s4: [-8, 7],
 * symmetric [-7, 7], two per byte, element i in byte i/2, the first in the low nibble; b1: symmetric only,
 * values -1 and +1 (bit 0 and bit 1), each row of the last dimension packed into whole bytes (ceil(last/8)
 * bytes, element j of a row in bit j%8 of byte j/8, least significant first, padding bits 0) as the binary
 * {@link QGemmDesc} reads its operands.
 *
 * <p><b>Arithmetic</b> (all in f32, so every backend gets the same bits; z = 0 when symmetric):
 * <pre>
 *   v = x / s                                      (one correctly rounded f32 division)
 *   nearest even:  r = rint(v)       stochastic:  r = floor(v + u),  u = uniform(seed, i) in [0, 1), f32 add
 *   q = clamp(r + z, qmin, qmax)
 *   dequantised = (q - z) * s                      (one f32 multiply)
 *   b1: q = +1 if x &gt;= 0 else -1 (nearest);  q = +1 if u &lt; (x + 1) / 2 else -1 (stochastic, BinaryConnect's
 *       hard sigmoid, independent of s); dequantised = q * s
 * </pre>
 * {@code u} comes from a counter-based hash of (seed, flat element index), see
 * {@code RefQuantize.uniform}: the same seed gives the same result on any backend and any thread count.
 *
 * <p><b>Scales.</b> Given (SCALES, and ZERO_POINTS when asymmetric, are inputs; DEQUANTIZE always takes
 * them) or computed by the op (outputs, so a caller gets the fake-quantised tensor and its scales from one
 * call), over the elements that share the scale: symmetric s = max|x| / qmax; asymmetric lo = min(min x, 0),
 * hi = max(max x, 0), s = (hi - lo) / (qmax - qmin), z = clamp(qmin - rint(lo / s), qmin, qmax); b1 s = the
 * mean of |x| (summed in double, rounded once to f32). A scale that comes out 0 (an all-zero group) is 1.
 * Inputs must be finite; given scales must be positive and zero points within [qmin, qmax].
 */
public record QuantizeDesc(Mode mode, DType qtype, Shape tensor, Granularity granularity, int axis, int groupSize,
                           boolean symmetric, Rounding rounding, long seed, boolean computeScales) implements OpDesc {

    public enum Mode { QUANTIZE, DEQUANTIZE, FAKE;
        public String lower() { return name().toLowerCase(java.util.Locale.ROOT); }
    }

    public enum Granularity { TENSOR, CHANNEL, GROUP;
        public String lower() { return name().toLowerCase(java.util.Locale.ROOT); }
    }

    public enum Rounding { NEAREST_EVEN, STOCHASTIC }

    public QuantizeDesc {
        Check.notNull("quantize", "mode", mode);
        Check.notNull("quantize", "qtype", qtype);
        Check.notNull("quantize", "tensor", tensor);
        Check.notNull("quantize", "granularity", granularity);
        Check.notNull("quantize", "rounding", rounding);
        String name = nameOf(mode, qtype);
        Check.that(qtype == DType.S8 || qtype == DType.U8 || qtype == DType.S4 || qtype == DType.B1, name,
                "qtype must be s8, u8, s4 or b1, got " + qtype.lower());
        Check.that(!(qtype == DType.U8 && symmetric), name, "u8 needs asymmetric quantisation (a zero point)");
        Check.that(!(qtype == DType.B1 && !symmetric), name, "b1 is symmetric only (values -1 and +1 times the scale)");
        Check.that(!(mode == Mode.DEQUANTIZE && computeScales), name, "dequantize needs given scales");
        long count = tensor.count();
        Check.positive(name, "element count of tensor " + tensor, count);
        Check.that(count <= Integer.MAX_VALUE * 8L, name, "tensor " + tensor + " has " + count + " elements, more than " + Integer.MAX_VALUE * 8L);
        int last = tensor.rank() == 0 ? 1 : tensor.dim(tensor.rank() - 1);
        switch (granularity) {
            case TENSOR -> { }
            case CHANNEL -> Check.that(axis >= 0 && axis < tensor.rank(), name,
                    "channel axis " + axis + " is out of range for tensor " + tensor + " (rank " + tensor.rank() + ")");
            case GROUP -> {
                Check.positive(name, "groupSize", groupSize);
                Check.that(last % groupSize == 0, name, "the last dimension " + last + " of tensor " + tensor
                        + " must be a multiple of groupSize=" + groupSize);
            }
        }
    }

    /** Per-tensor, symmetric (asymmetric for u8), nearest-even, scales computed unless {@code mode} is DEQUANTIZE. */
    public static QuantizeDesc of(Mode mode, DType qtype, Shape tensor) {
        return new QuantizeDesc(mode, qtype, tensor, Granularity.TENSOR, 0, 0, qtype != DType.U8, Rounding.NEAREST_EVEN, 0,
                mode != Mode.DEQUANTIZE);
    }

    public QuantizeDesc perTensor() { return new QuantizeDesc(mode, qtype, tensor, Granularity.TENSOR, 0, 0, symmetric, rounding, seed, computeScales); }

    public QuantizeDesc perChannel(int axis) { return new QuantizeDesc(mode, qtype, tensor, Granularity.CHANNEL, axis, 0, symmetric, rounding, seed, computeScales); }

    public QuantizeDesc perGroup(int groupSize) { return new QuantizeDesc(mode, qtype, tensor, Granularity.GROUP, 0, groupSize, symmetric, rounding, seed, computeScales); }

    public QuantizeDesc withSymmetric(boolean symmetric) { return new QuantizeDesc(mode, qtype, tensor, granularity, axis, groupSize, symmetric, rounding, seed, computeScales); }

    public QuantizeDesc stochastic(long seed) { return new QuantizeDesc(mode, qtype, tensor, granularity, axis, groupSize, symmetric, Rounding.STOCHASTIC, seed, computeScales); }

    public QuantizeDesc nearestEven() { return new QuantizeDesc(mode, qtype, tensor, granularity, axis, groupSize, symmetric, Rounding.NEAREST_EVEN, 0, computeScales); }

    /** The same quantisation with scales given as inputs ({@code false}) or computed as outputs ({@code true}). */
    public QuantizeDesc withComputedScales(boolean compute) { return new QuantizeDesc(mode, qtype, tensor, granularity, axis, groupSize, symmetric, rounding, seed, compute); }

    public QuantizeDesc withMode(Mode mode) {
        return new QuantizeDesc(mode, qtype, tensor, granularity, axis, groupSize, symmetric, rounding, seed, computeScales && mode != Mode.DEQUANTIZE);
    }

    private static String nameOf(Mode mode, DType qtype) {
        return (mode == null ? "quantize" : mode == Mode.FAKE ? "fake-quantize" : mode.lower()) + (qtype == null ? "" : "." + qtype.lower());
    }

    /** Elements of the tensor. */
    public long count() { return tensor.count(); }

    /** The last dimension (1 for a rank-0 tensor): b1 rows and groups run along it. */
    public int rowLength() { return tensor.rank() == 0 ? 1 : tensor.dim(tensor.rank() - 1); }

    /** Elements after the channel axis (1 unless per channel). */
    public long inner() {
        if (granularity != Granularity.CHANNEL) return 1;
        long inner = 1;
        for (int i = axis + 1; i < tensor.rank(); i++) inner *= tensor.dim(i);
        return inner;
    }

    /** Number of scales (and zero points): 1, tensor[axis], or count / groupSize. */
    public long scaleCount() {
        return switch (granularity) {
            case TENSOR -> 1;
            case CHANNEL -> tensor.dim(axis);
            case GROUP -> count() / groupSize;
        };
    }

    /** Smallest and largest integer of the grid. */
    public int qmin() {
        return switch (qtype) {
            case S8 -> symmetric ? -127 : -128;
            case U8 -> 0;
            case S4 -> symmetric ? -7 : -8;
            default -> -1;
        };
    }

    public int qmax() { return switch (qtype) { case S8 -> 127; case U8 -> 255; case S4 -> 7; default -> 1; }; }

    /** Logical elements of the quantised operand: count, or for b1 rows of whole bytes (8 * ceil(last/8) per row). */
    public long storedCount() {
        if (qtype != DType.B1) return count();
        return count() / rowLength() * 8L * ((rowLength() + 7) / 8);
    }

    @Override public OpKind kind() { return OpKind.QUANTIZE; }

    @Override public DType dtype() { return qtype; }

    @Override public List<ArgSpec> args() {
        List<ArgSpec> list = new ArrayList<>(5);
        String rule = "tensor " + tensor;
        String stored = qtype == DType.B1 ? "rows of ceil(" + rowLength() + "/8) bytes, tensor " + tensor : rule;
        DType srcType = mode == Mode.DEQUANTIZE ? qtype : DType.F32, dstType = mode == Mode.QUANTIZE ? qtype : DType.F32;
        list.add(ArgSpec.in(Arg.SRC, srcType, mode == Mode.DEQUANTIZE ? storedCount() : count(), mode == Mode.DEQUANTIZE ? stored : rule));
        list.add(ArgSpec.out(Arg.DST, dstType, mode == Mode.QUANTIZE ? storedCount() : count(), mode == Mode.QUANTIZE ? stored : rule));
        String srule = granularity.lower() + " scales of " + tensor + (granularity == Granularity.CHANNEL ? " along axis " + axis
                : granularity == Granularity.GROUP ? " in groups of " + groupSize : "");
        list.add(computeScales ? ArgSpec.out(Arg.SCALES, DType.F32, scaleCount(), srule) : ArgSpec.in(Arg.SCALES, DType.F32, scaleCount(), srule));
        if (!symmetric) list.add(computeScales ? ArgSpec.out(Arg.ZERO_POINTS, DType.S32, scaleCount(), srule)
                                               : ArgSpec.in(Arg.ZERO_POINTS, DType.S32, scaleCount(), srule));
        return List.copyOf(list);
    }

    @Override public double flops() { return 2.0 * count(); }

    @Override public String opName() { return nameOf(mode, qtype); }

    @Override public String shape() {
        return tensor + " " + granularity.lower() + (granularity == Granularity.CHANNEL ? " axis=" + axis : "")
                + (granularity == Granularity.GROUP ? " group=" + groupSize : "") + (symmetric ? " sym" : " asym")
                + (rounding == Rounding.STOCHASTIC ? " stochastic seed=" + seed : " rne") + (computeScales ? " scales=computed" : " scales=given");
    }
}
