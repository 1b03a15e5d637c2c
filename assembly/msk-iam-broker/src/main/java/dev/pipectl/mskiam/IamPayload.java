package dev.pipectl.mskiam;

import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The AWS_MSK_IAM client's first message, as aws-msk-iam-auth's AWS4SignedPayloadGenerator writes it: one flat
 * JSON object of strings, the presigned request's query parameters and headers with lower-cased names, plus
 * `version` (2020_10_22) and `user-agent`.
 */
final class IamPayload {
    static final String VERSION = "2020_10_22";
    /** lower-cased payload key -> the query parameter's name as signed */
    private static final Map<String, String> QUERY_NAMES = new HashMap<>();

    static {
        for (String name : new String[] {"Action", "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date",
                "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Security-Token", "X-Amz-Signature"}) {
            QUERY_NAMES.put(name.toLowerCase(), name);
        }
    }

    final String version;
    final String host;
    final Map<String, String> params = new LinkedHashMap<>();

    private IamPayload(Map<String, String> fields) {
        version = fields.get("version");
        host = fields.get("host");
        for (Map.Entry<String, String> e : fields.entrySet()) {
            String name = QUERY_NAMES.get(e.getKey());
            if (name != null) {
                params.put(name, e.getValue());
            }
        }
    }

    static IamPayload parse(byte[] message) throws SigV4Verifier.Refused {
        Map<String, String> fields = new JsonStrings(new String(message, StandardCharsets.UTF_8)).object();
        IamPayload payload = new IamPayload(fields);
        if (!VERSION.equals(payload.version)) {
            throw new SigV4Verifier.Refused("payload version must be " + VERSION + ", got " + payload.version);
        }
        return payload;
    }

    /** A parser for one JSON object whose values are all strings (all this payload holds). */
    private static final class JsonStrings {
        private final String text;
        private int pos;

        JsonStrings(String text) {
            this.text = text;
        }

        Map<String, String> object() throws SigV4Verifier.Refused {
            Map<String, String> out = new LinkedHashMap<>();
            expect('{');
            skipSpace();
            if (peek() == '}') {
                pos++;
                return end(out);
            }
            while (true) {
                String key = string();
                expect(':');
                out.put(key, string());
                skipSpace();
                char c = next();
                if (c == '}') {
                    return end(out);
                }
                if (c != ',') {
                    throw bad();
                }
            }
        }

        private Map<String, String> end(Map<String, String> out) throws SigV4Verifier.Refused {
            skipSpace();
            if (pos != text.length()) {
                throw bad();
            }
            return out;
        }

        private String string() throws SigV4Verifier.Refused {
            expect('"');
            StringBuilder out = new StringBuilder();
            while (true) {
                char c = next();
                if (c == '"') {
                    return out.toString();
                }
                if (c != '\\') {
                    out.append(c);
                    continue;
                }
                char e = next();
                switch (e) {
                    case '"': case '\\': case '/': out.append(e); break;
                    case 'b': out.append('\b'); break;
                    case 'f': out.append('\f'); break;
                    case 'n': out.append('\n'); break;
                    case 'r': out.append('\r'); break;
                    case 't': out.append('\t'); break;
                    case 'u':
                        if (pos + 4 > text.length()) {
                            throw bad();
                        }
                        try {
                            out.append((char) Integer.parseInt(text.substring(pos, pos + 4), 16));
                        } catch (NumberFormatException ex) {
                            throw bad();
                        }
                        pos += 4;
                        break;
                    default: throw bad();
                }
            }
        }

        private void expect(char c) throws SigV4Verifier.Refused {
            skipSpace();
            if (next() != c) {
                throw bad();
            }
        }

        private void skipSpace() {
            while (pos < text.length() && Character.isWhitespace(text.charAt(pos))) {
                pos++;
            }
        }

        private char peek() throws SigV4Verifier.Refused {
            if (pos >= text.length()) {
                throw bad();
            }
            return text.charAt(pos);
        }

        private char next() throws SigV4Verifier.Refused {
            char c = peek();
            pos++;
            return c;
        }

        private SigV4Verifier.Refused bad() {
            return new SigV4Verifier.Refused("the AWS_MSK_IAM payload is not a JSON object of strings");
        }
    }
}
