package dev.kiln.opencl;

import dev.kiln.kernels.DType;
import dev.kiln.kernels.spi.DeviceKind;

import java.util.List;

/**
 * One build of gemm.cl: a register tile of {@code rows} x {@code vectors} 512-bit vectors (float16 or
 * double8) per work-item, a k block ({@code kBlock} > 0: the work-group steps through k together behind a
 * barrier, so a CPU driver keeps the block's panels in cache; 0: one pass) and a work-group of
 * {@code groupX} x {@code groupY} work-items; {@code packB}: the plan first copies op(B) into contiguous
 * column panels of the tile's width (gemm.cl's GEMM_PACK_B) and the GEMM reads those. Names read
 * {@code rows x columns[k block][p]}, e.g. {@code 8x32k256} or, packing B, {@code 6x64p} for f32.
 */
record GemmVariant(int rows, int vectors, int kBlock, int groupX, int groupY, boolean packB) {
    GemmVariant {
        if (!List.of(1, 2, 4, 6, 8, 12, 14).contains(rows) || vectors < 1 || vectors > 4 || kBlock < 0 || groupX < 1 || groupY < 1)
            throw new IllegalArgumentException("opencl gemm: no variant with rows=" + rows + " vectors=" + vectors
                    + " kBlock=" + kBlock + " group=" + groupX + "x" + groupY + " (rows 1, 2, 4, 6, 8, 12 or 14; vectors 1-4)");
    }

    GemmVariant(int rows, int vectors, int kBlock, int groupX, int groupY) { this(rows, vectors, kBlock, groupX, groupY, false); }

    /** Rows of B one work-item of the pack kernel copies (gemm.cl's GEMM_PACK_ROWS). */
    static final int PACK_ROWS = 64;

    /** The tile of the kernel that was used before variants: 8 x 1 vector, one pass, groups of 16 x 4. */
    static final GemmVariant PLAIN = new GemmVariant(8, 1, 0, 16, 4);

    /**
     * What the autotuner tries. On POCL 3.1 (Zen 5 EPYC, AVX-512; 2026-11-23 on a heavily loaded machine, so
     * per-core rates from the driver threads' CPU time, single-threaded, at 1024^3 / 2048^3): 8x16 ~65/60
     * GFLOP/s, 8x32k256 ~130/120, 12x32k256 ~120/125, 6x64k256 with groups of 1x16 ~145/155 (consecutive
     * work-items share one B panel, which then stays in L1), 12x32 one pass ~110/110. OpenBLAS 0.3.21's
     * SkylakeX kernel measured the same way: ~200/210. Later (14:40-15:00, load 12-16, one process alternating,
     * per CPU-second including the pack): a vector store in the epilogue +4-10% for every variant; B packed
     * (6x64k256p) over 6x64k256 about +10% at 2048^3 and 1024^3; packed B without k blocks (6x64p, no barrier,
     * the panel being one contiguous stream already) another +10-15% at both: ~190-225 per core at 1024^3 and
     * 2048^3, OpenBLAS SkylakeX ~200-220 in the same minutes; with groups of 1x64 instead of 1x16 (64 items in
     * a row share each panel while it is in cache) +7% at 2048^3 and +2% at 1024^3 (POCL threads' medians
     * 221-225 and 221-223 per core at 15:24). Packing A as well, k blocks of 64 to 192 with
     * packed B, groups of 1x8 or 1x32, 8x48 or 12x32 tiles, swapping the grid so consecutive groups share a B
     * panel, one launch per k block, and unrolling the k loop by 2 or 4 gained nothing measurable.
     */
    static final List<GemmVariant> CANDIDATES = List.of(
            PLAIN,
            new GemmVariant(4, 1, 256, 8, 8),
            new GemmVariant(8, 2, 256, 4, 8),
            new GemmVariant(12, 2, 256, 2, 8),
            new GemmVariant(6, 4, 256, 1, 16),
            new GemmVariant(12, 2, 0, 1, 16),
            new GemmVariant(6, 4, 0, 1, 64, true));

    /**
     * Without tuning: on a CPU-type device whose preferred float vector is 16 wide (AVX-512) 6 x 4 vectors
     * reading B packed, in one pass over k (24 accumulators + 4 B vectors + a broadcast in 32 registers; the
     * best at every size measured); on narrower CPUs 4 x 1, whose 4 float16 accumulators fit 16 AVX2
     * registers; on GPUs and accelerators the plain 8 x 1 tile.
     */
    static GemmVariant defaultFor(DeviceKind kind, int preferredFloatWidth) {
        if (kind != DeviceKind.CPU) return PLAIN;
        return preferredFloatWidth >= 16 ? CANDIDATES.get(6) : CANDIDATES.get(1);
    }

