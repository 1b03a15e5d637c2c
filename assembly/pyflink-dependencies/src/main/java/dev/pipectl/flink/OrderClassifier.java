package dev.pipectl.flink;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;

import org.apache.flink.table.data.GenericRowData;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.data.TimestampData;
import org.apache.flink.table.data.binary.BinaryStringData;
import org.apache.flink.table.utils.DateTimeUtils;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Parses one record once and classifies it: a reject reason, or the columns of a valid order.
 *
 * The first nine checks, and the values of a valid row, are those of the Flink SQL this replaces
 * (JSON_VALUE / JSON_QUERY / TRY_CAST over the record, see docs/benchmarks.md): same reasons, same
 * precedence, same values. What that SQL let through is then checked against the rest of the
 * contract (see {@link OrderContract}). One instance per function instance: not thread-safe.
 */
public final class OrderClassifier {

    /** Jackson's limits guard against huge records; names may be as long as strings (as before). */
    static final JsonFactory FACTORY = JsonFactory.builder()
            // FastDoubleParser: the same correctly rounded double as Double.parseDouble, in fewer steps
            .enable(StreamReadFeature.USE_FAST_DOUBLE_PARSER)
            .streamReadConstraints(StreamReadConstraints.builder()
                    .maxNameLength(StreamReadConstraints.DEFAULT_MAX_STRING_LEN)
                    .build())
            .build();

    static final int COLUMNS = 19;

    // members of the record; each is reset before a record is read
    final JsonField eventId = new JsonField();
    final JsonField eventType = new JsonField();
    final JsonField schemaVersion = new JsonField();
    final JsonField eventTime = new JsonField();
    final JsonField orderId = new JsonField();
    final JsonField customerId = new JsonField();
    final JsonField customerName = new JsonField();
    final JsonField customerEmail = new JsonField();
    final JsonField shipStreet = new JsonField();
    final JsonField shipCity = new JsonField();
    final JsonField shipPostalCode = new JsonField();
    final JsonField shipCountry = new JsonField();
    final JsonField itemCount = new JsonField();
    final JsonField totalAmount = new JsonField();
    final JsonField currency = new JsonField();
    final JsonField paymentMethod = new JsonField();
    final JsonField channel = new JsonField();
    // contract version 2
    final JsonField discountAmount = new JsonField();
    final JsonField couponCode = new JsonField();
    boolean shippingIsObject;
    /** event_time is in the contract's own form (canonicalTimestamp read it), so it matches its pattern. */
    boolean canonicalEventTime;
    /** `items`: whether it is an array, what the contract checks of it, and its text (see Items). */
    final Items items = new Items();
    /** Read `items` into the untyped value first (a key repeated inside it: see Items). */
    private boolean itemsAsValue;
    /** The record as Flink memory, for the string columns cut from it. */
    private final RecordMemory memory = new RecordMemory();

    /** The fast reading of records in the common form; null: Jackson reads every record (the tests' reference). */
    private final RecordScanner scanner;

    public OrderClassifier() {
        this(true);
    }

    OrderClassifier(boolean scan) {
        this.scanner = scan ? new RecordScanner(this) : null;
    }

    private final JsonField[] all = {
        eventId, eventType, schemaVersion, eventTime, orderId, customerId, customerName, customerEmail,
        shipStreet, shipCity, shipPostalCode, shipCountry, itemCount, totalAmount, currency, paymentMethod, channel,
        discountAmount, couponCode,
    };

    /** The reason and, for a valid order, the columns (see ClassifyOrder.OUTPUT_TYPE). */
    public GenericRowData classify(StringData raw) {
        if (raw == null) {
            return rejected(Reasons.NOT_A_JSON_OBJECT);
        }
        return classify(raw instanceof BinaryStringData ? ((BinaryStringData) raw).toBytes() : null, raw);
    }

