package dev.kiln.cuda;

import dev.kiln.kernels.desc.Arg;
import dev.kiln.kernels.desc.DsmmDesc;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.desc.SddmmDesc;
import dev.kiln.kernels.desc.SpmmDesc;

import java.util.List;

/**
 * The launch of a {@code sparse.cu} kernel worked out on the host from the descriptor alone: entry, grid,
 * block and the arguments in the kernel's parameter order, operands named by their {@link Arg} (bound to the
 * plan's buffers at execution). Plain data and no JCuda class, so tests check shapes and argument order
 * without a GPU, and {@link DeviceCode} can list the entries before any native code loads.
 *
 * <p>The choices (see sparse.cu for the thread mappings):
 * <ul>
 * <li>SpMM: a thread per row and {@value #SPMM_COLS} columns, {@code lanes} threads wide along n (the power of
 *     two covering n / {@value #SPMM_COLS}, at most 32); CSR SpMV (n = 1) with rows of {@value #WARP_ROW_NNZ}
 *     or more stored values on average takes a warp per row instead.</li>
 * <li>DSMM with S^T: a thread per column of C and {@value #DSMM_T_ROWS} rows of A.</li>
 * <li>DSMM with S: a block per tile of up to {@value #DSMM_N_ROWS} x {@value #DSMM_N_COLS} of C in shared memory.</li>
 * <li>SDDMM: a warp per stored value for row-major inputs with k >= 32, else a thread per stored value.</li>
 * </ul>
 */
record CudaSparseLaunch(String entry, int gridX, int gridY, int threads, List<Object> args) {
    // Kernel names, as sparse.cu declares them (extern "C"); DeviceCodeTest checks them against the PTX.
    static final String SPMM_CSR = "spmm_csr", SPMM_BSR = "spmm_bsr", SPMM_24 = "spmm_24", SPMV_CSR_WARP = "spmv_csr_warp";
    static final String DSMM_T = "dsmm_t", DSMM_N = "dsmm_n", SDDMM_THREAD = "sddmm_thread", SDDMM_WARP = "sddmm_warp";
    static final List<String> ENTRIES = List.of(SPMM_CSR, SPMM_BSR, SPMM_24, SPMV_CSR_WARP, DSMM_T, DSMM_N, SDDMM_THREAD, SDDMM_WARP);

    /** Threads per block of every sparse kernel (dsmm_n needs at least DSMM_N_CHUNK). */
    static final int THREADS = 256;
    /** SPMM_COLS, DSMM_T_ROWS, DSMM_N_ROWS, DSMM_N_COLS and DSMM_N_CHUNK of sparse.cu. */
    static final int SPMM_COLS = 4, DSMM_T_ROWS = 4, DSMM_N_ROWS = 8, DSMM_N_COLS = 1024, DSMM_N_CHUNK = 32;
    /** Stored values per row, on average, from which CSR SpMV takes a warp per row. */
    static final int WARP_ROW_NNZ = 16;
    /** Reduction length from which row-major SDDMM takes a warp per stored value. */
    static final int WARP_K = 32;
    /** The grid dimensions the kernels loop over (grid-stride) beyond: within CUDA's y limit, plenty for x. */
    static final int MAX_GRID = 65535;
    /**
     * The largest m, n, k and nnz taken: the kernels index with 32-bit ints, and a grid-stride step (up to
     * MAX_GRID x THREADS) or a column tile's overhang added to an index below 2^30 stays below 2^31.
     */
    static final int MAX_EXTENT = 1 << 30;

    CudaSparseLaunch {
        assert gridX >= 1 && gridY >= 1 && gridY <= MAX_GRID : entry + " grid " + gridX + "x" + gridY;
        args = List.copyOf(args);
    }

    /** The launch for {@code d} (an SpmmDesc, DsmmDesc or SddmmDesc), or null when there is nothing to compute. */
    static CudaSparseLaunch of(OpDesc d) { return of(d, MAX_GRID); }

    /** As {@link #of(OpDesc)} with grids capped at {@code maxGrid} blocks per dimension (tests force the loops). */
    static CudaSparseLaunch of(OpDesc d, int maxGrid) {
        return switch (d) {
            case SpmmDesc s -> spmm(s, maxGrid);
            case DsmmDesc s -> s.transposeSparse() ? dsmmT(s, maxGrid) : dsmmN(s, maxGrid);
            case SddmmDesc s -> sddmm(s, maxGrid);
            default -> throw new IllegalArgumentException("cuda-sparse: not a sparse descriptor: " + d.opName());
        };
    }

    /** Threads along n in the spmm kernels: the power of two covering n / SPMM_COLS, 1 to 32. */
    static int lanes(int n) {
        int perThread = Math.ceilDiv(n, SPMM_COLS);
        return Math.min(32, perThread <= 1 ? 1 : Integer.highestOneBit(perThread - 1) << 1);
    }

    /** Whether CSR SpMV takes the warp-per-row kernel: n = 1 and rows long enough to share between lanes. */
    static boolean warpPerRow(SpmmDesc d) {
        return d.format() == SpmmDesc.SparseFormat.CSR && d.n() == 1 && d.nnz() >= (long) WARP_ROW_NNZ * d.m();
    }

