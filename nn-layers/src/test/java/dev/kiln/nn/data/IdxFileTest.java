package dev.kiln.nn.data;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.zip.GZIPOutputStream;

import static org.junit.jupiter.api.Assertions.*;

class IdxFileTest {
    @TempDir Path dir;

    static byte[] idx(int type, int[] dims, byte[] data) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        DataOutputStream out = new DataOutputStream(bytes);
        out.write(new byte[] {0, 0, (byte) type, (byte) dims.length});
        for (int d : dims) out.writeInt(d);
        out.write(data);
        return bytes.toByteArray();
    }

    static byte[] gzip(byte[] raw) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (OutputStream gz = new GZIPOutputStream(bytes)) { gz.write(raw); }
        return bytes.toByteArray();
    }

    static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    @Test void readsPlainAndGzippedFilesAlike() throws IOException {
        byte[] data = random(3 * 5 * 7, 42);
        Path plain = Files.write(dir.resolve("x-idx3-ubyte"), idx(8, new int[] {3, 5, 7}, data));
        Path gz = Files.write(dir.resolve("x-idx3-ubyte.gz"), gzip(idx(8, new int[] {3, 5, 7}, data)));
        for (Path p : new Path[] {plain, gz}) {
            IdxFile f = IdxFile.read(p);
            assertArrayEquals(new int[] {3, 5, 7}, f.dims());
            assertArrayEquals(data, f.data());
            assertEquals(3, f.items());
        }
    }

    @Test void truncatedDataNamesFileAndOffset() throws IOException {
        byte[] full = idx(8, new int[] {4, 6}, random(24, 1));
        Path p = Files.write(dir.resolve("short.idx"), Arrays.copyOf(full, full.length - 5));
        IOException e = assertThrows(IOException.class, () -> IdxFile.read(p));
        assertTrue(e.getMessage().contains(p.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("at byte " + (full.length - 5)), e.getMessage());
        assertTrue(e.getMessage().contains("19 of 24"), e.getMessage());
    }

    @Test void badHeadersAreRejectedWithTheirOffset() throws IOException {
        Path magic = Files.write(dir.resolve("magic"), new byte[] {1, 2, 8, 1, 0, 0, 0, 1, 5});
        assertTrue(assertThrows(IOException.class, () -> IdxFile.read(magic)).getMessage().contains("at byte 0: bad magic 01 02 08 01"));
        Path type = Files.write(dir.resolve("type"), idx(0x0D, new int[] {1}, new byte[4]));
        assertTrue(assertThrows(IOException.class, () -> IdxFile.read(type)).getMessage().contains("at byte 2: unsupported element type 0xd"));
        Path rank = Files.write(dir.resolve("rank"), new byte[] {0, 0, 8, 9});
        assertTrue(assertThrows(IOException.class, () -> IdxFile.read(rank)).getMessage().contains("at byte 3: rank 9"));
        Path dim = Files.write(dir.resolve("dim"), idx(8, new int[] {2, -3}, new byte[0]));
        assertTrue(assertThrows(IOException.class, () -> IdxFile.read(dim)).getMessage().contains("at byte 8: dimension 1 is -3"));
        Path cut = Files.write(dir.resolve("cut"), new byte[] {0, 0, 8, 2, 0, 0, 0, 3, 0, 0});
        assertTrue(assertThrows(IOException.class, () -> IdxFile.read(cut)).getMessage().contains("at byte 8: file ends inside dimension 1"));
        Path trailing = Files.write(dir.resolve("trailing"), idx(8, new int[] {2}, new byte[] {1, 2, 3}));
        assertTrue(assertThrows(IOException.class, () -> IdxFile.read(trailing)).getMessage().contains("at byte 10: trailing bytes"));
    }

    @Test void corruptGzipAndMissingFileAreClear() throws IOException {
        byte[] gz = gzip(idx(8, new int[] {100}, random(100, 3)));
        gz[gz.length / 2] ^= 0x55;
        gz[gz.length / 2 + 1] ^= 0x33;
        Path bad = Files.write(dir.resolve("bad.gz"), gz);
        IOException e = assertThrows(IOException.class, () -> IdxFile.read(bad));
        assertTrue(e.getMessage().contains(bad.toString()), e.getMessage());
        Path missing = dir.resolve("nope.idx");
        assertTrue(assertThrows(IOException.class, () -> IdxFile.read(missing)).getMessage().contains("nope.idx"));
    }
}
