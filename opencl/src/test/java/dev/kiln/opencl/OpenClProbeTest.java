package dev.kiln.opencl;

import dev.kiln.kernels.spi.BackendProvider;
import org.junit.jupiter.api.Test;

import java.io.File;
import java.net.URL;
import java.net.URLClassLoader;
import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class OpenClProbeTest {
    /**
     * Runs the probe in a class loader that cannot load JOCL at all: if the probe touched any JOCL class
     * before finding the library missing, it would fail with NoClassDefFoundError.
     */
    @Test void missingLibraryGivesOneLineReasonWithoutLoadingJocl() throws Exception {
        List<URL> urls = new ArrayList<>();
        for (String entry : System.getProperty("java.class.path").split(File.pathSeparator))
            if (!entry.contains("jocl")) urls.add(new File(entry).toURI().toURL());
        try (URLClassLoader isolated = new URLClassLoader(urls.toArray(URL[]::new), ClassLoader.getPlatformClassLoader()) {
            @Override protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
                if (name.startsWith("org.jocl.")) throw new ClassNotFoundException("JOCL is off limits to the probe: " + name);
                return super.loadClass(name, resolve);
            }
        }) {
            Class<?> provider = isolated.loadClass(OpenClProvider.class.getName());
            var probeMethod = provider.getDeclaredMethod("probe", String.class);
            probeMethod.setAccessible(true);
            Object probe = probeMethod.invoke(null, "libKilnNoSuchOpenCL.so.1");
            boolean available = (boolean) probe.getClass().getMethod("available").invoke(probe);
            String reason = (String) probe.getClass().getMethod("reason").invoke(probe);
            assertFalse(available);
            assertEquals("libKilnNoSuchOpenCL.so.1 not found: install ocl-icd-libopencl1 and a driver such as pocl-opencl-icd", reason);
            assertFalse(reason.contains("\n"));
            // The guard bites: with the real library the probe goes on to JOCL, which this loader refuses,
            // and the LinkageError becomes a reason instead of escaping.
            Object real = probeMethod.invoke(null, OpenClProvider.LIBRARY);
            String realReason = (String) real.getClass().getMethod("reason").invoke(real);
            if (OpenClTesting.PROBE.available()) {
                assertFalse((boolean) real.getClass().getMethod("available").invoke(real));
                assertTrue(realReason.contains("JOCL failed") && realReason.contains("NoClassDefFoundError"), realReason);
            }
        }
    }

    @Test void providerIsFoundThroughServiceLoaderAndProbesWithoutThrowing() {
        List<String> names = ServiceLoader.load(BackendProvider.class).stream().map(p -> p.get().name()).toList();
        assertTrue(names.contains("opencl"), names.toString());
        var probe = new OpenClProvider().probe();
        assertFalse(probe.reason().isBlank());
        assertFalse(probe.reason().contains("\n"), probe.reason());
        System.out.println("opencl probe: " + probe);
    }
}
