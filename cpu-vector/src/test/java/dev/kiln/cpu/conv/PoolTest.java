package dev.kiln.cpu.conv;

import dev.kiln.cpu.CpuDevice;
import dev.kiln.cpu.VectorSupport;
import dev.kiln.cpu.Width;
import dev.kiln.kernels.desc.Pass;
import dev.kiln.kernels.desc.PoolDesc;
import dev.kiln.kernels.desc.PoolDesc.PoolKind;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;


/**
 * VectorPool's backward passes beside ConvParityTest's shared list, above all average backward gathered from
 * the windows covering each dX row (windows that overlap, are padded or leave gaps) and max backward: against
 * the reference at every width the hardware has (128, 256, 512 bits, forced in this one JVM: small shapes, so
 * the slower several-width compiles do not matter), at awkward sizes that leave a scalar tail after the last
 * vector of a row, rows narrower than a vector (the scalar scatter at the wider widths), ragged edges and rows
 * no window covers; and on 1 and 2 threads, bit for bit.
 */
class PoolTest {
    static List<PoolDesc> cases() {
        List<PoolDesc> list = new ArrayList<>();
        for (PoolKind kind : PoolKind.values())
            for (Pass pass : Pass.values()) {
                list.add(new PoolDesc(kind, 2, 3, 33, 57, 3, 3, 2, 2, 1, 1, false, pass)); // ResNet stem pool
                list.add(new PoolDesc(kind, 1, 2, 7, 33, 3, 3, 2, 2, 1, 1, true, pass));
                list.add(new PoolDesc(kind, 1, 2, 57, 7, 3, 3, 2, 2, 1, 1, false, pass)); // rows of 7: < 1 vector at 256/512
                list.add(PoolDesc.of(kind, 2, 3, 57, 33, 2, 2, 0).withPass(pass)); // tiling, ragged last row and column
                list.add(PoolDesc.of(kind, 1, 2, 7, 57, 2, 2, 0).withPass(pass));
                list.add(new PoolDesc(kind, 2, 2, 33, 33, 3, 3, 1, 1, 1, 1, false, pass)); // overlapping, padded
                list.add(new PoolDesc(kind, 1, 3, 7, 57, 3, 3, 1, 1, 0, 0, true, pass)); // overlapping, unpadded
                list.add(new PoolDesc(kind, 1, 2, 17, 40, 2, 2, 3, 3, 0, 0, true, pass)); // gaps: rows and columns no window covers
                list.add(new PoolDesc(kind, 1, 2, 19, 41, 3, 2, 1, 2, 1, 0, false, pass)); // kh != kw, strides differ
            }
        return list;
    }

    /**
     * Planes whose output rows are narrower than a vector at some width (PoolNarrow: one or two output rows per
     * vector): the awkward sides 1, 2, 7, 13, 14, 28, 29, 33 with N 1 or 3 and C 1 or 5, tiling 2x2 and 3x3 windows
     * (ragged edges), overlapping 2x2 stride 1, 1x2 rows (h = 1), 2x2 with a padded top row, and one padded-column
     * case that must stay on VectorPool's own path; forward and backward; and max forward without INDICES.
     */
    static List<PoolDesc> narrowCases() {
        List<PoolDesc> list = new ArrayList<>();
        int[][] sides = {{2, 2}, {7, 7}, {13, 13}, {14, 14}, {28, 28}, {29, 29}, {33, 33}, {28, 7}, {7, 29}, {13, 33}};
        for (PoolKind kind : PoolKind.values())
            for (Pass pass : Pass.values()) {
                for (int i = 0; i < sides.length; i++) {
                    int n = i % 2 == 0 ? 1 : 3, c = i % 3 == 0 ? 1 : 5, h = sides[i][0], w = sides[i][1];
                    list.add(PoolDesc.of(kind, n, c, h, w, 2, 2, 0).withPass(pass));
                }
                list.add(PoolDesc.of(kind, 3, 5, 14, 14, 3, 3, 0).withPass(pass)); // tiling 3x3, ragged
                list.add(PoolDesc.of(kind, 1, 5, 29, 13, 3, 3, 0).withPass(pass));
                list.add(PoolDesc.of(kind, 3, 1, 7, 7, 1, 1, 0).withPass(pass)); // 1x1: a copy, and every index its own
                list.add(new PoolDesc(kind, 3, 5, 13, 14, 2, 2, 1, 1, 0, 0, false, pass)); // overlapping windows
                list.add(new PoolDesc(kind, 1, 5, 1, 29, 1, 2, 1, 2, 0, 0, false, pass)); // h = 1: 1D pooling
                list.add(new PoolDesc(kind, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0, false, pass)); // 1x1 planes
                list.add(new PoolDesc(kind, 1, 5, 13, 14, 2, 2, 2, 2, 1, 0, true, pass)); // padded top row (scalar), columns unpadded
                list.add(new PoolDesc(kind, 3, 1, 7, 7, 3, 3, 2, 2, 1, 1, false, pass)); // padded columns: VectorPool's path
            }
        // max forward without INDICES (inference): narrow rows, wide rows with padded borders, the scalar path
        list.add(PoolDesc.of(PoolKind.MAX, 3, 5, 28, 28, 2, 2, 0).withoutIndices());
        list.add(PoolDesc.of(PoolKind.MAX, 1, 5, 13, 29, 3, 3, 0).withoutIndices());
        list.add(new PoolDesc(PoolKind.MAX, 2, 3, 33, 57, 3, 3, 2, 2, 1, 1, false, Pass.FORWARD).withoutIndices());
        list.add(new PoolDesc(PoolKind.MAX, 1, 2, 9, 11, 3, 3, 2, 2, 1, 1, false, Pass.FORWARD).withoutIndices());
        return list;
    }

