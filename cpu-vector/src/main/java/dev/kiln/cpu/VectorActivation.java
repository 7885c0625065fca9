package dev.kiln.cpu;

import dev.kiln.kernels.desc.Activation;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Activations in f32 for fused epilogues: a vector body with the Vector API's EXP/TANH and a scalar tail
 * computed in double (both well inside f32 tolerance of the double reference). GELU is the tanh
 * approximation, as everywhere in Kiln.
 */
public final class VectorActivation {
    private VectorActivation() {}

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ByteOrder NATIVE = ByteOrder.nativeOrder();
    static final float GELU_C = (float) Math.sqrt(2 / Math.PI);

    /**
     * Applies {@code x + bias[j]} (when {@code bias} is non-null) and then {@code act} to {@code len}
     * floats of {@code c} starting at element {@code ci}; {@code bias} is read from element {@code bi}.
     */
    public static void row(Width w, MemorySegment c, long ci, int len, MemorySegment bias, long bi, Activation act) {
        var s = w.floats();
        int l = s.length(), j = 0;
        for (; j <= len - l; j += l) {
            long off = (ci + j) * 4;
            FloatVector v = FloatVector.fromMemorySegment(s, c, off, NATIVE);
            if (bias != null) v = v.add(FloatVector.fromMemorySegment(s, bias, (bi + j) * 4, NATIVE));
            v = switch (act) {
                case NONE -> v;
                case RELU -> v.max(0f);
                case GELU -> v.mul(0.5f).mul(v.mul(v).mul(v).mul(0.044715f).add(v).mul(GELU_C).lanewise(VectorOperators.TANH).add(1f));
                case SILU -> v.div(v.neg().lanewise(VectorOperators.EXP).add(1f));
                case SIGMOID -> FloatVector.broadcast(s, 1f).div(v.neg().lanewise(VectorOperators.EXP).add(1f));
                case TANH -> v.lanewise(VectorOperators.TANH);
            };
            v.intoMemorySegment(c, off, NATIVE);
        }
        for (; j < len; j++) {
            double x = c.getAtIndex(F, ci + j);
            if (bias != null) x += bias.getAtIndex(F, bi + j);
            c.setAtIndex(F, ci + j, (float) scalar(act, x));
        }
    }

    /** The activation in double, for scalar tails. */
    public static double scalar(Activation act, double x) {
        return switch (act) {
            case NONE -> x;
            case RELU -> x > 0 ? x : 0;
            case GELU -> 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
            case SILU -> x / (1 + Math.exp(-x));
            case SIGMOID -> 1 / (1 + Math.exp(-x));
            case TANH -> Math.tanh(x);
        };
    }
}