    /** `bytes`: the record's bytes when it is a BinaryStringData (a copy of them), else null. */
    private GenericRowData classify(byte[] bytes, StringData raw) {
        // Fast path: when the record's bytes are strict UTF-8 and start with '{' (so that nothing can take them
        // for UTF-16/32 or skip a BOM), RecordScanner reads them, or Jackson reads the bytes when the scanner
        // leaves the record to it (no decoding into a String first): the tokens are those of the decoded text.
        // Anything else, or a record that does not parse this way, is read from the decoded text as before:
        // the same reasons and values either way.
        // The scanner checks the UTF-8 of what it reads (RecordScanner.notUtf8): a record it reads is strict UTF-8,
        // and the whole record is checked only when it gives up for another reason.
        boolean utf8 = false;
        boolean read = false;
        if (bytes != null && bytes.length > 1 && bytes[0] == '{' && bytes[1] != 0) {
            read = scan(bytes);
            utf8 = read || (!(scanner != null && scanner.notUtf8) && Utf8.isValid(bytes));
            read = read || (utf8 && parse(bytes));
        }
        if (!read) {
            if (!parse(raw.toString())) {
                return rejected(Reasons.NOT_A_JSON_OBJECT);
            }
        }
        if (!eventId.hasValue()) {
            return rejected(Reasons.MISSING_EVENT_ID);
        }
        if (eventTime.value() == null) {
            return rejected(Reasons.MISSING_EVENT_TIME);
        }
        TimestampData time = canonicalTimestamp(eventTime.value());
        canonicalEventTime = time != null;
        if (time == null) {
            time = eventTimestamp(eventTime.value());
        }
        if (time == null) {
            return rejected(Reasons.BAD_EVENT_TIME);
        }
        if (!orderId.hasValue()) {
            return rejected(Reasons.MISSING_ORDER_ID);
        }
        if (!customerId.hasValue()) {
            return rejected(Reasons.MISSING_CUSTOMER_ID);
        }
        if (!items.present) {
            return rejected(Reasons.ITEMS_NOT_ARRAY);
        }
        if (!totalAmount.isFiniteNumber()) {
            return rejected(Reasons.TOTAL_NOT_NUMBER);
        }
        if (currency.codePoints() != 3) {
            return rejected(Reasons.BAD_CURRENCY);
        }
        if (!utf8 && !(bytes != null ? Utf8.isValid(bytes) : Utf8.isValid(raw))) {
            return rejected(Reasons.NOT_UTF8);
        }
        String broken = OrderContract.check(this);
        if (broken != null) {
            return rejected(broken);
        }

        GenericRowData row = new GenericRowData(COLUMNS);
        row.setField(1, string(eventId));
        row.setField(2, string(eventType));
        row.setField(3, toInt(schemaVersion));
        row.setField(4, string(orderId));
        row.setField(5, string(customerId));
        row.setField(6, string(customerName));
        row.setField(7, string(customerEmail));
        row.setField(8, string(shipCity));
        row.setField(9, string(shipCountry));
        row.setField(10, items.string());
        row.setField(11, toInt(itemCount));
        row.setField(12, totalAmount.amount());
        row.setField(13, string(currency));
        row.setField(14, string(paymentMethod));
        row.setField(15, string(channel));
        row.setField(16, time);
        if (isVersion2()) {
            row.setField(17, discountAmount.isNumber()
                    ? discountAmount.amount() : null);
            row.setField(18, string(couponCode));
        }
        return row;
    }

    /** The event says it is a version 2 event (checked by OrderContract before a row is emitted). */
    boolean isVersion2() {
        return schemaVersion.isNumber() && schemaVersion.number.doubleValue() == 2.0;
    }

    private GenericRowData rejected(String reason) {
        GenericRowData row = new GenericRowData(COLUMNS);
        row.setField(0, utf8(reason));
        return row;
    }

    private StringData string(JsonField field) {
        return field.utf8(memory);
    }

    /**
     * StringData.fromString without its thread-local buffer (a ThreadLocal lookup per string was ~12% of
     * the TaskManager's CPU in a profile); the same bytes: lone surrogates become '?' either way.
     */
    static StringData utf8(String text) {
        return StringData.fromBytes(text.getBytes(StandardCharsets.UTF_8));
    }

    /** Reads the whole top-level object; false when the text is not one (the rest after it is ignored). */
    boolean parse(String text) {
        itemsSource = null;
        itemsAsValue = false;
        if (parseText(text) && items.again()) {
            itemsAsValue = true; // once more, `items` read into its untyped value (see Items)
            return parseText(text);
        }
        return parsed;
    }

