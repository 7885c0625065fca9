package dev.kiln.nn.data;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPInputStream;

/**
 * An IDX file (the MNIST format) of unsigned bytes: a 4-byte magic (0, 0, type 0x08, rank), {@code rank}
 * big-endian int32 dimensions, then the data in row-major order. Gzip-compressed files ({@code .gz}, or any
 * file starting with the gzip magic) are read transparently. Only the u8 type is accepted, since every
 * MNIST-family file uses it. Errors name the file and the byte offset (in the decompressed stream).
 */
public record IdxFile(Path path, int[] dims, byte[] data) {
    private static final int TYPE_U8 = 0x08;
    private static final int MAX_RANK = 4;

    public IdxFile {
        dims = dims.clone();
    }

    @Override public int[] dims() { return dims.clone(); }

    public int dim(int i) { return dims[i]; }

    public int rank() { return dims.length; }

    /** Number of items: the first dimension. */
    public int items() { return dims[0]; }

    public static IdxFile read(Path path) throws IOException {
        if (!Files.exists(path)) throw new NoSuchFileException(path.toString(), null, "IDX file not found");
        try (InputStream raw = new BufferedInputStream(Files.newInputStream(path), 1 << 16)) {
            raw.mark(2);
            int b0 = raw.read(), b1 = raw.read();
            raw.reset();
            InputStream in = (b0 == 0x1f && b1 == 0x8b) ? new BufferedInputStream(new GZIPInputStream(raw, 1 << 16), 1 << 16) : raw;
            return parse(path, new DataInputStream(in));
        } catch (java.util.zip.ZipException e) {
            throw new IOException(path + ": corrupt gzip data: " + e.getMessage(), e);
        }
    }

    private static IdxFile parse(Path path, DataInputStream in) throws IOException {
        long offset = 0;
        int[] magic = new int[4];
        for (int i = 0; i < 4; i++, offset++) magic[i] = readByte(path, in, offset, "the magic number");
        if (magic[0] != 0 || magic[1] != 0)
            throw corrupt(path, 0, "bad magic " + hex(magic) + ", expected 00 00 <type> <rank>");
        if (magic[2] != TYPE_U8)
            throw corrupt(path, 2, "unsupported element type 0x" + Integer.toHexString(magic[2]) + ", expected 0x08 (u8)");
        int rank = magic[3];
        if (rank < 1 || rank > MAX_RANK) throw corrupt(path, 3, "rank " + rank + " out of range 1.." + MAX_RANK);
        int[] dims = new int[rank];
        long count = 1;
        for (int i = 0; i < rank; i++, offset += 4) {
            int d;
            try {
                d = in.readInt();
            } catch (EOFException e) {
                throw corrupt(path, offset, "file ends inside dimension " + i + " of " + rank);
            }
            if (d <= 0) throw corrupt(path, offset, "dimension " + i + " is " + d);
            dims[i] = d;
            count *= d;
            if (count > Integer.MAX_VALUE - 8) throw corrupt(path, offset, "data of " + Arrays.toString(dims) + " is too large");
        }
        byte[] data = new byte[(int) count];
        int read = in.readNBytes(data, 0, data.length);
        if (read < data.length)
            throw corrupt(path, offset + read, "file ends after " + read + " of " + data.length + " data bytes for dims "
                    + Arrays.toString(dims));
        if (in.read() != -1) throw corrupt(path, offset + data.length, "trailing bytes after " + data.length + " data bytes");
        return new IdxFile(path, dims, data);
    }

    private static int readByte(Path path, DataInputStream in, long offset, String what) throws IOException {
        int b = in.read();
        if (b < 0) throw corrupt(path, offset, "file ends inside " + what);
        return b;
    }

    private static IOException corrupt(Path path, long offset, String message) {
        return new IOException(path + ": corrupt IDX file at byte " + offset + ": " + message);
    }

    private static String hex(int[] bytes) {
        StringBuilder sb = new StringBuilder();
        for (int b : bytes) sb.append(sb.isEmpty() ? "" : " ").append(String.format("%02x", b));
        return sb.toString();
    }
}
