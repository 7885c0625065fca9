package dev.kiln.dispatch;

import dev.kiln.kernels.Args;
import dev.kiln.kernels.desc.ArgSpec;
import dev.kiln.kernels.desc.OpDesc;
import dev.kiln.kernels.spi.BackendProvider;
import dev.kiln.kernels.spi.Device;
import dev.kiln.kernels.spi.KernelImpl;
import dev.kiln.kernels.spi.Plan;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Runs each op on the best device that supports it. At creation every backend provider is probed and
 * opened (a broken one becomes an unavailable {@link BackendStatus}, never an exception); per op,
 * devices are tried by priority and their implementations best first, host operands stay on the host
 * when copying them to a device would cost more than it saves, and when nothing supports the op the
 * reference kernels run on the host. Decisions and plans are cached, so a repeated call only stages
 * operands and executes: no planning, no trace line. Thread-safe.
 *
 * <p>Describe, plan, execute: a decision is made once per (descriptor, operand placement), a
 * {@link Plan} once per (device, implementation, descriptor).
 */
public final class Dispatch {
    private static final Object LOCK = new Object();
    private static volatile Dispatch instance;

    private final DispatchConfig config;
    private final List<BackendStatus> backends;
    private final List<Device> devices;
    private final HostFallback fallback = new HostFallback();
    private final Router router;
    private final ConcurrentMap<RouteKey, CompletableFuture<Router.Route>> routes = new ConcurrentHashMap<>();
    private final ConcurrentMap<PlanKey, CompletableFuture<Plan>> plans = new ConcurrentHashMap<>();
    private final AtomicInteger planCount = new AtomicInteger();
    private final AtomicInteger decisionCount = new AtomicInteger();
    private volatile boolean closed;

    private record RouteKey(OpDesc desc, Placement placement) {}

    /** Devices compare by identity (the SPI does not define equality), descriptors by value. */
    private record PlanKey(Device device, String implementation, OpDesc desc) {}

    private Dispatch(List<BackendProvider> providers, List<BackendStatus> broken, DispatchConfig config) {
        this.config = config == null ? DispatchConfig.defaults() : config;
        List<BackendStatus> found = new ArrayList<>();
        for (BackendProvider p : providers) found.add(Discovery.open(p));
        found.addAll(broken);
        this.backends = List.copyOf(byPriority(found));
        List<Device> all = new ArrayList<>();
        for (BackendStatus s : backends) all.addAll(s.devices());
        all.sort((a, b) -> Integer.compare(b.priority(), a.priority()));
        this.devices = List.copyOf(all);
        this.router = new Router(backends, devices, fallback, this.config.forcedBackend());
        if (this.config.verbose()) {
            for (BackendStatus s : backends) {
                if (s.available()) continue;
                this.config.trace().println("dispatch backend " + s.name() + " skipped: " + s.reason());
            }
        }
    }

    /**
     * The process-wide instance, created on first use from the providers on the class path and
     * {@link DispatchConfig#fromEnvironment()}. After {@link #close()} the next call creates a new one.
     */
    public static Dispatch get() {
        Dispatch d = instance;
        if (d != null && !d.closed) return d;
        synchronized (LOCK) {
            if (instance == null || instance.closed) {
                Discovery.Found found = Discovery.fromServiceLoader();
                instance = new Dispatch(found.providers(), found.broken(), DispatchConfig.fromEnvironment());
            }
            return instance;
        }
    }

    /** An instance over exactly these providers, for tests and tools; the caller closes it. */
    public static Dispatch create(List<BackendProvider> providers, DispatchConfig config) {
        if (providers == null) throw new IllegalArgumentException("dispatch: providers is null");
        return new Dispatch(List.copyOf(providers), List.of(), config);
    }

    /** One status per provider found, available ones by their best device's priority, then the rest. */
    public List<BackendStatus> backends() { return backends; }

    /** Every opened device, highest priority first. The host reference fallback is not among them. */
    public List<Device> devices() { return devices; }

    public DispatchConfig config() { return config; }

    /**
     * What would run where and why, for operands placed as in {@code args} (null: all on the host).
     * Makes and caches the decision (printing its trace line the first time) but builds no plan.
     *
     * @throws IllegalStateException when a forced backend cannot run the op, or after {@link #close()}
     */
    public Decision decide(OpDesc desc, Args args) {
        if (desc == null) throw new IllegalArgumentException("dispatch: descriptor is null");
        ensureOpen(desc);
        return route(desc, Placement.of(desc.args(), args)).decision();
    }

