package dev.kiln.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.kernels.io.Json;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class JsonTest {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    @Test void awkwardStringsSurviveAParser() throws Exception {
        String nasty = "quote \" backslash \\ newline \n tab \t bell \u0007 nul \u0000 unicode \u00e9\u4e2d";
        Map<String, Object> map = new LinkedHashMap<>();
        map.put("s", nasty);
        map.put("key \"with\" quotes", 1);
        JsonNode node = MAPPER.readTree(Json.write(map));
        assertEquals(nasty, node.get("s").asText());
        assertEquals(1, node.get("key \"with\" quotes").asInt());
    }

    @Test void nestedValuesKeepTypesAndOrder() throws Exception {
        Map<String, Object> map = new LinkedHashMap<>();
        map.put("z", List.of(1, 2.5, true));
        map.put("a", null);
        map.put("big", Long.MAX_VALUE);
        map.put("nan", Double.NaN);
        map.put("inner", Map.of("k", Arrays.asList("v", null)));
        String text = Json.write(map);
        assertTrue(text.startsWith("{\"z\":"), text);
        JsonNode node = MAPPER.readTree(text);
        assertEquals(2.5, node.get("z").get(1).asDouble());
        assertTrue(node.get("z").get(2).asBoolean());
        assertTrue(node.get("a").isNull());
        assertEquals(Long.MAX_VALUE, node.get("big").asLong());
        assertTrue(node.get("nan").isNull(), "NaN has no JSON form: " + text);
        assertTrue(node.get("inner").get("k").get(1).isNull());
    }

    @Test void unknownTypesAreRejected() {
        var e = assertThrows(IllegalArgumentException.class, () -> Json.write(List.of(new Object())));
        assertTrue(e.getMessage().contains("java.lang.Object"), e.getMessage());
    }
}
