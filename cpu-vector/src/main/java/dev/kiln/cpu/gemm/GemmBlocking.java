package dev.kiln.cpu.gemm;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Block sizes of the GEMM for one number of lanes and element size (BLIS names): the microkernel computes an
 * {@code mr x nr} tile of C with {@code nr = 2 vectors}. The driver keeps one kc x nr sliver of packed B in
 * L1 while it streams the mr x kc slivers of packed A past it, so {@code kc} is sized for that sliver to
 * take half of L1 (the other half for the A sliver and C); {@code mc x kc} of packed A takes half of L2;
 * {@code nc} is a fixed multiple of nr (it is also the task grid, so it stays moderate for load balance).
 * {@code mc} is a multiple of mr and {@code nc} of nr, so block edges fall on tile edges and partial tiles
 * only occur at the matrix edge. Cache sizes are read once from sysfs (Linux; 32 KB L1 and 1 MB L2
 * otherwise); {@code -Dkiln.gemm.kc}, {@code -Dkiln.gemm.mc} and {@code -Dkiln.gemm.nc} override the result.
 */
record GemmBlocking(int mr, int nr, int kc, int mc, int nc) {
    static final int MR = 6;
    /** mr of the f32 kernel at 512 bits ({@link GemmMicro#kernel12}). */
    static final int MR_WIDE = 12;
    /** Upper bound of mc in tiles: keeps enough mc x nc tasks for two or more threads at n ~ 1000. */
    private static final int MAX_MC_TILES = 16;

    private static final long L1 = cacheBytes(1, 32 << 10), L2 = cacheBytes(2, 1 << 20);

    static GemmBlocking forLanes(int lanes, int elementBytes) {
        int nr = 2 * lanes;
        int mr = elementBytes == 4 && lanes >= 16 ? MR_WIDE : MR; // 12 x 2 vectors needs 32 registers
        int kc = Integer.getInteger("kiln.gemm.kc", clamp((int) (L1 / 2 / ((long) nr * elementBytes)) & ~7, 64, 512));
        int mcTiles = clamp((int) (L2 / 2 / ((long) kc * elementBytes) / mr), 4, MAX_MC_TILES);
        int mc = Integer.getInteger("kiln.gemm.mc", mcTiles * mr);
        int nc = Integer.getInteger("kiln.gemm.nc", Math.max(nr, 512 / nr * nr));
        if (kc < 1 || mc < mr || mc % mr != 0 || nc < nr || nc % nr != 0)
            throw new IllegalArgumentException("gemm blocking: need kc >= 1, mc a positive multiple of " + mr + ", nc a positive multiple of "
                    + nr + "; got kc " + kc + ", mc " + mc + ", nc " + nc);
        return new GemmBlocking(mr, nr, kc, mc, nc);
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
