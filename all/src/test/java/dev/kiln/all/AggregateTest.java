package dev.kiln.all;

import dev.kiln.kernels.Kernels;
import dev.kiln.kernels.spi.BackendProvider;
import org.junit.jupiter.api.Test;

import java.util.ServiceLoader;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

/** The one dependency a framework adds must bring dispatch and every backend, found at run time. */
class AggregateTest {
    @Test void everyBackendIsFoundThroughServiceLoader() {
        Set<String> names = new TreeSet<>();
        for (ServiceLoader.Provider<BackendProvider> p : ServiceLoader.load(BackendProvider.class).stream().toList())
            names.add(p.get().name());
        assertEquals(Set.of("cpu", "cuda", "opencl"), names);
    }

    @Test void theFacadeRunsThroughDispatchNotTheReferenceFallback() {
        assertNotEquals("reference", Kernels.engine().name());
    }
}
