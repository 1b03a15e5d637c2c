"""A local Kafka broker that authenticates like Amazon MSK with IAM auth, for `pipectl aws rehearse`.

Over 400 lines: the broker's configuration, its TLS material and its IAM health probe belong together
(each needs the others' paths and credentials); about 60 of them are this interface description.

Interface (stable; the rehearsal builds on it):

    from pipectl.rehearse.broker import IamCredentials, start_iam_broker, read_iam_broker, stop_iam_broker

    broker = start_iam_broker(workdir, port, IamCredentials("AKIA...", "secret"), "us-east-1",
                              topics=["orders.created.v1"], partitions=2, target_dir=project / "target")
    broker.bootstrap            # "127.0.0.1:<port>": SASL_SSL, mechanisms AWS_MSK_IAM and OAUTHBEARER only
    broker.truststore           # JKS holding the rehearsal CA, read without a password (it holds no secret)
    broker.jvm_trust_options()  # ["-Djavax.net.ssl.trustStore=...", "-Djavax.net.ssl.trustStoreType=JKS"] for the job's JVM
    broker.ca_pem               # the same CA as PEM, for Python clients (aws.kafka_ca_file)
    broker.java_client_properties()  # the Kafka client settings the job uses on AWS (AWS_MSK_IAM), plus the truststore
    broker.internal_bootstrap   # "127.0.0.1:<port+1>": PLAINTEXT, inter-broker and admin only; never give it to the job
    broker.stop()               # or, from a later process: stop_iam_broker(workdir)
    read_iam_broker(workdir)    # the running broker recorded in workdir/iam-broker.json, or None

Ports: port (SASL_SSL), port + 1 (internal PLAINTEXT), port + 2 (KRaft controller), all on 127.0.0.1.
`start_iam_broker` is idempotent: a broker already running from `workdir` on the same port is reused.
It returns only when a client authenticated with an MSK IAM token (OAUTHBEARER, signed with `credentials`)
lists the topics over TLS.

The broker side (assembly/msk-iam-broker, target/kafka/iam/msk-iam-broker.jar) checks both mechanisms against
`credentials` and `region`: AWS_MSK_IAM, the JSON payload aws-msk-iam-auth's IAMLoginModule sends (the job), and
OAUTHBEARER with aws-msk-iam-sasl-signer-python's token (the producer). Anything unsigned, wrongly signed, expired,
for another region, or another mechanism (PLAIN, SCRAM, ...) is refused. The Java client finds the region in
AWS_REGION (or -Daws.region) and the credentials in the default chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY,
or -Daws.accessKeyId / -Daws.secretAccessKey): the host 127.0.0.1 names no region.
TLS: a CA and a broker certificate (SAN IP:127.0.0.1, DNS:localhost) made at first start (`cryptography`; the
JKS truststore with the JDK's keytool). The keystore's password is the broker's alone: in tls/password and
server.properties, both created 0600, never on a command line. The truststore holds only the public CA and is
read without a password (Java and Kafka then skip its integrity check), so no client needs a secret for it. `stop` leaves workdir (data, TLS) in place; delete it to start afresh.

The producer reaches it as it reaches MSK (`pipectl --env aws produce orders`) with these settings (pipectl.toml
[aws] or PIPECTL_AWS_*): bootstrap_servers = broker.bootstrap, kafka_ca_file = broker.ca_pem, region = region
(kafka_auth = "iam" is the default), and the same credentials as AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
Helpers: `iam_list_topics(broker, credentials)` (a health probe over the IAM listener) and
`static_token_provider(credentials, region)` (a kafka-python OAUTHBEARER token provider for fixed credentials).
Before running a jar on Java 11: `pipectl.bytecode.require_java(jar, 11)` raises BytecodeError naming any newer class.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from collections.abc import Sequence

from pipectl import kafka_admin, procs
from pipectl.childenv import child_env
from pipectl.config import find_project_dir
from pipectl.errors import EXIT_USAGE, NotFoundError, PipectlError, UnhealthyError
from pipectl.files import private_dir, write_secret
from pipectl.launch import kafka as kafka_launch
from pipectl.launch.java import java_env
from pipectl.wait import wait_until

NAME = "iam-broker"
LISTENER = "CLIENT_IAM"  # MSK's name for its IAM listener (port 9098 on MSK)
LOGIN_MODULE = "dev.pipectl.mskiam.IamServerLoginModule"
IAM_HANDLER = "dev.pipectl.mskiam.IamServerCallbackHandler"
OAUTH_VALIDATOR = "dev.pipectl.mskiam.IamOAuthBearerValidator"
OAUTH_LOGIN_MODULE = "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule"
CLIENT_LOGIN_MODULE = "software.amazon.msk.auth.iam.IAMLoginModule"
CLIENT_HANDLER = "software.amazon.msk.auth.iam.IAMClientCallbackHandler"
TRUSTSTORE_PASSWORD_ENV = "PIPECTL_TRUSTSTORE_WRITE_PASSWORD"


@dataclass(frozen=True)
class IamCredentials:
    """The one access key the rehearsal broker accepts (no session token)."""

    access_key_id: str
    secret_access_key: str

    def __repr__(self) -> str:  # never show the secret
        return f"IamCredentials(access_key_id={self.access_key_id!r}, secret_access_key='***')"


@dataclass(frozen=True)
class IamBroker:
    workdir: Path
    host: str
    port: int
    region: str
    pid: int
    truststore: Path
    ca_pem: Path
    log: Path

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def internal_bootstrap(self) -> str:
        return f"{self.host}:{self.port + 1}"

    def jvm_trust_options(self) -> list[str]:
        return [
            f"-Djavax.net.ssl.trustStore={self.truststore}",
            "-Djavax.net.ssl.trustStoreType=JKS",
        ]

    def java_client_properties(self) -> dict[str, str]:
        """What a Java Kafka client (the job) sets to reach this broker, as it would reach MSK with IAM auth."""
        return {
            "bootstrap.servers": self.bootstrap,
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": "AWS_MSK_IAM",
            "sasl.jaas.config": f"{CLIENT_LOGIN_MODULE} required;",
            "sasl.client.callback.handler.class": CLIENT_HANDLER,
            "ssl.truststore.location": str(self.truststore),
            "ssl.truststore.type": "JKS",
        }

    def alive(self) -> bool:
        return procs.is_alive(procs.read(self.workdir, NAME))

    def stop(self, timeout: float = 30.0) -> bool:
        return stop_iam_broker(self.workdir, timeout)

    def to_dict(self) -> dict[str, Any]:
        """For output: addresses, pid and files (no secret is among them)."""
        data = asdict(self)
        data.update({k: str(v) for k, v in data.items() if isinstance(v, Path)})
        data["bootstrap"] = self.bootstrap
        return data


def read_iam_broker(workdir: Path) -> IamBroker | None:
    """The broker recorded in workdir/iam-broker.json when its process is still running, else None."""
    path = procs.pid_file(workdir, NAME)
    try:
        data = json.loads(path.read_text())
        broker = IamBroker(
            workdir=workdir,
            host=data["host"],
            port=int(data["port"]),
            region=data["region"],
            pid=int(data["pid"]),
            truststore=Path(data["truststore"]),
            ca_pem=Path(data["ca_pem"]),
            log=Path(data["log"]),
        )
    except (OSError, ValueError, KeyError):
        return None
    return broker if broker.alive() else None


def stop_iam_broker(workdir: Path, timeout: float = 30.0) -> bool:
    """Stop the broker started from `workdir`. True when one was running."""
    return procs.stop(workdir, procs.read(workdir, NAME), timeout=timeout)


def start_iam_broker(
    workdir: Path,
    port: int,
    credentials: IamCredentials,
    region: str,
    topics: Sequence[str] = (),
    *,
    partitions: int = 2,
    target_dir: Path | None = None,
    host: str = "127.0.0.1",
    heap: str = "384m",
    timeout_s: float = 180.0,
    java_opts: str = "",
) -> IamBroker:
    """Start (or reuse) the IAM-auth broker, create `topics`, and wait until an IAM-authenticated client answers."""
    workdir = workdir.resolve()
    target = (target_dir or find_project_dir() / "target").resolve()
    libs, iam_jar = target / "kafka" / "libs", target / "kafka" / "iam" / "msk-iam-broker.jar"
    if not any(libs.glob("kafka_2.13-*.jar")) or not iam_jar.is_file():
        raise NotFoundError(
            f"the broker classpath is incomplete ({libs}, {iam_jar})", hint="build it with `make build`"
        )
    _check_credentials(credentials, region)
    existing = read_iam_broker(workdir)
    if existing is not None and existing.port != port:
        raise PipectlError(
            f"an IAM broker from {workdir} already runs on port {existing.port}, not {port}",
            hint="stop it first (stop_iam_broker / `pipectl aws rehearse --down`)",
            exit_code=EXIT_USAGE,
        )
    private_dir(workdir)
    tls = _ensure_tls(workdir / "tls")
    if existing is None:
        for p in (port, port + 1, port + 2):
            owner = procs.port_owner(p)
            if owner is not None:
                raise PipectlError(
                    f"port {p} needed by the IAM broker is in use (pid {owner[0]} {owner[1]})",
                    hint="stop that process or choose another port",
                    exit_code=EXIT_USAGE,
                )
        _spawn(workdir, port, host, credentials, region, partitions, libs, iam_jar, tls, heap, java_opts)
    managed = procs.read(workdir, NAME)
    assert managed is not None
    broker = IamBroker(workdir, host, port, region, managed.pid, tls["truststore"], tls["ca_pem"], Path(managed.log))
    record = {**json.loads(procs.pid_file(workdir, NAME).read_text()), **broker.to_dict()}
    procs.pid_file(workdir, NAME).write_text(json.dumps(record))

    def ready() -> bool:
        kafka_admin.ping(broker.internal_bootstrap, timeout_s=3)
        for topic in topics:
            kafka_admin.ensure_topic(broker.internal_bootstrap, topic, partitions)
        listed = iam_list_topics(broker, credentials)
        return all(topic in listed for topic in topics)

    try:
        wait_until(
            ready,
            what="the IAM broker",
            timeout=timeout_s,
            interval=1.0,
            hint=f"see {broker.log}",
            log_tail=lambda: procs.tail(broker.log, 20),
            alive=broker.alive,
        )
    except UnhealthyError:
        if existing is None:  # started here and never healthy: do not leave it holding the ports
            stop_iam_broker(workdir)
        raise
    return broker


def iam_list_topics(broker: IamBroker, credentials: IamCredentials, timeout_s: float = 5.0) -> set[str]:
    """List topics over the SASL_SSL listener with an MSK IAM token (OAUTHBEARER) signed with `credentials`."""
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(
        bootstrap_servers=broker.bootstrap,
        client_id="pipectl-rehearse",
        request_timeout_ms=int(timeout_s * 1000),
        security_protocol="SASL_SSL",
        sasl_mechanism="OAUTHBEARER",
        ssl_cafile=str(broker.ca_pem),
        sasl_oauth_token_provider=static_token_provider(credentials, broker.region),
    )
    try:
        return set(admin.list_topics())
    finally:
        admin.close()


def static_token_provider(credentials: IamCredentials, region: str) -> Any:
    """A kafka-python token provider: aws-msk-iam-sasl-signer-python's token for these exact credentials."""
    from aws_msk_iam_sasl_signer import MSKAuthTokenProvider
    from botocore.credentials import CredentialProvider, Credentials
    from kafka.net.sasl.oauth import AbstractTokenProvider

    class Static(CredentialProvider):
        METHOD = "pipectl-rehearsal"

        def load(self) -> Credentials:
            return Credentials(credentials.access_key_id, credentials.secret_access_key)

    class Provider(AbstractTokenProvider):
        def token(self) -> str:
            token, _expiry = MSKAuthTokenProvider.generate_auth_token_from_credentials_provider(region, Static())
            return str(token)

    return Provider()


