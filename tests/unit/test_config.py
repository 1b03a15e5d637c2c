import pytest

from pipectl.config import load_settings
from pipectl.errors import ConfigError


def test_defaults(tmp_path):
    s = load_settings(tmp_path, environ={})
    assert s.env == "local"
    assert s.pipeline.topic == "orders.created.v1"
    assert s.kafka_bootstrap == "127.0.0.1:9092"
    assert s.flink_rest_url == "http://127.0.0.1:8081"
    assert s.warehouse_dir == tmp_path / "warehouse"
    assert s.state_dir == tmp_path / ".pipectl"


def test_layers_file_then_environment_then_flags(tmp_path):
    (tmp_path / "pipectl.toml").write_text('[local]\nkafka_port = 19092\nflink_port = 18081\n[pipeline]\nparallelism = 3\n')
    s = load_settings(tmp_path, environ={"PIPECTL_LOCAL_FLINK_PORT": "28081"}, overrides={"pipeline.parallelism": 2})
    assert s.local.kafka_port == 19092  # file
    assert s.local.flink_port == 28081  # environment beats file
    assert s.pipeline.parallelism == 2  # flag beats file


def test_deployment_env_selects_the_environment(tmp_path):
    assert load_settings(tmp_path, environ={"DEPLOYMENT_ENV": "aws"}).env == "aws"
    assert load_settings(tmp_path, env="local", environ={"DEPLOYMENT_ENV": "aws"}).env == "local"


def test_all_problems_are_reported_at_once(tmp_path):
    (tmp_path / "pipectl.toml").write_text('[local]\nkafka_port = "x"\nbogus = 1\n[pipeline]\nparallelism = 0\n')
    with pytest.raises(ConfigError) as err:
        load_settings(tmp_path, environ={"PIPECTL_ENV": "prod"})
    assert err.value.problems == [
        "local.kafka_port must be a whole number, got 'x'",
        "unknown setting local.bogus",
        "environment must be one of local, aws, got 'prod'",
        "pipeline.parallelism must be at least 1",
    ]
    assert err.value.exit_code == 2


def test_lists_from_environment(tmp_path):
    s = load_settings(tmp_path, environ={"PIPECTL_AWS_SUBNETS": "subnet-1, subnet-2"})
    assert s.aws.subnets == ("subnet-1", "subnet-2")


def test_invalid_toml_is_one_clear_error(tmp_path):
    (tmp_path / "pipectl.toml").write_text("[local\n")
    with pytest.raises(ConfigError, match=r"pipectl\.toml is not valid TOML"):
        load_settings(tmp_path, environ={})


@pytest.mark.parametrize("env, want", [
    ("local", ("orders.created.v1", "analytics", "orders", "orders_rejected", "pipectl-order-ingest", 10)),
    ("aws", ("orders.aws", "lake", "orders_v2", "orders_rejected", "pipectl-order-ingest", 60)),
])
def test_names_come_from_the_chosen_environment(tmp_path, env, want):
    s = load_settings(tmp_path, env=env, environ={"PIPECTL_AWS_TOPIC": "orders.aws", "PIPECTL_AWS_NAMESPACE": "lake",
                                                   "PIPECTL_AWS_TABLE": "orders_v2"})
    n = s.names
    assert (n.topic, n.namespace, n.table, n.rejected_table, n.consumer_group, n.checkpoint_interval_s) == want
    assert n.qualified_table == f"{want[1]}.{want[2]}"
