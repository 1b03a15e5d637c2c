package dev.pipectl.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.apache.flink.table.data.GenericRowData;
import org.apache.flink.table.data.StringData;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** The fast scan gives every record the row Jackson's reading gives it (or leaves the record to Jackson). */
class RecordScannerTest {

    private final OrderClassifier fast = new OrderClassifier(true);
    private final OrderClassifier jackson = new OrderClassifier(false);

    private void same(byte[] record) {
        GenericRowData want = jackson.classify(StringData.fromBytes(record));
        GenericRowData got = fast.classify(StringData.fromBytes(record));
        for (int k = 0; k < OrderClassifier.COLUMNS; k++) {
            assertEquals(want.getField(k), got.getField(k), new String(record, StandardCharsets.UTF_8) + " column " + k);
        }
    }

    static List<String> records() {
        String v = OrderClassifierTest.VALID;
        List<String> records = new ArrayList<>(List.of(
            v, OrderClassifierTest.VALID_V2, "{}", "{ }", "{\"a\":1}", "[]", "{\"event_id\":}", "{\"event_id\":\"x\",}",
            v.replace(",", " , ").replace(":", " : "), v.replace(",", ",\n\t"), v.replace("{", "{ \r\n"),
            v.replace("\"total_amount\":25.00", "\"total_amount\":25"), v.replace("25.00", "2.5e1"), v.replace("25.00", "-0"),
            v.replace("25.00", "12345678901234567890"), v.replace("25.00", "1e400"), v.replace("25.00", "01"),
            v.replace("25.00", "1."), v.replace("25.00", ".5"), v.replace("25.00", "+1"), v.replace("25.00", "1e"),
            v.replace("25.00", "NaN"), v.replace("25.00", "true"), v.replace("25.00", "truex"), v.replace("25.00", "nul"),
            v.replace("25.00", "\"25.00\""), v.replace("25.00", "{\"a\":[1,{\"b\":null}]}"), v.replace("25.00", "[1,]"),
            v.replace("\"item_count\":1", "\"item_count\":2147483648"), v.replace("\"item_count\":1", "\"item_count\":-2147483648"),
            v.replace("\"item_count\":1", "\"item_count\":9223372036854775808"), v.replace("\"item_count\":1", "\"item_count\":1.0"),
            v.replace("Coffee Mug", "Coffee \\\"Mug\\\""), v.replace("Coffee Mug", "Caf\\u00e9"), v.replace("Köln", "K\\u00f6ln"),
            v.replace("Köln", "K\tln"), v.replace("\"channel\":\"web\"", "\"channel\":\"web\",\"channel\":\"store\""),
            v.replace("\"items\":[", "\"items\":[],\"items\":["), v.replace("\"items\":[", "\"items\":[ "),
            v.replace("\"items\":[{", "\"items\":{\"a\":1},\"x\":[{"), v.replace("\"quantity\":2", "\"quantity\":2,\"quantity\":3"),
            v.replace("\"quantity\":2", "\"quantity\":-0"), v.replace("12.5", "12.50"), v.replace("12.5", "1.25e1"), v.replace("12.5", "23.00"),
            v.replace("\"quantity\":2", "\"quantity\" : 2 "), v.replace("[{", "[ {").replace("}]", "} ]"), v.replace("12.5", "1e400"),
            v.replace("\"unit_price\":12.5}", "\"unit_price\":12.5,\"tags\":[null,{}]}"), v.replace("\"unit_price\":12.5}", "\"unit_price\":12.5,\"ok\":true}"),
            v.replace("}]", "},5]"), v.replace("}]", "},{}]"), v.replace("\"customer\":{", "\"customer\":null,\"c\":{"),
            v.replace("\"customer\":{", "\"customer\":{},\"customer\":{"), v.replace("\"shipping_address\":{", "\"shipping_address\":[],\"s\":{"),
            v + "trailing", v.substring(0, v.length() - 1), v.replace("\"event_id\"", "\"event_id\":null,\"event_id\""),
            v.replace("\"event_time\":\"2026-11-27T09:30:00.123Z\"", "\"event_time\":\"2026-11-27 09:30:00\"")));
        records.add("{\"deep\":" + "[".repeat(100) + "]".repeat(100) + "," + v.substring(1));
        // the checks the scan does on bytes, against the text's
        for (String email : new String[] {"zoe @example.com", "zoe@exa mple.com", "zoe@@example.com", "@example.com", "zoe@",
            "zo\u00a0e@example.com", "zoé@example.com", "zoe@example.com\u2003", "zoe@example.com\ufeff", "z@e", ""}) {
            records.add(v.replace("zoe@example.com", email));
        }
        for (String currency : new String[] {"EU", "EURO", "eur", "€UR", "E😀R", "€€€", "E1R"}) {
            records.add(v.replace("\"EUR\"", "\"" + currency + "\""));
        }
        for (String country : new String[] {"D€", "de", "DEU", "", "D"}) {
            records.add(v.replace("\"DE\"", "\"" + country + "\""));
        }
        for (String id : new String[] {"ord-", "ord-ABC", "ord-é1", "ORD-1", "ord-0a1b2c-", "ord-0a1b2c😀"}) {
            records.add(v.replace("ord-0a1b2c", id));
            records.add(v.replace("cus-00ff", id.replace("ord", "cus")));
        }
        for (String uuid : new String[] {"0f8fad5b-d9cb-469f-a165-70867728950", "0f8fad5b-d9cb-469f-c165-70867728950e",
            "0F8FAD5B-d9cb-469f-a165-70867728950e", "0f8fad5b-d9cb-369f-a165-70867728950e", "0f8fad5bed9cb-469f-a165-70867728950e",
            "0f8fad5b-d9cb-469f-a165-70867728950é"}) {
            records.add(v.replace("0f8fad5b-d9cb-469f-a165-70867728950e", uuid));
        }
        for (String method : new String[] {"Card", "card ", "bank_transfer", "invoice", "", "cash"}) {
            records.add(v.replace("\"card\"", "\"" + method + "\""));
        }
        records.add(v.replace("\"web\"", "\"web\u00a0\""));
        records.add(v.replace("\"order.created\"", "\"order.created \""));
        records.add(v.replace("\"order.created\"", "\"order.createdé\""));
        records.add(v.replace("\"Zoë Ångström\"", "\"\""));
        records.add(v.replace("\"1 Main St\"", "\"\""));
        for (String escaped : new String[] {"1\\nMain", "\\ud800", "\\ud83d\\ude00", "\\u00E9", "\\x", "\\u12", "\\u12g4", "\\", "\\/\\b\\f\\r\\t"}) {
            records.add(v.replace("1 Main St", escaped));
            records.add(v.replace("Coffee Mug", escaped));
            records.add(v.replace("Zoë Ångström", escaped));
            records.add(v.replace("KIT-1", escaped));
        }
        return records;
    }

