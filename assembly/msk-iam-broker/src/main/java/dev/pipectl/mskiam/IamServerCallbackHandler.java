package dev.pipectl.mskiam;

import java.util.List;
import java.util.Map;
import javax.security.auth.callback.Callback;
import javax.security.auth.callback.UnsupportedCallbackException;
import javax.security.auth.login.AppConfigurationEntry;
import org.apache.kafka.common.security.auth.AuthenticateCallbackHandler;

/**
 * The broker's callback handler for SASL mechanism AWS_MSK_IAM:
 *
 *   listener.name.sasl_ssl.aws_msk_iam.sasl.server.callback.handler.class=dev.pipectl.mskiam.IamServerCallbackHandler
 *   listener.name.sasl_ssl.aws_msk_iam.sasl.jaas.config=dev.pipectl.mskiam.IamServerLoginModule required \
 *       region="us-east-1" access_key_id="..." secret_access_key="...";
 */
public final class IamServerCallbackHandler implements AuthenticateCallbackHandler {
    private SigV4Verifier verifier;

    @Override
    public void configure(Map<String, ?> configs, String saslMechanism, List<AppConfigurationEntry> jaasConfigEntries) {
        if (!IamSaslServer.MECHANISM.equals(saslMechanism)) {
            throw new IllegalArgumentException("IamServerCallbackHandler serves " + IamSaslServer.MECHANISM
                    + ", not " + saslMechanism);
        }
        verifier = SigV4Verifier.fromOptions(JaasOptions.of(jaasConfigEntries, IamServerLoginModule.class));
    }

    @Override
    public void handle(Callback[] callbacks) throws UnsupportedCallbackException {
        for (Callback callback : callbacks) {
            if (!(callback instanceof IamAuthenticationCallback)) {
                throw new UnsupportedCallbackException(callback);
            }
            IamAuthenticationCallback iam = (IamAuthenticationCallback) callback;
            try {
                IamPayload payload = IamPayload.parse(iam.payload());
                iam.accept(verifier.verify(payload.host, payload.params).accessKeyId);
            } catch (SigV4Verifier.Refused refused) {
                iam.refuse(refused.getMessage());
            }
        }
    }

    @Override
    public void close() {
    }
}
