package dev.kiln.cpu.gemm;

/**
 * Block sizes of the GEMM for one number of lanes (BLIS names): the microkernel computes an
 * {@code mr x nr} tile of C with {@code nr = 2 vectors}; {@code kc} is the depth of one packed panel
 * (a kc x nr sliver of B should stay in L1), {@code mc x kc} of packed A in L2, {@code kc x nc} of packed B
 * in L2/L3. {@code mc} is a multiple of mr and {@code nc} of nr, so block edges fall on tile edges and
 * partial tiles only occur at the matrix edge. First settings, to be tuned.
 */
record GemmBlocking(int mr, int nr, int kc, int mc, int nc) {
    static final int MR = 6;

    static GemmBlocking forLanes(int lanes) {
        int nr = 2 * lanes;
        return new GemmBlocking(MR, nr, 256, 16 * MR, Math.max(nr, 512 / nr * nr));
    }
}