    private static CudaSparseLaunch spmm(SpmmDesc d, int maxGrid) {
        int m = d.m(), n = d.n();
        if (warpPerRow(d))
            return new CudaSparseLaunch(SPMV_CSR_WARP, grid(m, THREADS / 32, maxGrid), 1, THREADS,
                    List.of(Arg.ROW_PTR, Arg.COL_IDX, Arg.VALUES, Arg.B, Arg.C, m));
        int lanes = lanes(n);
        int gridX = Math.ceilDiv(n, lanes * SPMM_COLS), gridY = grid(m, THREADS / lanes, maxGrid);
        // Column tiles are not looped over: n <= MAX_EXTENT keeps gridX within CUDA's x limit (2^31-1).
        return switch (d.format()) {
            case CSR -> new CudaSparseLaunch(SPMM_CSR, gridX, gridY, THREADS, List.of(Arg.ROW_PTR, Arg.COL_IDX, Arg.VALUES, Arg.B, Arg.C, m, n, lanes));
            case BSR -> new CudaSparseLaunch(SPMM_BSR, gridX, gridY, THREADS,
                    List.of(Arg.ROW_PTR, Arg.COL_IDX, Arg.VALUES, Arg.B, Arg.C, m, n, lanes, d.blockRows(), d.blockCols()));
            case TWO_FOUR -> new CudaSparseLaunch(SPMM_24, gridX, gridY, THREADS, List.of(Arg.VALUES, Arg.META, Arg.B, Arg.C, m, n, d.k(), lanes));
        };
    }

    /** dsmm_t: threads along n (32 to 256, as n needs), DSMM_T_ROWS rows of A per thread. */
    private static CudaSparseLaunch dsmmT(DsmmDesc d, int maxGrid) {
        int threads = Math.clamp(Integer.highestOneBit(Math.max(1, d.n() - 1)) << 1, 32, THREADS);
        return new CudaSparseLaunch(DSMM_T, Math.ceilDiv(d.n(), threads), grid(d.m(), DSMM_T_ROWS, maxGrid), threads,
                List.of(Arg.A, Arg.ROW_PTR, Arg.COL_IDX, Arg.VALUES, Arg.C, d.m(), d.n(), d.k()));
    }

    /** dsmm_n: tiles of rowsPerBlock x tileCols; column tiles along x, row groups along y (grid-stride). */
    private static CudaSparseLaunch dsmmN(DsmmDesc d, int maxGrid) {
        int rows = dsmmRows(d), cols = dsmmCols(d);
        return new CudaSparseLaunch(DSMM_N, Math.ceilDiv(d.n(), cols), grid(d.m(), rows, maxGrid), THREADS,
                List.of(Arg.A, Arg.ROW_PTR, Arg.COL_IDX, Arg.VALUES, Arg.C, d.m(), d.n(), d.k(), rows, cols));
    }

    /** Rows of C per dsmm_n block: up to DSMM_N_ROWS (each stored value is used for all of them). */
    static int dsmmRows(DsmmDesc d) { return Math.min(d.m(), DSMM_N_ROWS); }

    /**
     * Columns of C per dsmm_n block: up to DSMM_N_COLS, so a wide C gives several blocks even for one row of A
     * (a tile narrower than n costs two binary searches per sparse row).
     */
    static int dsmmCols(DsmmDesc d) { return Math.min(d.n(), DSMM_N_COLS); }

    private static CudaSparseLaunch sddmm(SddmmDesc d, int maxGrid) {
        int m = d.m(), n = d.n(), k = d.k(), nnz = d.nnz();
        if (nnz == 0) return null;
        if (!d.reduceOverRows() && k >= WARP_K)
            return new CudaSparseLaunch(SDDMM_WARP, grid(nnz, THREADS / 32, maxGrid), 1, THREADS,
                    List.of(Arg.A, Arg.B, Arg.ROW_PTR, Arg.COL_IDX, Arg.VALUES, m, k, nnz));
        // A'[row][p] = A[row * aRow + p * aStep]: A is k x m (aRow 1, aStep m) when reducing over rows, else m x k.
        int aRow = d.reduceOverRows() ? 1 : k, aStep = d.reduceOverRows() ? m : 1;
        int bRow = d.reduceOverRows() ? 1 : k, bStep = d.reduceOverRows() ? n : 1;
        return new CudaSparseLaunch(SDDMM_THREAD, grid(nnz, THREADS, maxGrid), 1, THREADS,
                List.of(Arg.A, Arg.B, Arg.ROW_PTR, Arg.COL_IDX, Arg.VALUES, m, k, nnz, aRow, aStep, bRow, bStep));
    }

    /** Blocks for {@code items} at {@code perBlock} per block, at least one, at most {@code maxGrid}. */
    private static int grid(long items, int perBlock, int maxGrid) {
        return (int) Math.clamp(Math.ceilDiv(items, perBlock), 1, maxGrid);
    }
}
