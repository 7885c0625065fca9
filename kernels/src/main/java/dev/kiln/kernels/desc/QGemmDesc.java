package dev.kiln.kernels.desc;

import dev.kiln.kernels.DType;
import dev.kiln.kernels.OpKind;

import java.util.ArrayList;
import java.util.List;

/**
 * Low-bit GEMM: C (m x n, row-major) = A (m x k, row-major) times B^T, where B is stored as n rows of k
 * (one row per output channel, as a Linear layer's weights).
 * <ul>
 * <li>{@code S8S8}, {@code U8S8}: A s8 or u8, B s8, exact s32 accumulation. Output s32, or f32 with
 *     C = acc * SRC_SCALES[i] * SCALES[j], or s8 requantised: C = clamp(rint(acc * SRC_SCALES[i] * SCALES[j]),
 *     -128, 127) (the product in double, rounded half to even), where the scales are the requantisation
 *     multipliers (activation scale times weight scale over the output scale). Exact while k*|a|max*|b|max < 2^31 (k &lt; 131072 for s8 x s8,
 *     k &lt; 65793 for u8 x s8); larger k is rejected.</li>
 * <li>{@code S4}: A f32, B packed s4 with one f32 scale per group of {@code groupSize} along k (SCALES,
 *     n*k/groupSize), C f32.</li>
 * <li>{@code B1}: A and B bit-packed, each row padded to whole bytes (ceil(k/8) bytes), bit 1 = +1 and
 *     bit 0 = -1; acc = sum of products = k - 2 popcount(a xor b). Output s32, or f32 scaled as for s8.</li>
 * <li>{@code LMUL}: A, B f32; each product a*b is replaced by the L-Mul approximation with
 *     {@code mantissaBits} (3 or 4) of mantissa; C f32.</li>
 * </ul>
 */
public record QGemmDesc(QuantType type, int m, int n, int k, int groupSize, DType out, int mantissaBits) implements OpDesc {
    public enum QuantType { S8S8, U8S8, S4, B1, LMUL;
        public String lower() { return name().toLowerCase(java.util.Locale.ROOT); }
    }

    public QGemmDesc {
        Check.notNull("qgemm", "type", type);
        Check.notNull("qgemm", "out", out);
        String name = "qgemm." + type.lower();
        Check.positive(name, "m", m);
        Check.positive(name, "n", n);
        Check.positive(name, "k", k);
        switch (type) {
            case S8S8, U8S8, B1 -> {
                if (type == QuantType.B1) Check.that(out == DType.S32 || out == DType.F32, name, "output must be s32 or f32, got " + out.lower());
                else Check.that(out == DType.S32 || out == DType.F32 || out == DType.S8, name, "output must be s32, f32 or s8, got " + out.lower());
                long limit = type == QuantType.S8S8 ? 131072 : type == QuantType.U8S8 ? 65793 : Integer.MAX_VALUE;
                Check.that(k < limit, name, "k=" + k + " would overflow the s32 accumulator (k must be < " + limit + ")");
            }
            case S4 -> {
                Check.that(out == DType.F32, name, "output must be f32, got " + out.lower());
                Check.positive(name, "groupSize", groupSize);
                Check.that(k % groupSize == 0, name, "k=" + k + " must be a multiple of groupSize=" + groupSize);
                Check.that(k % 2 == 0, name, "k=" + k + " must be even (two s4 per byte)");
            }
            case LMUL -> {
                Check.that(out == DType.F32, name, "output must be f32, got " + out.lower());
                Check.that(mantissaBits == 3 || mantissaBits == 4, name, "mantissaBits must be 3 or 4, got " + mantissaBits);
            }
        }
        Check.mul(name, Math.max(m, n), k);
        Check.mul(name, m, n);
    }

    public static QGemmDesc s8(int m, int n, int k, DType out) { return new QGemmDesc(QuantType.S8S8, m, n, k, 0, out, 0); }

    public static QGemmDesc u8s8(int m, int n, int k, DType out) { return new QGemmDesc(QuantType.U8S8, m, n, k, 0, out, 0); }

    public static QGemmDesc s4(int m, int n, int k, int groupSize) { return new QGemmDesc(QuantType.S4, m, n, k, groupSize, DType.F32, 0); }

    public static QGemmDesc binary(int m, int n, int k, DType out) { return new QGemmDesc(QuantType.B1, m, n, k, 0, out, 0); }

    public static QGemmDesc lmul(int m, int n, int k, int mantissaBits) { return new QGemmDesc(QuantType.LMUL, m, n, k, 0, DType.F32, mantissaBits); }

    /** Bytes per bit-packed row for B1. */
    public int rowBytes() { return (k + 7) / 8; }

    @Override public OpKind kind() { return OpKind.QGEMM; }

    @Override public DType dtype() { return switch (type) { case S8S8 -> DType.S8; case U8S8 -> DType.U8; case S4 -> DType.S4; case B1 -> DType.B1; case LMUL -> DType.F32; }; }

    @Override public List<ArgSpec> args() {
        List<ArgSpec> list = new ArrayList<>(5);
        switch (type) {
            case S8S8, U8S8 -> {
                list.add(ArgSpec.in(Arg.A, type == QuantType.S8S8 ? DType.S8 : DType.U8, (long) m * k, "m*k"));
                list.add(ArgSpec.in(Arg.B, DType.S8, (long) n * k, "n*k"));
            }
            case S4 -> {
                list.add(ArgSpec.in(Arg.A, DType.F32, (long) m * k, "m*k"));
                list.add(ArgSpec.in(Arg.B, DType.S4, (long) n * k, "n*k"));
                list.add(ArgSpec.in(Arg.SCALES, DType.F32, (long) n * (k / groupSize), "n*k/groupSize"));
            }
            case B1 -> {
                list.add(ArgSpec.in(Arg.A, DType.B1, 8L * m * rowBytes(), "m rows of ceil(k/8) bytes"));
                list.add(ArgSpec.in(Arg.B, DType.B1, 8L * n * rowBytes(), "n rows of ceil(k/8) bytes"));
            }
            case LMUL -> {
                list.add(ArgSpec.in(Arg.A, DType.F32, (long) m * k, "m*k"));
                list.add(ArgSpec.in(Arg.B, DType.F32, (long) n * k, "n*k"));
            }
        }
        if ((type == QuantType.S8S8 || type == QuantType.U8S8 || type == QuantType.B1) && out != DType.S32) {
            list.add(ArgSpec.in(Arg.SRC_SCALES, DType.F32, m, "m"));
            list.add(ArgSpec.in(Arg.SCALES, DType.F32, n, "n"));
        }
        list.add(ArgSpec.out(Arg.C, out, (long) m * n, "m*n"));
        return List.copyOf(list);
    }

    @Override public double flops() { return 2.0 * m * n * k; }

    @Override public String opName() { return "qgemm." + type.lower(); }

    @Override public String shape() {
        return "m=" + m + " n=" + n + " k=" + k + (type == QuantType.S4 ? " group=" + groupSize : "")
                + (type == QuantType.LMUL ? " mantissa=" + mantissaBits : "") + " out=" + out.lower();
    }
}
