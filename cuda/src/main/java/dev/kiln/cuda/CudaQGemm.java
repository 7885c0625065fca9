package dev.kiln.cuda;

import dev.kiln.kernels.DType;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.desc.QGemmDesc;
import dev.kiln.kernels.desc.QGemmDesc.QuantType;
import dev.kiln.kernels.spi.Plan;
import dev.kiln.kernels.spi.Support;

import java.util.function.Function;

/**
 * Low-bit GEMM ({@code qgemm.cu}), every {@link QGemmDesc} type: s8 x s8 and u8 x s8 exact with dp4a, b1 by
 * XNOR-popcount, s4 group-wise and L-Mul in f32, on 64 x 64 tiles of CUDA cores ("cuda-qgemm"). A second
 * instance, "cuda-qgemm-mma", listed first, runs s8 x s8 and u8 x s8 on the integer tensor cores
 * ({@code mma.sync.m16n8k32}, compute capability 8.0+, 128 x 128 tiles) and declines the rest with the reason.
 * Both integer paths are exact and give the same bits: the s32 sums cannot wrap because the descriptor bounds
 * k ({@link #maxExactK}), and the scaled f32 and requantised s8 outputs are formed in double like the reference.
 */
final class CudaQGemm extends CudaKernel {
    static final int TILE = 64, MMA_TILE = 128, THREADS = 256, MAX_GRID_Y = 65535;
    /** OUT_S32, OUT_F32, OUT_S8 of qgemm.cu. */
    static final int OUT_S32 = 0, OUT_F32 = 1, OUT_S8 = 2;

    /** Null for the CUDA-core kernels; for the tensor-core one, why it is off, or "" when on. */
    private final String mmaOff;

    CudaQGemm(CudaDevice device) {
        super(device, "cuda-qgemm", OpKind.QGEMM);
        this.mmaOff = null;
    }

    /**
     * The tensor-core variant; {@code computeMajor} is the device's (int8 mma.sync m16n8k32 needs 8.0 or newer).
     * {@code KILN_CUDA_QGEMM_MMA=0} (or {@code -Dkiln.cuda.qgemm.mma=false}) turns it off, so that the dp4a
     * kernels take the int8 cases too (the GPU bundle verifies both that way).
     */
    CudaQGemm(CudaDevice device, int computeMajor) { this(device, computeMajor, mmaSwitchedOff(System.getProperty(MMA_PROPERTY), System.getenv(MMA_ENV))); }

    CudaQGemm(CudaDevice device, int computeMajor, boolean switchedOff) {
        super(device, "cuda-qgemm-mma", OpKind.QGEMM);
        this.mmaOff = switchedOff ? "switched off by " + MMA_ENV + "=0 or -D" + MMA_PROPERTY + "=false"
                : computeMajor < 8 ? "int8 mma.sync m16n8k32 needs compute capability 8.0 or newer, the device has " + computeMajor + ".x" : "";
    }

    /** The switch that turns the tensor-core kernel off: environment KILN_CUDA_QGEMM_MMA or -Dkiln.cuda.qgemm.mma. */
    static final String MMA_ENV = "KILN_CUDA_QGEMM_MMA", MMA_PROPERTY = "kiln.cuda.qgemm.mma";

    /** Whether {@code property} (first) or {@code env} says 0 or false. */
    static boolean mmaSwitchedOff(String property, String env) {
        String v = property != null ? property : env;
        return v != null && (v.equals("0") || v.equalsIgnoreCase("false"));
    }

    boolean isMma() { return mmaOff != null; }

    @Override public Support supports(OpDesc desc) {
        if (mmaOff != null && !mmaOff.isEmpty()) return Support.no(mmaOff);
        return check(desc, isMma());
    }

    /** The support answer of the tensor-core ({@code mma}) or CUDA-core kernels; depends on the descriptor only. */
    static Support check(OpDesc desc, boolean mma) {
        if (!(desc instanceof QGemmDesc d)) return Support.no("not a qgemm descriptor: " + desc.opName());
        String name = mma ? "cuda-qgemm-mma" : "cuda-qgemm";
        if (mma && !isInt8(d.type()))
            return Support.no(name + " takes s8 x s8 and u8 x s8 only (int8 tensor cores), got " + d.opName() + "; cuda-qgemm takes it");
        int tile = mma ? MMA_TILE : TILE;
        if (Math.ceilDiv(d.m(), tile) > MAX_GRID_Y)
            return Support.no(name + " handles m <= " + (long) tile * MAX_GRID_Y + " (grid y limit), got m=" + d.m());
        return Support.YES;
    }

