package dev.kiln.kernels.ref;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.desc.PixelShuffleDesc;

final class RefPixelShuffle {
    private RefPixelShuffle() {}

    static void run(PixelShuffleDesc d, Args args) { throw new UnsupportedOperationException("not implemented yet: RefPixelShuffle"); }
}
