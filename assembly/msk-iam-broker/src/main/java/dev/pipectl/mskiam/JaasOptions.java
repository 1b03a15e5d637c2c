package dev.pipectl.mskiam;

import java.util.List;
import java.util.Map;
import javax.security.auth.login.AppConfigurationEntry;

final class JaasOptions {
    private JaasOptions() {
    }

    /** The options of the JAAS entry for `module` (the one login module of this listener and mechanism). */
    static Map<String, ?> of(List<AppConfigurationEntry> entries, Class<?> module) {
        for (AppConfigurationEntry entry : entries) {
            if (entry.getLoginModuleName().equals(module.getName())) {
                return entry.getOptions();
            }
        }
        throw new IllegalArgumentException("no JAAS entry for " + module.getName() + " in sasl.jaas.config");
    }
}
