package dev.kiln.kernels.ref;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.Kernels;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.ArgSpec;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.spi.HostBuffer;

import java.util.Arrays;
import java.util.EnumMap;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Runs one op through the facade on host arrays for the reference-kernel tests: inputs are given by role,
 * every output is allocated from the descriptor's specs and poisoned first (NaN, or Integer.MIN_VALUE),
 * so an element the kernel forgets to write shows up. In this module the facade's engine is the
 * reference engine, so the call validates the arguments and then runs {@link RefKernels}.
 */
public final class RefCase {
    private RefCase() {}

    /** The outputs of one run by role: float[] for f32, int[] for s32. */
    public record Out(EnumMap<Arg, Object> arrays) {
        public float[] f(Arg arg) { return (float[]) arrays.get(arg); }

        public int[] i(Arg arg) { return (int[]) arrays.get(arg); }
    }

    /** Runs {@code desc} with {@code inputs} given as (Arg, float[] | int[] | byte[]) pairs. */
    public static Out run(OpDesc desc, Object... inputs) {
        Args args = Args.of();
        for (int i = 0; i < inputs.length; i += 2) {
            Arg arg = (Arg) inputs[i];
            Object a = inputs[i + 1];
            DType dtype = desc.spec(arg) == null ? DType.F32 : desc.spec(arg).dtype();
            args.put(arg, switch (a) {
                case float[] f -> HostBuffer.wrap(f);
                case int[] n -> HostBuffer.wrap(n);
                case byte[] b -> HostBuffer.wrap(b, dtype);
                default -> throw new IllegalArgumentException("unsupported array " + a);
            });
        }
        EnumMap<Arg, Object> outs = new EnumMap<>(Arg.class);
        for (ArgSpec s : desc.args()) {
            if (s.access() != ArgSpec.Access.OUT) continue;
            int count = Math.toIntExact(s.count());
            if (s.dtype() == DType.S32) {
                int[] o = new int[count];
                Arrays.fill(o, Integer.MIN_VALUE);
                outs.put(s.arg(), o);
                args.put(s.arg(), HostBuffer.wrap(o));
            } else {
                float[] o = new float[count];
                Arrays.fill(o, Float.NaN);
                outs.put(s.arg(), o);
                args.put(s.arg(), HostBuffer.wrap(o));
            }
        }
        Kernels.execute(desc, args);
        return new Out(outs);
    }

    /** Uniform in [-1, 1). */
    public static float[] rand(Random r, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = r.nextFloat() * 2 - 1;
        return x;
    }

    /** Uniform in [lo, hi). */
    public static float[] rand(Random r, int n, double lo, double hi) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (lo + (hi - lo) * r.nextDouble());
        return x;
    }

    public static Random seeded(long seed) {
        System.out.println("seed " + seed);
        return new Random(seed);
    }

    public static double dot(float[] a, float[] b) {
        assertEquals(a.length, b.length, "dot: lengths");
        double s = 0;
        for (int i = 0; i < a.length; i++) s += (double) a[i] * b[i];
        return s;
    }

    /** |a - b| <= tol * max(1, |b|) elementwise, naming the first bad index. */
    public static void close(double[] expected, float[] actual, double tol, String what) {
        assertEquals(expected.length, actual.length, what + ": length");
        for (int i = 0; i < expected.length; i++) {
            double e = expected[i], a = actual[i];
            if (!(Math.abs(e - a) <= tol * Math.max(1, Math.abs(e))))
                fail(what + ": element " + i + " expected " + e + " got " + a + " (tol " + tol + ")");
        }
    }

    public static void close(float[] expected, float[] actual, double tol, String what) {
        double[] e = new double[expected.length];
        for (int i = 0; i < e.length; i++) e[i] = expected[i];
        close(e, actual, tol, what);
    }

    /** Scalar relative closeness for adjoint identities. */
    public static void closeScalar(double expected, double actual, double tol, String what) {
        assertTrue(Math.abs(expected - actual) <= tol * Math.max(1, Math.abs(expected)),
                what + ": expected " + expected + " got " + actual);
    }

    /** Guards against a vacuous pass: some output element must be clearly non-zero, all finite. */
    public static void nonTrivial(float[] out, String what) {
        boolean any = false;
        for (int i = 0; i < out.length; i++) {
            assertTrue(Float.isFinite(out[i]), what + ": element " + i + " is " + out[i]);
            any |= Math.abs(out[i]) > 1e-6;
        }
        assertTrue(out.length == 0 || any, what + ": output is all zero");
    }
}