    @Test
    void everyRecordGivesJacksonsRow() {
        for (String record : records()) {
            same(record.getBytes(StandardCharsets.UTF_8));
        }
    }

    /** Thousands of records made from valid ones by small edits, where a scanner goes wrong if it does. */
    @Test
    void editedRecordsGiveJacksonsRow() {
        Random random = new Random(20261207);
        String[] pieces = {" ", "\n", "\t", ",", ":", "{", "}", "[", "]", "\"", "\\", "0", "1", "-", ".", "e", "E", "+",
            "null", "true", "false", "\\u00e9", "\\n", "é", "😀", "\"x\"", "\"items\"", "\"quantity\"", "\"sku\"", "1.50", "-0"};
        String[] bases = {OrderClassifierTest.VALID, OrderClassifierTest.VALID_V2};
        for (int round = 0; round < 30000; round++) {
            StringBuilder s = new StringBuilder(bases[round % 2]);
            for (int edits = 1 + random.nextInt(3); edits > 0; edits--) {
                int at = 1 + random.nextInt(s.length() - 1);
                switch (random.nextInt(3)) {
                    case 0:
                        s.insert(at, pieces[random.nextInt(pieces.length)]);
                        break;
                    case 1:
                        s.deleteCharAt(at);
                        break;
                    default:
                        s.replace(at, Math.min(s.length(), at + 1 + random.nextInt(4)), pieces[random.nextInt(pieces.length)]);
                }
            }
            byte[] record = s.toString().getBytes(StandardCharsets.UTF_8);
            if (record.length > 1 && record[0] == '{') {
                same(record);
            }
        }
    }

