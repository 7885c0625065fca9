package dev.kiln.cpu;

import dev.kiln.kernels.spi.Support;

/**
 * Whether the vector kernels may run, and at which width. The width is the hardware's preferred species,
 * read at run time, unless {@code -Dkiln.cpu.vectorBits=0|128|256|512} forces one (0: scalar only, the
 * reference kernels run) or a test calls {@link #overrideBits}. Vector kernels also need the start-up
 * {@link VectorSelfCheck} to pass: the {@code jdk.incubator.vector} module must be present and a vector
 * loop must run clearly faster than the scalar one (it is about 100x slower when C2 does not intrinsify).
 *
 * <p>This class never touches a Vector API class itself, so it loads even without the module.
 */
public final class VectorSupport {
    private VectorSupport() {}

    /** The module the vector kernels need. */
    public static final String MODULE = "jdk.incubator.vector";

    private static final Integer PROPERTY_BITS = parseProperty();
    private static volatile Integer overrideBits;

    private static final class Check {
        static final VectorSelfCheck.Result RESULT = modulePresent()
                ? VectorSelfCheck.run()
                : new VectorSelfCheck.Result(false, 0, MODULE + " module is not present (run with --add-modules " + MODULE + ")");
    }

    private static Integer parseProperty() {
        String p = System.getProperty("kiln.cpu.vectorBits");
        if (p == null || p.isBlank()) return null;
        try {
            int bits = Integer.parseInt(p.trim());
            if (bits == 0 || bits == 128 || bits == 256 || bits == 512) return bits;
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException("-Dkiln.cpu.vectorBits must be 0, 128, 256 or 512, got '" + p + "'");
    }

    public static boolean modulePresent() { return ModuleLayer.boot().findModule(MODULE).isPresent(); }

    /** The start-up self-check, run once per JVM (cheap: well under 200 ms) and cached. */
    public static VectorSelfCheck.Result selfCheck() { return Check.RESULT; }

    /** The hardware's preferred vector width in bits, or 0 when the module is missing. */
    public static int hardwareBits() { return selfCheck().hardwareBits(); }

    /**
     * Forces a width for tests (0, 128, 256 or 512), or clears the override with null. Plans already made
     * keep the width they were made with.
     */
    public static void overrideBits(Integer bits) {
        if (bits != null && bits != 0 && bits != 128 && bits != 256 && bits != 512)
            throw new IllegalArgumentException("vector width override must be 0, 128, 256 or 512, got " + bits);
        overrideBits = bits;
    }

    /** The requested width: the override, else the property, else the hardware's (0 = scalar only). */
    public static int requestedBits() {
        Integer o = overrideBits;
        if (o != null) return o;
        if (PROPERTY_BITS != null) return PROPERTY_BITS;
        return defaultBits(hardwareBits());
    }

    /** The hardware's width as a kernel width: capped at 512 (SVE may offer more), 0 when below 128. */
    private static int defaultBits(int hardware) {
        return hardware >= 512 ? 512 : hardware >= 256 ? 256 : hardware >= 128 ? 128 : 0;
    }

    /** Yes when vector kernels may run now, else the reason (shown in device properties and by kiln info). */
    public static Support status() {
        Integer o = overrideBits;
        Integer forced = o != null ? o : PROPERTY_BITS;
        String source = o != null ? "VectorSupport.overrideBits(" + o + ")" : "kiln.cpu.vectorBits=" + forced;
        if (forced != null && forced == 0) return Support.no("vector kernels disabled: " + source);
        VectorSelfCheck.Result check = selfCheck();
        if (!check.passed()) return Support.no("vector self-check failed: " + check.detail());
        if (forced == null && defaultBits(check.hardwareBits()) == 0)
            return Support.no("the preferred species has " + check.hardwareBits() + " bits; vector kernels need at least 128");
        if (forced != null && forced > check.hardwareBits())
            return Support.no("vector kernels disabled: " + source + " exceeds the hardware's " + check.hardwareBits()
                    + "-bit vectors (would be emulated)");
        return Support.YES;
    }

    /** The width vector kernels use now; only meaningful when {@link #status()} is yes. */
    public static Width width() {
        Support s = status();
        if (!s.ok()) throw new IllegalStateException(s.reason());
        return Width.of(requestedBits());
    }
}
