package dev.kiln.cpu.gemm;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Block sizes of the GEMM for one number of lanes and element size (BLIS names): the microkernel computes an
 * {@code mr x nr} tile of C, mr = 6 rows and nr = 2 vectors, or 4 vectors for f32 with 16 lanes
 * ({@link GemmMicro#kernelWide}: 24 accumulators need the 32 registers of AVX-512). The driver runs A slivers
 * outer and B slivers inner ({@link VectorGemm}): one mr x kc sliver of packed A stays in L1 while the kc x nc
 * panel of packed B streams from L2. {@code kc} is L1 over two vectors' bytes (256 for f32 and f64 at 512 bits
 * with 32 KB L1: the A sliver takes 6 KB, the B panel half of a 1 MB L2; on Zen 4 256 beat 128 by 5-10% and
 * matched 384), since fewer, longer k panels mean fewer passes of C through the write-back. {@code mc x kc} of
 * packed A takes half of L2, up to {@link #MAX_MC} rows: B is packed once per task, so a taller block packs it
 * less often (384 beat 192 by about 10% at 1024^3 and 2048^3); {@link #fitTasks} lowers mc again for problems
 * that would otherwise give too few tasks. {@code nc} is a fixed multiple of nr.
 *
 * <p>The 512-bit f32 kernel ({@code nr} = 4 vectors) sizes differently, measured on Zen 5 (48 KB L1, 1 MB L2)
 * with A and B packed once per panel ({@link VectorGemm}): kc so that the A sliver fills 3/8 of L1 (768), nc so
 * that the kc x nc panel of B fills 3/4 of L2 (256). Longer k panels mean fewer passes of C through the
 * write-back, which was the largest cost left beside the microkernel; 768/256 against the rule above (384/512),
 * alternating runs against OpenBLAS: 1024^3 0.89 -> 0.96, 2048^3 0.87 -> 0.92-0.94.
 * {@code mc} is a multiple of mr and {@code nc} of nr, so block edges fall on tile edges and partial tiles
 * only occur at the matrix edge. Only kc changes the order of the sum over k, and no size depends on the
 * thread count. Cache sizes are read once from sysfs (Linux; 32 KB L1 and 1 MB L2
 * otherwise); {@code -Dkiln.gemm.kc}, {@code -Dkiln.gemm.mc} and {@code -Dkiln.gemm.nc} override the result.
 */
record GemmBlocking(int mr, int nr, int kc, int mc, int nc) {
    static final int MR = 6;
    /** Upper bound of mc in rows (a multiple of {@link #MR}). */
    private static final int MAX_MC = 384;
    /** {@link #fitTasks} lowers mc when a problem has fewer tasks than this, down to {@link #MIN_MC} rows. */
    private static final int MIN_TASKS = 4, MIN_MC = 48;

    private static final long L1 = cacheBytes(1, 32 << 10), L2 = cacheBytes(2, 1 << 20);

    static GemmBlocking forLanes(int lanes, int elementBytes) { return forLanes(lanes, elementBytes, 0); }

    /**
     * As {@link #forLanes(int, int)} for a problem with inner dimension {@code k} (0: unknown): the wide kernel
     * then cuts k into equal panels of at most half of L1 for the A sliver (1024 here) rather than fixed ones,
     * so that k = 1024 is one panel with no pass of C through the write-back (1024^3: 0.94 -> 0.98x OpenBLAS in
     * three alternating runs; 2048^3, two panels of 1024 against three of 768, within noise).
     */
    static GemmBlocking forLanes(int lanes, int elementBytes, int k) {
        int mr = MR, nr = (elementBytes == 4 && lanes >= 16 ? 4 : 2) * lanes;
        boolean wide = nr == 4 * lanes;
        // wide kernel: the A sliver takes 3/8 of L1 and the kc x nc panel of B 3/4 of L2 (see the class comment)
        int kcRule = wide ? clamp((int) (L1 * 3 / 8 / ((long) mr * elementBytes)) & ~7, 64, 1024)
                : clamp((int) (L1 / (2L * lanes * elementBytes)) & ~7, 64, 512);
        if (wide && k > 0) {
            int kcMax = clamp((int) (L1 / 2 / ((long) mr * elementBytes)) & ~7, 64, 1024);
            int panels = Math.ceilDiv(k, kcMax);
            kcRule = Math.min(kcMax, (Math.ceilDiv(k, panels) + 7) & ~7);
        }
        int kc = Integer.getInteger("kiln.gemm.kc", kcRule);
        int mcTiles = clamp((int) (L2 / 2 / ((long) kc * elementBytes) / mr), 4, MAX_MC / mr);
        int mc = Integer.getInteger("kiln.gemm.mc", mcTiles * mr);
        int ncRule = wide ? (int) Math.min(4096, L2 * 3 / 4 / ((long) kc * elementBytes)) / nr * nr : 512 / nr * nr;
        int nc = Integer.getInteger("kiln.gemm.nc", Math.max(nr, ncRule));
        if (kc < 1 || mc < mr || mc % mr != 0 || nc < nr || nc % nr != 0)
            throw new IllegalArgumentException("gemm blocking: need kc >= 1, mc a positive multiple of " + mr + ", nc a positive multiple of "
                    + nr + "; got kc " + kc + ", mc " + mc + ", nc " + nc);
        return new GemmBlocking(mr, nr, kc, mc, nc);
    }

    /**
     * This blocking with mc lowered (to a multiple of mr, not below {@link #MIN_MC} rows) when an m x n problem
     * would give fewer than {@link #MIN_TASKS} blocks: the rows are then cut into about equal blocks, so that
     * small problems still spread evenly over threads. Depends on the shape only, never on the thread count;
     * an explicit {@code -Dkiln.gemm.mc} is kept.
     */
    GemmBlocking fitTasks(int m, int n) {
        int tilesN = Math.ceilDiv(n, nc);
        if (Integer.getInteger("kiln.gemm.mc") != null || (long) Math.ceilDiv(m, mc) * tilesN >= MIN_TASKS) return this;
        int blocksM = Math.ceilDiv(MIN_TASKS, tilesN);
        int fit = Math.min(mc, Math.max(Math.ceilDiv(MIN_MC, mr) * mr, Math.ceilDiv(Math.ceilDiv(m, blocksM), mr) * mr));
        return fit == mc ? this : new GemmBlocking(mr, nr, kc, fit, nc);
    }

    /** Row bounds of a block in {@link #oneSliverOfB}, and the tasks it aims for while blocks are taller than the lower bound. */
    private static final int SLIVER_MAX_MC = 768, SLIVER_MIN_MC = 126, SLIVER_TASKS = 32;

    /**
     * This blocking for an m x n problem in {@link VectorGemm}'s shared-packing schedule, where A and B are
     * packed once per k panel for the whole problem: with the wide kernel, one sliver of B per block (nc = nr),
     * so that the kc x nr sliver of B (256 KB at kc 1024) stays in L2 while the block's A slivers (24 KB each)
     * stream past it once. The rule of {@link #forLanes} (nc 192, mc 126) kept a 768 KB panel of B in L2 for A
     * slivers reused three times, which paid while every task packed its own B; with shared packing (Zen 5,
     * thread CPU time, same JVM, alternating with OpenBLAS at 237-247 GFLOP/s), 2048^3 at 1 thread went from
     * 206-224 to 221-234 GFLOP/s and 1024^3 from 227-231 to 231-233. Rows per block: mc 384 to 1536 ran alike
     * at 1 thread, so blocks are as tall as {@link #SLIVER_MAX_MC} rows allow while the problem still gives
     * {@link #SLIVER_TASKS} blocks, and otherwise lower (in equal bands, not below {@link #SLIVER_MIN_MC} rows):
     * 4096 x 64 x 4096 is a single column of slivers, and its six 768-row blocks left one of two threads idle
     * for a sixth of the time (0.90 of OpenBLAS against 1.04 with 126-row blocks). Depends on the shape only. kc
     * is unchanged, so the bits are too. A longer kc (2048: the A sliver, read once per block, need not stay in
     * L1) made 2048^3 one k panel, +2-3% at 1 thread but -5% at 2 (three alternating runs each: both cores then
     * share 32 MB of packed panels in a 32 MB L3), so it is not taken. Other kernels, an explicit
     * {@code -Dkiln.gemm.nc} or {@code -Dkiln.gemm.mc}, or {@code -Dkiln.gemm.oneSliver=false} keep this
     * blocking's sizes.
     */
    GemmBlocking oneSliverOfB(int lanes, int m, int n) {
        if (nr != 4 * lanes || "false".equals(System.getProperty("kiln.gemm.oneSliver"))) return this;
        int sliverNc = Integer.getInteger("kiln.gemm.nc", nr), tilesN = Math.ceilDiv(Math.max(n, 1), sliverNc);
        int bands = Math.max(Math.ceilDiv(m, SLIVER_MAX_MC), Math.min(Math.ceilDiv(SLIVER_TASKS, tilesN), Math.ceilDiv(m, SLIVER_MIN_MC)));
        int rule = Math.max(mr, Math.ceilDiv(Math.ceilDiv(Math.max(m, 1), Math.max(bands, 1)), mr) * mr);
        return new GemmBlocking(mr, nr, kc, Integer.getInteger("kiln.gemm.mc", rule), sliverNc);
    }

    private static int clamp(int v, int lo, int hi) { return Math.max(lo, Math.min(hi, v)); }

    /** The data (or unified) cache of {@code level} of cpu0 in bytes, from sysfs; {@code fallback} if unreadable. */
    private static long cacheBytes(int level, long fallback) {
        for (int i = 0; i < 8; i++) {
            Path dir = Path.of("/sys/devices/system/cpu/cpu0/cache/index" + i);
            if (!Files.isDirectory(dir)) break;
            try {
                if (Integer.parseInt(Files.readString(dir.resolve("level")).trim()) != level) continue;
                if (Files.readString(dir.resolve("type")).trim().equals("Instruction")) continue;
                String size = Files.readString(dir.resolve("size")).trim().toUpperCase(java.util.Locale.ROOT);
                long mult = size.endsWith("K") ? 1 << 10 : size.endsWith("M") ? 1 << 20 : 1;
                return Long.parseLong(size.replaceAll("[^0-9]", "")) * mult;
            } catch (Exception e) { // unreadable or odd: the fallback
                return fallback;
            }
        }
        return fallback;
    }
}
