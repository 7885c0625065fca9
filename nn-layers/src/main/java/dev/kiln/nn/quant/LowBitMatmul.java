package dev.kiln.nn.quant;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.Kernels;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.QGemmDesc;
import dev.kiln.kernels.spi.Device;
import dev.kiln.kernels.spi.DeviceBuffer;
import dev.kiln.nn.Devices;
import dev.kiln.nn.QuantOps;

/**
 * The quantised product of a {@link QatLayer}'s frozen weights with rows of input: {@code y = q(a) q(W)^T + b}
 * on the low-bit GEMM ({@link QGemmDesc}), with the codes and scales the fake-quantised forward used.
 * <ul>
 * <li>int8: input codes u8 or s8 with one scale, weight codes s8 with one scale per output channel; the
 *     kernel accumulates exactly in s32 and scales to f32 ({@code SRC_SCALES}, {@code SCALES}).</li>
 * <li>int4: f32 input, s4 weight codes (two per byte, low nibble first) with one scale per group.</li>
 * <li>binary: input bits {@code x >= tau} with scale beta, weight bits {@code w >= 0} with scale alpha per
 *     channel; XNOR-popcount accumulation.</li>
 * </ul>
 * The weight codes live on the device for the life of this object.
 */
final class LowBitMatmul implements AutoCloseable {
    final QuantMode mode;
    final int n, k, groupSize;
    final float[] bias;
    /** Weight codes, n x k (s8, s4 or +-1), kept for the binary padding correction and for tests. */
    final int[] weightCodes;
    final float[] weightScales;
    final boolean unsignedInput;
    final float inputScale, inputShift;
    private final DeviceBuffer weights, scales;

    LowBitMatmul(QatLayer layer) {
        this.mode = layer.mode;
        this.n = layer.weight.dim(0);
        this.k = layer.fanIn();
        this.groupSize = mode == QuantMode.INT4 ? QuantMode.groupSize(k) : 0;
        this.bias = layer.bias.toArray();
        float[] w = layer.weight.toArray();
        weightScales = FakeQuant.weightScales(mode, w, k);
        int block = FakeQuant.weightBlock(mode, k);
        weightCodes = new int[w.length];
        for (int i = 0; i < w.length; i++)
            weightCodes[i] = switch (mode) {
                case INT8 -> QuantOps.quantize(w[i], weightScales[i / block], -FakeQuant.S8_MAX, FakeQuant.S8_MAX);
                case INT4 -> QuantOps.quantize(w[i], weightScales[i / block], -FakeQuant.S4_MAX, FakeQuant.S4_MAX);
                case BINARY -> w[i] >= 0 ? 1 : -1;
            };
        ActivationObserver o = layer.observer;
        unsignedInput = mode == QuantMode.INT8 && o.unsigned();
        inputScale = switch (mode) { case INT8 -> o.int8Scale(); case BINARY -> o.binaryScale(); case INT4 -> 1; };
        inputShift = mode == QuantMode.BINARY ? o.binaryShift() : 0;
        Device device = Devices.current();
        DeviceBuffer wb = null, sb = null;
        try {
            wb = switch (mode) {
                case INT8 -> upload(device, DType.S8, n * (long) k, bytesOf(weightCodes));
                case INT4 -> upload(device, DType.S4, n * (long) k, packS4(weightCodes, n * k));
                case BINARY -> upload(device, DType.B1, 8L * n * rowBytes(), packBits(weightCodes, n, k));
            };
            sb = device.allocate(DType.F32, weightScales.length);
            sb.copyFrom(weightScales);
        } catch (RuntimeException e) {
            if (wb != null) wb.close();
            throw e;
        }
        weights = wb;
        scales = sb;
    }

    private int rowBytes() { return (k + 7) / 8; }

    /** The input code of one value, as {@link FakeQuant#input} forms it (int8: u8 or s8; binary: 1 or -1). */
    int inputCode(float x) {
        return switch (mode) {
            case INT8 -> unsignedInput ? QuantOps.quantize(x, inputScale, 0, FakeQuant.U8_MAX)
                    : QuantOps.quantize(x, inputScale, -FakeQuant.S8_MAX, FakeQuant.S8_MAX);
            case BINARY -> x >= inputShift ? 1 : -1;
            case INT4 -> throw new IllegalStateException("int4 takes f32 input");
        };
    }

    /**
     * The input codes as bytes, one per value: the s8 or u8 code (int8), or 1 for +1 and 0 for -1 (binary).
     * Quantising before unfolding a convolution's input touches each value once instead of once per tap.
     */
    byte[] codes(float[] x) {
        byte[] q = new byte[x.length];
        if (mode == QuantMode.BINARY) for (int i = 0; i < x.length; i++) q[i] = (byte) (x[i] >= inputShift ? 1 : 0);
        else for (int i = 0; i < x.length; i++) q[i] = (byte) inputCode(x[i]);
        return q;
    }