    /** A number as people write them: signs, 1 to 19 digits before the point, 0 to 17 after, an exponent now and then. */
    static String randomNumber(Random random) {
        StringBuilder s = new StringBuilder();
        if (random.nextInt(5) == 0) {
            s.append('-');
        }
        int intDigits = 1 + random.nextInt(random.nextBoolean() ? 5 : 19);
        s.append(intDigits == 1 ? random.nextInt(10) : 1 + random.nextInt(9));
        for (int k = 1; k < intDigits; k++) {
            s.append(random.nextInt(10));
        }
        if (random.nextInt(3) > 0) {
            s.append('.');
            for (int k = 1 + random.nextInt(random.nextBoolean() ? 3 : 17); k > 0; k--) {
                s.append(random.nextInt(10));
            }
        }
        if (random.nextInt(8) == 0) {
            s.append(random.nextBoolean() ? 'e' : 'E').append(random.nextBoolean() ? "-" : "").append(random.nextInt(40));
        }
        return s.toString();
    }

    /**
     * The scan reads most numbers without a text: its numbers, the amounts made from them and the items
     * written from them are Jackson's, for total_amount, discount_amount and unit_price.
     */
    @Test
    void numbersAreJacksons() {
        Random random = new Random(20261207);
        int exact = 0;
        for (int round = 0; round < 30000; round++) {
            String number = randomNumber(random);
            for (String record : new String[] {OrderClassifierTest.VALID.replace("25.00", number),
                OrderClassifierTest.VALID_V2.replace("5.00", number), OrderClassifierTest.VALID.replace("12.5", number)}) {
                byte[] bytes = record.getBytes(StandardCharsets.UTF_8);
                same(bytes);
                assertEquals(true, fast.scan(bytes), record);
                jackson.classify(StringData.fromBytes(bytes));
                for (JsonField[] f : new JsonField[][] {{fast.totalAmount, jackson.totalAmount}, {fast.discountAmount, jackson.discountAmount}}) {
                    assertEquals(f[1].number, f[0].number, record);
                    if (f[1].isFiniteNumber()) {
                        assertEquals(f[1].amount(), f[0].amount(), record);
                        exact += f[0].amount() == null ? 0 : 1;
                    }
                }
                assertEquals(jackson.items.string(), fast.items.string(), record);
            }
        }
        assertEquals(true, exact > 30000, "amounts compared: " + exact);
    }

