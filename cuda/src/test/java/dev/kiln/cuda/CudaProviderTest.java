package dev.kiln.cuda;

import dev.kiln.kernels.spi.BackendProvider;
import dev.kiln.kernels.spi.Probe;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.io.File;
import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLClassLoader;
import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The provider's discovery and probe: a machine without the NVIDIA driver gets one line, never a crash. */
class CudaProviderTest {
    private static final List<String> JCUDA_CLASSES =
            List.of("jcuda.driver.JCudaDriver", "jcuda.LibUtils", "jcuda.Pointer", "jcuda.jcublas.JCublas2");

    @Test
    void serviceLoaderFindsTheProvider() {
        List<String> names = ServiceLoader.load(BackendProvider.class).stream().map(p -> p.get().name()).toList();
        assertTrue(names.contains("cuda"), "providers found: " + names);
    }

    @Test
    void probeGivesOneLineReasonWithoutTheDriver() {
        Probe probe = new CudaProvider().probe();
        System.out.println("cuda probe: " + probe);
        assertFalse(probe.reason() == null || probe.reason().isBlank(), "a probe always explains itself: " + probe);
        assertFalse(probe.reason().contains("\n"), "one line: " + probe.reason());
        if (NativeLibraries.loads(NativeLibraries.DRIVER)) return;   // a GPU machine: any answer with a reason
        assertFalse(probe.available());
        assertEquals("libcuda.so.1 not found (no NVIDIA driver)", probe.reason());
    }

    /**
     * Loads the module and its dependencies afresh in a class loader of their own, probes, and asks that
     * loader which JCuda classes it loaded: without libcuda.so.1, none may be (JCudaDriver's static
     * initialiser would throw UnsatisfiedLinkError).
     */
    @Test
    void probeLoadsNoJCudaClassWithoutTheDriver() throws Exception {
        Assumptions.assumeFalse(NativeLibraries.loads(NativeLibraries.DRIVER), "libcuda.so.1 is present here");
        try (Isolated loader = new Isolated(classPath())) {
            Class<?> provider = loader.loadClass(CudaProvider.class.getName());
            assertTrue(provider.getClassLoader() == loader, "the provider must come from the isolated loader");
            Object probe = provider.getMethod("probe").invoke(provider.getConstructor().newInstance());
            Class<?> record = probe.getClass();
            assertEquals(false, record.getMethod("available").invoke(probe));
            assertEquals("libcuda.so.1 not found (no NVIDIA driver)", record.getMethod("reason").invoke(probe));
            for (String name : JCUDA_CLASSES) assertNull(loader.loaded(name), name + " was loaded by the probe");
            // The check can see JCuda classes: loading one directly is visible to it.
            loader.loadClass("jcuda.driver.CUdevice");
            assertTrue(loader.loaded("jcuda.driver.CUdevice") != null);
        }
    }

    private static URL[] classPath() throws MalformedURLException {
        List<URL> urls = new ArrayList<>();
        for (String entry : System.getProperty("java.class.path").split(File.pathSeparator))
            if (!entry.isEmpty()) urls.add(new File(entry).toURI().toURL());
        return urls.toArray(URL[]::new);
    }

    /** A class loader over the test class path that delegates only to the platform loader. */
    private static final class Isolated extends URLClassLoader {
        Isolated(URL[] urls) { super("isolated-cuda", urls, ClassLoader.getPlatformClassLoader()); }

        Class<?> loaded(String name) { return findLoadedClass(name); }
    }
}
