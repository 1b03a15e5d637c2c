package dev.pipectl.flink;

import com.fasterxml.jackson.core.JsonToken;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.math.BigInteger;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * The classifier's fast reading of a record in the form producers write: the record's bytes scanned once,
 * into the same members Jackson's reading gives (OrderClassifier.parse, JsonField.read, Items), without a
 * token stream or a name table, and without copying a string (a string column is a slice of the record).
 *
 * It reads only what it can read exactly as Jackson does, and gives up on anything else, leaving the
 * record to Jackson: a control character in a string, an escape in a name or an unknown one, a number longer than 100
 * characters, nesting deeper than 64, anything that is not strict JSON, and in `items` a line that is not
 * an object, a nested value in a line or a repeated key. `items` is written as Items writes it. The bytes
 * are strict UTF-8 and start with '{' (checked by the caller). One per classifier: not thread-safe.
 */
final class RecordScanner {
    private static final int MAX_DEPTH = 64;
    private static final int MAX_NUMBER = 100;
    private static final int MAX_LINE_KEYS = 16;

    /** Thrown to give up; preallocated and without a stack trace (giving up is rare and must be cheap). */
    private static final class GiveUp extends RuntimeException {
        private static final long serialVersionUID = 1L;

        GiveUp() {
            super(null, null, false, false);
        }
    }

    private static final GiveUp GIVE_UP = new GiveUp();

    /** Eight bytes of a string at once (string()): any byte order, every byte is looked at alike. */
    private static final VarHandle LONGS = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
    private static final long ONES = 0x0101010101010101L;
    private static final long HIGH_BITS = 0x8080808080808080L;
    private static final long QUOTES = '"' * ONES;
    private static final long BACKSLASHES = '\\' * ONES;
    private static final long SPACES = 0x20 * ONES;

    private static final byte[] EVENT_ID = ascii("event_id");
    private static final byte[] EVENT_TYPE = ascii("event_type");
    private static final byte[] SCHEMA_VERSION = ascii("schema_version");
    private static final byte[] EVENT_TIME = ascii("event_time");
    private static final byte[] ORDER_ID = ascii("order_id");
    private static final byte[] CUSTOMER = ascii("customer");
    private static final byte[] SHIPPING_ADDRESS = ascii("shipping_address");
    private static final byte[] ITEMS = ascii("items");
    private static final byte[] ITEM_COUNT = ascii("item_count");
    private static final byte[] TOTAL_AMOUNT = ascii("total_amount");
    private static final byte[] CURRENCY = ascii("currency");
    private static final byte[] PAYMENT_METHOD = ascii("payment_method");
    private static final byte[] CHANNEL = ascii("channel");
    private static final byte[] DISCOUNT_AMOUNT = ascii("discount_amount");
    private static final byte[] COUPON_CODE = ascii("coupon_code");
    private static final byte[][] CUSTOMER_NAMES = {ascii("customer_id"), ascii("name"), ascii("email")};
    private static final byte[][] SHIPPING_NAMES = {ascii("street"), ascii("city"), ascii("postal_code"), ascii("country")};
    private static final byte[] SKU = ascii("sku");
    private static final byte[] PRODUCT_NAME = ascii("product_name");
    private static final byte[] QUANTITY = ascii("quantity");
    private static final byte[] UNIT_PRICE = ascii("unit_price");

    /**
     * After a scan that returned false: the record is not strict UTF-8. The scan checks the UTF-8 of every
     * string it reads (a string of ASCII bytes needs no check) and of what follows the object; everything
     * else it reads is ASCII by JSON's grammar, or it gives up. So a scan that returns true read a record
     * that is strict UTF-8 as a whole, and one that finds a string that is not has found a record that is not.
     */
    boolean notUtf8;
    /** The last number() read: whether it has at most 15 digits, at most 2 after the point and no exponent, and then its value in hundredths. */
    private boolean exactCents;
    private long cents;

    private final OrderClassifier c;
    private byte[] b;
    private int i;
    private int n;
    /** The last string or key read: record[from, from + length). */
    private int from;
    private int length;
    /** The keys of the item line being read, as (offset, length) pairs. */
    private final int[] lineKeys = new int[2 * MAX_LINE_KEYS];

    /** The members CUSTOMER_NAMES and SHIPPING_NAMES are read into, in their order. */
    private final JsonField[] customerFields;
    private final JsonField[] shippingFields;