    private static boolean isInt8(QuantType t) { return t == QuantType.S8S8 || t == QuantType.U8S8; }

    /**
     * The largest k for which an s8 x s8 ({@code u8 = false}) or u8 x s8 sum of k products is exact in s32:
     * every partial sum lies within k times the largest product magnitude (128 * 128, or 255 * 128), which must
     * stay within [-2^31, 2^31 - 1]. {@link QGemmDesc} rejects larger k (it allows k &lt; 131072 and k &lt; 65793).
     */
    static int maxExactK(boolean u8) {
        long mostPositive = u8 ? 255L * 127 : 128L * 128, mostNegative = u8 ? 255L * 128 : 128L * 127;
        return (int) Math.min(Integer.MAX_VALUE / mostPositive, -(long) Integer.MIN_VALUE / mostNegative);
    }

    /** The kernel of {@code qgemm.cu} that computes {@code d}. */
    static String entry(QGemmDesc d, boolean mma) {
        return switch (d.type()) {
            case S8S8 -> mma ? DeviceCode.QGEMM_S8S8_MMA : DeviceCode.QGEMM_S8S8_DP4A;
            case U8S8 -> mma ? DeviceCode.QGEMM_U8S8_MMA : DeviceCode.QGEMM_U8S8_DP4A;
            case B1 -> DeviceCode.QGEMM_B1_POPC;
            case S4 -> DeviceCode.QGEMM_S4;
            case LMUL -> DeviceCode.QGEMM_LMUL;
        };
    }

    /** Grid (x over n, y over m) of whole tiles. */
    static int[] grid(QGemmDesc d, boolean mma) {
        int tile = mma ? MMA_TILE : TILE;
        return new int[] {Math.ceilDiv(d.n(), tile), Math.ceilDiv(d.m(), tile)};
    }

    /** OUT_S32, OUT_F32 or OUT_S8: the epilogue of the integer kernels. */
    static int outCode(QGemmDesc d) {
        return switch (d.out()) {
            case S32 -> OUT_S32;
            case S8 -> OUT_S8;
            default -> OUT_F32;
        };
    }

    /**
     * The kernel arguments in the order of its parameters ({@link CudaModules.Kernel#launch} types: operands as
     * {@code operand} maps them, null for a scale array the s32 output never reads, Integer for int):
     * <pre>
     *   s8/u8/b1: A, B, SRC_SCALES, SCALES, C, m, n, k, rowBytes, out
     *   s4:       A, B, SCALES, C, m, n, k, groupSize
     *   lmul:     A, B, C, m, n, k, mantissaBits
     * </pre>
     */
    static Object[] arguments(QGemmDesc d, Function<Arg, Object> operand) {
        return switch (d.type()) {
            case S8S8, U8S8, B1 -> {
                boolean scaled = d.out() != DType.S32;
                yield new Object[] {operand.apply(Arg.A), operand.apply(Arg.B),
                        scaled ? operand.apply(Arg.SRC_SCALES) : null, scaled ? operand.apply(Arg.SCALES) : null,
                        operand.apply(Arg.C), d.m(), d.n(), d.k(), d.type() == QuantType.B1 ? d.rowBytes() : d.k(), outCode(d)};
            }
            case S4 -> new Object[] {operand.apply(Arg.A), operand.apply(Arg.B), operand.apply(Arg.SCALES), operand.apply(Arg.C),
                    d.m(), d.n(), d.k(), d.groupSize()};
            case LMUL -> new Object[] {operand.apply(Arg.A), operand.apply(Arg.B), operand.apply(Arg.C),
                    d.m(), d.n(), d.k(), d.mantissaBits()};
        };
    }

    @Override public Plan plan(OpDesc desc) {
        QGemmDesc d = (QGemmDesc) desc;
        boolean mma = isMma();
        assert check(d, mma).ok() : check(d, mma).reason();
        CudaModules.Kernel kernel = device.modules().kernel(DeviceCode.Family.QGEMM, entry(d, mma));
        int[] grid = grid(d, mma);
        return plan(d, (stream, args) -> kernel.launch(d.opName(), stream(stream, d), grid[0], grid[1], 1, THREADS,
                arguments(d, arg -> buffer(args, arg, d))));
    }
}
