package dev.kiln.opencl;

import org.jocl.CL;
import org.jocl.Pointer;
import org.jocl.Sizeof;
import org.jocl.cl_device_id;
import org.jocl.cl_kernel;
import org.jocl.cl_program;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Map;

/**
 * The programs of one device, built once per (source, options) and kept until the device closes, so
 * planning never compiles twice and execution never compiles at all. Keyed by the SHA-256 of the source
 * and options rather than a file name, so an edited source is never served from a stale build.
 *
 * <p>Built programs are also kept on disk as device binaries, under {@code ~/.cache/kiln/opencl} (or
 * {@code -Dkiln.opencl.cacheDir}; {@code -Dkiln.opencl.binaryCache=false} turns it off), in one folder per
 * platform, device, device version and driver version, one file per source hash. A binary the driver
 * rejects, or any I/O problem, falls back to building from source: the cache only ever saves time.
 */
final class ClPrograms {
    private static final System.Logger LOG = System.getLogger("dev.kiln.opencl");

    private final OpenClDevice device;
    private final Path cacheDir;
    private final Map<String, cl_program> built = new HashMap<>();
    private int fromDisk;
    private boolean closed;

    ClPrograms(OpenClDevice device) { this(device, defaultCacheDir()); }

    /** With {@code cacheRoot} as the binary cache (null: none). */
    ClPrograms(OpenClDevice device, Path cacheRoot) {
        this.device = device;
        Map<String, String> p = device.properties();
        this.cacheDir = cacheRoot == null ? null : cacheRoot.resolve(hash(p.get("platform") + "|" + p.get("device") + "|"
                + p.get("version") + "|" + p.get("driver version")).substring(0, 24));
    }

    private static Path defaultCacheDir() {
        if (!Boolean.parseBoolean(System.getProperty("kiln.opencl.binaryCache", "true"))) return null;
        String dir = System.getProperty("kiln.opencl.cacheDir");
        return dir != null ? Path.of(dir) : Path.of(System.getProperty("user.home"), ".cache", "kiln", "opencl");
    }

    /** The source of {@code name} in this package's resources, e.g. {@code gemm.cl}. */
    static String resource(String name) {
        try (InputStream in = ClPrograms.class.getResourceAsStream(name)) {
            if (in == null) throw new IllegalStateException("opencl: resource " + name + " missing from the jar");
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("opencl: reading " + name, e);
        }
    }

    /** The built program for {@code source}; {@code label} names it in errors. */
    synchronized cl_program program(String label, String source, String options) {
        if (closed) throw new IllegalStateException("opencl: device " + device.name() + " is closed");
        String key = hash(source + "\0" + options);
        cl_program p = built.get(key);
        if (p == null) {
            p = cacheDir == null ? null : loadBinary(label, key, options);
            if (p == null) {
                p = build(label, source, options);
                if (cacheDir != null) saveBinary(label, key, p);
            }
            built.put(key, p);
        }
        return p;
    }

    /** This device's folder of the binary cache (null when off); the GEMM tuning entries live there too. */
    Path cacheDir() { return cacheDir; }

    /** Programs this cache took from disk rather than compiling; for tests. */
    synchronized int fromDisk() { return fromDisk; }

    private cl_program loadBinary(String label, String key, String options) {
        Path file = cacheDir.resolve(key + ".bin");
        if (!Files.isRegularFile(file)) return null;
        byte[] binary;
        try {
            binary = Files.readAllBytes(file);
        } catch (IOException e) {
            return null;
        }
        int[] status = new int[1], err = new int[1];
        cl_program p = CL.clCreateProgramWithBinary(device.context(), 1, new cl_device_id[] {device.id()},
                new long[] {binary.length}, new byte[][] {binary}, status, err);
        if (err[0] != CL.CL_SUCCESS) {
            LOG.log(System.Logger.Level.DEBUG, "opencl: cached binary of " + label + " rejected (" + OpenClException.errorName(err[0]) + "), rebuilding");
            return null;
        }
        ClLive.created(ClLive.Kind.PROGRAM);
        if (status[0] != CL.CL_SUCCESS || CL.clBuildProgram(p, 1, new cl_device_id[] {device.id()}, options, null, null) != CL.CL_SUCCESS) {
            release(p);
            return null;
        }
        fromDisk++;
        return p;
    }

