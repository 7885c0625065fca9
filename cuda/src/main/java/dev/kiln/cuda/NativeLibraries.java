package dev.kiln.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;

/**
 * Checks that a native library can be loaded, with FFM only: no JCuda class is touched, so a machine
 * without the NVIDIA driver gets a reason instead of an {@link UnsatisfiedLinkError} from a static
 * initialiser. A library found stays loaded (global arena); JCuda loads it again later anyway.
 */
final class NativeLibraries {
    /** The CUDA driver API; JCuda's native part links against it. */
    static final String DRIVER = "libcuda.so.1";
    /** cuBLAS for CUDA 12, what JCublas 12.6 links against. */
    static final String CUBLAS = "libcublas.so.12";

    private NativeLibraries() {}

    /** True if the dynamic linker finds and loads {@code name}. Needs native access (restricted method). */
    @SuppressWarnings("restricted")
    static boolean loads(String name) {
        try {
            SymbolLookup.libraryLookup(name, Arena.global());
            return true;
        } catch (IllegalArgumentException | IllegalCallerException | UnsupportedOperationException e) {
            // IllegalArgumentException: not found or not loadable; IllegalCallerException: native access
            // denied (--enable-native-access missing with --illegal-native-access=deny). Either way: no.
            return false;
        }
    }
}
