package dev.pipectl.mskiam;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Map;
import java.util.UUID;
import javax.security.auth.callback.Callback;
import javax.security.auth.callback.CallbackHandler;
import javax.security.auth.callback.UnsupportedCallbackException;
import javax.security.sasl.SaslException;
import javax.security.sasl.SaslServer;
import javax.security.sasl.SaslServerFactory;
import org.apache.kafka.common.errors.SaslAuthenticationException;

/**
 * The server side of SASL mechanism AWS_MSK_IAM: one client message (the signed JSON payload), checked by the
 * callback handler; on success one server message, `{"version":"2020_10_22","request-id":"..."}`, which
 * aws-msk-iam-auth's IAMSaslClient requires before it reports the exchange complete.
 */
public final class IamSaslServer implements SaslServer {
    public static final String MECHANISM = "AWS_MSK_IAM";

    private final CallbackHandler callbackHandler;
    private String principal;
    private boolean complete;

    IamSaslServer(CallbackHandler callbackHandler) {
        this.callbackHandler = callbackHandler;
    }

    @Override
    public String getMechanismName() {
        return MECHANISM;
    }

    @Override
    public byte[] evaluateResponse(byte[] response) throws SaslException {
        if (complete) {
            throw new IllegalStateException("the AWS_MSK_IAM exchange is already complete");
        }
        if (response == null || response.length == 0) {
            throw new SaslAuthenticationException("Authentication failed: empty AWS_MSK_IAM payload (unsigned client)");
        }
        IamAuthenticationCallback callback = new IamAuthenticationCallback(response);
        try {
            callbackHandler.handle(new Callback[] {callback});
        } catch (IOException | UnsupportedCallbackException e) {
            throw new SaslException("the AWS_MSK_IAM callback handler failed", e);
        }
        if (callback.principal() == null) {
            throw new SaslAuthenticationException("Authentication failed: " + callback.refusal());
        }
        principal = callback.principal();
        complete = true;
        return ("{\"version\":\"" + IamPayload.VERSION + "\",\"request-id\":\"" + UUID.randomUUID() + "\"}")
                .getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public boolean isComplete() {
        return complete;
    }

    @Override
    public String getAuthorizationID() {
        if (!complete) {
            throw new IllegalStateException("the AWS_MSK_IAM exchange is not complete");
        }
        return principal;
    }

    @Override
    public byte[] unwrap(byte[] incoming, int offset, int len) {
        if (!complete) {
            throw new IllegalStateException("the AWS_MSK_IAM exchange is not complete");
        }
        return Arrays.copyOfRange(incoming, offset, offset + len);
    }

    @Override
    public byte[] wrap(byte[] outgoing, int offset, int len) {
        if (!complete) {
            throw new IllegalStateException("the AWS_MSK_IAM exchange is not complete");
        }
        return Arrays.copyOfRange(outgoing, offset, offset + len);
    }

    @Override
    public Object getNegotiatedProperty(String propName) {
        if (!complete) {
            throw new IllegalStateException("the AWS_MSK_IAM exchange is not complete");
        }
        return null;
    }

    @Override
    public void dispose() {
    }

    /** Registered through {@link Provider}; Kafka asks javax.security.sasl for a server of the mechanism. */
    public static final class Factory implements SaslServerFactory {
        @Override
        public SaslServer createSaslServer(String mechanism, String protocol, String serverName, Map<String, ?> props,
                                           CallbackHandler cbh) throws SaslException {
            if (!MECHANISM.equals(mechanism)) {
                throw new SaslException("unsupported mechanism " + mechanism);
            }
            return new IamSaslServer(cbh);
        }

        @Override
        public String[] getMechanismNames(Map<String, ?> props) {
            return new String[] {MECHANISM};
        }
    }

    /** The security provider that makes AWS_MSK_IAM a known SASL server mechanism. */
    public static final class Provider extends java.security.Provider {
        private static final long serialVersionUID = 1L;

        Provider() {
            super("pipectl AWS_MSK_IAM SASL server", "1.0", "SASL/AWS_MSK_IAM server for the local MSK rehearsal");
            put("SaslServerFactory." + MECHANISM, Factory.class.getName());
        }
    }
}
