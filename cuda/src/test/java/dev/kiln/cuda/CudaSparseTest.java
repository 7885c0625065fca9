package dev.kiln.cuda;

import dev.kiln.kernels.OpKind;
import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.ArgSpec;
import dev.kiln.kernels.desc.DsmmDesc;
import dev.kiln.kernels.desc.GemmDesc;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.desc.SddmmDesc;
import dev.kiln.kernels.desc.SpmmDesc;
import dev.kiln.kernels.spi.KernelImpl;
import dev.kiln.kernels.spi.Support;
import dev.kiln.kernels.verify.Parity;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The sparse kernels without a GPU: what the device offers and declines (and why), the launch each descriptor
 * gets, its argument types against the PTX parameters, and every launch run through {@link CudaSparseModel}
 * (sparse.cu's index math and thread mapping, bounds-checked, one owner per output, race-checked shared tile)
 * against the reference, on the parity suite's cases and on shapes that reach the other paths.
 */
class CudaSparseTest {
    private static final Map<OpKind, List<KernelImpl>> KERNELS = CudaDevice.kernels(null, 8, false, null);
    private static final List<OpKind> SPARSE = List.of(OpKind.SPMM, OpKind.DSMM, OpKind.SDDMM);

    @Test void everySparseFamilyHasAKernelThatTakesEveryParityCase() {
        for (OpKind kind : SPARSE) {
            List<KernelImpl> impls = KERNELS.get(kind);
            assertEquals(1, impls.size(), kind.toString());
            assertEquals(CudaSparse.name(kind), impls.getFirst().name());
            for (OpDesc d : Parity.cases(kind, 0)) assertTrue(impls.getFirst().supports(d).ok(), d + ": " + impls.getFirst().supports(d).reason());
        }
    }

    @Test void declinesOtherFamiliesAndExtentsPast2To30WithTheNumbers() {
        KernelImpl spmm = KERNELS.get(OpKind.SPMM).getFirst();
        Support other = spmm.supports(DsmmDesc.times(2, 3, 4, 5));
        assertFalse(other.ok());
        assertEquals("cuda-spmm takes spmm descriptors, got dsmm.n", other.reason());
        assertFalse(KERNELS.get(OpKind.SDDMM).getFirst().supports(GemmDesc.of(2, 2, 2)).ok());
        Support wide = spmm.supports(SpmmDesc.csr(1, (1 << 30) + 1, 1, 1));
        assertFalse(wide.ok());
        assertTrue(wide.reason().contains("n=1073741825") && wide.reason().contains("2^30"), wide.reason());
        assertTrue(spmm.supports(SpmmDesc.csr(1, 1 << 30, 1, 1)).ok(), "2^30 itself is taken");
        Support deep = KERNELS.get(OpKind.SDDMM).getFirst().supports(SddmmDesc.of(1, 1, (1 << 30) + 4, 1));
        assertTrue(deep.reason().startsWith("cuda-sddmm") && deep.reason().contains("k=1073741828"), deep.reason());
    }

    @Test void spmmLaunchesAThreadPerRowAndFourColumnsAlongAPowerOfTwoOfLanes() {
        int[][] lanes = {{1, 1}, {4, 1}, {5, 2}, {8, 2}, {9, 4}, {65, 32}, {128, 32}, {4096, 32}};
        for (int[] l : lanes) assertEquals(l[1], CudaSparseLaunch.lanes(l[0]), "lanes for n=" + l[0]);
        CudaSparseLaunch csr = CudaSparseLaunch.of(SpmmDesc.csr(4096, 256, 4096, 1 << 20));
        assertEquals(new CudaSparseLaunch(CudaSparseLaunch.SPMM_CSR, 2, 512, 256,
                List.of(Arg.ROW_PTR, Arg.COL_IDX, Arg.VALUES, Arg.B, Arg.C, 4096, 256, 32)), csr);
        CudaSparseLaunch bsr = CudaSparseLaunch.of(SpmmDesc.bsr(64, 7, 48, 10, 4, 3));
        assertEquals(new CudaSparseLaunch(CudaSparseLaunch.SPMM_BSR, 1, 1, 256,
                List.of(Arg.ROW_PTR, Arg.COL_IDX, Arg.VALUES, Arg.B, Arg.C, 64, 7, 2, 4, 3)), bsr);
        CudaSparseLaunch twoFour = CudaSparseLaunch.of(SpmmDesc.twoFour(1000, 1, 8));
        assertEquals(new CudaSparseLaunch(CudaSparseLaunch.SPMM_24, 1, 4, 256, List.of(Arg.VALUES, Arg.META, Arg.B, Arg.C, 1000, 1, 8, 1)), twoFour);
        assertEquals(65535, CudaSparseLaunch.of(SpmmDesc.csr(20_000_000, 1, 2, 0)).gridY(), "rows past the grid loop");
    }

    @Test void longRowSpmvTakesAWarpPerRow() {
        CudaSparseLaunch warp = CudaSparseLaunch.of(SpmmDesc.csr(1000, 1, 1000, 16_000));
        assertEquals(new CudaSparseLaunch(CudaSparseLaunch.SPMV_CSR_WARP, 125, 1, 256, List.of(Arg.ROW_PTR, Arg.COL_IDX, Arg.VALUES, Arg.B, Arg.C, 1000)), warp);
        assertEquals(CudaSparseLaunch.SPMM_CSR, CudaSparseLaunch.of(SpmmDesc.csr(1000, 1, 1000, 15_999)).entry(), "15.999 per row: a thread per row");
        assertEquals(CudaSparseLaunch.SPMM_CSR, CudaSparseLaunch.of(SpmmDesc.csr(1000, 2, 1000, 100_000)).entry(), "n = 2 is not SpMV");
        assertEquals(CudaSparseLaunch.SPMM_BSR, CudaSparseLaunch.of(SpmmDesc.bsr(16, 1, 16, 16, 4, 4)).entry(), "BSR keeps its kernel");
    }

    @Test void denseTimesSparseLaunches() {
        assertEquals(new CudaSparseLaunch(CudaSparseLaunch.DSMM_T, 2, 16, 256, List.of(Arg.A, Arg.ROW_PTR, Arg.COL_IDX, Arg.VALUES, Arg.C, 64, 300, 257)),
                CudaSparseLaunch.of(DsmmDesc.timesTransposed(64, 300, 257, 7000)));
        assertEquals(32, CudaSparseLaunch.of(DsmmDesc.timesTransposed(3, 7, 5, 3)).threads(), "narrow C: one warp");
        assertEquals(new CudaSparseLaunch(CudaSparseLaunch.DSMM_N, 2, 2, 256, List.of(Arg.A, Arg.ROW_PTR, Arg.COL_IDX, Arg.VALUES, Arg.C, 9, 1500, 33, 8, 1024)),
                CudaSparseLaunch.of(DsmmDesc.times(9, 1500, 33, 400)));
        DsmmDesc one = DsmmDesc.times(1, 33, 7, 5);
        assertEquals(1, CudaSparseLaunch.dsmmRows(one));
        assertEquals(33, CudaSparseLaunch.dsmmCols(one));
    }

    @Test void sddmmTakesAWarpPerValueOnlyForRowMajorInputsWithLongRows() {
        assertEquals(new CudaSparseLaunch(CudaSparseLaunch.SDDMM_WARP, 964, 1, 256, List.of(Arg.A, Arg.B, Arg.ROW_PTR, Arg.COL_IDX, Arg.VALUES, 257, 64, 7710)),
                CudaSparseLaunch.of(SddmmDesc.of(257, 300, 64, 7710)));
        assertEquals(new CudaSparseLaunch(CudaSparseLaunch.SDDMM_THREAD, 31, 1, 256,
                        List.of(Arg.A, Arg.B, Arg.ROW_PTR, Arg.COL_IDX, Arg.VALUES, 257, 64, 7710, 1, 257, 1, 300)),
                CudaSparseLaunch.of(SddmmDesc.transposedInputs(257, 300, 64, 7710)), "A k x m, B k x n: strided by m and n");
        assertEquals(List.of(7, 31, 20, 31, 1, 31, 1), CudaSparseLaunch.of(SddmmDesc.of(7, 13, 31, 20)).args().subList(5, 12),
                "k < 32: a thread per value, row-major strides");
        assertNull(CudaSparseLaunch.of(SddmmDesc.of(5, 5, 5, 0)), "no stored values: nothing to launch");
    }

    /** Parity cases plus shapes for the paths they miss: column tiles, row groups, warp SpMV, BSR blocks, 2:4 mid-byte rows. */
    private static List<OpDesc> cases() {
        List<OpDesc> all = new ArrayList<>();
        for (OpKind kind : SPARSE) all.addAll(Parity.cases(kind, 0));
        all.addAll(List.of(
                SpmmDesc.csr(37, 1, 70, 37 * 40), SpmmDesc.csr(5, 1, 300, 1500), SpmmDesc.csr(9, 131, 20, 60),
                SpmmDesc.bsr(12, 9, 10, 9, 3, 2), SpmmDesc.bsr(8, 1, 16, 5, 1, 8), SpmmDesc.twoFour(7, 3, 4), SpmmDesc.twoFour(3, 40, 12),
                DsmmDesc.times(9, 2100, 40, 4000), DsmmDesc.times(17, 5, 70, 150), DsmmDesc.times(1, 1030, 3, 1030),
                DsmmDesc.timesTransposed(9, 260, 11, 700),
                SddmmDesc.of(40, 9, 33, 200), SddmmDesc.transposedInputs(40, 9, 33, 200), SddmmDesc.of(3, 300, 100, 700)));
        return all;
    }

    @Test void everyLaunchComputesTheReferenceInTheCpuModel() {
        SplittableRandom rnd = new SplittableRandom(8);
        Set<String> entries = new HashSet<>();
        int checked = 0;
        for (OpDesc d : cases()) {
            Map<Arg, Object> in = CudaSparseModel.operands(d, rnd);
            float[] expected = CudaSparseModel.reference(d, in);
            ArgSpec outSpec = d.args().stream().filter(s -> s.access().writes()).findFirst().orElseThrow();
            // The real grid, then grids of at most 2 blocks a dimension so that every grid-stride loop goes round.
            for (int maxGrid : new int[] {CudaSparseLaunch.MAX_GRID, 2}) {
                CudaSparseLaunch launch = CudaSparseLaunch.of(d, maxGrid);
                CudaSparseModel.Out out = new CudaSparseModel.Out(expected.length);
                if (launch == null) {
                    assertEquals(0, expected.length, d + " launches nothing but has outputs");
                    continue;
                }
                entries.add(launch.entry());
                CudaSparseModel.run(launch, in, outSpec.arg(), out);
                out.assertOwned(d + " " + launch.entry() + " maxGrid " + maxGrid);
                for (int i = 0; i < expected.length; i++)
                    if (!(Math.abs(out.data[i] - expected[i]) <= 1e-5f * (4 + Math.abs(expected[i]))))
                        fail(d + " " + launch.entry() + " maxGrid " + maxGrid + ": element " + i + " is " + out.data[i] + ", reference " + expected[i]);
                checked++;
            }
        }
        assertEquals(Set.copyOf(CudaSparseLaunch.ENTRIES), entries, "every kernel ran in the model");
        assertTrue(checked > 100, checked + " launches checked");
    }

    @Test void theHostSharesSparseCuConstants() throws IOException {
        String cu = java.nio.file.Files.readString(java.nio.file.Path.of("src/main/resources/dev/kiln/cuda/sparse.cu"));
        Map<String, Integer> constants = Map.of("SPMM_COLS", CudaSparseLaunch.SPMM_COLS, "DSMM_T_ROWS", CudaSparseLaunch.DSMM_T_ROWS,
                "DSMM_N_ROWS", CudaSparseLaunch.DSMM_N_ROWS, "DSMM_N_COLS", CudaSparseLaunch.DSMM_N_COLS,
                "DSMM_N_CHUNK", CudaSparseLaunch.DSMM_N_CHUNK);
        for (var c : constants.entrySet()) {
            Matcher m = Pattern.compile("#define " + c.getKey() + " +(\\d+)").matcher(cu);
            assertTrue(m.find(), c.getKey() + " in sparse.cu");
            assertEquals(c.getValue(), Integer.parseInt(m.group(1)), c.getKey());
        }
        assertTrue(CudaSparseLaunch.THREADS >= CudaSparseLaunch.DSMM_N_CHUNK, "dsmm_n looks up a chunk's rows with a thread each");
    }

    /** ".param .u64 name" per PTX parameter: the C types the kernel takes, in order. */
    private static final Pattern PARAM = Pattern.compile("\\.param\\s+\\.(\\w+)\\s+\\w+");

    @Test void argumentsMatchTheKernelParametersInThePtx() throws IOException {
        Properties marker = new Properties();
        try (InputStream in = DeviceCode.class.getResourceAsStream(DeviceCode.DIR + "device-code.properties")) {
            if (in != null) marker.load(in);
        }
        Assumptions.assumeTrue(Boolean.parseBoolean(marker.getProperty("built")), "CUDA device code not built: " + marker.getProperty("reason"));
        String ptx = new String(DeviceCode.ptx(DeviceCode.Family.SPARSE.resource(8)), StandardCharsets.US_ASCII);
        Set<String> seen = new HashSet<>();
        for (OpDesc d : cases()) {
            CudaSparseLaunch launch = CudaSparseLaunch.of(d);
            if (launch == null || !seen.add(launch.entry())) continue;
            int start = ptx.indexOf(".entry " + launch.entry() + "(");
            assertTrue(start >= 0, launch.entry() + " in sparse.ptx");
            Matcher m = PARAM.matcher(ptx.substring(start, ptx.indexOf(')', start)));
            List<String> params = new ArrayList<>();
            while (m.find()) params.add(m.group(1));
            List<String> packed = launch.args().stream().map(a -> switch (a) {
                case Arg ignored -> "u64";         // a device pointer
                case Integer ignored -> "u32";
                case Long ignored -> "u64";
                case Float ignored -> "f32";
                default -> "unsupported " + a.getClass();
            }).toList();
            assertEquals(params, packed, launch.entry() + ": PTX parameters versus the packed arguments");
        }
        assertEquals(Set.copyOf(CudaSparseLaunch.ENTRIES), seen);
    }
}
