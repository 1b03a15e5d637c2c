package dev.pipectl.mskiam;

import java.io.UnsupportedEncodingException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import javax.security.auth.callback.Callback;
import javax.security.auth.callback.UnsupportedCallbackException;
import javax.security.auth.login.AppConfigurationEntry;
import org.apache.kafka.common.security.auth.AuthenticateCallbackHandler;
import org.apache.kafka.common.security.oauthbearer.OAuthBearerExtensionsValidatorCallback;
import org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule;
import org.apache.kafka.common.security.oauthbearer.OAuthBearerToken;
import org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallback;

/**
 * The broker's OAUTHBEARER validator for Amazon MSK IAM tokens, as aws-msk-iam-sasl-signer-python (and
 * aws-msk-iam-auth's IAMOAuthBearerLoginCallbackHandler) make them: base64url (unpadded) of the presigned URL
 * `https://kafka.REGION.amazonaws.com/?Action=kafka-cluster%3AConnect&X-Amz-...&X-Amz-Signature=...&User-Agent=...`
 * (User-Agent is added after signing). Anything else, e.g. Kafka's unsecured JWS tokens, is refused.
 *
 *   listener.name.sasl_ssl.oauthbearer.sasl.server.callback.handler.class=dev.pipectl.mskiam.IamOAuthBearerValidator
 *   listener.name.sasl_ssl.oauthbearer.sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule \
 *       required region="us-east-1" access_key_id="..." secret_access_key="...";
 */
public final class IamOAuthBearerValidator implements AuthenticateCallbackHandler {
    private static final String PREFIX = "https://";
    private SigV4Verifier verifier;

    @Override
    public void configure(Map<String, ?> configs, String saslMechanism, List<AppConfigurationEntry> jaasConfigEntries) {
        if (!OAuthBearerLoginModule.OAUTHBEARER_MECHANISM.equals(saslMechanism)) {
            throw new IllegalArgumentException("IamOAuthBearerValidator serves OAUTHBEARER, not " + saslMechanism);
        }
        verifier = SigV4Verifier.fromOptions(JaasOptions.of(jaasConfigEntries, OAuthBearerLoginModule.class));
    }

    @Override
    public void handle(Callback[] callbacks) throws UnsupportedCallbackException {
        for (Callback callback : callbacks) {
            if (callback instanceof OAuthBearerValidatorCallback) {
                OAuthBearerValidatorCallback validation = (OAuthBearerValidatorCallback) callback;
                try {
                    validation.token(validate(validation.tokenValue()));
                } catch (SigV4Verifier.Refused refused) {
                    validation.error("invalid_token (" + refused.getMessage() + ")", null, null);
                }
            } else if (callback instanceof OAuthBearerExtensionsValidatorCallback) {
                // SASL extensions carry nothing MSK IAM uses: none is validated, so none reaches the session
                continue;
            } else {
                throw new UnsupportedCallbackException(callback);
            }
        }
    }

    Token validate(String tokenValue) throws SigV4Verifier.Refused {
        String url;
        try {
            url = new String(Base64.getUrlDecoder().decode(tokenValue), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            throw new SigV4Verifier.Refused("the token is not base64url (an MSK IAM token is a presigned URL)");
        }
        if (!url.startsWith(PREFIX) || url.indexOf('?') < 0) {
            throw new SigV4Verifier.Refused("the token is not a presigned MSK IAM URL");
        }
        int query = url.indexOf('?');
        String authority = url.substring(PREFIX.length(), query);
        if (authority.endsWith("/")) {
            authority = authority.substring(0, authority.length() - 1);
        }
        String expectedHost = "kafka." + verifier.region() + ".amazonaws.com";
        if (!expectedHost.equals(authority)) {
            throw new SigV4Verifier.Refused("the token is for " + authority + ", not " + expectedHost);
        }
        Map<String, String> params = new LinkedHashMap<>();
        for (String pair : url.substring(query + 1).split("&")) {
            int eq = pair.indexOf('=');
            String name = decode(eq < 0 ? pair : pair.substring(0, eq));
            if (!name.isEmpty() && !name.equals("User-Agent")) { // added after signing
                params.put(name, decode(eq < 0 ? "" : pair.substring(eq + 1)));
            }
        }
        SigV4Verifier.Verified verified = verifier.verify(authority, params);
        return new Token(tokenValue, verified.accessKeyId, verified.signedAt.toEpochMilli(),
                verified.expiresAt.toEpochMilli());
    }

    private static String decode(String text) throws SigV4Verifier.Refused {
        try {
            return URLDecoder.decode(text, "UTF-8");
        } catch (UnsupportedEncodingException | IllegalArgumentException e) {
            throw new SigV4Verifier.Refused("the token's query string is malformed");
        }
    }

    @Override
    public void close() {
    }

    static final class Token implements OAuthBearerToken {
        private final String value;
        private final String principal;
        private final long startMs;
        private final long lifetimeMs;

        Token(String value, String principal, long startMs, long lifetimeMs) {
            this.value = value;
            this.principal = principal;
            this.startMs = startMs;
            this.lifetimeMs = lifetimeMs;
        }

        @Override
        public String value() {
            return value;
        }

        @Override
        public Set<String> scope() {
            return Collections.emptySet();
        }

        @Override
        public long lifetimeMs() {
            return lifetimeMs;
        }

        @Override
        public String principalName() {
            return principal;
        }

        @Override
        public Long startTimeMs() {
            return startMs;
        }
    }
}