    /** Writes the device binary atomically (temp file, then move), so a concurrent reader never sees half of it. */
    private void saveBinary(String label, String key, cl_program p) {
        long[] size = new long[1];
        if (CL.clGetProgramInfo(p, CL.CL_PROGRAM_BINARY_SIZES, Sizeof.size_t, Pointer.to(size), null) != CL.CL_SUCCESS || size[0] <= 0)
            return;
        byte[] binary = new byte[Math.toIntExact(size[0])];
        if (CL.clGetProgramInfo(p, CL.CL_PROGRAM_BINARIES, Sizeof.POINTER, Pointer.to(new Pointer[] {Pointer.to(binary)}), null)
                != CL.CL_SUCCESS) return;
        Path tmp = null;
        try {
            Files.createDirectories(cacheDir);
            tmp = Files.createTempFile(cacheDir, key, ".tmp");
            Files.write(tmp, binary);
            Files.move(tmp, cacheDir.resolve(key + ".bin"), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException | UnsupportedOperationException e) {
            LOG.log(System.Logger.Level.DEBUG, "opencl: could not cache the binary of " + label + ": " + e);
            try {
                if (tmp != null) Files.deleteIfExists(tmp);
            } catch (IOException ignored) {
                // Best effort: a stray temp file is harmless.
            }
        }
    }

    private cl_program build(String label, String source, String options) {
        int[] err = new int[1];
        cl_program p = CL.clCreateProgramWithSource(device.context(), 1, new String[] {source}, null, err);
        OpenClException.check(err[0], "clCreateProgramWithSource", label);
        ClLive.created(ClLive.Kind.PROGRAM);
        try {
            int rc = CL.clBuildProgram(p, 1, new cl_device_id[] {device.id()}, options, null, null);
            if (rc != CL.CL_SUCCESS) throw new OpenClException("clBuildProgram", label, rc, "build log:\n" + buildLog(p));
            return p;
        } catch (RuntimeException e) {
            release(p);
            throw e;
        }
    }

    private String buildLog(cl_program p) {
        long[] size = new long[1];
        if (CL.clGetProgramBuildInfo(p, device.id(), CL.CL_PROGRAM_BUILD_LOG, 0, null, size) != CL.CL_SUCCESS) return "(no build log)";
        byte[] log = new byte[(int) size[0]];
        if (CL.clGetProgramBuildInfo(p, device.id(), CL.CL_PROGRAM_BUILD_LOG, log.length, Pointer.to(log), null) != CL.CL_SUCCESS)
            return "(no build log)";
        return ClInfo.cString(log);
    }

    /** A new kernel object of {@code program}; the caller owns it (one per plan, as argument setting is not thread-safe). */
    ClKernel kernel(cl_program program, String name) {
        int[] err = new int[1];
        cl_kernel k = CL.clCreateKernel(program, name, err);
        OpenClException.check(err[0], "clCreateKernel", name);
        ClLive.created(ClLive.Kind.KERNEL);
        return new ClKernel(device, k, name);
    }

    /** Releases every program; called by the device after its kernels are gone. */
    synchronized void close() {
        closed = true;
        RuntimeException first = null;
        for (cl_program p : built.values()) {
            try {
                release(p);
            } catch (RuntimeException e) {
                if (first == null) first = e;
            }
        }
        built.clear();
        if (first != null) throw first;
    }

    synchronized int size() { return built.size(); }

    private static void release(cl_program p) {
        int rc = CL.clReleaseProgram(p);
        if (rc == CL.CL_SUCCESS) ClLive.released(ClLive.Kind.PROGRAM);
        OpenClException.check(rc, "clReleaseProgram", null);
    }

    static String hash(String text) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required of every JDK", e);
        }
    }
}
