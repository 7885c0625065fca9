package dev.kiln.cpu;

import jdk.incubator.vector.FloatVector;

/** Horizontal operations with a fixed order, so results never depend on which compiler ran the loop. */
public final class Lanes {
    private Lanes() {}

    /**
     * The lanes' sum in lane order. Not {@code reduceLanes(ADD)}: its order is unspecified and differs
     * between the interpreter's fallback and C2's intrinsic, so results would depend on JIT timing and two
     * runs of the same program could differ in the last bit.
     */
    public static float sum(FloatVector v) {
        float s = 0;
        for (int i = 0; i < v.length(); i++) s += v.lane(i);
        return s;
    }
}