    RecordScanner(OrderClassifier c) {
        this.c = c;
        this.customerFields = new JsonField[] {c.customerId, c.customerName, c.customerEmail};
        this.shippingFields = new JsonField[] {c.shipStreet, c.shipCity, c.shipPostalCode, c.shipCountry};
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    /**
     * Reads the record into the classifier's members; false when it leaves the record to Jackson, and then
     * notUtf8 says whether it found bytes that are not strict UTF-8.
     */
    boolean scan(byte[] record) {
        b = record;
        i = 0;
        n = record.length;
        notUtf8 = false;
        try {
            object();
            if (i < n && !Utf8.isValid(b, i, n)) { // what follows the object (Jackson's reading ignores it)
                notUtf8 = true;
                return false;
            }
            return true;
        } catch (RuntimeException e) { // GiveUp, the record's end (an index past it), or anything unforeseen:
            return false;               // Jackson reads the record, as it did before the scanner
        } finally {
            b = null;
        }
    }

    private void object() {
        expect('{');
        ws();
        if (peek() == '}') {
            return;
        }
        while (true) {
            name();
            member(from, length);
            if (endOfMember('}')) {
                return; // what follows the object is ignored, as Jackson's reading ignores it
            }
        }
    }

    private void member(int key, int keyLength) {
        if (is(key, keyLength, EVENT_ID)) {
            scalar(c.eventId);
        } else if (is(key, keyLength, EVENT_TYPE)) {
            scalar(c.eventType);
        } else if (is(key, keyLength, SCHEMA_VERSION)) {
            scalar(c.schemaVersion);
        } else if (is(key, keyLength, EVENT_TIME)) {
            scalar(c.eventTime);
        } else if (is(key, keyLength, ORDER_ID)) {
            scalar(c.orderId);
        } else if (is(key, keyLength, CUSTOMER)) {
            customer();
        } else if (is(key, keyLength, SHIPPING_ADDRESS)) {
            shipping();
        } else if (is(key, keyLength, ITEMS)) {
            items();
        } else if (is(key, keyLength, ITEM_COUNT)) {
            scalar(c.itemCount);
        } else if (is(key, keyLength, TOTAL_AMOUNT)) {
            scalar(c.totalAmount);
        } else if (is(key, keyLength, CURRENCY)) {
            scalar(c.currency);
        } else if (is(key, keyLength, PAYMENT_METHOD)) {
            scalar(c.paymentMethod);
        } else if (is(key, keyLength, CHANNEL)) {
            scalar(c.channel);
        } else if (is(key, keyLength, DISCOUNT_AMOUNT)) {
            scalar(c.discountAmount);
        } else if (is(key, keyLength, COUPON_CODE)) {
            scalar(c.couponCode);
        } else {
            skip(0);
        }
    }

    private boolean is(int key, int keyLength, byte[] name) {
        if (keyLength != name.length) {
            return false;
        }
        for (int k = 0; k < keyLength; k++) {
            if (b[key + k] != name[k]) {
                return false;
            }
        }
        return true;
    }

    /** As JsonField.read: a scalar's token and text or number; an object or an array is skipped. */
    private void scalar(JsonField f) {
        switch (peek()) {
            case '"':
                i++;
                String text = string();
                if (text == null) {
                    f.setString(b, from, length);
                } else {
                    f.set(JsonToken.VALUE_STRING, text, null);
                }
                break;
            case 't':
                literal("true");
                f.set(JsonToken.VALUE_TRUE, "true", null);
                break;
            case 'f':
                literal("false");
                f.set(JsonToken.VALUE_FALSE, "false", null);
                break;
            case 'n':
                literal("null");
                f.set(JsonToken.VALUE_NULL, null, null);
                break;
            case '{':
                skip(0);
                f.set(JsonToken.START_OBJECT, null, null);
                break;
            case '[':
                skip(0);
                f.set(JsonToken.START_ARRAY, null, null);
                break;
            default:
                Number number = number();
                f.setNumber(number instanceof Double ? JsonToken.VALUE_NUMBER_FLOAT : JsonToken.VALUE_NUMBER_INT, number,
                        exactCents, cents);
        }
    }

    /** As OrderClassifier.readCustomer. */
    private void customer() {
        scalars(CUSTOMER_NAMES, customerFields);
    }

    /** As OrderClassifier.readShipping. */
    private void shipping() {
        c.shippingIsObject = scalars(SHIPPING_NAMES, shippingFields);
    }

    /**
     * An object's members named `names` into `fields` (all reset first; other members skipped); anything
     * else is skipped. Whether it was an object.
     */
    private boolean scalars(byte[][] names, JsonField[] fields) {
        for (JsonField f : fields) {
            f.reset();
        }
        if (peek() != '{') {
            skip(0);
            return false;
        }
        i++;
        ws();
        if (peek() == '}') {
            i++;
            return true;
        }
        while (true) {
            name();
            int key = from;
            int keyLength = length;
            int k = 0;
            while (k < names.length && !is(key, keyLength, names[k])) {
                k++;
            }
            if (k < names.length) {
                scalar(fields[k]);
            } else {
                skip(1);
            }
            if (endOfMember('}')) {
                return true;
            }
        }
    }

    /** After a member's value: true at the closing `close`, false after a comma (and the whitespace after it). */
    private boolean endOfMember(char close) {
        ws();
        byte next = b[i++];
        if (next == close) {
            return true;
        }
        if (next != ',') {
            throw GIVE_UP;
        }
        ws();
        return false;
    }

    /** As OrderClassifier.readItems with Items.read: an array of item objects of scalars, written as Items writes it. */
    private void items() {
        if (peek() != '[') {
            skip(0);
            c.items.reset();
            return;
        }
        i++;
        Items items = c.items;
        JsonValues.Utf8Writer out = items.beginWritten();
        out.put('[');
        ws();
        if (peek() == ']') {
            i++;
            out.put(']');
            return;
        }
        while (true) {
            if (items.lines > 0) {
                out.put(',');
            }
            line(items, out);
            if (endOfMember(']')) {
                break;
            }
        }
        out.put(']');
    }

    /** One line: an object of scalars without a repeated key (anything else is left to Jackson). */
    private void line(Items items, JsonValues.Utf8Writer out) {
        expect('{');
        out.put('{');
        ws();
        boolean sku = false;
        boolean productName = false;
        Number quantity = null;
        Number unitPrice = null;
        int keys = 0;
        if (peek() == '}') {
            i++;
        } else {
            while (true) {
                name();
                int key = from;
                int keyLength = length;
                for (int k = 0; k < keys; k++) {
                    if (lineKeys[2 * k + 1] == keyLength && same(lineKeys[2 * k], key, keyLength)) {
                        throw GIVE_UP; // a repeated key: the untyped value's text (Items.fromValue)
                    }
                }
                if (keys == MAX_LINE_KEYS) {
                    throw GIVE_UP;
                }
                if (keys > 0) {
                    out.put(',');
                }
                lineKeys[2 * keys] = key;
                lineKeys[2 * keys + 1] = keyLength;
                keys++;
                out.quoted(b, key, keyLength);
                out.put(':');
                JsonToken token = lineScalar(out);
                if (is(key, keyLength, SKU)) {
                    sku = token == JsonToken.VALUE_STRING && nonEmpty;
                } else if (is(key, keyLength, PRODUCT_NAME)) {
                    productName = token == JsonToken.VALUE_STRING && nonEmpty;
                } else if (is(key, keyLength, QUANTITY)) {
                    quantity = lastNumber;
                } else if (is(key, keyLength, UNIT_PRICE)) {
                    unitPrice = lastNumber;
                }
                if (endOfMember('}')) {
                    break;
                }
            }
        }
        out.put('}');
        items.lines++;
        items.quantities.add(quantity);
        items.unitPrices.add(unitPrice);
        items.allItems &= sku && productName && JsonValues.isIntegerAtLeast(quantity, 1) && JsonValues.isPositive(unitPrice);
    }

    /** The number of the last lineScalar, or null when it was not a number. */
    private Number lastNumber;

    /** A scalar inside an item line, written as JsonValues.write writes it; its token (nested values: Jackson). */
    private JsonToken lineScalar(JsonValues.Utf8Writer out) {
        lastNumber = null;
        switch (peek()) {
            case '"':
                i++;
                String text = string();
                if (text == null) {
                    out.quoted(b, from, length);
                } else {
                    out.string(text);
                }
                return JsonToken.VALUE_STRING;
            case 't':
                literal("true");
                out.ascii("true");
                return JsonToken.VALUE_TRUE;
            case 'f':
                literal("false");
                out.ascii("false");
                return JsonToken.VALUE_FALSE;
            case 'n':
                literal("null");
                out.ascii("null");
                return JsonToken.VALUE_NULL;
            case '{':
            case '[':
                throw GIVE_UP;
            default:
                Number number = number();
                out.number(number);
                lastNumber = number;
                return number instanceof Double ? JsonToken.VALUE_NUMBER_FLOAT : JsonToken.VALUE_NUMBER_INT;
        }
    }

    private boolean same(int a, int other, int count) {
        for (int k = 0; k < count; k++) {
            if (b[a + k] != b[other + k]) {
                return false;
            }
        }
        return true;
    }

    /** Skips any value, checking it is strict JSON. */
    private void skip(int depth) {
        if (depth > MAX_DEPTH) {
            throw GIVE_UP;
        }
        switch (peek()) {
            case '"':
                i++;
                string();
                return;
            case 't':
                literal("true");
                return;
            case 'f':
                literal("false");
                return;
            case 'n':
                literal("null");
                return;
            case '{':
                i++;
                ws();
                if (peek() == '}') {
                    i++;
                    return;
                }
                while (true) {
                    expect('"');
                    string();
                    ws();
                    expect(':');
                    ws();
                    skip(depth + 1);
                    if (endOfMember('}')) {
                        return;
                    }
                }
            case '[':
                i++;
                ws();
                if (peek() == ']') {
                    i++;
                    return;
                }
                while (true) {
                    skip(depth + 1);
                    if (endOfMember(']')) {
                        return;
                    }
                }
            default:
                number();
        }
    }

    /**
     * The rest of a string after its opening quote, up to and past its closing one. Without an escape: null,
     * and the string is record[from, from + length). With escapes: its text, decoded as Jackson decodes it.
     * Either way `nonEmpty` says whether it has a character.
     */
    private String string() {
        int start = i;
        long high = 0; // the high bits of the bytes read: a byte of 0x80 or more (UTF-8 to be checked) sets them
        while (i + 8 <= n) {
            long w = (long) LONGS.get(b, i);
            if (special(w)) {
                break;
            }
            high |= w;
            i += 8; // eight plain bytes: no quote, no backslash, no control character
        }
        while (true) {
            byte ch = b[i];
            if (ch == '"') {
                break;
            }
            if (ch == '\\') {
                return escaped(start);
            }
            if (ch >= 0 && ch < 0x20) {
                throw GIVE_UP; // a control character: Jackson refuses it
            }
            high |= ch; // a byte of 0x80 or more is negative: all its high bits are set
            i++;
        }
        if ((high & HIGH_BITS) != 0 && !Utf8.isValid(b, start, i)) {
            notUtf8 = true;
            throw GIVE_UP;
        }
        from = start;
        length = i - start;
        nonEmpty = length > 0;
        i++;
        return null;
    }

    /**
     * Whether one of the eight bytes in w is a quote, a backslash or below 0x20 (a byte of 0x80 or more,
     * part of a UTF-8 sequence, is none of them). Exact as a yes or no: a byte is flagged by the borrow of
     * a lower one only when that lower one is itself flagged.
     */
    static boolean special(long w) {
        long quote = w ^ QUOTES;
        long backslash = w ^ BACKSLASHES;
        return ((((quote - ONES) & ~quote) | ((backslash - ONES) & ~backslash) | ((w - SPACES) & ~w)) & HIGH_BITS) != 0;
    }

    /**
     * A member's name up to its value: `"name"`, the colon and the whitespace around it; the name is
     * record[from, from + length), a string without an escape (names with one are left to Jackson).
     */
    private void name() {
        expect('"');
        if (string() != null) {
            throw GIVE_UP;
        }
        ws();
        expect(':');
        ws();
    }

    /** Whether the last string() had a character. */
    private boolean nonEmpty;

    /** The text of a string with escapes (\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX; any other: Jackson refuses it). */
    private String escaped(int start) {
        StringBuilder text = new StringBuilder(i - start + 16);
        int segment = start;
        while (true) {
            byte ch = b[i];
            if (ch == '"') {
                if (!Utf8.isValid(b, start, i)) { // the escapes are ASCII: the string's bytes as they are
                    notUtf8 = true;
                    throw GIVE_UP;
                }
                text.append(new String(b, segment, i - segment, StandardCharsets.UTF_8));
                i++;
                nonEmpty = text.length() > 0;
                return text.toString();
            }
            if (ch >= 0 && ch < 0x20) {
                throw GIVE_UP;
            }
            if (ch != '\\') {
                i++;
                continue;
            }
            text.append(new String(b, segment, i - segment, StandardCharsets.UTF_8)); // a backslash ends no UTF-8 sequence
            byte escape = b[i + 1];
            i += 2;
            switch (escape) {
                case '"': text.append('"'); break;
                case '\\': text.append('\\'); break;
                case '/': text.append('/'); break;
                case 'b': text.append('\b'); break;
                case 'f': text.append('\f'); break;
                case 'n': text.append('\n'); break;
                case 'r': text.append('\r'); break;
                case 't': text.append('\t'); break;
                case 'u':
                    int code = 0;
                    for (int k = 0; k < 4; k++) {
                        int digit = Character.digit(b[i++], 16);
                        if (digit < 0) {
                            throw GIVE_UP;
                        }
                        code = code * 16 + digit;
                    }
                    text.append((char) code); // a lone surrogate too, as Jackson keeps it
                    break;
                default:
                    throw GIVE_UP;
            }
            segment = i;
        }
    }

    /** 10^k, exact as doubles for k <= 22. */
    private static final double[] POWERS_OF_TEN = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12,
        1e13, 1e14, 1e15};