    static GemmVariant defaultFor(OpenClDevice device) { return defaultFor(device.kind(), device.preferredFloatWidth()); }

    /** Elements per vector: 16 floats or 8 doubles. */
    static int lanes(DType dtype) { return dtype == DType.F64 ? 8 : 16; }

    int columns(DType dtype) { return vectors * lanes(dtype); }

    /** For traces and tables, e.g. {@code 8x32k256}, {@code 6x64p}. */
    String name(DType dtype) { return rows + "x" + columns(dtype) + (kBlock > 0 ? "k" + kBlock : "") + (packB ? "p" : ""); }

    /**
     * The same tile reading op(B) where it lies (OpenClGemm's plans where packing does not pay, and callers
     * with their own launches such as OpenClConvGemm), as it was tuned before packing: a packing variant
     * without k blocks gets blocks of 256, as in place B's rows lie a row length apart and the work-group's
     * items must step through k together to share the panel in cache (in place, one-pass tiles measured
     * slower: 12x32 ~110 vs 6x64k256 ~150 per core at 2048^3, see CANDIDATES; 6x64 one pass ~17% below
     * 6x64k256 on an in-cache 96x64x256 batch); and groups of at most 16 tile rows, since with k blocks every
     * item of a group, in range or not, takes part in each barrier. So 6x64p runs in place as 6x64k256 1x16.
     */
    GemmVariant inPlace() {
        return packB ? new GemmVariant(rows, vectors, kBlock > 0 ? kBlock : 256, groupX, Math.min(groupY, 16), false) : this;
    }

    /** The kernel's name in the program. */
    static String kernelName(DType dtype) { return dtype == DType.F64 ? "gemm_f64" : "gemm_f32"; }

    /** The name of the kernel that packs B for a GEMM_PACK_B build (same program). */
    static String packKernelName(DType dtype) { return dtype == DType.F64 ? "gemm_pack_b_f64" : "gemm_pack_b_f32"; }

    /** Build options for clBuildProgram. */
    String options(DType dtype) {
        return "-DGEMM_TM=" + rows + " -DGEMM_NV=" + vectors + " -DGEMM_KB=" + kBlock + (dtype == DType.F64 ? " -DGEMM_F64" : "")
                + (packB ? " -DGEMM_PACK_B -DGEMM_PACK_ROWS=" + PACK_ROWS : "");
    }

    /** The form kept in the tuning cache: {@code rows,vectors,kBlock,groupX,groupY}, then {@code ,packB} when packing. */
    String encode() { return rows + "," + vectors + "," + kBlock + "," + groupX + "," + groupY + (packB ? ",packB" : ""); }

    /** Parses {@link #encode()}; throws IllegalArgumentException saying what is wrong. */
    static GemmVariant decode(String text) {
        String[] f = text.strip().split(",");
        boolean pack = f.length == 6 && f[5].strip().equals("packB");
        if (f.length != 5 && !pack)
            throw new IllegalArgumentException("expected rows,vectors,kBlock,groupX,groupY[,packB], got '" + text.strip() + "'");
        int[] v = new int[5];
        for (int i = 0; i < 5; i++) {
            try {
                v[i] = Integer.parseInt(f[i].strip());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("not a number: '" + f[i].strip() + "' in '" + text.strip() + "'");
            }
        }
        return new GemmVariant(v[0], v[1], v[2], v[3], v[4], pack);
    }

    /**
     * {global, local} for an m x n x batch launch (local null when the kernel cannot take this group: the
     * driver then picks one, which only costs speed).
     */
    long[][] launch(ClKernel kernel, DType dtype, int m, int n, int batch) {
        long[] local = kernel.maxWorkGroupSize() >= (long) groupX * groupY ? new long[] {groupX, groupY, 1} : null;
        long[] global = {Math.max(1, Math.ceilDiv(n, columns(dtype))), Math.max(1, Math.ceilDiv(m, rows)), Math.max(1, batch)};
        if (local != null) for (int i = 0; i < 2; i++) global[i] = Math.ceilDiv(global[i], local[i]) * local[i];
        return new long[][] {global, local};
    }
}
