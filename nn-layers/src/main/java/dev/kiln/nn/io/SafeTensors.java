package dev.kiln.nn.io;

import dev.kiln.kernels.io.Json;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The safetensors format for f32 tensors: an 8-byte little-endian header length H, H bytes of JSON (padded
 * with spaces to a multiple of 8), then the data section. The header maps each tensor name to
 * {@code {"dtype":"F32","shape":[...],"data_offsets":[begin,end]}} (byte offsets into the data section,
 * values little-endian) and {@code __metadata__} to string values. Kiln adds {@code sha256}, the hex
 * SHA-256 of the whole data section, to the metadata and checks it on reading.
 *
 * <p>Writing goes to a temporary file in the target's folder, which is flushed to disk and then renamed
 * over the target atomically: a failed or interrupted save never damages an existing file.
 */
public final class SafeTensors {
    /** The metadata key holding the data section's checksum; reserved. */
    public static final String CHECKSUM_KEY = "sha256";
    /** Headers larger than this are taken as corruption rather than read into memory. */
    static final long MAX_HEADER_BYTES = 64L << 20;

    private SafeTensors() {}

    /** One tensor to write; {@code values} is called when its data is written (e.g. to copy it from a device). */
    public record Item(String name, int[] shape, Supplier<float[]> values) {}

    /** One tensor read back. */
    public record Entry(int[] shape, float[] values) {}

    /** A file's metadata (without the checksum) and tensors, in file order. */
    public record Contents(Map<String, String> metadata, Map<String, Entry> tensors) {}