    /**
     * A number in JSON's grammar, as Jackson's untyped reading makes it: Integer, Long, BigInteger or Double.
     * Without a text when it can: an integer of at most 18 digits is accumulated as a long (Long.parseLong's
     * value), and a fraction of at most 15 digits without an exponent is m / 10^k, with m and 10^k exact
     * doubles and one correctly rounded division: the correctly rounded value Double.parseDouble gives.
     * Sets exactCents and cents.
     */
    private Number number() {
        int start = i;
        boolean negative = b[i] == '-';
        if (negative) {
            i++;
        }
        int digitsFrom = i;
        long m = 0; // the digits before and after the point, read as one integer (exact up to 18 digits)
        if (b[i] == '0') {
            i++;
        } else if (b[i] >= '1' && b[i] <= '9') {
            while (i < n && b[i] >= '0' && b[i] <= '9') {
                m = 10 * m + (b[i] - '0');
                i++;
            }
        } else {
            throw GIVE_UP;
        }
        int intDigits = i - digitsFrom;
        int fractionDigits = 0;
        boolean fraction = false;
        if (i < n && b[i] == '.') {
            fraction = true;
            i++;
            int fractionFrom = i;
            while (i < n && b[i] >= '0' && b[i] <= '9') {
                m = 10 * m + (b[i] - '0');
                i++;
            }
            fractionDigits = i - fractionFrom;
            if (fractionDigits == 0) {
                throw GIVE_UP;
            }
        }
        boolean exponent = false;
        if (i < n && (b[i] == 'e' || b[i] == 'E')) {
            exponent = true;
            i++;
            if (i < n && (b[i] == '+' || b[i] == '-')) {
                i++;
            }
            digits();
        }
        if (i - start > MAX_NUMBER || (i < n && !isDelimiter(b[i]))) {
            throw GIVE_UP; // a long number, or one that runs into something else (01, 1x): Jackson decides
        }
        boolean small = !exponent && intDigits + fractionDigits <= 15;
        long signed = negative ? -m : m;
        exactCents = small && fractionDigits <= 2;
        cents = exactCents ? (fractionDigits == 2 ? signed : fractionDigits == 1 ? 10 * signed : 100 * signed) : 0;
        if (fraction || exponent) {
            if (small) {
                double value = m / POWERS_OF_TEN[fractionDigits];
                return negative ? -value : value;
            }
            return Double.parseDouble(new String(b, start, i - start, StandardCharsets.ISO_8859_1));
        }
        if (intDigits <= 18) {
            return signed == (int) signed ? (Number) (int) signed : (Number) signed;
        }
        BigInteger value = new BigInteger(new String(b, start, i - start, StandardCharsets.ISO_8859_1));
        return value.bitLength() < 64 ? (Number) value.longValue() : value;
    }

    private void digits() {
        int start = i;
        while (i < n && b[i] >= '0' && b[i] <= '9') {
            i++;
        }
        if (i == start) {
            throw GIVE_UP;
        }
    }

    private void literal(String word) {
        for (int k = 0; k < word.length(); k++) {
            if (b[i + k] != word.charAt(k)) {
                throw GIVE_UP;
            }
        }
        i += word.length();
        if (i < n && !isDelimiter(b[i])) {
            throw GIVE_UP; // truex: Jackson refuses it
        }
    }

    private static boolean isDelimiter(byte ch) {
        return ch == ',' || ch == '}' || ch == ']' || ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
    }

    private byte peek() {
        return b[i];
    }

    private void expect(char ch) {
        if (b[i] != ch) {
            throw GIVE_UP;
        }
        i++;
    }

    /** JSON's whitespace (space, tab, line feed, carriage return), as Jackson allows between tokens. */
    private void ws() {
        while (i < n) {
            byte ch = b[i];
            if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r') {
                return;
            }
            i++;
        }
    }
}