    /** {@code y (m x n) = q(a) q(W)^T (+ bias)}, a being m rows of k, on the low-bit GEMM. */
    float[] multiply(float[] a, int m, boolean addBias) {
        return mode == QuantMode.INT4 ? withBias(run(f32Input(a, m), m, DType.F32, null), m, addBias)
                : multiplyCodes(codes(a), m, addBias);
    }

    /** As {@link #multiply} for int8 or binary input already turned into {@link #codes} (m rows of k). */
    float[] multiplyCodes(byte[] codes, int m, boolean addBias) {
        return withBias(run(codeInput(codes, m), m, DType.F32, null), m, addBias);
    }

    private float[] withBias(float[] y, int m, boolean addBias) {
        if (addBias) for (int i = 0; i < m; i++) for (int j = 0; j < n; j++) y[i * n + j] += bias[j];
        return y;
    }

    /** The exact s32 accumulators of the int8 or binary product (no scales, no bias). */
    int[] accumulators(float[] a, int m) {
        if (mode == QuantMode.INT4) throw new IllegalStateException("int4 accumulates in f32");
        int[] acc = new int[m * n];
        run(codeInput(codes(a), m), m, DType.S32, acc);
        return acc;
    }

    /** Runs the GEMM on {@code input} (closed here) and returns C, or fills {@code intOut} for s32 output. */
    private float[] run(DeviceBuffer input, int m, DType out, int[] intOut) {
        Device device = Devices.current();
        QGemmDesc desc = switch (mode) {
            case INT8 -> unsignedInput ? QGemmDesc.u8s8(m, n, k, out) : QGemmDesc.s8(m, n, k, out);
            case INT4 -> QGemmDesc.s4(m, n, k, groupSize);
            case BINARY -> QGemmDesc.binary(m, n, k, out);
        };
        try (input; DeviceBuffer c = device.allocate(out, (long) m * n);
             DeviceBuffer rowScales = out == DType.F32 && mode != QuantMode.INT4 ? device.allocate(DType.F32, m) : null) {
            Args args = Args.of(Arg.A, input, Arg.B, weights, Arg.C, c);
            if (mode == QuantMode.INT4) args.put(Arg.SCALES, scales);
            else if (rowScales != null) {
                float[] rs = new float[m];
                java.util.Arrays.fill(rs, inputScale);
                rowScales.copyFrom(rs);
                args.put(Arg.SRC_SCALES, rowScales).put(Arg.SCALES, scales);
            }
            Kernels.execute(desc, args);
            if (intOut != null) {
                c.copyTo(intOut);
                return null;
            }
            float[] y = new float[m * n];
            c.copyTo(y);
            return y;
        }
    }

    private DeviceBuffer f32Input(float[] a, int m) {
        DeviceBuffer b = Devices.current().allocate(DType.F32, (long) m * k);
        try {
            b.copyFrom(a);
        } catch (RuntimeException e) {
            b.close();
            throw e;
        }
        return b;
    }

    private DeviceBuffer codeInput(byte[] codes, int m) {
        Device device = Devices.current();
        if (mode == QuantMode.INT8) return upload(device, unsignedInput ? DType.U8 : DType.S8, (long) m * k, codes);
        int rb = rowBytes();
        byte[] bits = new byte[m * rb];
        for (int i = 0; i < m; i++)
            for (int p = 0; p < k; p++)
                if (codes[i * k + p] != 0) bits[i * rb + (p >> 3)] |= (byte) (1 << (p & 7));
        return upload(device, DType.B1, 8L * m * rb, bits);
    }

    private static DeviceBuffer upload(Device device, DType type, long count, byte[] bytes) {
        DeviceBuffer b = device.allocate(type, count);
        try {
            b.copyFrom(bytes);
        } catch (RuntimeException e) {
            b.close();
            throw e;
        }
        return b;
    }

    static byte[] bytesOf(int[] codes) {
        byte[] b = new byte[codes.length];
        for (int i = 0; i < b.length; i++) b[i] = (byte) codes[i];
        return b;
    }

    /** Two s4 codes per byte, element 2i in the low nibble (the {@link DType#S4} layout). */
    static byte[] packS4(int[] codes, int count) {
        byte[] b = new byte[(count + 1) / 2];
        for (int i = 0; i < count; i++) b[i >> 1] |= (byte) ((codes[i] & 0xF) << ((i & 1) * 4));
        return b;
    }

    /** Rows of k signs as bits (1 for +1), each row padded to whole bytes, least significant bit first. */
    static byte[] packBits(int[] signs, int rows, int k) {
        int rb = (k + 7) / 8;
        byte[] b = new byte[rows * rb];
        for (int i = 0; i < rows; i++)
            for (int p = 0; p < k; p++)
                if (signs[i * k + p] > 0) b[i * rb + (p >> 3)] |= (byte) (1 << (p & 7));
        return b;
    }

    @Override public void close() {
        weights.close();
        scales.close();
    }
}
