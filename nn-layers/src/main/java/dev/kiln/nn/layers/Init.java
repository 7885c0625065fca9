package dev.kiln.nn.layers;

import java.util.SplittableRandom;

/** Seeded weight initialisation (values are made on the host, then copied to the device once). */
public final class Init {
    private Init() {}

    /** Kaiming (He) uniform for ReLU networks: U(-b, b), b = sqrt(6 / fanIn). */
    public static float[] kaimingUniform(int count, int fanIn, SplittableRandom random) {
        return uniform(count, Math.sqrt(6.0 / fanIn), random);
    }

    /** Xavier (Glorot) uniform: U(-b, b), b = sqrt(6 / (fanIn + fanOut)). */
    public static float[] xavierUniform(int count, int fanIn, int fanOut, SplittableRandom random) {
        return uniform(count, Math.sqrt(6.0 / (fanIn + fanOut)), random);
    }

    /** U(-bound, bound). */
    public static float[] uniform(int count, double bound, SplittableRandom random) {
        float[] v = new float[count];
        for (int i = 0; i < count; i++) v[i] = (float) ((random.nextDouble() * 2 - 1) * bound);
        return v;
    }
}