    /** Bytes that are not UTF-8 anywhere in a record (in a string, a name, between tokens, after the object). */
    @Test
    void recordsThatAreNotUtf8GiveJacksonsRow() {
        Random random = new Random(7);
        byte[][] bad = {{(byte) 0x80}, {(byte) 0xC3}, {(byte) 0xC0, (byte) 0x80}, {(byte) 0xED, (byte) 0xA0, (byte) 0x80},
            {(byte) 0xF4, (byte) 0x90, (byte) 0x80, (byte) 0x80}, {(byte) 0xFF}, {(byte) 0xE2, (byte) 0x82}};
        int notUtf8 = 0;
        for (int round = 0; round < 20000; round++) {
            byte[] base = (round % 2 == 0 ? OrderClassifierTest.VALID : OrderClassifierTest.VALID_V2 + (round % 4 == 1 ? " x" : ""))
                    .getBytes(StandardCharsets.UTF_8);
            byte[] insert = bad[random.nextInt(bad.length)];
            int at = 1 + random.nextInt(base.length);
            byte[] record = new byte[base.length + insert.length];
            System.arraycopy(base, 0, record, 0, at);
            System.arraycopy(insert, 0, record, at, insert.length);
            System.arraycopy(base, at, record, at + insert.length, base.length - at);
            boolean valid = Utf8.isValid(record);
            same(record);
            assertEquals(false, !valid && fast.scan(record), "a record that is not UTF-8 is never read by the scan");
            notUtf8 += valid ? 0 : 1;
        }
        assertEquals(true, notUtf8 > 15000, "records not UTF-8: " + notUtf8);
    }

    /** The common form is read by the scan, not left to Jackson (else the scan would be dead code). */
    @Test
    void theProducersFormIsScanned() {
        OrderClassifier c = new OrderClassifier(true);
        assertEquals(true, c.scan(OrderClassifierTest.VALID.getBytes(StandardCharsets.UTF_8)));
        assertEquals(true, c.scan(OrderClassifierTest.VALID_V2.getBytes(StandardCharsets.UTF_8)));
        assertEquals(true, c.scan(OrderClassifierTest.VALID.replace("Mug", "M\\u0075g").replace("Main", "Ma\\nin")
                .getBytes(StandardCharsets.UTF_8)));
        assertEquals(false, c.scan(OrderClassifierTest.VALID.replace("\"sku\"", "\"s\\u006bu\"").getBytes(StandardCharsets.UTF_8)));
        // as producers write prices (23.00, written back 23.0), and with whitespace: scanned
        assertEquals(true, c.scan(OrderClassifierTest.VALID.replace("12.5", "23.00").replace("\"items\":[", "\"items\": [ ")
                .getBytes(StandardCharsets.UTF_8)));
        assertEquals("[{\"sku\":\"KIT-1\",\"product_name\":\"Coffee Mug\",\"quantity\":2,\"unit_price\":23.0}]",
                c.items.string().toString());
        assertEquals(false, c.scan(OrderClassifierTest.VALID.replace("\"quantity\":2", "\"quantity\":2,\"tags\":[]")
                .getBytes(StandardCharsets.UTF_8)));
    }

    /** special(w) against a byte-by-byte reading: every byte value at every place, and random words. */
    @Test
    void specialFindsAQuoteABackslashOrAControlCharacterInEightBytes() {
        Random random = new Random(7);
        for (int place = 0; place < 8; place++) {
            for (int value = 0; value < 256; value++) {
                for (int fill : new int[] {'a', 0x00, 0x1f, 0x20, 0x21, 0x5b, 0x5d, 0x7f, 0x80, 0xc3, 0xff}) {
                    long w = 0;
                    for (int k = 0; k < 8; k++) {
                        w |= (long) (k == place ? value : fill) << (8 * k);
                    }
                    assertEquals(bytewise(w), RecordScanner.special(w), Long.toHexString(w));
                }
            }
        }
        for (int k = 0; k < 2_000_000; k++) {
            long w = random.nextLong();
            if (k % 2 == 0) { // mostly plain bytes, as in a string
                w = (w & 0x7f7f7f7f7f7f7f7fL) | 0x2020202020202020L;
            }
            assertEquals(bytewise(w), RecordScanner.special(w), Long.toHexString(w));
        }
    }

    private static boolean bytewise(long w) {
        for (int k = 0; k < 8; k++) {
            int ch = (int) (w >>> (8 * k)) & 0xff;
            if (ch == '"' || ch == '\\' || ch < 0x20) {
                return true;
            }
        }
        return false;
    }
}
