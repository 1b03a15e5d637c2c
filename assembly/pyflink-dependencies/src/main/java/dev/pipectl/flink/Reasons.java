package dev.pipectl.flink;

/** Every reason a record is quarantined, in the order they are checked. */
public final class Reasons {
    private Reasons() {}

    // The reasons of the SQL classification this function replaces, same text, same order of precedence.
    public static final String NOT_A_JSON_OBJECT = "not a JSON object";
    public static final String MISSING_EVENT_ID = "missing event_id";
    public static final String MISSING_EVENT_TIME = "missing event_time";
    public static final String BAD_EVENT_TIME = "event_time is not an ISO-8601 timestamp";
    public static final String MISSING_ORDER_ID = "missing order_id";
    public static final String MISSING_CUSTOMER_ID = "missing customer.customer_id";
    public static final String ITEMS_NOT_ARRAY = "items is not an array";
    public static final String TOTAL_NOT_NUMBER = "total_amount is not a number";
    public static final String BAD_CURRENCY = "currency is not a 3-letter code";

    // Checked only when none of the above applies: the rest of producer/contract/orders.created.v1.schema.json,
    // and the encoding (JSON text is UTF-8).
    public static final String NOT_UTF8 = "not UTF-8";
    public static final String BAD_EVENT_ID = "event_id is not a lower-case UUID v4";
    public static final String BAD_EVENT_TYPE = "event_type is not order.created";
    public static final String BAD_SCHEMA_VERSION = "schema_version is not 1";
    public static final String BAD_ORDER_ID = "order_id does not match ^ord-[0-9a-z]+$";
    public static final String BAD_CUSTOMER_ID = "customer.customer_id does not match ^cus-[0-9a-z]+$";
    public static final String MISSING_CUSTOMER_NAME = "missing customer.name";
    public static final String BAD_CUSTOMER_EMAIL = "customer.email is not an email address";
    public static final String MISSING_SHIPPING_ADDRESS = "missing shipping_address";
    public static final String MISSING_SHIP_STREET = "missing shipping_address.street";
    public static final String MISSING_SHIP_CITY = "missing shipping_address.city";
    public static final String MISSING_SHIP_POSTAL_CODE = "missing shipping_address.postal_code";
    public static final String BAD_SHIP_COUNTRY = "shipping_address.country is not an ISO 3166-1 alpha-2 code";
    public static final String ITEMS_EMPTY = "items is empty";
    public static final String BAD_ITEM =
            "items holds a line without sku, product_name, an integer quantity >= 1 or a unit_price > 0";
    public static final String BAD_ITEM_COUNT = "item_count is not an integer >= 1";
    public static final String TOTAL_NOT_POSITIVE = "total_amount is not positive";
    public static final String BAD_PAYMENT_METHOD =
            "payment_method is not one of card, paypal, bank_transfer, apple_pay, google_pay, invoice";
    public static final String BAD_CHANNEL = "channel is not one of web, mobile, store";

    // Contract version 2 (producer/contract/orders.created.v2.schema.json), checked only for an event whose
    // schema_version is 2 and after every rule above. The version 1 reasons above stay word for word
    // (BAD_SCHEMA_VERSION is also the reason for a version that is neither 1 nor 2).
    public static final String BAD_DISCOUNT_AMOUNT =
            "discount_amount is not a number >= 0 with at most two fractional digits";
    public static final String BAD_COUPON_CODE = "coupon_code is not a string or null";
    public static final String TOTAL_NOT_ITEMS_MINUS_DISCOUNT =
            "total_amount is not the sum of quantity * unit_price over items minus discount_amount";
}
