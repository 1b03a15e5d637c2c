"""Settings checked before any AWS call; AWS failures as one line that says what to do."""

from __future__ import annotations

import pytest

from tests.aws.conftest import REGION, write_zip

DEAD_ENDPOINT = "http://127.0.0.1:9"  # nothing listens: any AWS call would fail differently
SETTINGS_HINT = "set them in the [aws] section of pipectl.toml, as PIPECTL_AWS_* variables or with flags"


def test_missing_settings_are_reported_at_once_before_any_call(world):
    world.config(region=REGION)
    proc = world.run("aws", "deploy", "--skip-build", env={"AWS_ENDPOINT_URL": DEAD_ENDPOINT})
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "error: invalid AWS settings: aws.code_bucket is not set; aws.service_role_arn is not set; "
        "neither aws.msk_cluster_arn nor aws.bootstrap_servers is set; aws.table_bucket_arn is not set -- "
        + SETTINGS_HINT
    )


def test_invalid_settings_are_reported_at_once(world):
    # names are checked when the settings load (pipectl/config.py), all of them in one line
    world.config(region="us-east-2", code_bucket="Not_A_Bucket", namespace="Analytics")
    proc = world.run("aws", "deploy", "--skip-build", env={"AWS_ENDPOINT_URL": DEAD_ENDPOINT})
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "error: invalid settings: aws.namespace must be 1-255 lowercase letters, digits or '_', beginning and "
        "ending with a letter or digit (S3 Tables), got 'Analytics'; aws.code_bucket must be an S3 bucket name "
        "(3-63 lowercase letters, digits, '.' or '-'), got 'Not_A_Bucket' -- fix pipectl.toml, PIPECTL_* variables or flags"
    )
    # the AWS target's own checks, all of them in one line, before any call
    world.config(
        region="us-east-2",
        code_bucket="pipectl-code",
        service_role_arn="order-ingest-flink",
        bootstrap_servers="broker-without-port",
        table_bucket_arn=world.table_bucket_arn,
        subnets=["subnet-0123456789abcdef0"],
        parallelism=0,
    )
    proc = world.run("aws", "deploy", "--skip-build", env={"AWS_ENDPOINT_URL": DEAD_ENDPOINT})
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "error: invalid AWS settings: "
        "aws.service_role_arn 'order-ingest-flink' is not an IAM role ARN (arn:aws:iam::123456789012:role/NAME); "
        "aws.bootstrap_servers entry 'broker-without-port' is not HOST:PORT; "
        "aws.parallelism must be at least 1; "
        "aws.subnets and aws.security_groups must be set together (MSK needs the VPC); "
        "aws.table_bucket_arn is in us-east-1, but aws.region is us-east-2 -- " + SETTINGS_HINT
    )


def test_region_is_required_and_checked(world):
    world.config()
    env = {"AWS_DEFAULT_REGION": "", "AWS_ENDPOINT_URL": DEAD_ENDPOINT}
    proc = world.run("aws", "status", env=env)
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "error: invalid AWS settings: aws.region is not set (nor AWS_REGION or a profile region) -- " + SETTINGS_HINT
    )
    proc = world.run("aws", "status", "--region", "mars-1", env=env)
    assert proc.stderr.strip() == (
        "error: invalid AWS settings: aws.region 'mars-1' is not an AWS region name (like eu-west-1) -- " + SETTINGS_HINT
    )


def test_unknown_profile(world):
    proc = world.run("aws", "status", "--profile", "nobody")
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "error: invalid AWS settings: aws.profile 'nobody' is not a configured AWS profile -- " + SETTINGS_HINT
    )


def test_no_credentials(world):
    env = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_EC2_METADATA_DISABLED": "true"}
    proc = world.run("aws", "deploy", "--skip-build", env=env)
    assert proc.returncode == 2
    assert proc.stderr.splitlines()[-1] == (
        "error: no usable AWS credentials found while trying to read the code bucket 'pipectl-code' -- "
        "configure credentials: `aws configure`, `aws sso login --profile NAME` with aws.profile set, "
        "or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
    )


def test_missing_code_bucket(world):
    secret = "s3cr3t-never-printed"
    proc = world.run(
        "aws", "deploy", "--skip-build", "--verbose",
        env={"PIPECTL_AWS_CODE_BUCKET": "no-such-bucket", "AWS_SECRET_ACCESS_KEY": secret},
    )
    assert proc.returncode == 3
    assert proc.stderr.splitlines()[-1] == (
        "error: code bucket 'no-such-bucket' does not exist -- create it "
        f"(`aws s3 mb s3://no-such-bucket --region {REGION}`) or fix aws.code_bucket"
    )
    assert secret not in proc.stderr + proc.stdout


