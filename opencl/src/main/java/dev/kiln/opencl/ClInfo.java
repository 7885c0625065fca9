package dev.kiln.opencl;

import org.jocl.CL;
import org.jocl.Pointer;
import org.jocl.Sizeof;
import org.jocl.cl_device_id;
import org.jocl.cl_platform_id;

import java.nio.charset.StandardCharsets;

/** Typed reads of clGetDeviceInfo / clGetPlatformInfo; errors become {@link OpenClException}. */
final class ClInfo {
    private ClInfo() {}

    static String deviceString(cl_device_id d, int param) {
        long[] size = new long[1];
        OpenClException.check(CL.clGetDeviceInfo(d, param, 0, null, size), "clGetDeviceInfo", null);
        byte[] bytes = new byte[(int) size[0]];
        OpenClException.check(CL.clGetDeviceInfo(d, param, bytes.length, Pointer.to(bytes), null), "clGetDeviceInfo", null);
        return cString(bytes);
    }

    static String platformString(cl_platform_id p, int param) {
        long[] size = new long[1];
        OpenClException.check(CL.clGetPlatformInfo(p, param, 0, null, size), "clGetPlatformInfo", null);
        byte[] bytes = new byte[(int) size[0]];
        OpenClException.check(CL.clGetPlatformInfo(p, param, bytes.length, Pointer.to(bytes), null), "clGetPlatformInfo", null);
        return cString(bytes);
    }

    /** cl_ulong and cl_bitfield values (memory sizes, device type). */
    static long deviceLong(cl_device_id d, int param) {
        long[] v = new long[1];
        OpenClException.check(CL.clGetDeviceInfo(d, param, Sizeof.cl_ulong, Pointer.to(v), null), "clGetDeviceInfo", null);
        return v[0];
    }

    static int deviceInt(cl_device_id d, int param) {
        int[] v = new int[1];
        OpenClException.check(CL.clGetDeviceInfo(d, param, Sizeof.cl_uint, Pointer.to(v), null), "clGetDeviceInfo", null);
        return v[0];
    }

    /** size_t values; JOCL supports only 64-bit hosts for these reads. */
    static long deviceSize(cl_device_id d, int param) {
        long[] v = new long[1];
        OpenClException.check(CL.clGetDeviceInfo(d, param, Sizeof.size_t, Pointer.to(v), null), "clGetDeviceInfo", null);
        return v[0];
    }

    static String cString(byte[] bytes) {
        int end = 0;
        while (end < bytes.length && bytes[end] != 0) end++;
        return new String(bytes, 0, end, StandardCharsets.UTF_8).strip();
    }
}