    @TestFactory Stream<DynamicTest> narrowPlanesMatchReferenceAtEveryWidth() {
        Assumptions.assumeTrue(VectorSupport.status().ok(), () -> "vector kernels off: " + VectorSupport.status().reason());
        List<DynamicTest> tests = new ArrayList<>();
        CpuDevice device = new CpuDevice();
        for (int bits : new int[] {128, 256, 512}) {
            if (bits > VectorSupport.hardwareBits()) continue; // said once by matchReferenceAtEveryWidth
            ConvParityTest.add(tests, device, ConvImpls.pool(Width.of(bits)), narrowCases(), 7700 + bits);
        }
        return tests.stream();
    }

    /** The cnn's narrow planes split over threads (many planes per task boundary), 1 and 2 threads bit for bit. */
    @TestFactory Stream<DynamicTest> narrowPlanesOneAndTwoThreadsAgree() {
        Assumptions.assumeTrue(VectorSupport.status().ok(), () -> "vector kernels off: " + VectorSupport.status().reason());
        Width w = VectorSupport.width();
        List<PoolDesc> list = new ArrayList<>();
        for (PoolKind kind : PoolKind.values())
            for (Pass pass : Pass.values()) {
                list.add(PoolDesc.of(kind, 4, 32, 28, 28, 2, 2, 0).withPass(pass));
                list.add(PoolDesc.of(kind, 4, 64, 14, 14, 2, 2, 0).withPass(pass));
                list.add(PoolDesc.of(kind, 3, 40, 13, 29, 2, 2, 0).withPass(pass));
            }
        return list.stream().map(d -> DynamicTest.dynamicTest(d.pool() + " " + d.pass() + " " + d.shape(), () -> ConvThreadsTest.check(w, d)));
    }

    @TestFactory Stream<DynamicTest> matchReferenceAtEveryWidth() {
        Assumptions.assumeTrue(VectorSupport.status().ok(), () -> "vector kernels off: " + VectorSupport.status().reason());
        List<DynamicTest> tests = new ArrayList<>();
        CpuDevice device = new CpuDevice();
        for (int bits : new int[] {128, 256, 512}) {
            if (bits > VectorSupport.hardwareBits()) {
                System.out.println("PoolTest: " + bits + "-bit widths skipped, the hardware's widest are " + VectorSupport.hardwareBits() + " bits");
                continue;
            }
            ConvParityTest.add(tests, device, ConvImpls.pool(Width.of(bits)), cases(), 7100 + bits);
        }
        return tests.stream();
    }

    /** Many planes, so that the plane tasks split across the threads; outputs poisoned differently before each run. */
    @TestFactory Stream<DynamicTest> oneAndTwoThreadsAgree() {
        Assumptions.assumeTrue(VectorSupport.status().ok(), () -> "vector kernels off: " + VectorSupport.status().reason());
        Width w = VectorSupport.width();
        List<PoolDesc> list = new ArrayList<>();
        for (PoolKind kind : PoolKind.values()) {
            list.add(new PoolDesc(kind, 8, 16, 33, 57, 3, 3, 2, 2, 1, 1, false, Pass.BACKWARD));
            list.add(new PoolDesc(kind, 4, 16, 33, 33, 3, 3, 1, 1, 1, 1, true, Pass.BACKWARD));
        }
        list.add(PoolDesc.of(PoolKind.MAX, 8, 16, 28, 28, 2, 2, 0).withPass(Pass.BACKWARD));
        return list.stream().map(d -> DynamicTest.dynamicTest(d.pool() + " " + d.shape(), () -> ConvThreadsTest.check(w, d)));
    }
}
