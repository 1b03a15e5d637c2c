package dev.pipectl.mskiam;

import java.security.Security;
import java.util.Map;
import javax.security.auth.Subject;
import javax.security.auth.callback.CallbackHandler;
import javax.security.auth.spi.LoginModule;

/**
 * The JAAS login module named in the AWS_MSK_IAM listener's sasl.jaas.config. Like Kafka's PlainLoginModule, it
 * exists so that loading it registers the SASL server provider; its options (region, access_key_id,
 * secret_access_key) are read by {@link IamServerCallbackHandler}.
 */
public final class IamServerLoginModule implements LoginModule {
    static {
        if (Security.getProvider("pipectl AWS_MSK_IAM SASL server") == null) {
            Security.addProvider(new IamSaslServer.Provider());
        }
    }

    @Override
    public void initialize(Subject subject, CallbackHandler callbackHandler, Map<String, ?> sharedState,
                           Map<String, ?> options) {
    }

    @Override
    public boolean login() {
        return true;
    }

    @Override
    public boolean logout() {
        return true;
    }

    @Override
    public boolean commit() {
        return true;
    }

    @Override
    public boolean abort() {
        return false;
    }
}