# ---------------------------------------------------------------------------------------------- internals
def _check_credentials(credentials: IamCredentials, region: str) -> None:
    for what, value in (
        ("access key id", credentials.access_key_id),
        ("secret", credentials.secret_access_key),
        ("region", region),
    ):
        if not value or any(c in value for c in '"\\\n\r;'):
            raise PipectlError(
                f"the IAM broker's {what} is empty or holds a quote, backslash, ';' or newline",
                hint="use plain AWS-style credentials and region",
                exit_code=EXIT_USAGE,
            )


def _keytool() -> str:
    found = shutil.which("keytool")
    if found is None and os.environ.get("JAVA_HOME"):
        candidate = Path(os.environ["JAVA_HOME"]) / "bin" / "keytool"
        found = str(candidate) if candidate.is_file() else None
    if found is None:
        raise NotFoundError("keytool (from a JDK) is not on PATH", hint="install openjdk-17-jdk-headless")
    return found


def _ensure_tls(tls: Path) -> dict[str, Any]:
    """A rehearsal CA and a broker certificate signed by it (made once per workdir, valid 30 days).

    Keys and certificates come from `cryptography`; the broker's keystore is PKCS12 (read by the broker's JDK),
    the clients' truststore is JKS (readable by any JVM, Java 11 included, without a password), made by one
    keytool call. The keystore and its password are created 0600; keytool gets a throwaway store password
    through its environment (-storepass:env), never on its command line."""
    paths = {"keystore": tls / "broker.p12", "truststore": tls / "truststore.jks", "ca_pem": tls / "ca.pem"}
    secret_file = tls / "password"
    if all(p.is_file() for p in paths.values()) and secret_file.is_file():
        return {**paths, "password": secret_file.read_text().strip()}
    if tls.exists():
        shutil.rmtree(tls)
    private_dir(tls)
    password = secrets.token_hex(16)
    write_secret(secret_file, password)
    ca_pem, keystore = _make_certificates(password)
    paths["ca_pem"].write_bytes(ca_pem)
    write_secret(paths["keystore"], keystore)
    result = subprocess.run(
        [
            _keytool(),
            "-importcert",
            "-noprompt",
            "-alias",
            "rehearsal-ca",
            "-file",
            str(paths["ca_pem"]),
            "-keystore",
            str(paths["truststore"]),
            "-storetype",
            "JKS",
            "-storepass:env",
            TRUSTSTORE_PASSWORD_ENV,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        # JKS asks for a store password to write; readers skip its check, so it is thrown away
        env=child_env({TRUSTSTORE_PASSWORD_ENV: secrets.token_hex(16)}),
    )
    if result.returncode != 0:
        last = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise PipectlError(f"keytool could not write the truststore: {last[0]}", hint="check the JDK installation")
    return {**paths, "password": password}


def _make_certificates(password: str) -> tuple[bytes, bytes]:
    """(CA certificate PEM, broker PKCS12 keystore with key, certificate and CA) for 127.0.0.1 / localhost."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import pkcs12
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pipectl rehearsal CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    encryption = (
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(10000)
        .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
        .hmac_hash(hashes.SHA256())
        .build(password.encode())
    )
    keystore = pkcs12.serialize_key_and_certificates(b"broker", key, cert, [ca], encryption)
    return ca.public_bytes(serialization.Encoding.PEM), keystore


def _spawn(
    workdir: Path,
    port: int,
    host: str,
    credentials: IamCredentials,
    region: str,
    partitions: int,
    libs: Path,
    iam_jar: Path,
    tls: dict[str, Any],
    heap: str,
    java_opts: str,
) -> None:
    data, props, log4j = workdir / "data", workdir / "server.properties", workdir / "log4j.properties"
    internal, controller = port + 1, port + 2
    signer = f'region="{region}" access_key_id="{credentials.access_key_id}" secret_access_key="{credentials.secret_access_key}"'
    prefix = f"listener.name.{LISTENER.lower()}"
    lines = [
        "process.roles=broker,controller",
        "node.id=1",
        f"controller.quorum.voters=1@{host}:{controller}",
        f"listeners={LISTENER}://{host}:{port},INTERNAL://{host}:{internal},CONTROLLER://{host}:{controller}",
        f"advertised.listeners={LISTENER}://{host}:{port},INTERNAL://{host}:{internal}",
        f"listener.security.protocol.map={LISTENER}:SASL_SSL,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "controller.listener.names=CONTROLLER",
        "inter.broker.listener.name=INTERNAL",
        f"{prefix}.sasl.enabled.mechanisms=AWS_MSK_IAM,OAUTHBEARER",
        f"{prefix}.aws_msk_iam.sasl.jaas.config={LOGIN_MODULE} required {signer};",
        f"{prefix}.aws_msk_iam.sasl.server.callback.handler.class={IAM_HANDLER}",
        f'{prefix}.oauthbearer.sasl.jaas.config={OAUTH_LOGIN_MODULE} required unsecuredLoginStringClaim_sub="broker" {signer};',
        f"{prefix}.oauthbearer.sasl.server.callback.handler.class={OAUTH_VALIDATOR}",
        f"{prefix}.ssl.keystore.location={tls['keystore']}",
        f"{prefix}.ssl.keystore.password={tls['password']}",
        f"{prefix}.ssl.key.password={tls['password']}",
        f"{prefix}.ssl.keystore.type=PKCS12",
        *kafka_launch.single_node_properties(data, partitions),
        "",
    ]
    write_secret(props, "\n".join(lines))  # holds the rehearsal's secrets: 0600 from its first byte
    kafka_launch.write_log4j(log4j)
    env = java_env()
    classpath = f"{libs}/*:{iam_jar}"
    if not (data / "meta.properties").is_file():
        kafka_launch.format_storage(
            classpath, log4j, props, env, what="the IAM broker's data folder", hint=f"delete {data}"
        )
    argv = kafka_launch.broker_argv(heap, log4j, classpath, props, java_opts)
    procs.spawn(workdir, NAME, argv, env=env, log=workdir / "iam-broker.log", marker=str(props), cwd=workdir)
