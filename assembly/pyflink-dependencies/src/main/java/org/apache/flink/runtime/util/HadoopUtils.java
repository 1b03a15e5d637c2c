/*
 * Hadoop-free stand-in for Flink's org.apache.flink.runtime.util.HadoopUtils, used only inside
 * pyflink-dependencies.jar.
 *
 * Iceberg's FlinkCatalogFactory.clusterHadoopConf() calls
 * HadoopUtils.getHadoopConfiguration(flinkConf). The real class lives in the Flink distribution (parent
 * class loader), which has no Hadoop on its class path (neither the apache-flink wheel nor Managed Flink
 * give it the Hadoop we ship), so the call fails there. The shade plugin relocates this class, and every
 * reference to it in the jar, to pipectl.shaded.org.apache.flink.runtime.util.HadoopUtils, and relocates
 * org.apache.hadoop.conf too (it clashes with the Hadoop classes Managed Flink ships). Same approach as the
 * AWS Managed Flink PyFlink Iceberg samples.
 */
package org.apache.flink.runtime.util;

import org.apache.hadoop.conf.Configuration;

public final class HadoopUtils {
    private HadoopUtils() {}

    /** An empty Hadoop configuration: no core-site.xml from whatever class path the job runs on. */
    public static Configuration getHadoopConfiguration(
            org.apache.flink.configuration.Configuration flinkConfiguration) {
        return new Configuration(false);
    }
}
