package dev.pipectl.mskiam;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.Map;
import java.util.TreeMap;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Checks an AWS Signature Version 4 presigned `GET https://HOST/?Action=kafka-cluster:Connect` request, the way
 * Amazon MSK checks what its IAM clients send: the credential scope (access key, date, region, service
 * `kafka-cluster`), the action, the validity window (X-Amz-Date + X-Amz-Expires, at most 15 minutes), and the
 * signature recomputed with the secret of the one access key this broker knows.
 *
 * Both client forms reduce to the same query parameters (original names, decoded values) plus the host:
 * aws-msk-iam-auth's JSON payload (lower-cased keys) and aws-msk-iam-sasl-signer-python's presigned URL.
 */
public final class SigV4Verifier {
    static final String ALGORITHM = "AWS4-HMAC-SHA256";
    static final String SERVICE = "kafka-cluster";
    static final String ACTION = "kafka-cluster:Connect";
    static final int MAX_EXPIRES_S = 900;
    static final long CLOCK_SKEW_S = 300;
    private static final String EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    private static final DateTimeFormatter AMZ_DATE = DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss'Z'");

    private final String accessKeyId;
    private final String secretAccessKey;
    private final String region;
    private final Clock clock;

    public SigV4Verifier(String accessKeyId, String secretAccessKey, String region, Clock clock) {
        this.accessKeyId = require(accessKeyId, "access_key_id");
        this.secretAccessKey = require(secretAccessKey, "secret_access_key");
        this.region = require(region, "region");
        this.clock = clock;
    }

    /** From the JAAS options of either mechanism: access_key_id, secret_access_key, region. */
    public static SigV4Verifier fromOptions(Map<String, ?> options) {
        return new SigV4Verifier((String) options.get("access_key_id"), (String) options.get("secret_access_key"),
                (String) options.get("region"), Clock.systemUTC());
    }

    public String region() {
        return region;
    }

    /** The outcome of a successful check. */
    public static final class Verified {
        public final String accessKeyId;
        public final Instant signedAt;
        public final Instant expiresAt;

        Verified(String accessKeyId, Instant signedAt, Instant expiresAt) {
            this.accessKeyId = accessKeyId;
            this.signedAt = signedAt;
            this.expiresAt = expiresAt;
        }
    }

    /** Why a request was refused; the message is safe to show the client (it never holds a secret). */
    public static final class Refused extends Exception {
        public Refused(String message) {
            super(message);
        }
    }

