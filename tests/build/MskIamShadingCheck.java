import java.lang.reflect.Constructor;
import java.lang.reflect.Method;
import java.util.HashMap;
import java.util.Map;

/**
 * Proves that the MSK IAM classes in pyflink-dependencies.jar work with the Kafka client classes that the
 * Flink Kafka connector in the same jar uses. Run with the shaded jar and the Flink distribution's lib/*
 * on the class path; exits non-zero (with the reason on stderr) when they do not fit together.
 *
 * Everything goes through reflection, starting from the connector: the Kafka package the connector was
 * linked against (relocated or not) is read from its split reader's consumer field, so a jar that
 * relocates Kafka for the connector but not for the MSK classes fails here, as it would on Managed Flink.
 */
public final class MskIamShadingCheck {
    private static final String IAM_HANDLER = "software.amazon.msk.auth.iam.IAMClientCallbackHandler";
    private static final String IAM_LOGIN = "software.amazon.msk.auth.iam.IAMLoginModule";
    private static final String SPLIT_READER =
            "org.apache.flink.connector.kafka.source.reader.KafkaPartitionSplitReader";

    public static void main(String[] args) throws Exception {
        ClassLoader cl = MskIamShadingCheck.class.getClassLoader();

        // 1. The Kafka consumer class the connector uses, and from it the Kafka package prefix.
        Class<?> consumerType = Class.forName(SPLIT_READER, false, cl).getDeclaredField("consumer").getType();
        String consumerName = consumerType.getName();
        String suffix = "clients.consumer.KafkaConsumer";
        if (!consumerName.endsWith(suffix)) {
            fail("connector's consumer field has unexpected type " + consumerName);
        }
        String kafka = consumerName.substring(0, consumerName.length() - suffix.length());
        ClassLoader kafkaLoader = consumerType.getClassLoader();
        System.out.println("connector uses Kafka package " + kafka);

        // 2. The IAM callback handler must implement the connector's AuthenticateCallbackHandler.
        Class<?> callbackIface =
                Class.forName(kafka + "common.security.auth.AuthenticateCallbackHandler", false, kafkaLoader);
        Class<?> handler = Class.forName(IAM_HANDLER, false, kafkaLoader);
        if (!callbackIface.isAssignableFrom(handler)) {
            fail(IAM_HANDLER + " does not implement " + callbackIface.getName()
                    + " (it implements " + java.util.Arrays.toString(handler.getInterfaces()) + ")");
        }
        Class<?> loginModule = Class.forName(IAM_LOGIN, false, kafkaLoader);
        if (!javax.security.auth.spi.LoginModule.class.isAssignableFrom(loginModule)) {
            fail(IAM_LOGIN + " is not a JAAS LoginModule");
        }

        // 3. The client settings the job uses on AWS, as Kafka itself parses and instantiates them.
        Map<String, Object> props = new HashMap<>();
        props.put("bootstrap.servers", "127.0.0.1:1");
        props.put("key.deserializer", kafka + "common.serialization.ByteArrayDeserializer");
        props.put("value.deserializer", kafka + "common.serialization.ByteArrayDeserializer");
        props.put("security.protocol", "SASL_SSL");
        props.put("sasl.mechanism", "AWS_MSK_IAM");
        props.put("sasl.jaas.config", IAM_LOGIN + " required;");
        props.put("sasl.client.callback.handler.class", IAM_HANDLER);

        Class<?> consumerConfig = Class.forName(kafka + "clients.consumer.ConsumerConfig", true, kafkaLoader);
        Object config = consumerConfig.getConstructor(Map.class).newInstance(props);
        Method configured = consumerConfig.getMethod("getConfiguredInstance", String.class, Class.class);
        Object instance = unwrap(() -> configured.invoke(config, "sasl.client.callback.handler.class", callbackIface));
        System.out.println("ConsumerConfig made a " + instance.getClass().getName());

        // 4. A real consumer: builds the SASL_SSL channel, runs the JAAS login, creates the IAM handler.
        Constructor<?> ctor = consumerType.getConstructor(Map.class);
        Object consumer = unwrap(() -> ctor.newInstance(props));
        consumerType.getMethod("close").invoke(consumer);
        System.out.println("OK: KafkaConsumer with AWS_MSK_IAM created and closed");
    }

    private interface Call {
        Object run() throws Exception;
    }

    private static Object unwrap(Call call) throws Exception {
        try {
            return call.run();
        } catch (java.lang.reflect.InvocationTargetException e) {
            Throwable cause = e.getCause();
            StringBuilder chain = new StringBuilder();
            for (Throwable t = cause; t != null; t = t.getCause()) {
                chain.append("\n  caused by ").append(t);
            }
            fail("Kafka rejected the MSK IAM settings:" + chain);
            return null;
        }
    }

    private static void fail(String message) {
        System.err.println("FAIL: " + message);
        System.exit(1);
    }
}