def test_missing_role(world):
    arn = "arn:aws:iam::123456789012:role/ghost"
    proc = world.run("aws", "deploy", "--skip-build", env={"PIPECTL_AWS_SERVICE_ROLE_ARN": arn})
    assert proc.returncode == 3
    assert proc.stderr.splitlines()[-1] == (
        "error: execution role 'ghost' does not exist -- create it with the policies from `pipectl aws iam-policy` "
        "(see docs/aws.md), or fix aws.service_role_arn"
    )


def test_missing_table_bucket(world):
    arn = f"arn:aws:s3tables:{REGION}:123456789012:bucket/nothing-here"
    proc = world.run("aws", "deploy", "--skip-build", env={"PIPECTL_AWS_TABLE_BUCKET_ARN": arn})
    assert proc.returncode == 3
    assert proc.stderr.splitlines()[-1] == (
        f"error: table bucket {arn} does not exist -- create it "
        f"(`aws s3tables create-table-bucket --name NAME --region {REGION}`) or fix aws.table_bucket_arn"
    )


def test_unreachable_endpoint(world):
    proc = world.run("aws", "status", env={"AWS_ENDPOINT_URL": DEAD_ENDPOINT})
    assert proc.returncode == 1
    line = proc.stderr.strip()
    assert line.startswith(f'error: cannot reach the AWS endpoint "{DEAD_ENDPOINT}/" while trying to describe') or line.startswith(
        f"error: cannot reach the AWS endpoint {DEAD_ENDPOINT}"
    ), line
    assert line.endswith("-- check aws.region (is the service offered in that region?), aws.endpoint_url and the network")
    assert "Traceback" not in proc.stderr


def test_zip_layout_is_checked(world):
    import zipfile

    with zipfile.ZipFile(world.zip, "w") as zf:
        zf.writestr("streaming_job.py", "")
    proc = world.run("aws", "deploy", "--skip-build")
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[-1] == (
        "error: data-pipeline-aws.zip lacks jobs/order_ingest/job.py, lib/pyflink-dependencies.jar "
        "(Managed Flink needs streaming_job.py, jobs/order_ingest/job.py, lib/pyflink-dependencies.jar) -- "
        "check the assembly descriptor in pom.xml/assembly/ and rebuild with `pipectl aws package`"
    )
    world.zip.unlink()
    proc = world.run("aws", "deploy", "--skip-build")
    assert proc.returncode == 3
    assert proc.stderr.splitlines()[-1] == (
        f"error: {world.zip} does not exist -- build it with `pipectl aws package` (or drop --skip-build)"
    )
    write_zip(world.zip)


# The mapping itself, for codes the emulator cannot produce --------------------------------
def _client_error(code: str, status: int = 400):
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op")


@pytest.mark.parametrize(
    "code,message,exit_code",
    [
        (
            "AccessDeniedException",
            "access denied: the AWS caller may not start the application 'x' (AccessDeniedException)",
            1,
        ),
        ("AccessDenied", "access denied: the AWS caller may not start the application 'x' (AccessDenied)", 1),
        ("ExpiredTokenException", "AWS rejected the credentials (ExpiredTokenException)", 2),
        ("UnrecognizedClientException", "AWS rejected the credentials (UnrecognizedClientException)", 2),
        ("ResourceNotFoundException", "not found: could not start the application 'x' (ResourceNotFoundException)", 3),
        ("ConcurrentModificationException", "the application changed while trying to start the application 'x'", 1),
        ("InvalidArgumentException", "AWS rejected the request to start the application 'x': InvalidArgumentException: m", 1),
        ("ThrottlingException", "AWS throttled the request to start the application 'x' (ThrottlingException)", 1),
        ("SomethingNew", "AWS error SomethingNew while trying to start the application 'x'", 1),
    ],
)
def test_error_codes_map_to_one_line(code, message, exit_code):
    from pipectl.aws.errors import translate

    err = translate(_client_error(code), "start the application 'x'")
    assert (err.message, err.exit_code) == (message, exit_code)
    assert err.hint


def test_region_redirect_names_the_bucket_region():
    from botocore.exceptions import ClientError

    from pipectl.aws.errors import translate

    exc = ClientError(
        {
            "Error": {"Code": "301", "Message": "Moved Permanently"},
            "ResponseMetadata": {"HTTPStatusCode": 301, "HTTPHeaders": {"x-amz-bucket-region": "eu-west-1"}},
        },
        "HeadBucket",
    )
    err = translate(exc, "read the code bucket 'b'")
    assert err.message == "wrong region: could not read the code bucket 'b' (it is in eu-west-1)"
    assert err.hint == "set aws.region to the region the resource lives in"
    assert err.exit_code == 2
