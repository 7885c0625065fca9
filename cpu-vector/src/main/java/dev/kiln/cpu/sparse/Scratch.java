package dev.kiln.cpu.sparse;

import java.lang.ref.SoftReference;

/**
 * Per-thread scratch arrays for the packed SpMM (the packed B, a task's copy of its sparse rows, its C tile),
 * kept between calls. Why: a new array is zeroed before it is filled, one more pass over memory that costs
 * as much as the copy itself (B alone is 4 MB on the benchmark shape, a 95%-sparse SpMM is ~10 ms). A thread
 * runs one task at a time and a caller waits for its call, so a thread's slot is never used twice at once;
 * soft references let the collector take the arrays back under memory pressure. Arrays may be longer than
 * asked; callers use the first {@code n} elements and write before they read.
 */
final class Scratch {
    private Scratch() {}

    /** One kind of scratch array per thread. */
    static final class Floats extends ThreadLocal<SoftReference<float[]>> {
        float[] get(int n) {
            SoftReference<float[]> ref = get();
            float[] a = ref == null ? null : ref.get();
            if (a == null || a.length < n) {
                a = new float[n];
                set(new SoftReference<>(a));
            }
            return a;
        }
    }

    static final class Ints extends ThreadLocal<SoftReference<int[]>> {
        int[] get(int n) {
            SoftReference<int[]> ref = get();
            int[] a = ref == null ? null : ref.get();
            if (a == null || a.length < n) {
                a = new int[n];
                set(new SoftReference<>(a));
            }
            return a;
        }
    }

    static final class Bytes extends ThreadLocal<SoftReference<byte[]>> {
        byte[] get(int n) {
            SoftReference<byte[]> ref = get();
            byte[] a = ref == null ? null : ref.get();
            if (a == null || a.length < n) {
                a = new byte[n];
                set(new SoftReference<>(a));
            }
            return a;
        }
    }
}
