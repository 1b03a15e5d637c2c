package dev.pipectl.flink;

import com.fasterxml.jackson.core.JsonToken;

import java.math.BigDecimal;
import java.util.List;
import java.util.regex.Pattern;

/**
 * The rest of producer/contract/orders.created.v1.schema.json, checked after the checks the SQL
 * classification had: types, constants, patterns, enums, minimums and the shape of every item line;
 * then, for a version 2 event, the rules of orders.created.v2.schema.json (see checkVersion2).
 */
final class OrderContract {
    private OrderContract() {}

    private static final Pattern EVENT_TIME = Pattern.compile(
            "[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]\\.[0-9]{3}Z");
    private static final List<String> PAYMENT_METHODS =
            List.of("card", "paypal", "bank_transfer", "apple_pay", "google_pay", "invoice");
    private static final List<String> CHANNELS = List.of("web", "mobile", "store");

    /** The first rule the record breaks, or null when it meets the whole contract. */
    static String check(OrderClassifier c) {
        if (!c.eventId.isUuidV4()) {
            return Reasons.BAD_EVENT_ID;
        }
        if (!c.eventType.isString("order.created")) {
            return Reasons.BAD_EVENT_TYPE;
        }
        if (!c.schemaVersion.isIntegerAtLeast(1)
                || (c.schemaVersion.number.doubleValue() != 1.0 && c.schemaVersion.number.doubleValue() != 2.0)) {
            return Reasons.BAD_SCHEMA_VERSION;
        }
        // the contract's form read by canonicalTimestamp always matches EVENT_TIME: the pattern only for other forms
        if (!c.eventTime.isString() || !(c.canonicalEventTime || EVENT_TIME.matcher(c.eventTime.value()).matches())) {
            return Reasons.BAD_EVENT_TIME;
        }
        if (!c.orderId.isPrefixedId("ord-")) {
            return Reasons.BAD_ORDER_ID;
        }
        if (!c.customerId.isPrefixedId("cus-")) {
            return Reasons.BAD_CUSTOMER_ID;
        }
        if (!c.customerName.isNonEmptyString()) {
            return Reasons.MISSING_CUSTOMER_NAME;
        }
        if (!c.customerEmail.isEmail()) {
            return Reasons.BAD_CUSTOMER_EMAIL;
        }
        if (!c.shippingIsObject) {
            return Reasons.MISSING_SHIPPING_ADDRESS;
        }
        if (!c.shipStreet.isNonEmptyString()) {
            return Reasons.MISSING_SHIP_STREET;
        }
        if (!c.shipCity.isNonEmptyString()) {
            return Reasons.MISSING_SHIP_CITY;
        }
        if (!c.shipPostalCode.isNonEmptyString()) {
            return Reasons.MISSING_SHIP_POSTAL_CODE;
        }
        if (!c.shipCountry.isUpperLetters(2)) {
            return Reasons.BAD_SHIP_COUNTRY;
        }
        if (c.items.lines == 0) {
            return Reasons.ITEMS_EMPTY;
        }
        if (!c.items.allItems) {
            return Reasons.BAD_ITEM;
        }
        if (!c.itemCount.isIntegerAtLeast(1)) {
            return Reasons.BAD_ITEM_COUNT;
        }
        if (!c.totalAmount.isPositiveNumber()) {
            return Reasons.TOTAL_NOT_POSITIVE;
        }
        if (!c.currency.isUpperLetters(3)) {
            return Reasons.BAD_CURRENCY;
        }
        if (c.paymentMethod.token != null && !c.paymentMethod.isOneOf(PAYMENT_METHODS)) {
            return Reasons.BAD_PAYMENT_METHOD;
        }
        if (c.channel.token != null && !c.channel.isOneOf(CHANNELS)) {
            return Reasons.BAD_CHANNEL;
        }
        return c.isVersion2() ? checkVersion2(c) : null;
    }

    /** The rules version 2 adds: an optional discount in cents, an optional coupon code, and the total. */
    static String checkVersion2(OrderClassifier c) {
        BigDecimal discount = BigDecimal.ZERO;
        if (c.discountAmount.token != null && c.discountAmount.token != JsonToken.VALUE_NULL) {
            if (!c.discountAmount.isFiniteNumber()) {
                return Reasons.BAD_DISCOUNT_AMOUNT;
            }
            discount = c.discountAmount.decimal();
            if (discount.signum() < 0 || discount.stripTrailingZeros().scale() > 2) {
                return Reasons.BAD_DISCOUNT_AMOUNT;
            }
        }
        if (c.couponCode.token != null && c.couponCode.token != JsonToken.VALUE_NULL && !c.couponCode.isString()) {
            return Reasons.BAD_COUPON_CODE;
        }
        BigDecimal sum = BigDecimal.ZERO;
        for (int i = 0; i < c.items.lines; i++) { // every line is an item here (checked above)
            sum = sum.add(JsonValues.decimal(c.items.quantities.get(i)).multiply(JsonValues.decimal(c.items.unitPrices.get(i))));
        }
        if (sum.subtract(discount).compareTo(c.totalAmount.decimal()) != 0) {
            return Reasons.TOTAL_NOT_ITEMS_MINUS_DISCOUNT;
        }
        return null;
    }

    /** ^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$ */
    static boolean isUuidV4(String s) {
        if (s.length() != 36) {
            return false;
        }
        for (int i = 0; i < 36; i++) {
            char c = s.charAt(i);
            if (i == 8 || i == 13 || i == 18 || i == 23) {
                if (c != '-') {
                    return false;
                }
            } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
                return false;
            }
        }
        char variant = s.charAt(19);
        return s.charAt(14) == '4' && (variant == '8' || variant == '9' || variant == 'a' || variant == 'b');
    }

    /** ^<prefix>[0-9a-z]+$ */
    static boolean isPrefixedId(String s, String prefix) {
        if (s.length() <= prefix.length() || !s.startsWith(prefix)) {
            return false;
        }
        for (int i = prefix.length(); i < s.length(); i++) {
            char c = s.charAt(i);
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z'))) {
                return false;
            }
        }
        return true;
    }

    /** ^[^@\s]+@[^@\s]+$ (whitespace in the Unicode sense, as JSON Schema's regular expressions have it) */
    static boolean isEmail(String s) {
        int at = s.indexOf('@');
        if (at <= 0 || at == s.length() - 1 || s.indexOf('@', at + 1) >= 0) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isWhitespace(c) || Character.isSpaceChar(c) || c == '\uFEFF') {
                return false;
            }
        }
        return true;
    }

    /** ^[A-Z]{n}$ */
    static boolean isUpperLetters(String s, int n) {
        if (s.length() != n) {
            return false;
        }
        for (int i = 0; i < n; i++) {
            char c = s.charAt(i);
            if (c < 'A' || c > 'Z') {
                return false;
            }
        }
        return true;
    }
}
