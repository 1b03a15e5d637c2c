package dev.pipectl.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import org.apache.flink.table.data.DecimalData;
import org.apache.flink.table.data.GenericRowData;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.data.TimestampData;
import org.apache.flink.table.data.binary.BinaryStringData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.time.LocalDateTime;

class OrderClassifierTest {

    static final String VALID = "{\"event_id\":\"0f8fad5b-d9cb-469f-a165-70867728950e\",\"event_type\":\"order.created\","
            + "\"schema_version\":1,\"event_time\":\"2026-11-27T09:30:00.123Z\",\"order_id\":\"ord-0a1b2c\","
            + "\"customer\":{\"customer_id\":\"cus-00ff\",\"name\":\"Zoë Ångström\",\"email\":\"zoe@example.com\"},"
            + "\"shipping_address\":{\"street\":\"1 Main St\",\"city\":\"Köln\",\"postal_code\":\"50667\",\"country\":\"DE\"},"
            + "\"items\":[{\"sku\":\"KIT-1\",\"product_name\":\"Coffee Mug\",\"quantity\":2,\"unit_price\":12.5}],"
            + "\"item_count\":1,\"total_amount\":25.00,\"currency\":\"EUR\",\"payment_method\":\"card\",\"channel\":\"web\"}";

    private final OrderClassifier classifier = new OrderClassifier();

    private GenericRowData classify(String text) {
        return classifier.classify(text == null ? null : StringData.fromString(text));
    }

    private String reason(String text) {
        Object r = classify(text).getField(0);
        return r == null ? null : r.toString();
    }

    /** VALID with `from` replaced by `to` (exactly once). */
    static String with(String from, String to) {
        int at = VALID.indexOf(from);
        if (at < 0 || VALID.indexOf(from, at + 1) >= 0) {
            throw new IllegalArgumentException("not exactly once in VALID: " + from);
        }
        return VALID.substring(0, at) + to + VALID.substring(at + from.length());
    }

    @Test
    void aValidOrderGivesEveryColumn() {
        GenericRowData row = classify(VALID);
        assertEquals(19, row.getArity());
        assertNull(row.getField(0));
        assertEquals("0f8fad5b-d9cb-469f-a165-70867728950e", row.getField(1).toString());
        assertEquals("order.created", row.getField(2).toString());
        assertEquals(1, row.getField(3));
        assertEquals("ord-0a1b2c", row.getField(4).toString());
        assertEquals("cus-00ff", row.getField(5).toString());
        assertEquals("Zoë Ångström", row.getField(6).toString());
        assertEquals("zoe@example.com", row.getField(7).toString());
        assertEquals("Köln", row.getField(8).toString());
        assertEquals("DE", row.getField(9).toString());
        assertEquals("[{\"sku\":\"KIT-1\",\"product_name\":\"Coffee Mug\",\"quantity\":2,\"unit_price\":12.5}]",
                row.getField(10).toString());
        assertEquals(1, row.getField(11));
        assertEquals(DecimalData.fromBigDecimal(new BigDecimal("25.00"), 12, 2), row.getField(12));
        assertEquals("EUR", row.getField(13).toString());
        assertEquals("card", row.getField(14).toString());
        assertEquals("web", row.getField(15).toString());
        assertEquals(TimestampData.fromLocalDateTime(LocalDateTime.of(2026, 11, 27, 9, 30, 0, 123_000_000)),
                row.getField(16));
        // a version 1 event has no version 2 columns, even when it carries the fields
        assertNull(row.getField(17));
        assertNull(row.getField(18));
        row = classify(with("\"channel\":\"web\"", "\"channel\":\"web\",\"discount_amount\":5,\"coupon_code\":\"X\""));
        assertNull(row.getField(0));
        assertNull(row.getField(17));
        assertNull(row.getField(18));
    }

    /** VALID as a version 2 event: 2 * 12.50 - 5.00 = 20.00. */
    static final String VALID_V2 = with("\"schema_version\":1", "\"schema_version\":2")
            .replace("\"total_amount\":25.00", "\"total_amount\":20.00")
            .replace("\"channel\":\"web\"", "\"channel\":\"web\",\"discount_amount\":5.00,\"coupon_code\":\"WINTER5\"");

