package dev.kiln.cpu.conv;

import dev.kiln.cpu.CpuThreads;
import dev.kiln.cpu.VectorSupport;
import dev.kiln.cpu.Width;
import dev.kiln.kernels.Args;
import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.PixelShuffleDesc;
import dev.kiln.kernels.ref.RefKernels;
import dev.kiln.kernels.spi.HostBuffer;
import dev.kiln.kernels.spi.Plan;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/**
 * {@link VectorPixelShuffle} against the reference, bit for bit (a permutation), on rows long enough for several
 * vectors plus a tail at every width up to the hardware's (the shared parity list has rows shorter than one
 * 512-bit vector for unshuffle): factor 2 (the lane-shuffle path) and 3 (element by element), both directions,
 * native buffers and heap arrays (staged), 1 and 2 threads, outputs poisoned with NaN first.
 */
class PixelShuffleTest {
    private static final List<PixelShuffleDesc> CASES = List.of(
            new PixelShuffleDesc(2, 12, 5, 37, 2, false), new PixelShuffleDesc(2, 3, 10, 74, 2, true),
            new PixelShuffleDesc(1, 4, 3, 64, 2, false), new PixelShuffleDesc(3, 2, 6, 66, 2, true),
            new PixelShuffleDesc(2, 18, 4, 19, 3, false), new PixelShuffleDesc(1, 2, 9, 57, 3, true));

    @TestFactory Stream<DynamicTest> matchesReferenceAtEveryWidth() {
        Assumptions.assumeTrue(VectorSupport.status().ok(), () -> "vector kernels off: " + VectorSupport.status().reason());
        List<DynamicTest> tests = new ArrayList<>();
        for (int bits = 128; bits <= VectorSupport.hardwareBits(); bits *= 2)
            for (PixelShuffleDesc d : CASES)
                for (boolean heap : new boolean[] {false, true})
                    for (int threads : new int[] {1, 2}) {
                        Width w = Width.of(bits);
                        tests.add(DynamicTest.dynamicTest(bits + "-bit " + d.opName() + " " + d.shape() + (heap ? " heap" : " native") + " " + threads + "t",
                                () -> assertArrayEquals(reference(d), run(w, d, heap, threads))));
                    }
        return tests.stream();
    }

    private static float[] input(PixelShuffleDesc d) {
        SplittableRandom r = new SplittableRandom(d.hashCode());
        float[] x = new float[Math.toIntExact(d.count())];
        for (int i = 0; i < x.length; i++) x[i] = (float) (r.nextDouble() * 2 - 1);
        return x;
    }

    private static float[] reference(PixelShuffleDesc d) {
        float[] out = new float[Math.toIntExact(d.count())];
        Arrays.fill(out, Float.NaN);
        Args a = Args.of().put(Arg.SRC, HostBuffer.wrap(input(d))).put(Arg.DST, HostBuffer.wrap(out));
        try (Plan p = RefKernels.impl(OpKind.PIXEL_SHUFFLE).plan(d)) {
            p.execute(null, a);
        }
        return out;
    }

    private static float[] run(Width w, PixelShuffleDesc d, boolean heap, int threads) {
        int before = CpuThreads.threads();
        CpuThreads.setThreads(threads);
        try (Arena arena = Arena.ofShared()) { // shared: the pool's threads read and write it
            float[] x = input(d), out = new float[x.length];
            Arrays.fill(out, Float.NaN);
            MemorySegment src = heap ? MemorySegment.ofArray(x) : arena.allocate(4L * x.length, 64).copyFrom(MemorySegment.ofArray(x));
            MemorySegment dst = heap ? MemorySegment.ofArray(out) : arena.allocate(4L * x.length, 64).copyFrom(MemorySegment.ofArray(out));
            VectorPixelShuffle.run(w, d, Args.of().put(Arg.SRC, HostBuffer.wrap(src, d.dtype())).put(Arg.DST, HostBuffer.wrap(dst, d.dtype())));
            return heap ? out : dst.toArray(ValueLayout.JAVA_FLOAT);
        } finally {
            CpuThreads.setThreads(before);
        }
    }
}
