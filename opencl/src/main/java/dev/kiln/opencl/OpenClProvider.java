package dev.kiln.opencl;

import dev.kiln.kernels.spi.BackendProvider;
import dev.kiln.kernels.spi.Device;
import dev.kiln.kernels.spi.Probe;

import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.util.List;

/**
 * The OpenCL backend, through JOCL. {@link #probe()} first looks the OpenCL ICD loader up with FFM, so a
 * machine without it gets a one-line reason and no JOCL class is ever loaded (JOCL's {@code CL} class
 * would fail in its static initialiser). Only then are platforms and devices enumerated.
 */
public final class OpenClProvider implements BackendProvider {
    static final String LIBRARY = "libOpenCL.so.1";
    static final String NO_LIBRARY = " not found: install ocl-icd-libopencl1 and a driver such as pocl-opencl-icd";

    @Override public String name() { return "opencl"; }

    @Override public Probe probe() { return probe(LIBRARY); }

    /**
     * The probe with the library name as a parameter, so tests can make it miss. Never throws: every
     * failure, including a JOCL class that cannot link, becomes {@link Probe#unavailable}.
     */
    static Probe probe(String library) {
        try {
            if (!libraryPresent(library)) return Probe.unavailable(library + NO_LIBRARY);
        } catch (IllegalCallerException e) {
            return Probe.unavailable("opencl: native access is denied to this module (run with --enable-native-access=ALL-UNNAMED)");
        }
        try {
            return ClPlatforms.probe();
        } catch (LinkageError | RuntimeException e) {
            return Probe.unavailable("opencl: " + library + " is present but JOCL failed: " + oneLine(e));
        }
    }

    @Override public List<Device> open() { return ClPlatforms.openAll(); }

    /** Native OpenCL objects (contexts, queues, programs, kernels, buffers) created here and not yet released. */
    public static long liveNativeObjects() { return ClLive.live(); }

    @SuppressWarnings("restricted") // a library lookup is the point: it is how the probe avoids loading JOCL
    private static boolean libraryPresent(String library) {
        // Arena.global(): the lookup stays loaded for the JVM's life, as JOCL will load it again anyway.
        for (String name : library.equals(LIBRARY) ? List.of(LIBRARY, "libOpenCL.so") : List.of(library)) {
            try {
                SymbolLookup lookup = SymbolLookup.libraryLookup(name, Arena.global());
                if (lookup.find("clGetPlatformIDs").isPresent()) return true;
            } catch (IllegalArgumentException e) {
                // Not found: try the next name.
            }
        }
        return false;
    }

    static String oneLine(Throwable e) {
        String m = e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage());
        int nl = m.indexOf('\n');
        return nl < 0 ? m : m.substring(0, nl);
    }
}
