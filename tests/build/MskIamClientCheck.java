import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Sends one record through a broker with the very Kafka client settings the job uses on AWS (SASL_SSL,
 * AWS_MSK_IAM, aws-msk-iam-auth's IAMLoginModule and IAMClientCallbackHandler), with the classes of
 * pyflink-dependencies.jar. Credentials and region come from the default chains (-Daws.accessKeyId,
 * -Daws.secretAccessKey, -Daws.region), as on the service.
 *
 * Usage: java -cp JAR:FLINK_LIB/* MskIamClientCheck BOOTSTRAP TOPIC TRUSTSTORE PASSWORD VALUE (PASSWORD may be "")
 * Prints "OK: ..." and exits 0 when the broker acknowledged the record; "REFUSED: ..." and exits 1 otherwise.
 */
public final class MskIamClientCheck {
    public static void main(String[] args) throws Exception {
        Map<String, Object> props = new HashMap<>();
        props.put("bootstrap.servers", args[0]);
        props.put("security.protocol", "SASL_SSL");
        props.put("sasl.mechanism", "AWS_MSK_IAM");
        props.put("sasl.jaas.config", "software.amazon.msk.auth.iam.IAMLoginModule required;");
        props.put("sasl.client.callback.handler.class", "software.amazon.msk.auth.iam.IAMClientCallbackHandler");
        props.put("ssl.truststore.location", args[2]);
        if (!args[3].isEmpty()) { // the rehearsal's truststore is read without one (it holds no secret)
            props.put("ssl.truststore.password", args[3]);
        }
        props.put("ssl.truststore.type", "JKS");
        props.put("key.serializer", StringSerializer.class.getName());
        props.put("value.serializer", StringSerializer.class.getName());
        props.put("acks", "all");
        props.put("max.block.ms", "30000");
        props.put("delivery.timeout.ms", "30000");
        props.put("request.timeout.ms", "20000");
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(props)) {
            RecordMetadata meta = producer.send(new ProducerRecord<>(args[1], "iam-check", args[4]))
                    .get(40, TimeUnit.SECONDS);
            System.out.println("OK: AWS_MSK_IAM record acknowledged on " + meta.topic() + "-" + meta.partition()
                    + " at offset " + meta.offset());
        } catch (ExecutionException e) {
            StringBuilder chain = new StringBuilder();
            for (Throwable t = e.getCause(); t != null; t = t.getCause()) {
                chain.append(" | ").append(t.getClass().getName()).append(": ").append(t.getMessage());
            }
            System.out.println("REFUSED:" + chain);
            System.exit(1);
        }
    }
}