    public static void write(Path file, Map<String, String> metadata, List<Item> items) throws IOException {
        if (metadata.containsKey(CHECKSUM_KEY)) throw new IllegalArgumentException("safetensors: metadata key " + CHECKSUM_KEY + " is reserved");
        String placeholder = "0".repeat(64);
        StringBuilder json = new StringBuilder("{\"__metadata__\":{");
        for (Map.Entry<String, String> e : metadata.entrySet())
            json.append(Json.quote(e.getKey())).append(':').append(Json.quote(e.getValue())).append(',');
        json.append(Json.quote(CHECKSUM_KEY)).append(":\"");
        int checksumAt = json.length();
        json.append(placeholder).append("\"}");
        long offset = 0;
        for (Item it : items) {
            if (it.name().equals("__metadata__")) throw new IllegalArgumentException("safetensors: tensor name __metadata__ is reserved");
            long bytes = 4 * count(it.shape());
            json.append(',').append(Json.quote(it.name())).append(":{\"dtype\":\"F32\",\"shape\":[");
            for (int i = 0; i < it.shape().length; i++) json.append(i == 0 ? "" : ",").append(it.shape()[i]);
            json.append("],\"data_offsets\":[").append(offset).append(',').append(offset + bytes).append("]}");
            offset += bytes;
        }
        json.append('}');
        // The checksum position in bytes: everything before it is ASCII-safe only if keys are, so measure UTF-8.
        long checksumByte = 8 + json.substring(0, checksumAt).getBytes(StandardCharsets.UTF_8).length;
        byte[] header = json.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (header.length + 7) / 8 * 8;
        byte[] head = new byte[8 + padded];
        Arrays.fill(head, 8, head.length, (byte) ' ');
        ByteBuffer.wrap(head).order(ByteOrder.LITTLE_ENDIAN).putLong(0, padded);
        System.arraycopy(header, 0, head, 8, header.length);

        Path target = file.toAbsolutePath();
        Path tmp = Files.createTempFile(target.getParent(), "." + target.getFileName() + ".", ".tmp");
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                writeFully(ch, ByteBuffer.wrap(head));
                MessageDigest sha = sha256();
                for (Item it : items) {
                    float[] v = it.values().get();
                    if (v.length != count(it.shape()))
                        throw new IllegalStateException("safetensors: tensor " + it.name() + " gave " + v.length + " values for shape "
                                + Arrays.toString(it.shape()));
                    ByteBuffer buf = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
                    buf.asFloatBuffer().put(v);
                    sha.update(buf.duplicate());
                    writeFully(ch, buf);
                }
                ch.position(checksumByte);
                writeFully(ch, ByteBuffer.wrap(HexFormat.of().formatHex(sha.digest()).getBytes(StandardCharsets.US_ASCII)));
                ch.force(true);
            }
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException | RuntimeException | Error e) {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    /** Reads and checks a whole file; every error names the file and, for format errors, the byte offset. */
    public static Contents read(Path file) throws IOException {
        byte[] all = Files.readAllBytes(file);
        String where = "checkpoint " + file;
        if (all.length < 8)
            throw new IOException(where + ": truncated at byte " + all.length + ": the 8-byte header length needs 8 bytes");
        long headerLength = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        if (headerLength < 2 || headerLength > MAX_HEADER_BYTES || headerLength > all.length - 8L)
            throw new IOException(where + ": bad header length " + headerLength + " at byte 0 (the file has " + all.length
                    + " bytes, so at most " + (all.length - 8) + " can be header)");
        String header;
        try {
            header = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(all, 8, (int) headerLength)).toString();
        } catch (CharacterCodingException e) {
            throw new IOException(where + ": bad header at byte 8: not valid UTF-8", e);
        }
        Object root;
        try {
            root = JsonReader.parse(header);
        } catch (JsonReader.SyntaxError e) {
            long at = 8 + header.substring(0, e.position).getBytes(StandardCharsets.UTF_8).length;
            throw new IOException(where + ": bad JSON header at byte " + at + ": " + e.getMessage(), e);
        }
        if (!(root instanceof Map<?, ?> map)) throw new IOException(where + ": bad header at byte 8: not a JSON object");
        long dataStart = 8 + headerLength, dataBytes = all.length - dataStart;
        Map<String, String> metadata = new LinkedHashMap<>();
        Map<String, Entry> tensors = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : map.entrySet()) {
            String name = (String) e.getKey();
            if (name.equals("__metadata__")) {
                if (!(e.getValue() instanceof Map<?, ?> meta)) throw new IOException(where + ": __metadata__ is not an object");
                for (Map.Entry<?, ?> m : meta.entrySet()) {
                    if (!(m.getValue() instanceof String s))
                        throw new IOException(where + ": metadata " + m.getKey() + " is not a string");
                    metadata.put((String) m.getKey(), s);
                }
                continue;
            }
            tensors.put(name, entry(where, name, e.getValue(), all, dataStart, dataBytes));
        }
        String expected = metadata.remove(CHECKSUM_KEY);
        if (expected == null) throw new IOException(where + ": no " + CHECKSUM_KEY + " checksum in __metadata__");
        MessageDigest sha = sha256();
        sha.update(all, (int) dataStart, (int) dataBytes);
        String actual = HexFormat.of().formatHex(sha.digest());
        if (!actual.equalsIgnoreCase(expected))
            throw new IOException(where + ": checksum mismatch: the data section (bytes " + dataStart + ".." + all.length
                    + ") hashes to " + actual + ", the header says " + expected + " (the file is corrupt)");
        return new Contents(metadata, tensors);
    }

    private static Entry entry(String where, String name, Object spec, byte[] all, long dataStart, long dataBytes) throws IOException {
        String t = where + ": tensor " + name;
        if (!(spec instanceof Map<?, ?> m)) throw new IOException(t + ": header entry is not an object");
        Object dtype = m.get("dtype");
        if (!"F32".equals(dtype)) throw new IOException(t + " has dtype " + dtype + ", expected F32");
        if (!(m.get("shape") instanceof List<?> dims)) throw new IOException(t + ": shape is missing or not a list");
        int[] shape = new int[dims.size()];
        for (int i = 0; i < shape.length; i++) {
            if (!(dims.get(i) instanceof Long d) || d < 0 || d > Integer.MAX_VALUE)
                throw new IOException(t + ": shape " + dims + " has a bad dimension " + dims.get(i));
            shape[i] = (int) (long) d;
        }
        if (!(m.get("data_offsets") instanceof List<?> off) || off.size() != 2
                || !(off.get(0) instanceof Long begin) || !(off.get(1) instanceof Long end) || begin < 0 || end < begin)
            throw new IOException(t + ": data_offsets " + m.get("data_offsets") + " is not [begin, end] with 0 <= begin <= end");
        long bytes = 4 * count(shape);
        if (end - begin != bytes)
            throw new IOException(t + ": data_offsets [" + begin + "," + end + "] hold " + (end - begin) + " bytes, shape "
                    + Checkpoint.shape(shape) + " needs " + bytes);
        if (end > dataBytes)
            throw new IOException(where + ": truncated at byte " + (dataStart + dataBytes) + ": tensor " + name + " needs bytes "
                    + (dataStart + begin) + ".." + (dataStart + end));
        if (bytes / 4 > Integer.MAX_VALUE - 8) throw new IOException(t + ": too large for one array");
        float[] v = new float[(int) (bytes / 4)];
        ByteBuffer.wrap(all, (int) (dataStart + begin), (int) bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(v);
        return new Entry(shape, v);
    }

    static long count(int[] shape) {
        long n = 1;
        for (int d : shape) n = Math.multiplyExact(n, d);
        return n;
    }

    private static void writeFully(FileChannel ch, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) ch.write(buf);
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JDK", e);
        }
    }
}
