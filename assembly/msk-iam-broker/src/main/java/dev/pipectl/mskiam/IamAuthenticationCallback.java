package dev.pipectl.mskiam;

import javax.security.auth.callback.Callback;

/** Asks the server callback handler to check an AWS_MSK_IAM payload; it sets the principal or the refusal. */
public final class IamAuthenticationCallback implements Callback {
    private final byte[] payload;
    private String principal;
    private String refusal;

    public IamAuthenticationCallback(byte[] payload) {
        this.payload = payload;
    }

    public byte[] payload() {
        return payload;
    }

    public String principal() {
        return principal;
    }

    public String refusal() {
        return refusal;
    }

    void accept(String principal) {
        this.principal = principal;
    }

    void refuse(String reason) {
        this.refusal = reason;
    }
}
