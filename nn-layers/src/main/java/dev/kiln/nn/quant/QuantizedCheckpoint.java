package dev.kiln.nn.quant;

import dev.kiln.kernels.io.Json;
import dev.kiln.nn.layers.Layer;
import dev.kiln.nn.layers.Parameter;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes a {@link QuantizedModel} as safetensors with the stored types: per quantised layer {@code i},
 * {@code i.weight} (I8 codes n x k for int8; U8 n x k/2 holding two s4 codes per byte, low nibble first,
 * for int4), {@code i.weight_scale} (F32, per channel or n x k/group), {@code i.bias} (F32) and for int8
 * {@code i.input_scale} (F32, one value; metadata {@code i.input} says u8 or s8). Layers kept in f32
 * are written as F32 under their usual names. Written to a temporary file and renamed, so an existing file
 * is never left half-written.
 */
public final class QuantizedCheckpoint {
    private QuantizedCheckpoint() {}

    private record Item(String name, String dtype, int[] shape, byte[] data) {}

    public static void save(Path file, QuantizedModel model, Map<String, String> metadata) throws IOException {
        Map<String, String> meta = new LinkedHashMap<>(metadata);
        List<Item> items = new ArrayList<>();
        List<Layer> layers = model.layers();
        for (int i = 0; i < layers.size(); i++) {
            Layer l = layers.get(i);
            LowBitMatmul q = l instanceof QuantizedLinear ql ? ql.matmul : l instanceof QuantizedConv2d qc ? qc.matmul() : null;
            if (q == null) {
                for (Parameter p : l.parameters()) items.add(f32(i + "." + p.name(), p.tensor().shape(), p.tensor().toArray()));
                continue;
            }
            switch (q.mode) {
                case INT8 -> items.add(new Item(i + ".weight", "I8", new int[] {q.n, q.k}, LowBitMatmul.bytesOf(q.weightCodes)));
                case INT4 -> items.add(new Item(i + ".weight", "U8", new int[] {q.n, q.k / 2}, LowBitMatmul.packS4(q.weightCodes, q.n * q.k)));
                case BINARY -> items.add(new Item(i + ".weight", "U8", new int[] {q.n, (q.k + 7) / 8}, LowBitMatmul.packBits(q.weightCodes, q.n, q.k)));
            }
            int groups = q.weightScales.length / q.n;
            items.add(f32(i + ".weight_scale", groups == 1 ? new int[] {q.n} : new int[] {q.n, groups}, q.weightScales));
            items.add(f32(i + ".bias", new int[] {q.n}, q.bias));
            meta.put(i + ".quantization", q.mode.lower());
            if (q.mode == QuantMode.INT8) {
                items.add(f32(i + ".input_scale", new int[] {1}, new float[] {q.inputScale}));
                meta.put(i + ".input", q.unsignedInput ? "u8" : "s8");
            }
        }
        write(file, meta, items);
    }

    private static Item f32(String name, int[] shape, float[] v) {
        ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(v);
        return new Item(name, "F32", shape, b.array());
    }

    private static void write(Path file, Map<String, String> meta, List<Item> items) throws IOException {
        StringBuilder json = new StringBuilder("{\"__metadata__\":{");
        boolean first = true;
        for (Map.Entry<String, String> e : meta.entrySet()) {
            json.append(first ? "" : ",").append(Json.quote(e.getKey())).append(':').append(Json.quote(e.getValue()));
            first = false;
        }
        json.append('}');
        long offset = 0;
        for (Item it : items) {
            json.append(',').append(Json.quote(it.name())).append(":{\"dtype\":\"").append(it.dtype()).append("\",\"shape\":[");
            for (int d = 0; d < it.shape().length; d++) json.append(d == 0 ? "" : ",").append(it.shape()[d]);
            json.append("],\"data_offsets\":[").append(offset).append(',').append(offset + it.data().length).append("]}");
            offset += it.data().length;
        }
        json.append('}');
        byte[] header = json.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (header.length + 7) / 8 * 8;
        byte[] head = new byte[8 + padded];
        java.util.Arrays.fill(head, 8, head.length, (byte) ' ');
        ByteBuffer.wrap(head).order(ByteOrder.LITTLE_ENDIAN).putLong(0, padded);
        System.arraycopy(header, 0, head, 8, header.length);
        Path target = file.toAbsolutePath();
        Path tmp = Files.createTempFile(target.getParent(), "." + target.getFileName() + ".", ".tmp");
        try (var out = Files.newOutputStream(tmp)) {
            out.write(head);
            for (Item it : items) out.write(it.data());
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }
}