    /** The same over UTF-8 bytes (see classify for when both read the same). */
    boolean parse(byte[] utf8) {
        itemsSource = utf8; // `items` taken as a slice of the record when it is written compactly (see Items)
        itemsAsValue = false;
        if (parseBytes(utf8) && items.again()) {
            itemsAsValue = items.repeatedKey;
            itemsSource = null; // written
            return parseBytes(utf8);
        }
        return parsed;
    }

    /** Whether the last parseText or parseBytes read a whole object. */
    private boolean parsed;
    /** The record `items` may be a slice of (see Items.read), or null. */
    private byte[] itemsSource;

    private boolean parseText(String text) {
        try {
            parsed = parse(FACTORY.createParser(text));
        } catch (IOException | RuntimeException e) {
            parsed = false;
        }
        return parsed;
    }

    private boolean parseBytes(byte[] utf8) {
        try {
            parsed = parse(FACTORY.createParser(utf8));
        } catch (IOException | RuntimeException e) {
            parsed = false;
        }
        return parsed;
    }

    private void readItems(JsonParser p, JsonToken t) throws IOException {
        if (t != JsonToken.START_ARRAY) {
            p.skipChildren();
            items.reset(); // the last `items` counts, as in the untyped value
        } else if (itemsAsValue) {
            items.fromValue(asList(JsonValues.read(p, t)));
        } else {
            items.read(p, itemsSource);
        }
    }

    private void resetMembers() {
        for (JsonField f : all) {
            f.reset();
        }
        shippingIsObject = false;
        canonicalEventTime = false;
        items.reset();
    }

    /** RecordScanner's reading of the record (strict UTF-8, starting with '{'); false: left to parse(bytes). */
    boolean scan(byte[] utf8) {
        if (scanner == null) {
            return false;
        }
        resetMembers();
        return scanner.scan(utf8);
    }

    private boolean parse(JsonParser parser) {
        resetMembers();
        try (JsonParser p = parser) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                return false;
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                JsonToken t = p.nextToken();
                switch (name) {
                    case "event_id": eventId.read(p, t); break;
                    case "event_type": eventType.read(p, t); break;
                    case "schema_version": schemaVersion.read(p, t); break;
                    case "event_time": eventTime.read(p, t); break;
                    case "order_id": orderId.read(p, t); break;
                    case "customer": readCustomer(p, t); break;
                    case "shipping_address": readShipping(p, t); break;
                    case "items": readItems(p, t); break;
                    case "item_count": itemCount.read(p, t); break;
                    case "total_amount": totalAmount.read(p, t); break;
                    case "currency": currency.read(p, t); break;
                    case "payment_method": paymentMethod.read(p, t); break;
                    case "channel": channel.read(p, t); break;
                    case "discount_amount": discountAmount.read(p, t); break;
                    case "coupon_code": couponCode.read(p, t); break;
                    default: p.skipChildren();
                }
            }
            return true;
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    @SuppressWarnings("unchecked")
    private static List<Object> asList(Object value) {
        return (List<Object>) value;
    }

