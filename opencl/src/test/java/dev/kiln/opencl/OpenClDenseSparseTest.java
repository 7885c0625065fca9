package dev.kiln.opencl;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.DType;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.DsmmDesc;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.desc.SddmmDesc;
import dev.kiln.kernels.ref.RefKernels;
import dev.kiln.kernels.spi.DeviceKind;
import dev.kiln.kernels.spi.HostBuffer;
import dev.kiln.kernels.spi.Plan;
import org.jocl.CL;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.parallel.Isolated;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * Dense-times-sparse and SDDMM beyond the parity cases (which cover random masks from empty to full): masks
 * with empty and full rows and nearly empty and full columns together, which the device-side transpose of
 * dsmm.n must keep in order; bit-identical reruns; and the native objects each plan takes, on success and
 * when planning fails.
 */
@Isolated // reads the process-wide live-object counter
class OpenClDenseSparseTest {
    /**
     * A rows x cols CSR mask: row 0 and column 0 full, row 2 empty, column 1 empty below row 0 (in S^T, a
     * row with only its first entry), the rest at random with about a third kept. Returns {rowPtr, colIdx}.
     */
    static int[][] structuredMask(int rows, int cols, SplittableRandom rnd) {
        int[] rowPtr = new int[rows + 1];
        List<Integer> idx = new ArrayList<>();
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                boolean keep = r == 0 || c == 0 || rnd.nextInt(3) == 0;
                if ((r == 2 && rows > 3) || (c == 1 && cols > 2 && r != 0)) keep = false;
                if (keep) idx.add(c);
            }
            rowPtr[r + 1] = idx.size();
        }
        return new int[][] {rowPtr, idx.stream().mapToInt(Integer::intValue).toArray()};
    }

    @Test void structuredMasksMatchTheReferenceAndRerunBitIdentically() {
        try (OpenClDevice device = OpenClTesting.firstDevice()) {
            SplittableRandom rnd = new SplittableRandom(41);
            int m = 9, n = 37, k = 70;
            // dsmm.t and dsmm.n, each with the vector product over transposed A and with A read in place; dsmm.n
            // with S transposed by the serial counting sort (CPU drivers) and by the per-block kernels (GPUs).
            for (int variant = 0; variant < 5; variant++) {
                boolean transposed = variant < 2, inPlace = variant % 2 == 1, serial = variant != 4;
                DsmmDesc probe = new DsmmDesc(transposed, m, n, k, 0);
                int[][] mask = structuredMask(probe.sparseRows(), probe.sparseCols(), rnd);
                DsmmDesc d = new DsmmDesc(transposed, m, n, k, mask[1].length);
                float[] a = OpenClResourceTest.random(rnd, m * k), values = OpenClResourceTest.random(rnd, d.nnz());
                float[] want = new float[m * n];
                RefKernels.run(d, Args.of(Arg.A, HostBuffer.wrap(a), Arg.ROW_PTR, HostBuffer.wrap(mask[0]),
                        Arg.COL_IDX, HostBuffer.wrap(mask[1]), Arg.VALUES, HostBuffer.wrap(values)).put(Arg.C, HostBuffer.wrap(want)));
                float[][] got = new float[2][m * n];
                try (var da = device.allocate(DType.F32, a.length); var dp = device.allocate(DType.S32, mask[0].length);
                     var di = device.allocate(DType.S32, d.nnz()); var dv = device.allocate(DType.F32, d.nnz());
                     var dc = device.allocate(DType.F32, m * n);
                     Plan plan = new OpenClDsmm(device).plan(d, inPlace ? 0 : OpenClDsmm.SCRATCH_MIB << 20, serial)) {
                    assertEquals("opencl-" + d.opName().replace('.', '-') + (inPlace ? "-in-place" : ""), plan.implementation());
                    da.copyFrom(a);
                    dp.copyFrom(mask[0]);
                    di.copyFrom(mask[1]);
                    dv.copyFrom(values);
                    for (float[] run : got) {
                        dc.copyFrom(nans(m * n));
                        plan.execute(device.defaultStream(), Args.of(Arg.A, da, Arg.ROW_PTR, dp, Arg.COL_IDX, di, Arg.VALUES, dv).put(Arg.C, dc));
                        device.defaultStream().synchronize();
                        dc.copyTo(run);
                    }
                }
                close(d.opName() + (inPlace ? " in place" : "") + (serial ? "" : " per-block transpose"), want, got[0], k);
                assertArrayEquals(got[0], got[1], d.opName() + ": a rerun gives the same bits");
            }
            // sddmm, sddmm.t through transposed scratch, and sddmm.t read in place (forced by a zero scratch limit).
            for (int variant = 0; variant < 3; variant++) {
                int[][] mask = structuredMask(m, n, rnd);
                SddmmDesc d = new SddmmDesc(variant > 0, m, n, k, mask[1].length);
                float[] a = OpenClResourceTest.random(rnd, m * k), b = OpenClResourceTest.random(rnd, n * k);
                float[] want = new float[d.nnz()], got = new float[d.nnz()];
                RefKernels.run(d, Args.of(Arg.A, HostBuffer.wrap(a), Arg.B, HostBuffer.wrap(b), Arg.ROW_PTR, HostBuffer.wrap(mask[0]),
                        Arg.COL_IDX, HostBuffer.wrap(mask[1])).put(Arg.VALUES, HostBuffer.wrap(want)));
                try (var da = device.allocate(DType.F32, a.length); var db = device.allocate(DType.F32, b.length);
                     var dp = device.allocate(DType.S32, mask[0].length); var di = device.allocate(DType.S32, d.nnz());
                     var dv = device.allocate(DType.F32, d.nnz());
                     Plan plan = new OpenClSddmm(device).plan(d, variant == 2 ? 0 : OpenClSddmm.SCRATCH_MIB << 20)) {
                    assertEquals(List.of("opencl-sddmm", "opencl-sddmm-t", "opencl-sddmm-t-in-place").get(variant), plan.implementation());
                    da.copyFrom(a);
                    db.copyFrom(b);
                    dp.copyFrom(mask[0]);
                    di.copyFrom(mask[1]);
                    dv.copyFrom(nans(d.nnz()));
                    plan.execute(device.defaultStream(), Args.of(Arg.A, da, Arg.B, db, Arg.ROW_PTR, dp, Arg.COL_IDX, di).put(Arg.VALUES, dv));
                    device.defaultStream().synchronize();
                    dv.copyTo(got);
                }
                close(plan(variant), want, got, k);
            }
        }
    }

    private static String plan(int variant) { return List.of("sddmm", "sddmm.t", "sddmm.t in place").get(variant); }

    /** f32 sums of k products of values in [-1, 1] against the double reference. */
    private static void close(String op, float[] want, float[] got, int k) {
        for (int i = 0; i < want.length; i++)
            assertEquals(want[i], got[i], 4e-6 * k, op + " element " + i);
    }

    private static float[] nans(int n) {
        float[] x = new float[n];
        Arrays.fill(x, Float.NaN);
        return x;
    }

    @Test void plansGiveBackTheirKernelsAndScratch() {
        try (OpenClDevice device = OpenClTesting.firstDevice()) {
            long kernels = ClLive.live(ClLive.Kind.KERNEL), mems = ClLive.live(ClLive.Kind.MEM);
            List<OpDesc> descs = List.of(DsmmDesc.times(3, 5, 7, 4), DsmmDesc.timesTransposed(3, 5, 7, 4),
                    SddmmDesc.of(3, 5, 7, 0), SddmmDesc.transposedInputs(3, 5, 7, 4));
            // dsmm.n: the transpose of S (one serial kernel on CPU drivers, three on GPUs), A's transpose, the product.
            int[] heldKernels = {device.kind() == DeviceKind.CPU ? 3 : 5, 2, 1, 2}, heldScratch = {4, 1, 0, 2};
            for (int i = 0; i < descs.size(); i++) {
                OpDesc d = descs.get(i);
                Plan plan = OpenClTesting.firstSupporting(device, d).plan(d);
                assertEquals(kernels + heldKernels[i], ClLive.live(ClLive.Kind.KERNEL), d.opName() + " kernels while planned");
                assertEquals(mems + heldScratch[i], ClLive.live(ClLive.Kind.MEM), d.opName() + " scratch while planned");
                plan.close();
                assertEquals(kernels, ClLive.live(ClLive.Kind.KERNEL), d.opName() + " kernels after close");
                assertEquals(mems, ClLive.live(ClLive.Kind.MEM), d.opName() + " scratch after close");
            }
        }
    }

    /** dsmm.n whose S^T scratch cannot be allocated: the error names clCreateBuffer, and nothing taken is kept. */
    @Test void aFailedPlanReleasesWhatItTook() {
        try (OpenClDevice device = OpenClTesting.firstDevice()) {
            DsmmDesc huge = DsmmDesc.times(1, 65536, 65536, Integer.MAX_VALUE);
            long maxAlloc = ClInfo.deviceLong(device.id(), CL.CL_DEVICE_MAX_MEM_ALLOC_SIZE);
            Assumptions.assumeTrue(maxAlloc < 4L * huge.nnz(), "the device could allocate " + 4L * huge.nnz() + " bytes (max "
                    + maxAlloc + "), so the scratch allocation would not fail");
            long kernels = ClLive.live(ClLive.Kind.KERNEL), mems = ClLive.live(ClLive.Kind.MEM);
            OpenClException e = assertThrows(OpenClException.class, () -> OpenClTesting.firstSupporting(device, huge).plan(huge));
            assertEquals("clCreateBuffer", e.op());
            assertEquals(kernels, ClLive.live(ClLive.Kind.KERNEL), "kernels released: " + ClLive.summary());
            assertEquals(mems, ClLive.live(ClLive.Kind.MEM), "scratch released: " + ClLive.summary());
        }
    }
}
