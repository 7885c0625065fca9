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