    private void readCustomer(JsonParser p, JsonToken t) throws IOException {
        customerId.reset();
        customerName.reset();
        customerEmail.reset();
        if (t != JsonToken.START_OBJECT) {
            p.skipChildren();
            return;
        }
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String name = p.currentName();
            JsonToken v = p.nextToken();
            switch (name) {
                case "customer_id": customerId.read(p, v); break;
                case "name": customerName.read(p, v); break;
                case "email": customerEmail.read(p, v); break;
                default: p.skipChildren();
            }
        }
    }

    private void readShipping(JsonParser p, JsonToken t) throws IOException {
        shipStreet.reset();
        shipCity.reset();
        shipPostalCode.reset();
        shipCountry.reset();
        shippingIsObject = t == JsonToken.START_OBJECT;
        if (!shippingIsObject) {
            p.skipChildren();
            return;
        }
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String name = p.currentName();
            JsonToken v = p.nextToken();
            switch (name) {
                case "street": shipStreet.read(p, v); break;
                case "city": shipCity.read(p, v); break;
                case "postal_code": shipPostalCode.read(p, v); break;
                case "country": shipCountry.read(p, v); break;
                default: p.skipChildren();
            }
        }
    }

    /**
     * TRY_CAST(REPLACE(REPLACE(text, 'T', ' '), 'Z', '') AS TIMESTAMP(3)), as the SQL did: the same
     * Flink parser; NULL when it fails.
     */
    static TimestampData eventTimestamp(String text) {
        TimestampData fast = canonicalTimestamp(text);
        if (fast != null) {
            return fast;
        }
        try {
            return DateTimeUtils.parseTimestampData(text.replace('T', ' ').replace("Z", ""), 3);
        } catch (RuntimeException e) {
            return null;
        }
    }

    /**
     * The contract's own form, yyyy-MM-ddTHH:mm:ss.SSSZ, read without the generic parser: the same value
     * the generic parser gives for it. Null for any other form, or a date or time out of range (then the
     * generic parser decides, as before).
     */
    static TimestampData canonicalTimestamp(String t) {
        if (t.length() != 24 || t.charAt(4) != '-' || t.charAt(7) != '-' || t.charAt(10) != 'T' || t.charAt(13) != ':'
                || t.charAt(16) != ':' || t.charAt(19) != '.' || t.charAt(23) != 'Z') {
            return null;
        }
        int year = digits(t, 0, 4);
        int month = digits(t, 5, 2);
        int day = digits(t, 8, 2);
        int hour = digits(t, 11, 2);
        int minute = digits(t, 14, 2);
        int second = digits(t, 17, 2);
        int milli = digits(t, 20, 3);
        if ((month | day | hour | minute | second | milli) < 0 || year < 1000 || month < 1 || month > 12 || day < 1
                || hour > 23 || minute > 59 || second > 59 || day > java.time.YearMonth.of(year, month).lengthOfMonth()) {
            return null;
        }
        // TimestampData.fromLocalDateTime's value (its milliseconds since the epoch, no nanoseconds beyond them)
        long millisOfDay = ((hour * 60L + minute) * 60L + second) * 1000L + milli;
        return TimestampData.fromEpochMillis(java.time.LocalDate.of(year, month, day).toEpochDay() * 86_400_000L + millisOfDay);
    }

    /** The decimal number in t[from, from + n), or -1 when one of those is not an ASCII digit. */
    private static int digits(String t, int from, int n) {
        int v = 0;
        for (int i = from; i < from + n; i++) {
            char c = t.charAt(i);
            if (c < '0' || c > '9') {
                return -1;
            }
            v = v * 10 + (c - '0');
        }
        return v;
    }

    /**
     * TRY_CAST(text AS INT) as Flink does it (BinaryStringDataUtil.toInt over the text trimmed of
     * spaces): optional sign, digits, an optional '.' followed by digits only (truncated); NULL on
     * anything else or on overflow.
     */
    static Integer toInt(JsonField field) {
        // an int read as an int: toInt(Integer.toString(n)) is n
        return field.number instanceof Integer ? (Integer) field.number : toInt(field.value());
    }

    static Integer toInt(String text) {
        if (text == null) {
            return null;
        }
        byte[] b = BinaryStringData.fromString(text).trim().toBytes();
        int n = b.length;
        if (n == 0) {
            return null;
        }
        int i = 0;
        boolean negative = b[0] == '-';
        if (negative || b[0] == '+') {
            i++;
            if (n == 1) {
                return null;
            }
        }
        int result = 0;
        final int stopValue = Integer.MIN_VALUE / 10;
        while (i < n) {
            byte c = b[i++];
            if (c == '.') {
                break;
            }
            if (c < '0' || c > '9' || result < stopValue) {
                return null;
            }
            result = result * 10 - (c - '0');
            if (result > 0) {
                return null;
            }
        }
        while (i < n) {
            byte c = b[i++];
            if (c < '0' || c > '9') {
                return null;
            }
        }
        if (!negative) {
            result = -result;
            if (result < 0) {
                return null;
            }
        }
        return result;
    }
}