    /**
     * Runs one op and returns when its outputs are written. {@code args} must already be validated (by
     * {@link dev.kiln.kernels.Kernels#validate}); operands not usable by the chosen device are copied to
     * temporaries there and back.
     *
     * @throws IllegalStateException when a forced backend cannot run the op, or after {@link #close()}
     */
    public void execute(OpDesc desc, Args args) {
        if (desc == null || args == null)
            throw new IllegalArgumentException("dispatch: " + (desc == null ? "descriptor" : desc.opName() + " args") + " is null");
        ensureOpen(desc);
        List<ArgSpec> specs = desc.args(); // built once per call: descriptors compute their specs on demand
        Router.Route route = route(desc, Placement.of(specs, args));
        Decision decision = route.decision();
        Plan plan = plan(decision.device(), route.impl(), desc);
        Staging.run(decision.device(), specs, plan, args);
    }

    /** Plans built so far (one per device, implementation and descriptor); for tests and tools. */
    public int planCount() { return planCount.get(); }

    /** Decisions made so far (one per descriptor and operand placement); for tests and tools. */
    public int decisionCount() { return decisionCount.get(); }

    /**
     * Closes every plan, then every device. Calls in flight on other threads are not waited for: close
     * when the work is done. Failures while closing are collected and thrown together at the end.
     */
    public void close() {
        synchronized (this) {
            if (closed) return;
            closed = true;
        }
        RuntimeException failure = null;
        for (CompletableFuture<Plan> f : plans.values()) {
            Plan p = f.getNow(null);
            if (p == null) continue;
            failure = closeQuietly(p, failure);
        }
        plans.clear();
        routes.clear();
        Set<Device> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Device d : devices) if (seen.add(d)) failure = closeQuietly(d, failure);
        if (failure != null) throw failure;
    }

    private static RuntimeException closeQuietly(AutoCloseable c, RuntimeException failure) {
        try {
            c.close();
        } catch (Exception e) {
            RuntimeException r = e instanceof RuntimeException re ? re : new IllegalStateException(e);
            if (failure == null) return new IllegalStateException("dispatch: closing failed: " + Discovery.oneLine(e), r);
            failure.addSuppressed(r);
        }
        return failure;
    }

    private Router.Route route(OpDesc desc, Placement placement) {
        RouteKey key = new RouteKey(desc, placement);
        return memo(routes, key, () -> {
            Router.Route r = router.route(desc, placement);
            decisionCount.incrementAndGet();
            if (config.verbose()) config.trace().println(r.decision().summary());
            return r;
        });
    }

    private Plan plan(Device device, KernelImpl impl, OpDesc desc) {
        PlanKey key = new PlanKey(device, impl.name(), desc);
        return memo(plans, key, () -> {
            Plan p = impl.plan(desc);
            if (p == null) throw new IllegalStateException(desc.opName() + ": " + device.backend() + "/" + impl.name() + " returned no plan");
            planCount.incrementAndGet();
            return p;
        });
    }

    /**
     * Compute-once for a concurrent map: the first caller for a key computes outside any map lock (so a
     * slow kernel build blocks only callers of that key, and may itself dispatch), others wait for it. A
     * failure is not cached: it is thrown to everyone waiting and the next call tries again.
     */
    private static <K, V> V memo(ConcurrentMap<K, CompletableFuture<V>> map, K key, java.util.function.Supplier<V> compute) {
        CompletableFuture<V> existing = map.get(key);
        if (existing == null) {
            CompletableFuture<V> mine = new CompletableFuture<>();
            existing = map.putIfAbsent(key, mine);
            if (existing == null) {
                try {
                    V v = compute.get();
                    mine.complete(v);
                    return v;
                } catch (RuntimeException | Error e) {
                    map.remove(key, mine);
                    mine.completeExceptionally(e);
                    throw e;
                }
            }
        }
        try {
            return existing.join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof RuntimeException re) throw re;
            if (e.getCause() instanceof Error err) throw err;
            throw e;
        }
    }

    private void ensureOpen(OpDesc desc) {
        if (closed) throw new IllegalStateException((desc == null ? "dispatch" : desc.opName()) + ": dispatch is closed");
    }

    /** Available backends by their best device's priority (stable), then unavailable ones as found. */
    private static List<BackendStatus> byPriority(List<BackendStatus> found) {
        List<BackendStatus> up = new ArrayList<>(), down = new ArrayList<>();
        for (BackendStatus s : found) (s.available() ? up : down).add(s);
        up.sort((a, b) -> Integer.compare(best(b), best(a)));
        up.addAll(down);
        return up;
    }

    private static int best(BackendStatus s) {
        int best = Integer.MIN_VALUE;
        for (Device d : s.devices()) best = Math.max(best, d.priority());
        return best;
    }
}