    /**
     * @param host   the signed `host` header
     * @param params the signed query parameters by their original names (Action, X-Amz-Algorithm, X-Amz-Credential,
     *               X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders, X-Amz-Security-Token if any) and
     *               X-Amz-Signature; decoded values
     */
    public Verified verify(String host, Map<String, String> params) throws Refused {
        String signature = params.get("X-Amz-Signature");
        if (signature == null || signature.isEmpty()) {
            throw new Refused("unsigned request: no X-Amz-Signature");
        }
        if (host == null || host.isEmpty()) {
            throw new Refused("no host in the signed request");
        }
        if (!ACTION.equals(params.get("Action"))) {
            throw new Refused("action must be " + ACTION + ", got " + params.get("Action"));
        }
        if (!ALGORITHM.equals(params.get("X-Amz-Algorithm"))) {
            throw new Refused("algorithm must be " + ALGORITHM + ", got " + params.get("X-Amz-Algorithm"));
        }
        if (!"host".equals(params.get("X-Amz-SignedHeaders"))) {
            throw new Refused("signed headers must be host, got " + params.get("X-Amz-SignedHeaders"));
        }
        String credential = params.get("X-Amz-Credential");
        String[] scope = credential == null ? new String[0] : credential.split("/", -1);
        if (scope.length != 5 || !"aws4_request".equals(scope[4])) {
            throw new Refused("malformed X-Amz-Credential");
        }
        if (!accessKeyId.equals(scope[0])) {
            throw new Refused("unknown access key " + scope[0]);
        }
        if (!region.equals(scope[2])) {
            throw new Refused("credential scope region " + scope[2] + " is not this cluster's region " + region);
        }
        if (!SERVICE.equals(scope[3])) {
            throw new Refused("credential scope service must be " + SERVICE + ", got " + scope[3]);
        }
        String amzDate = params.get("X-Amz-Date");
        Instant signedAt;
        try {
            signedAt = LocalDateTime.parse(amzDate == null ? "" : amzDate, AMZ_DATE).toInstant(ZoneOffset.UTC);
        } catch (DateTimeParseException e) {
            throw new Refused("malformed X-Amz-Date");
        }
        if (!amzDate.startsWith(scope[1])) {
            throw new Refused("X-Amz-Date does not match the credential scope date");
        }
        int expires;
        try {
            expires = Integer.parseInt(params.getOrDefault("X-Amz-Expires", ""));
        } catch (NumberFormatException e) {
            throw new Refused("malformed X-Amz-Expires");
        }
        if (expires < 1 || expires > MAX_EXPIRES_S) {
            throw new Refused("X-Amz-Expires must be 1 to " + MAX_EXPIRES_S + " seconds, got " + expires);
        }
        Instant now = clock.instant();
        Instant expiresAt = signedAt.plusSeconds(expires);
        if (signedAt.isAfter(now.plusSeconds(CLOCK_SKEW_S))) {
            throw new Refused("signed in the future (X-Amz-Date " + amzDate + ")");
        }
        if (now.isAfter(expiresAt)) {
            throw new Refused("expired: signed at " + amzDate + ", valid for " + expires + " s");
        }

        TreeMap<String, String> encoded = new TreeMap<>();
        for (Map.Entry<String, String> e : params.entrySet()) {
            if (!e.getKey().equals("X-Amz-Signature")) {
                encoded.put(uriEncode(e.getKey()), uriEncode(e.getValue()));
            }
        }
        StringBuilder query = new StringBuilder();
        for (Map.Entry<String, String> e : encoded.entrySet()) {
            if (query.length() > 0) {
                query.append('&');
            }
            query.append(e.getKey()).append('=').append(e.getValue());
        }
        String canonicalRequest = "GET\n/\n" + query + "\nhost:" + host + "\n\nhost\n" + EMPTY_SHA256;
        String stringToSign = ALGORITHM + "\n" + amzDate + "\n" + scope[1] + "/" + scope[2] + "/" + scope[3]
                + "/aws4_request\n" + hex(sha256(canonicalRequest));
        byte[] key = hmac(("AWS4" + secretAccessKey).getBytes(StandardCharsets.UTF_8), scope[1]);
        key = hmac(key, scope[2]);
        key = hmac(key, scope[3]);
        key = hmac(key, "aws4_request");
        String expected = hex(hmac(key, stringToSign));
        if (!MessageDigest.isEqual(expected.getBytes(StandardCharsets.US_ASCII),
                signature.toLowerCase().getBytes(StandardCharsets.US_ASCII))) {
            throw new Refused("signature does not match (wrong secret, or the request was changed after signing)");
        }
        return new Verified(scope[0], signedAt, expiresAt);
    }

    /** RFC 3986 encoding as SigV4 wants it: everything but A-Z a-z 0-9 - _ . ~ as %XX (UTF-8). */
    static String uriEncode(String value) {
        StringBuilder out = new StringBuilder();
        for (byte b : value.getBytes(StandardCharsets.UTF_8)) {
            char c = (char) (b & 0xff);
            if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
                    || c == '-' || c == '_' || c == '.' || c == '~') {
                out.append(c);
            } else {
                out.append('%').append(Character.toUpperCase(Character.forDigit((b >> 4) & 0xf, 16)))
                        .append(Character.toUpperCase(Character.forDigit(b & 0xf, 16)));
            }
        }
        return out.toString();
    }

    private static byte[] sha256(String text) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    private static byte[] hmac(byte[] key, String data) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            return mac.doFinal(data.getBytes(StandardCharsets.UTF_8));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String hex(byte[] bytes) {
        StringBuilder out = new StringBuilder(bytes.length * 2);
        for (byte b : bytes) {
            out.append(Character.forDigit((b >> 4) & 0xf, 16)).append(Character.forDigit(b & 0xf, 16));
        }
        return out.toString();
    }

    private static String require(String value, String option) {
        if (value == null || value.isEmpty()) {
            throw new IllegalArgumentException("the JAAS option " + option + " is required");
        }
        return value;
    }
}