    static String v2(String from, String to) {
        int at = VALID_V2.indexOf(from);
        if (at < 0 || VALID_V2.indexOf(from, at + 1) >= 0) {
            throw new IllegalArgumentException("not exactly once in VALID_V2: " + from);
        }
        return VALID_V2.substring(0, at) + to + VALID_V2.substring(at + from.length());
    }

    @Test
    void aVersion2OrderGivesItsDiscountAndCoupon() {
        GenericRowData row = classify(VALID_V2);
        assertNull(row.getField(0));
        assertEquals(2, row.getField(3));
        assertEquals(DecimalData.fromBigDecimal(new BigDecimal("20.00"), 12, 2), row.getField(12));
        assertEquals(DecimalData.fromBigDecimal(new BigDecimal("5.00"), 12, 2), row.getField(17));
        assertEquals("WINTER5", row.getField(18).toString());
        // both fields are optional: no discount means total = sum of the items; a null coupon is no coupon
        row = classify(v2(",\"discount_amount\":5.00,\"coupon_code\":\"WINTER5\"", "")
                .replace("\"total_amount\":20.00", "\"total_amount\":25"));
        assertNull(row.getField(0));
        assertNull(row.getField(17));
        assertNull(row.getField(18));
        row = classify(v2("\"coupon_code\":\"WINTER5\"", "\"coupon_code\":null"));
        assertNull(row.getField(0));
        assertNull(row.getField(18));
        // sums in decimals: 3 * 0.10 - 0.30 is not 0 in binary floating point
        String cents = v2("\"quantity\":2,\"unit_price\":12.5", "\"quantity\":3,\"unit_price\":0.1")
                .replace("\"total_amount\":20.00", "\"total_amount\":0.2").replace("\"discount_amount\":5.00", "\"discount_amount\":0.1");
        assertNull(reason(cents));
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', quoteCharacter = '`', value = {
        "total_amount is not the sum of quantity * unit_price over items minus discount_amount | `\"total_amount\":20.00` | `\"total_amount\":25.00`",
        "total_amount is not the sum of quantity * unit_price over items minus discount_amount | `\"discount_amount\":5.00` | `\"discount_amount\":5.01`",
        "total_amount is not the sum of quantity * unit_price over items minus discount_amount | `\"discount_amount\":5.00,` | ``",
        "discount_amount is not a number >= 0 with at most two fractional digits | `\"discount_amount\":5.00` | `\"discount_amount\":-5`",
        "discount_amount is not a number >= 0 with at most two fractional digits | `\"discount_amount\":5.00` | `\"discount_amount\":4.999`",
        "discount_amount is not a number >= 0 with at most two fractional digits | `\"discount_amount\":5.00` | `\"discount_amount\":\"5.00\"`",
        "coupon_code is not a string or null | `\"coupon_code\":\"WINTER5\"` | `\"coupon_code\":5`",
        // a version 2 event that breaks a version 1 rule gets the version 1 reason
        "total_amount is not positive | `\"total_amount\":20.00` | `\"total_amount\":-20.00`",
        "schema_version is not 1 | `\"schema_version\":2` | `\"schema_version\":3`",
    })
    void everyVersion2Reason(String expected, String from, String to) {
        assertEquals(expected, reason(v2(from, to == null ? "" : to)));
    }

    @Test
    void aRejectedRecordCarriesOnlyItsReason() {
        GenericRowData row = classify(with("\"event_id\":\"0f8fad5b-d9cb-469f-a165-70867728950e\",", ""));
        assertEquals("missing event_id", row.getField(0).toString());
        for (int i = 1; i < row.getArity(); i++) {
            assertNull(row.getField(i), "column " + i);
        }
    }

    @Test
    void nullAndEmptyRecordsAreNotJsonObjects() {
        assertEquals(Reasons.NOT_A_JSON_OBJECT, reason(null));
        assertEquals(Reasons.NOT_A_JSON_OBJECT, reason(""));
        assertEquals(Reasons.NOT_A_JSON_OBJECT, reason("   "));
    }

    /** Every reason, each from a record that breaks exactly that rule. */
    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', quoteCharacter = '`', value = {
        // the reasons of the SQL classification, in its order
        "not a JSON object | `{\"event_id\":` | ",
        "not a JSON object | [1,2] | ",
        "not a JSON object | `\"text\"` | ",
        "not a JSON object | 42 | ",
        "missing event_id | `\"event_id\":\"0f8fad5b-d9cb-469f-a165-70867728950e\"` | `\"event_id\":null`",
        "missing event_id | `\"event_id\":\"0f8fad5b-d9cb-469f-a165-70867728950e\"` | `\"event_id\":{\"a\":1}`",
        "missing event_time | `\"event_time\":\"2026-11-27T09:30:00.123Z\"` | `\"event_time\":[1]`",
        "event_time is not an ISO-8601 timestamp | 2026-11-27T09:30:00.123Z | yesterday",
        "event_time is not an ISO-8601 timestamp | 2026-11-27T09:30:00.123Z | 2026-13-45T25:61:00Z",
        "missing order_id | `\"order_id\":\"ord-0a1b2c\",` | ``",
        "missing customer.customer_id | `\"customer_id\":\"cus-00ff\"` | `\"customer_id\":null`",
        "items is not an array | `\"items\":[{\"sku\":\"KIT-1\",\"product_name\":\"Coffee Mug\",\"quantity\":2,\"unit_price\":12.5}]` | `\"items\":\"see attachment\"`",
        "items is not an array | `\"items\":[{\"sku\":\"KIT-1\",\"product_name\":\"Coffee Mug\",\"quantity\":2,\"unit_price\":12.5}]` | `\"items\":{\"sku\":\"KIT-1\"}`",
        "total_amount is not a number | `\"total_amount\":25.00` | `\"total_amount\":\"25.00\"`",
        "total_amount is not a number | `\"total_amount\":25.00` | `\"total_amount\":1e400`",
        "total_amount is not a number | `\"total_amount\":25.00` | `\"total_amount\":null`",
        "currency is not a 3-letter code | `\"currency\":\"EUR\"` | `\"currency\":\"EURO\"`",
        // what the contract adds
        "event_id is not a lower-case UUID v4 | 0f8fad5b-d9cb-469f-a165-70867728950e | 0F8FAD5B-D9CB-469F-A165-70867728950E",
        "event_id is not a lower-case UUID v4 | `\"event_id\":\"0f8fad5b-d9cb-469f-a165-70867728950e\"` | `\"event_id\":12345`",
        "event_type is not order.created | order.created | order.cancelled",
        "schema_version is not 1 | `\"schema_version\":1` | `\"schema_version\":\"1\"`",
        "schema_version is not 1 | `\"schema_version\":1` | `\"schema_version\":3`",
        "schema_version is not 1 | `\"schema_version\":1` | `\"schema_version\":0`",
        "event_time is not an ISO-8601 timestamp | 2026-11-27T09:30:00.123Z | 2026-11-27T09:30:00Z",
        "order_id does not match ^ord-[0-9a-z]+$ | ord-0a1b2c | ORD-1",
        "customer.customer_id does not match ^cus-[0-9a-z]+$ | cus-00ff | cus-",
        "missing customer.name | `\"name\":\"Zoë Ångström\",` | ``",
        "customer.email is not an email address | zoe@example.com | zoe at example.com",
        "missing shipping_address | `\"shipping_address\":{\"street\":\"1 Main St\",\"city\":\"Köln\",\"postal_code\":\"50667\",\"country\":\"DE\"},` | ``",
        "missing shipping_address.street | 1 Main St | ``",
        "missing shipping_address.city | Köln | ``",
        "missing shipping_address.postal_code | `\"postal_code\":\"50667\"` | `\"postal_code\":50667`",
        "shipping_address.country is not an ISO 3166-1 alpha-2 code | `\"country\":\"DE\"` | `\"country\":\"de\"`",
        "items is empty | `[{\"sku\":\"KIT-1\",\"product_name\":\"Coffee Mug\",\"quantity\":2,\"unit_price\":12.5}]` | []",
        "items holds a line without sku, product_name, an integer quantity >= 1 or a unit_price > 0 | `\"quantity\":2` | `\"quantity\":0`",
        "items holds a line without sku, product_name, an integer quantity >= 1 or a unit_price > 0 | `\"unit_price\":12.5` | `\"unit_price\":\"12.5\"`",
        "items holds a line without sku, product_name, an integer quantity >= 1 or a unit_price > 0 | `\"sku\":\"KIT-1\",` | ``",
        "item_count is not an integer >= 1 | `\"item_count\":1` | `\"item_count\":1.5`",
        "total_amount is not positive | `\"total_amount\":25.00` | `\"total_amount\":-25.00`",
        "currency is not a 3-letter code | `\"currency\":\"EUR\"` | `\"currency\":\"eur\"`",
        "payment_method is not one of card, paypal, bank_transfer, apple_pay, google_pay, invoice | `\"payment_method\":\"card\"` | `\"payment_method\":\"cash\"`",
        "channel is not one of web, mobile, store | `\"channel\":\"web\"` | `\"channel\":null`",
    })
    void everyReason(String expected, String from, String to) {
        String record = to == null && !VALID.contains(from) ? from : with(from, to == null ? "" : to);
        assertEquals(expected, reason(record));
    }

    @Test
    void notUtf8IsQuarantined() {
        byte[] bytes = VALID.replace("Köln", "K\u00f6ln").getBytes(StandardCharsets.UTF_8);
        int at = new String(bytes, StandardCharsets.ISO_8859_1).indexOf("K\u00c3\u00b6ln");
        bytes[at + 1] = (byte) 0xC3;
        bytes[at + 2] = (byte) 0x28; // a lead byte without its continuation
        GenericRowData row = classifier.classify(BinaryStringData.fromBytes(bytes));
        assertEquals(Reasons.NOT_UTF8, row.getField(0).toString());
        // broken UTF-8 that is also broken JSON keeps the SQL's reason
        byte[] cut = {'{', '"', 'a', '"', ':', (byte) 0xFF};
        assertEquals(Reasons.NOT_A_JSON_OBJECT, classifier.classify(BinaryStringData.fromBytes(cut)).getField(0).toString());
    }

    @Test
    void numbersAsStringsAndNumbersAsText() {
        // JSON_VALUE gives the text of a scalar: a numeric event_id passes the SQL's check, the contract stops it
        assertEquals(Reasons.BAD_EVENT_ID, reason(with("\"0f8fad5b-d9cb-469f-a165-70867728950e\"", "1")));
        // a 3-digit number is a "3-letter" currency for the SQL, not for the contract
        assertEquals(Reasons.BAD_CURRENCY, reason(with("\"EUR\"", "978")));
        // schema_version 1.0 is the integer 1 (JSON Schema), cast to INT 1
        GenericRowData row = classify(with("\"schema_version\":1", "\"schema_version\":1.0"));
        assertNull(row.getField(0));
        assertEquals(1, row.getField(3));
    }

    @Test
    void amountsAreRoundedToCentsAndOverflowToNull() {
        assertEquals(new BigDecimal("0.13"), amount("0.125"));
        assertEquals(new BigDecimal("100.00"), amount("1E2"));
        assertEquals(new BigDecimal("9999999999.99"), amount("9999999999.99"));
        assertNull(classify(with("\"total_amount\":25.00", "\"total_amount\":12345678901.5")).getField(12));
        assertNull(classify(with("\"total_amount\":25.00", "\"total_amount\":123456789012345678901234567890")).getField(12));
    }

    private BigDecimal amount(String json) {
        GenericRowData row = classify(with("\"total_amount\":25.00", "\"total_amount\":" + json));
        assertNull(row.getField(0));
        return ((DecimalData) row.getField(12)).toBigDecimal();
    }

    @Test
    void nestedNullsAndDuplicateKeys() {
        // a null inside customer is a missing customer_id
        assertEquals(Reasons.MISSING_CUSTOMER_ID, reason(with("\"customer\":{", "\"customer\":null,\"x\":{")));
        // the last of two keys wins, as with Jackson's reader: here the second event_id is null
        assertEquals(Reasons.MISSING_EVENT_ID,
                reason(with("\"event_type\"", "\"event_id\":null,\"event_type\"")));
        // ... and a second customer object replaces the first one whole
        assertEquals(Reasons.MISSING_CUSTOMER_ID, reason(with("\"item_count\"", "\"customer\":{\"name\":\"x\"},\"item_count\"")));
        // inside items, a repeated key keeps its first place and its last value
        GenericRowData row = classify(with("\"quantity\":2", "\"quantity\":9,\"sku\":\"KIT-2\",\"quantity\":2"));
        assertNull(row.getField(0));
        assertEquals("[{\"sku\":\"KIT-2\",\"product_name\":\"Coffee Mug\",\"quantity\":2,\"unit_price\":12.5}]",
                row.getField(10).toString());
        // nulls inside items are kept as they are
        row = classify(with("\"unit_price\":12.5}", "\"unit_price\":12.5,\"note\":null,\"tags\":[null,{}]}"));
        assertEquals("[{\"sku\":\"KIT-1\",\"product_name\":\"Coffee Mug\",\"quantity\":2,\"unit_price\":12.5,\"note\":null,\"tags\":[null,{}]}]",
                row.getField(10).toString());
    }

    @Test
    void unicodeAndEscapesAreWrittenBackLikeJackson() {
        GenericRowData row = classify(with("\"Coffee Mug\"", "\"Caf\\u00e9 \\\"Mug\\\" \\/ \\t\\u0001 😀\""));
        assertNull(row.getField(0));
        assertEquals("[{\"sku\":\"KIT-1\",\"product_name\":\"Café \\\"Mug\\\" / \\t\\u0001 😀\",\"quantity\":2,\"unit_price\":12.5}]",
                row.getField(10).toString());
        // a currency of three code points, one outside the BMP, is three letters long for the SQL
        assertEquals(Reasons.BAD_CURRENCY, reason(with("\"EUR\"", "\"€€😀\"")));
        assertEquals(Reasons.BAD_CURRENCY, reason(with("\"EUR\"", "\"€😀😀😀\"")));
    }

    @Test
    void aOneMegabyteRecordIsParsedAndTextAfterTheObjectIsIgnored() {
        String big = "x".repeat(1 << 20);
        GenericRowData row = classify(with("\"channel\":\"web\"", "\"channel\":\"web\",\"note\":\"" + big + "\""));
        assertNull(row.getField(0));
        assertEquals(Reasons.NOT_A_JSON_OBJECT, reason("{\"note\":\"" + big));
        assertNull(classify(VALID + " trailing text").getField(0));
    }

    @Test
    void recordsBeyondTheParserLimitsAreQuarantinedNotFatal() {
        String deep = "[".repeat(5000) + "]".repeat(5000);
        assertEquals(Reasons.NOT_A_JSON_OBJECT, reason(with("\"channel\":\"web\"", "\"channel\":\"web\",\"deep\":" + deep)));
        String longNumber = "1".repeat(2000);
        assertEquals(Reasons.NOT_A_JSON_OBJECT, reason(with("\"total_amount\":25.00", "\"total_amount\":" + longNumber)));
    }

    @Test
    void castsFollowFlinkTryCast() {
        assertEquals(1, OrderClassifier.toInt(" 1 "));
        assertEquals(1, OrderClassifier.toInt("1.9"));
        assertEquals(-7, OrderClassifier.toInt("-7"));
        assertEquals(Integer.MAX_VALUE, OrderClassifier.toInt("2147483647"));
        assertNull(OrderClassifier.toInt("2147483648"));
        assertNull(OrderClassifier.toInt("1e2"));
        assertNull(OrderClassifier.toInt("\t1"));
        assertNull(OrderClassifier.toInt(""));
        assertNull(OrderClassifier.toInt("-"));
        assertNull(OrderClassifier.eventTimestamp("not-a-timestamp"));
        assertEquals(TimestampData.fromLocalDateTime(LocalDateTime.of(2026, 1, 2, 3, 4, 5)),
                OrderClassifier.eventTimestamp("2026-01-02T03:04:05Z"));
    }

    @Test
    void stringsAreEncodedAsFlinkEncodesThem() {
        for (String s : new String[] {"", "abc", "Zoë", "€😀", "lone \ud800 surrogate", "\udc00x"}) {
            assertEquals(StringData.fromString(s), OrderClassifier.utf8(s), s);
        }
    }

    @Test
    void utf8Validation() {
        assertEquals(true, Utf8.isValid("aé€😀".getBytes(StandardCharsets.UTF_8)));
        assertEquals(false, Utf8.isValid(new byte[] {(byte) 0xC0, (byte) 0x80})); // overlong
        assertEquals(false, Utf8.isValid(new byte[] {(byte) 0xED, (byte) 0xA0, (byte) 0x80})); // surrogate
        assertEquals(false, Utf8.isValid(new byte[] {(byte) 0xE2, (byte) 0x82})); // cut short
        assertEquals(false, Utf8.isValid(new byte[] {(byte) 0xF4, (byte) 0x90, (byte) 0x80, (byte) 0x80})); // > U+10FFFF
    }

    /** The eight-bytes-at-once ASCII skip decides as the byte-by-byte loop: a bad byte at any offset is found. */
    @Test
    void utf8ValidationFindsABadByteAtEveryOffset() {
        for (int n = 1; n < 40; n++) {
            for (int at = 0; at < n; at++) {
                byte[] b = "x".repeat(n).getBytes(StandardCharsets.US_ASCII);
                assertEquals(true, Utf8.isValid(b));
                b[at] = (byte) 0xFF;
                assertEquals(false, Utf8.isValid(b), n + "/" + at);
                byte[] e = ("x".repeat(at) + "é" + "x".repeat(n - at)).getBytes(StandardCharsets.UTF_8);
                assertEquals(true, Utf8.isValid(e), "é at " + at + " of " + n);
                e[at + 1] = 'x'; // the lead byte without its continuation
                assertEquals(false, Utf8.isValid(e), "cut é at " + at + " of " + n);
            }
        }
    }

    /** The items writer gives exactly the bytes of the text writer encoded as UTF-8, lone surrogates included. */
    @Test
    void theItemsWriterWritesTheBytesOfTheTextWriter() throws Exception {
        JsonValues.Utf8Writer writer = new JsonValues.Utf8Writer();
        String[] records = {
            "[]", "[{}]", "[null,true,false,1,-2,12345678901234567890,0.1,-0.0,1e300,2.5e-7,12.5,12.5,\"\"]",
            "[{\"a\":\"Café \\\"Mug\\\" \\/ \\t\\u0001\\u007f\\u0080 😀 €\",\"b\":[1.5,[2.25,{\"c\":null}]]}]",
            "[\"lone \\ud800 high\",\"lone \\udc00 low\",\"pair \\ud83d\\ude00\",\"end \\ud800\"]",
            "[\"" + "xé€😀".repeat(3000) + "\"]",
        };
        for (String record : records) {
            try (com.fasterxml.jackson.core.JsonParser p = OrderClassifier.FACTORY.createParser(record)) {
                Object value = JsonValues.read(p, p.nextToken());
                for (int round = 0; round < 2; round++) { // the second time with the doubles remembered
                    assertEquals(new String(JsonValues.write(value).getBytes(StandardCharsets.UTF_8), StandardCharsets.ISO_8859_1),
                            new String(writer.write(value), StandardCharsets.ISO_8859_1), record);
                }
            }
        }
        java.util.List<Object> doubles = new java.util.ArrayList<>();
        java.util.Random random = new java.util.Random(7);
        for (int i = 0; i < 5000; i++) { // more doubles than the writer remembers: slots are reused
            doubles.add(random.nextInt(100000) / 100.0);
            doubles.add(random.nextDouble() * 1e6);
        }
        doubles.add(Double.NaN);
        doubles.add(Double.NEGATIVE_INFINITY);
        doubles.add(java.util.Collections.nCopies(3, 12.5));
        for (int round = 0; round < 2; round++) {
            assertEquals(JsonValues.write(doubles), new String(writer.write(doubles), StandardCharsets.US_ASCII));
        }
    }

    /** The parser's fast double reading gives Double.parseDouble's double for every number text. */
    @Test
    void numbersAreReadToTheSameDoubles() throws Exception {
        java.util.Random random = new java.util.Random(11);
        java.util.List<String> texts = new java.util.ArrayList<>(java.util.List.of(
                "0.1", "12.5", "25.00", "1e2", "-0.0", "4.999", "9007199254740993.0", "2.2250738585072011e-308",
                "1.7976931348623157e308", "1e400", "4.9e-324", "0.30000000000000004", "123456789012345678901234567890.5"));
        for (int i = 0; i < 20000; i++) {
            texts.add(random.nextInt(1000000) + "." + random.nextInt(100));
            texts.add(Double.toString(random.nextDouble() * Math.pow(10, random.nextInt(40) - 20)));
            texts.add(random.nextLong() + "." + Math.abs(random.nextLong()) + "e" + (random.nextInt(600) - 300));
        }
        for (String text : texts) {
            try (com.fasterxml.jackson.core.JsonParser p = OrderClassifier.FACTORY.createParser("[" + text + "]")) {
                p.nextToken();
                p.nextToken();
                assertEquals(Double.doubleToRawLongBits(Double.parseDouble(text)), Double.doubleToRawLongBits(p.getDoubleValue()), text);
            }
        }
    }

    /** Items read in one pass give what the untyped value gives: the checks' inputs and the text. */
    @Test
    void itemsReadInOnePassAreTheUntypedValues() throws Exception {
        String[] arrays = {
            "[]", "[{}]", "[1,\"x\",null,true,[{}]]",
            "[{\"sku\":\"KIT-1\",\"product_name\":\"Coffee Mug\",\"quantity\":2,\"unit_price\":12.5}]",
            "[{\"sku\":\"A\",\"product_name\":\"B\",\"quantity\":1.0,\"unit_price\":3},{\"sku\":\"\",\"product_name\":\"B\",\"quantity\":1,\"unit_price\":3}]",
            "[{\"sku\":5,\"product_name\":\"B\",\"quantity\":\"1\",\"unit_price\":-3e2}]",
            "[{\"unit_price\":12345678901234567890,\"quantity\":99999999999,\"sku\":\"Ä😀\\n\",\"product_name\":\"x\",\"tags\":[null,{\"a\":[1.50,2]}]}]",
            "[{\"sku\":\"A\",\"product_name\":\"B\",\"quantity\":1,\"unit_price\":1e400}]",
            "[{\"sku\":\"A\",\"nested\":{\"k\":1,\"k\":2},\"quantity\":1}]", // a repeated key deeper down
            "[{\"sku\":\"A\",\"sku\":\"\",\"product_name\":\"B\",\"quantity\":1,\"unit_price\":1}]",
            "[{\"a\":1},{\"a\":1}]", // the same key in two objects is not repeated
        };
        boolean[] repeated = {false, false, false, false, false, false, false, false, true, true, false};
        for (int i = 0; i < arrays.length; i++) {
            String array = arrays[i];
            Items streamed = new Items();
            Items untyped = new Items();
            try (com.fasterxml.jackson.core.JsonParser p = OrderClassifier.FACTORY.createParser(array)) {
                p.nextToken();
                streamed.read(p);
            }
            try (com.fasterxml.jackson.core.JsonParser p = OrderClassifier.FACTORY.createParser(array)) {
                @SuppressWarnings("unchecked")
                java.util.List<Object> value = (java.util.List<Object>) JsonValues.read(p, p.nextToken());
                untyped.fromValue(value);
            }
            assertEquals(repeated[i], streamed.repeatedKey, array);
            assertEquals(untyped.lines, streamed.lines, array);
            assertEquals(untyped.allItems, streamed.allItems, array);
            assertEquals(untyped.quantities, streamed.quantities, array);
            assertEquals(untyped.unitPrices, streamed.unitPrices, array);
            if (!streamed.repeatedKey) {
                assertEquals(new String(untyped.text(), StandardCharsets.UTF_8), new String(streamed.text(), StandardCharsets.UTF_8), array);
            }
        }
    }

    /** Read from the record's bytes, a compact array is a slice of them; anything else is read again and written. */
    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "[{\"sku\":\"KIT-1\",\"product_name\":\"Café 😀\",\"quantity\":2,\"unit_price\":12.5}]|true",
        "[{\"a\":[null,true,false,{\"b\":-7}],\"c\":12345678901234567890,\"d\":0.1,\"e\":\"x y\"}]|true",
        "[]|true",
        "[ ]|false",
        "[{\"sku\": \"KIT-1\"}]|false",
        "[{\"sku\":\"KIT\\/1\"}]|false",
        "[{\"unit_price\":12.50}]|false",
        "[{\"unit_price\":1e2}]|false",
        "[{\"unit_price\":1.0E7}]|true",
        "[{\"unit_price\":10000000.0}]|false",
        "[{\"quantity\":-0}]|false",
        "[{\"quantity\":-0.0}]|true",
        "[{\"n\":[1.50]}]|false",
        "[{\"unit_price\":1e400}]|false",
        "[{\"k\":1,\"k\":2}]|false",
    })
    void compactItemsAreASliceOfTheRecord(String array, boolean slice) throws Exception {
        byte[] record = ("{\"items\":" + array + ",\"x\":1}").getBytes(StandardCharsets.UTF_8);
        Items fromBytes = new Items();
        Items written = new Items();
        try (com.fasterxml.jackson.core.JsonParser p = OrderClassifier.FACTORY.createParser(record)) {
            p.nextToken();
            p.nextToken();
            p.nextToken();
            fromBytes.read(p, record);
            assertEquals(com.fasterxml.jackson.core.JsonToken.FIELD_NAME, p.nextToken()); // the parser goes on after it
        }
        try (com.fasterxml.jackson.core.JsonParser p = OrderClassifier.FACTORY.createParser(record)) {
            p.nextToken();
            p.nextToken();
            p.nextToken();
            written.read(p, null);
        }
        assertEquals(!slice, fromBytes.again(), array);
        if (slice) {
            assertEquals(array, fromBytes.string().toString());
            assertEquals(new String(written.text(), StandardCharsets.UTF_8), fromBytes.string().toString());
            assertEquals(written.quantities, fromBytes.quantities);
            assertEquals(written.unitPrices, fromBytes.unitPrices);
            assertEquals(written.allItems, fromBytes.allItems);
        }
        // through the classifier: the same row from the bytes (a slice) as from the text (a leading space: written)
        String valid = with("[{\"sku\":\"KIT-1\",\"product_name\":\"Coffee Mug\",\"quantity\":2,\"unit_price\":12.5}]", array);
        GenericRowData fromRecord = classify(valid);
        GenericRowData fromText = new OrderClassifier().classify(StringData.fromString(" " + valid));
        for (int i = 0; i < OrderClassifier.COLUMNS; i++) {
            assertEquals(fromText.getField(i), fromRecord.getField(i), array + " column " + i);
        }
    }

    /** What canonicalTimestamp reads always matches the contract's pattern, so the pattern is skipped for it. */
    @ParameterizedTest
    @CsvSource({
        "2026-01-01T00:00:00.000Z", "2026-12-31T23:59:59.999Z", "2024-02-29T12:34:56.789Z", "1000-01-01T00:00:00.000Z",
        "9999-12-31T23:59:59.999Z",
    })
    void theContractsTimestampFormMatchesItsPattern(String text) {
        assertEquals(true, OrderClassifier.canonicalTimestamp(text) != null);
        assertNull(reason(with("2026-11-27T09:30:00.123Z", text)));
    }

    /** The contract's own form is read without the generic parser, to the same value; anything else is left to it. */
    @ParameterizedTest
    @CsvSource({
        "2026-01-01T00:00:00.000Z", "2026-12-31T23:59:59.999Z", "2024-02-29T12:34:56.789Z", "1000-01-01T00:00:00.000Z",
        "9999-12-31T23:59:59.999Z", "2026-06-15T07:08:09.010Z",
    })
    void theContractsTimestampFormIsReadToTheGenericParsersValue(String text) {
        TimestampData generic = org.apache.flink.table.utils.DateTimeUtils.parseTimestampData(
                text.replace('T', ' ').replace("Z", ""), 3);
        assertEquals(generic, OrderClassifier.canonicalTimestamp(text));
        assertEquals(generic, OrderClassifier.eventTimestamp(text));
    }

    @ParameterizedTest
    @CsvSource({
        "2026-02-30T00:00:00.000Z", "2025-02-29T00:00:00.000Z", "2026-13-01T00:00:00.000Z", "2026-00-01T00:00:00.000Z",
        "2026-01-00T00:00:00.000Z", "2026-01-01T24:00:00.000Z", "2026-01-01T00:60:00.000Z", "2026-01-01T00:00:60.000Z",
        "0999-01-01T00:00:00.000Z", "2026-01-01T00:00:00.00Z", "2026-01-01 00:00:00.000Z", "2026-01-01T00:00:00.000+",
        "2026-01-01T00:00:00.0a0Z", "+026-01-01T00:00:00.000Z", "2026-01-01T00:00:00Z",
    })
    void anyOtherFormIsLeftToTheGenericParser(String text) {
        assertNull(OrderClassifier.canonicalTimestamp(text));
    }
}
