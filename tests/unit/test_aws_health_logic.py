"""Pure parts of pipectl.aws.health and pipectl.aws.network: the root exception of a stack trace,
its fix from the table of known causes, and which brokers are MSK private endpoints."""

from pipectl.aws.health import GENERIC_FIX, explain, root_exception
from pipectl.aws.network import private_brokers

TRACE = (
    "org.apache.flink.runtime.JobException: Recovery is suppressed by NoRestartBackoffTimeStrategy\n"
    "\tat org.apache.flink.runtime.executiongraph.failover.ExecutionFailureHandler.handleFailure(X.java:1)\n"
    "Caused by: org.apache.kafka.common.KafkaException: Failed to construct kafka consumer\n"
    "\t... 12 more\n"
    "Caused by: org.apache.kafka.common.errors.SaslAuthenticationException: Access denied\n"
)


def test_the_innermost_cause_is_the_root():
    assert root_exception(TRACE) == "org.apache.kafka.common.errors.SaslAuthenticationException: Access denied"
    assert root_exception("ModuleNotFoundError: No module named 'jobs'") == "ModuleNotFoundError: No module named 'jobs'"
    assert root_exception("nothing to see here") is None


def test_known_causes_and_the_fallback():
    assert explain(root_exception(TRACE) or "").fix.startswith("MSK refused the IAM authentication")
    cause = explain("java.lang.ClassNotFoundException: software.amazon.msk.auth.iam.IAMLoginModule")
    assert cause.fix == "the MSK IAM auth classes are not in lib/pyflink-dependencies.jar: rebuild with `pipectl aws package`"
    assert explain("java.lang.NullPointerException: boom").fix == GENERIC_FIX


def test_private_msk_endpoints():
    private = "b-1.orders.abc123.c2.kafka.us-east-1.amazonaws.com:9098"
    public = "b-1-public.orders.abc123.c2.kafka.us-east-1.amazonaws.com:9198"
    serverless = "boot-abc.c2.kafka-serverless.eu-west-1.amazonaws.com:9098"
    assert private_brokers(f"{private},{public},{serverless},broker.example.com:9098") == [private, serverless]
