package dev.kiln.opencl;

import dev.kiln.kernels.DType;
import dev.kiln.kernels.spi.DeviceKind;

import java.util.List;

/**
 * One build of gemm.cl: a register tile of {@code rows} x {@code vectors} 512-bit vectors (float16 or
 * double8) per work-item, a k block ({@code kBlock} > 0: the work-group steps through k together behind a
 * barrier, so a CPU driver keeps the block's panels in cache; 0: one pass) and a work-group of
 * {@code groupX} x {@code groupY} work-items. Names read {@code rows x columns[k block]}, e.g.
 * {@code 8x32k256} for f32.
 */
record GemmVariant(int rows, int vectors, int kBlock, int groupX, int groupY) {
    GemmVariant {
        if (!List.of(1, 2, 4, 6, 8, 12, 14).contains(rows) || vectors < 1 || vectors > 4 || kBlock < 0 || groupX < 1 || groupY < 1)
            throw new IllegalArgumentException("opencl gemm: no variant with rows=" + rows + " vectors=" + vectors
                    + " kBlock=" + kBlock + " group=" + groupX + "x" + groupY + " (rows 1, 2, 4, 6, 8, 12 or 14; vectors 1-4)");
    }

    /** The tile of the kernel that was used before variants: 8 x 1 vector, one pass, groups of 16 x 4. */
    static final GemmVariant PLAIN = new GemmVariant(8, 1, 0, 16, 4);

    /**
     * What the autotuner tries. On POCL 3.1 (Zen 5 EPYC, AVX-512; 2026-11-23 on a heavily loaded machine, so
     * per-core rates from the driver threads' CPU time, single-threaded, at 1024^3 / 2048^3): 8x16 ~65/60
     * GFLOP/s, 8x32k256 ~130/120, 12x32k256 ~120/125, 6x64k256 with groups of 1x16 ~145/155 (consecutive
     * work-items share one B panel, which then stays in L1), 12x32 one pass ~110/110. OpenBLAS 0.3.21's
     * SkylakeX kernel measured the same way: ~200/210.
     */
    static final List<GemmVariant> CANDIDATES = List.of(
            PLAIN,
            new GemmVariant(4, 1, 256, 8, 8),
            new GemmVariant(8, 2, 256, 4, 8),
            new GemmVariant(12, 2, 256, 2, 8),
            new GemmVariant(6, 4, 256, 1, 16),
            new GemmVariant(12, 2, 0, 1, 16));

    /**
     * Without tuning: on a CPU-type device whose preferred float vector is 16 wide (AVX-512) 6 x 4 vectors
     * with k blocks of 256 (24 accumulators + 4 B vectors + a broadcast in 32 registers; the best or near it
     * at every size measured); on narrower CPUs 4 x 1, whose 4 float16 accumulators fit 16 AVX2 registers; on
     * GPUs and accelerators the plain 8 x 1 tile.
     */
    static GemmVariant defaultFor(DeviceKind kind, int preferredFloatWidth) {
        if (kind != DeviceKind.CPU) return PLAIN;
        return preferredFloatWidth >= 16 ? CANDIDATES.get(4) : CANDIDATES.get(1);
    }

    static GemmVariant defaultFor(OpenClDevice device) { return defaultFor(device.kind(), device.preferredFloatWidth()); }

    /** Elements per vector: 16 floats or 8 doubles. */
    static int lanes(DType dtype) { return dtype == DType.F64 ? 8 : 16; }

    int columns(DType dtype) { return vectors * lanes(dtype); }

    /** For traces and tables, e.g. {@code 8x32k256}. */
    String name(DType dtype) { return rows + "x" + columns(dtype) + (kBlock > 0 ? "k" + kBlock : ""); }

    /** The kernel's name in the program. */
    static String kernelName(DType dtype) { return dtype == DType.F64 ? "gemm_f64" : "gemm_f32"; }

    /** Build options for clBuildProgram. */
    String options(DType dtype) {
        return "-DGEMM_TM=" + rows + " -DGEMM_NV=" + vectors + " -DGEMM_KB=" + kBlock + (dtype == DType.F64 ? " -DGEMM_F64" : "");
    }

    /** The form kept in the tuning cache: {@code rows,vectors,kBlock,groupX,groupY}. */
    String encode() { return rows + "," + vectors + "," + kBlock + "," + groupX + "," + groupY; }

    /** Parses {@link #encode()}; throws IllegalArgumentException saying what is wrong. */
    static GemmVariant decode(String text) {
        String[] f = text.strip().split(",");
        if (f.length != 5) throw new IllegalArgumentException("expected rows,vectors,kBlock,groupX,groupY, got '" + text.strip() + "'");
        int[] v = new int[5];
        for (int i = 0; i < 5; i++) {
            try {
                v[i] = Integer.parseInt(f[i].strip());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("not a number: '" + f[i].strip() + "' in '" + text.strip() + "'");
            }
        }
        return new GemmVariant(v[0], v[1], v[2], v[3], v[4]);
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
