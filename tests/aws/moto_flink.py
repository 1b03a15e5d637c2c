"""moto 5.2 extended with the Managed Flink (kinesisanalyticsv2) lifecycle and MSK GetBootstrapBrokers.

moto serves kinesisanalyticsv2 Create/Describe/List only (and creates apps as STARTING, and
answers 500 for unknown names). This module replaces those handlers with a model that follows
the AWS API reference:

- CreateApplication: READY, version 1; ResourceInUseException when the name exists;
  InvalidArgumentException when the ZIPFILE code object is not in S3.
- StartApplication: READY -> STARTING -> RUNNING (or back to READY when the Python run options
  group `kinesis.analytics.flink.run.options` lacks `python`/`jarfile`, as the service does);
  ResourceInUseException unless READY; restore types checked against the snapshots.
- UpdateApplication: exactly one of CurrentApplicationVersionId / ConditionalToken
  (InvalidArgumentException otherwise); a stale one -> ConcurrentModificationException;
  READY or RUNNING only (ResourceInUseException); version id +1, new conditional token;
  a RUNNING application goes UPDATING -> RUNNING.
- StopApplication: RUNNING -> STOPPING -> READY, with a snapshot when snapshots are enabled and
  Force is false; Force=true -> FORCE_STOPPING -> READY without one; READY -> ResourceInUseException.
- DeleteApplication: CreateTimestamp must match (InvalidArgumentException); not while
  STARTING/UPDATING/STOPPING (ResourceInUseException); DELETING, then gone.
- CreateApplicationSnapshot / ListApplicationSnapshots / AddApplicationCloudWatchLoggingOption.
- UpdateApplication of a RUNNING application with snapshots enabled takes a snapshot and restarts
  from what RunConfigurationUpdate says (else the run configuration it started with): "Managed
  Service for Apache Flink automatically creates and uses snapshots when the application is
  updated, scaled, or stopped" and "use the ApplicationRestoreConfiguration parameter of the
  StartApplication or UpdateApplication action"
  (https://docs.aws.amazon.com/managed-flink/latest/java/how-snapshots.html).
- AddApplicationVpcConfiguration / DeleteApplicationVpcConfiguration change the VPC in place,
  guarded like UpdateApplication; on a RUNNING application they restart it (UPDATING -> RUNNING)
  (https://docs.aws.amazon.com/managed-flink/latest/java/vpc-api.html).
- While RUNNING, the job's metrics and log lines are emitted as the service emits them
  (tests/aws/moto_runtime.py).
- RollbackApplication: RUNNING/UPDATING/AUTOSCALING only (ResourceInUseException), the
  CurrentApplicationVersionId must be the current one (ConcurrentModificationException), rejected
  without snapshots ("If the application has no snapshots, Managed Service for Apache Flink rejects
  the rollback request"; InvalidApplicationConfigurationException here) or without a previous
  version. It restores the configuration of ApplicationVersionUpdatedFrom ("RollbackApplication
  reverts the application to this version") as a new version, sets ApplicationVersionRolledBackFrom
  / ApplicationVersionRolledBackTo, goes ROLLING_BACK -> RUNNING and restores from the latest
  snapshot ("it loads state data from the last successful snapshot")
  (https://docs.aws.amazon.com/managed-flink/latest/apiv2/API_RollbackApplication.html).
- ResourceNotFoundException for unknown applications everywhere.

State transitions happen `TRANSITION_S` seconds after the request (evaluated on every read).
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import unquote

from moto.core.exceptions import JsonRESTError
from moto.moto_api._internal import mock_random

from tests.aws import moto_runtime

TRANSITION_S = 0.3
RUN_OPTIONS = "kinesis.analytics.flink.run.options"
RUNTIMES = {"FLINK-1_15", "FLINK-1_18", "FLINK-1_19", "FLINK-1_20", "SQL-1_0", "ZEPPELIN-FLINK-3_0"}
BUSY = {"STARTING", "UPDATING", "STOPPING", "FORCE_STOPPING", "AUTOSCALING", "DELETING", "ROLLING_BACK"}


class KdaError(JsonRESTError):
    def __init__(self, code: str, message: str):
        super().__init__(code, message)


def _not_found(name: str) -> KdaError:
    return KdaError("ResourceNotFoundException", f"Application {name} not found")


def _in_use(name: str, status: str) -> KdaError:
    return KdaError("ResourceInUseException", f"Application {name} is in {status} state; operation not allowed")


def _token() -> str:
    return str(mock_random.uuid4()).replace("-", "")


def _s3_object_exists(account: str, bucket_arn: str, key: str) -> bool:
    from moto.s3.models import s3_backends

    bucket = bucket_arn.rsplit(":", 1)[-1]
    backend = s3_backends[account]["aws"]
    try:
        return backend.get_object(bucket, key) is not None
    except Exception:  # noqa: BLE001 - missing bucket or key
        return False


class FlinkApp:
    def __init__(self, account: str, region: str, request: dict):
        self.account, self.region = account, region
        self.name = request["ApplicationName"]
        self.arn = f"arn:aws:kinesisanalytics:{region}:{account}:application/{self.name}"
        self.description = request.get("ApplicationDescription", "")
        self.runtime = request["RuntimeEnvironment"]
        self.role = request.get("ServiceExecutionRole", "")
        self.mode = request.get("ApplicationMode") or "STREAMING"
        self.config: dict = json.loads(json.dumps(request.get("ApplicationConfiguration") or {}))
        self.logging: list[dict] = [
            {"CloudWatchLoggingOptionId": f"{i + 1}.1", "LogStreamARN": o["LogStreamARN"]}
            for i, o in enumerate(request.get("CloudWatchLoggingOptions") or [])
        ]
        for i, vpc in enumerate(self.config.get("VpcConfigurations") or []):
            vpc["VpcConfigurationId"] = f"{i + 1}.1"
            vpc["VpcId"] = "vpc-0123456789abcdef0"
        self.version = 1
        self.status = "READY"
        self.created = time.time()
        self.updated = self.created
        self.token = _token()
        self.snapshots: list[dict] = []
        self.run_config: dict | None = None
        self.pending: list[tuple[float, str]] = []
        self.deleted = False
        self.job: moto_runtime.JobRun | None = None
        self.versions: dict[int, str] = {}  # version id -> its configuration (JSON), for RollbackApplication
        self.updated_from: int | None = None
        self.rolled_back: tuple[int, int] | None = None  # (from, to)
        self.save_version()

    # transitions --------------------------------------------------------------------------
    def schedule(self, now_status: str, then: str) -> None:
        self.status = now_status
        self.pending = [(time.time() + TRANSITION_S, then)]

    def advance(self) -> None:
        now = time.time()
        while self.pending and self.pending[0][0] <= now:
            when, status = self.pending.pop(0)
            if status == "GONE":
                self.deleted = True
            elif status == "SNAPSHOT+READY":
                self._take_snapshot(f"stop-snapshot-{int(now * 1000)}")
                self.status = "READY"
            else:
                self.status = status
            if self.status == "RUNNING":
                self.job = moto_runtime.JobRun(self, when)  # a (re)started application submits the job anew
        if self.status != "RUNNING":
            self.job = None
        elif self.job is not None:
            self.job.tick(now)

    # helpers -------------------------------------------------------------------------------
    def run_options_ok(self) -> bool:
        groups = {g["PropertyGroupId"]: g.get("PropertyMap", {}) for g in self._groups()}
        opts = groups.get(RUN_OPTIONS, {})
        return bool(opts.get("python")) and bool(opts.get("jarfile"))

    def _groups(self) -> list[dict]:
        return (self.config.get("EnvironmentProperties") or {}).get("PropertyGroups") or []

    def snapshots_enabled(self) -> bool:
        return bool((self.config.get("ApplicationSnapshotConfiguration") or {}).get("SnapshotsEnabled"))

    def code_location(self) -> tuple[str, str]:
        loc = ((self.config.get("ApplicationCodeConfiguration") or {}).get("CodeContent") or {}).get(
            "S3ContentLocation"
        ) or {}
        return loc.get("BucketARN", ""), loc.get("FileKey", "")

    def code_version(self) -> str:
        loc = ((self.config.get("ApplicationCodeConfiguration") or {}).get("CodeContent") or {}).get(
            "S3ContentLocation"
        ) or {}
        return str(loc.get("ObjectVersion") or "")

    def _take_snapshot(self, name: str) -> dict:
        snap = {
            "SnapshotName": name,
            "SnapshotStatus": "READY",
            "ApplicationVersionId": self.version,
            "SnapshotCreationTimestamp": time.time(),
            "RuntimeEnvironment": self.runtime,
        }
        self.snapshots.append(snap)
        return snap

    def save_version(self) -> None:
        self.versions[self.version] = json.dumps(
            {"config": self.config, "runtime": self.runtime, "role": self.role, "logging": self.logging}
        )

    def restore_version(self, version: int) -> None:
        saved = json.loads(self.versions[version])
        self.config, self.runtime, self.role, self.logging = (
            saved["config"], saved["runtime"], saved["role"], saved["logging"]
        )

    def bump(self) -> None:
        self.updated_from = self.version
        self.rolled_back = None
        self.version += 1
        self.token = _token()
        self.updated = time.time()
        self.save_version()

    def check_guard(self, params: dict) -> None:
        version, token = params.get("CurrentApplicationVersionId"), params.get("ConditionalToken")
        if (version is None) == (token is None):
            raise KdaError(
                "InvalidArgumentException",
                "Exactly one of CurrentApplicationVersionId and ConditionalToken must be provided",
            )
        if version is not None and int(version) != self.version:
            raise KdaError(
                "ConcurrentModificationException",
                f"Provided application version id {version} does not match current version {self.version}",
            )
        if token is not None and token != self.token:
            raise KdaError("ConcurrentModificationException", "Provided ConditionalToken does not match the current one")

    # rendering -------------------------------------------------------------------------------
    def detail(self) -> dict:
        cfg = self.config
        desc: dict[str, Any] = {}
        code = cfg.get("ApplicationCodeConfiguration")
        if code:
            bucket_arn, key = self.code_location()
            desc["ApplicationCodeConfigurationDescription"] = {
                "CodeContentType": code.get("CodeContentType"),
                "CodeContentDescription": {
                    "CodeMD5": "0" * 32,
                    "CodeSize": 1,
                    "S3ApplicationCodeLocationDescription": {
                        "BucketARN": bucket_arn,
                        "FileKey": key,
                        **({"ObjectVersion": self.code_version()} if self.code_version() else {}),
                    },
                },
            }
        desc["EnvironmentPropertyDescriptions"] = {"PropertyGroupDescriptions": self._groups()}
        flink = cfg.get("FlinkApplicationConfiguration") or {}
        fdesc: dict[str, Any] = {}
        cp = flink.get("CheckpointConfiguration") or {"ConfigurationType": "DEFAULT"}
        if cp.get("ConfigurationType") == "CUSTOM":
            fdesc["CheckpointConfigurationDescription"] = {
                "ConfigurationType": "CUSTOM",
                "CheckpointingEnabled": cp.get("CheckpointingEnabled", True),
                "CheckpointInterval": cp.get("CheckpointInterval", 60000),
                "MinPauseBetweenCheckpoints": cp.get("MinPauseBetweenCheckpoints", 5000),
            }
        else:
            fdesc["CheckpointConfigurationDescription"] = {
                "ConfigurationType": "DEFAULT",
                "CheckpointingEnabled": True,
                "CheckpointInterval": 60000,
                "MinPauseBetweenCheckpoints": 5000,
            }
        mon = flink.get("MonitoringConfiguration") or {"ConfigurationType": "DEFAULT"}
        fdesc["MonitoringConfigurationDescription"] = (
            {
                "ConfigurationType": "CUSTOM",
                "MetricsLevel": mon.get("MetricsLevel", "APPLICATION"),
                "LogLevel": mon.get("LogLevel", "INFO"),
            }
            if mon.get("ConfigurationType") == "CUSTOM"
            else {"ConfigurationType": "DEFAULT", "MetricsLevel": "APPLICATION", "LogLevel": "INFO"}
        )
        par = flink.get("ParallelismConfiguration") or {"ConfigurationType": "DEFAULT"}
        if par.get("ConfigurationType") == "CUSTOM":
            fdesc["ParallelismConfigurationDescription"] = {
                "ConfigurationType": "CUSTOM",
                "Parallelism": par.get("Parallelism", 1),
                "ParallelismPerKPU": par.get("ParallelismPerKPU", 1),
                "AutoScalingEnabled": par.get("AutoScalingEnabled", False),
                "CurrentParallelism": par.get("Parallelism", 1),
            }
        else:
            fdesc["ParallelismConfigurationDescription"] = {
                "ConfigurationType": "DEFAULT",
                "Parallelism": 1,
                "ParallelismPerKPU": 1,
                "AutoScalingEnabled": False,
                "CurrentParallelism": 1,
            }
        desc["FlinkApplicationConfigurationDescription"] = fdesc
        desc["ApplicationSnapshotConfigurationDescription"] = {"SnapshotsEnabled": self.snapshots_enabled()}
        if cfg.get("VpcConfigurations"):
            desc["VpcConfigurationDescriptions"] = cfg["VpcConfigurations"]
        if self.run_config is not None:
            desc["RunConfigurationDescription"] = self.run_config
        detail = {
            "ApplicationARN": self.arn,
            "ApplicationDescription": self.description,
            "ApplicationName": self.name,
            "RuntimeEnvironment": self.runtime,
            "ServiceExecutionRole": self.role,
            "ApplicationStatus": self.status,
            "ApplicationVersionId": self.version,
            "CreateTimestamp": self.created,
            "LastUpdateTimestamp": self.updated,
            "ApplicationConfigurationDescription": desc,
            "ApplicationMode": self.mode,
            "ConditionalToken": self.token,
        }
        if self.updated_from is not None:
            detail["ApplicationVersionUpdatedFrom"] = self.updated_from
        if self.rolled_back is not None:
            detail["ApplicationVersionRolledBackFrom"], detail["ApplicationVersionRolledBackTo"] = self.rolled_back
        if self.logging:
            detail["CloudWatchLoggingOptionDescriptions"] = self.logging
        return detail

    def summary(self) -> dict:
        return {
            "ApplicationName": self.name,
            "ApplicationARN": self.arn,
            "ApplicationStatus": self.status,
            "ApplicationVersionId": self.version,
            "RuntimeEnvironment": self.runtime,
            "ApplicationMode": self.mode,
        }


def _apply_update(app: FlinkApp, params: dict) -> None:
    """Apply UpdateApplication's *Update fields to the stored configuration."""
    cfg = app.config
    if params.get("RuntimeEnvironmentUpdate"):
        app.runtime = params["RuntimeEnvironmentUpdate"]
    if params.get("ServiceExecutionRoleUpdate"):
        app.role = params["ServiceExecutionRoleUpdate"]
    upd = params.get("ApplicationConfigurationUpdate") or {}
    code = upd.get("ApplicationCodeConfigurationUpdate")
    if code:
        loc = (code.get("CodeContentUpdate") or {}).get("S3ContentLocationUpdate") or {}
        current = cfg.setdefault("ApplicationCodeConfiguration", {"CodeContent": {"S3ContentLocation": {}}})
        if code.get("CodeContentTypeUpdate"):
            current["CodeContentType"] = code["CodeContentTypeUpdate"]
        s3loc = current.setdefault("CodeContent", {}).setdefault("S3ContentLocation", {})
        if "BucketARNUpdate" in loc:
            s3loc["BucketARN"] = loc["BucketARNUpdate"]
        if "FileKeyUpdate" in loc:
            s3loc["FileKey"] = loc["FileKeyUpdate"]
        if "ObjectVersionUpdate" in loc:
            s3loc["ObjectVersion"] = loc["ObjectVersionUpdate"]
    env = upd.get("EnvironmentPropertyUpdates")
    if env is not None:
        cfg["EnvironmentProperties"] = {"PropertyGroups": env.get("PropertyGroups", [])}
    flink = upd.get("FlinkApplicationConfigurationUpdate") or {}
    fcfg = cfg.setdefault("FlinkApplicationConfiguration", {})
    for update_key, key, fields in (
        (
            "CheckpointConfigurationUpdate",
            "CheckpointConfiguration",
            ("ConfigurationType", "CheckpointingEnabled", "CheckpointInterval", "MinPauseBetweenCheckpoints"),
        ),
        ("MonitoringConfigurationUpdate", "MonitoringConfiguration", ("ConfigurationType", "MetricsLevel", "LogLevel")),
        (
            "ParallelismConfigurationUpdate",
            "ParallelismConfiguration",
            ("ConfigurationType", "Parallelism", "ParallelismPerKPU", "AutoScalingEnabled"),
        ),
    ):
        if update_key in flink:
            target = fcfg.setdefault(key, {})
            for f in fields:
                if f + "Update" in flink[update_key]:
                    target[f] = flink[update_key][f + "Update"]
    snap = upd.get("ApplicationSnapshotConfigurationUpdate")
    if snap is not None:
        cfg["ApplicationSnapshotConfiguration"] = {"SnapshotsEnabled": snap["SnapshotsEnabledUpdate"]}
    for vpc_update in upd.get("VpcConfigurationUpdates") or []:
        for vpc in cfg.get("VpcConfigurations") or []:
            if vpc["VpcConfigurationId"] == vpc_update["VpcConfigurationId"]:
                if "SubnetIdUpdates" in vpc_update:
                    vpc["SubnetIds"] = vpc_update["SubnetIdUpdates"]
                if "SecurityGroupIdUpdates" in vpc_update:
                    vpc["SecurityGroupIds"] = vpc_update["SecurityGroupIdUpdates"]
                break
        else:
            raise KdaError("InvalidArgumentException", f"No VPC configuration {vpc_update['VpcConfigurationId']}")
    for log_update in params.get("CloudWatchLoggingOptionUpdates") or []:
        for option in app.logging:
            if option["CloudWatchLoggingOptionId"] == log_update["CloudWatchLoggingOptionId"]:
                option["LogStreamARN"] = log_update["LogStreamARNUpdate"]
                break
        else:
            raise KdaError(
                "InvalidArgumentException", f"No logging option {log_update['CloudWatchLoggingOptionId']}"
            )


# The handlers -------------------------------------------------------------------------------
def _apps(self: Any) -> dict[str, FlinkApp]:
    from moto.kinesisanalyticsv2.models import kinesisanalyticsv2_backends

    backend = kinesisanalyticsv2_backends[self.current_account][self.region]
    if not hasattr(backend, "pipectl_apps"):
        backend.pipectl_apps = {}
    apps = backend.pipectl_apps
    for name in list(apps):
        apps[name].advance()
        if apps[name].deleted:
            del apps[name]
    return apps


def _params(self: Any) -> dict:
    return json.loads(self.body or "{}")


def _get(self: Any, params: dict) -> FlinkApp:
    name = params.get("ApplicationName", "")
    app = _apps(self).get(name)
    if app is None:
        raise _not_found(name)
    return app


def _check_code(self: Any, app_like: FlinkApp) -> None:
    bucket_arn, key = app_like.code_location()
    if bucket_arn and not _s3_object_exists(self.current_account, bucket_arn, key):
        raise KdaError(
            "InvalidArgumentException",
            f"Code location s3://{bucket_arn.rsplit(':', 1)[-1]}/{key} does not exist",
        )


def create_application(self: Any) -> str:
    params = _params(self)
    apps = _apps(self)
    name = params.get("ApplicationName", "")
    if name in apps:
        raise KdaError("ResourceInUseException", f"Application {name} already exists")
    if params.get("RuntimeEnvironment") not in RUNTIMES:
        raise KdaError("InvalidArgumentException", f"Unknown runtime {params.get('RuntimeEnvironment')}")
    app = FlinkApp(self.current_account, self.region, params)
    _check_code(self, app)
    apps[name] = app
    return json.dumps({"ApplicationDetail": app.detail()})


def describe_application(self: Any) -> str:
    return json.dumps({"ApplicationDetail": _get(self, _params(self)).detail()})


def list_applications(self: Any) -> str:
    return json.dumps({"ApplicationSummaries": [a.summary() for a in _apps(self).values()]})


def update_application(self: Any) -> str:
    params = _params(self)
    app = _get(self, params)
    app.check_guard(params)
    if app.status not in ("READY", "RUNNING"):
        raise _in_use(app.name, app.status)
    saved = json.dumps(app.config), app.runtime, app.role, json.dumps(app.logging)
    _apply_update(app, params)
    try:
        _check_code(self, app)
    except KdaError:
        app.config, app.runtime, app.role, app.logging = json.loads(saved[0]), saved[1], saved[2], json.loads(saved[3])
        raise
    app.bump()
    run = params.get("RunConfigurationUpdate")
    if run:
        _apply_run_configuration(app, run)
    if app.status == "RUNNING":
        _restart_for_update(app)
    return json.dumps({"ApplicationDetail": app.detail()})


def _apply_run_configuration(app: FlinkApp, run: dict) -> None:
    """RunConfigurationUpdate: how the (re)started application restores its state."""
    restore = run.get("ApplicationRestoreConfiguration")
    current = app.run_config or {
        "ApplicationRestoreConfigurationDescription": {"ApplicationRestoreType": "RESTORE_FROM_LATEST_SNAPSHOT"},
        "FlinkRunConfigurationDescription": {"AllowNonRestoredState": False},
    }
    if restore is not None:
        _check_restore(app, restore)
        current["ApplicationRestoreConfigurationDescription"] = restore
    if run.get("FlinkRunConfiguration") is not None:
        current["FlinkRunConfigurationDescription"] = run["FlinkRunConfiguration"]
    app.run_config = current


def _restart_for_update(app: FlinkApp) -> None:
    if app.snapshots_enabled():  # of the version that ran until now (the one a rollback goes back to)
        snap = app._take_snapshot(f"update-snapshot-{int(time.time() * 1000)}")
        snap["ApplicationVersionId"] = app.updated_from or app.version
    app.schedule("UPDATING", "RUNNING" if app.run_options_ok() else "READY")


def _check_restore(app: FlinkApp, restore: dict) -> None:
    kind = restore.get("ApplicationRestoreType")
    if kind == "RESTORE_FROM_CUSTOM_SNAPSHOT":
        if not any(s["SnapshotName"] == restore.get("SnapshotName") for s in app.snapshots):
            raise KdaError("ResourceNotFoundException", f"Snapshot {restore.get('SnapshotName')} not found")
    elif kind not in ("RESTORE_FROM_LATEST_SNAPSHOT", "SKIP_RESTORE_FROM_SNAPSHOT"):
        raise KdaError("InvalidArgumentException", f"Unknown ApplicationRestoreType {kind}")


def start_application(self: Any) -> str:
    params = _params(self)
    app = _get(self, params)
    if app.status != "READY":
        raise _in_use(app.name, app.status)
    run = params.get("RunConfiguration") or {}
    restore = run.get("ApplicationRestoreConfiguration") or {"ApplicationRestoreType": "RESTORE_FROM_LATEST_SNAPSHOT"}
    _check_restore(app, restore)
    app.run_config = {
        "ApplicationRestoreConfigurationDescription": restore,
        "FlinkRunConfigurationDescription": run.get("FlinkRunConfiguration") or {"AllowNonRestoredState": False},
    }
    healthy = app.run_options_ok() and not _check_failed(self, app)
    app.schedule("STARTING", "RUNNING" if healthy else "READY")
    return json.dumps({"OperationId": _token()[:12]})


def _check_failed(self: Any, app: FlinkApp) -> bool:
    """What makes the service fail a start: code gone, or a role it cannot assume."""
    try:
        _check_code(self, app)
    except KdaError:
        return True
    return not _role_trusts_service(self.current_account, app.role)


def _role_trusts_service(account: str, role_arn: str) -> bool:
    from moto.iam.models import iam_backends

    try:
        role = iam_backends[account]["global"].get_role_by_arn(role_arn)
    except Exception:  # noqa: BLE001 - no such role
        return False
    doc = role.assume_role_policy_document
    doc = json.loads(doc) if isinstance(doc, str) else doc
    for st in doc.get("Statement", []):
        services = (st.get("Principal") or {}).get("Service", [])
        services = [services] if isinstance(services, str) else services
        if st.get("Effect") == "Allow" and "kinesisanalytics.amazonaws.com" in services:
            return True
    return False


def stop_application(self: Any) -> str:
    params = _params(self)
    app = _get(self, params)
    force = bool(params.get("Force"))
    if force:
        if app.status not in ("STARTING", "UPDATING", "RUNNING", "AUTOSCALING"):
            raise _in_use(app.name, app.status)
        app.schedule("FORCE_STOPPING", "READY")
    else:
        if app.status != "RUNNING":
            raise _in_use(app.name, app.status)
        app.schedule("STOPPING", "SNAPSHOT+READY" if app.snapshots_enabled() else "READY")
    return json.dumps({"OperationId": _token()[:12]})


def delete_application(self: Any) -> str:
    params = _params(self)
    app = _get(self, params)
    ts = params.get("CreateTimestamp")
    if ts is None or int(float(ts)) != int(app.created):  # the SDK sends whole seconds
        raise KdaError("InvalidArgumentException", "CreateTimestamp does not match the application's")
    if app.status in BUSY:
        raise _in_use(app.name, app.status)
    app.schedule("DELETING", "GONE")
    return json.dumps({})


def create_application_snapshot(self: Any) -> str:
    params = _params(self)
    app = _get(self, params)
    if not app.snapshots_enabled():
        raise KdaError("InvalidApplicationConfigurationException", "Snapshots are disabled for this application")
    if app.status != "RUNNING":
        raise _in_use(app.name, app.status)
    if any(s["SnapshotName"] == params.get("SnapshotName") for s in app.snapshots):
        raise KdaError("ResourceInUseException", f"Snapshot {params.get('SnapshotName')} already exists")
    app._take_snapshot(params["SnapshotName"])
    return json.dumps({})


def list_application_snapshots(self: Any) -> str:
    params = _params(self)
    app = _get(self, params)
    limit = int(params.get("Limit") or 50)
    start = int(params.get("NextToken") or 0)
    page = app.snapshots[start : start + limit]
    out: dict[str, Any] = {"SnapshotSummaries": page}
    if start + limit < len(app.snapshots):
        out["NextToken"] = str(start + limit)
    return json.dumps(out)


def add_application_cloud_watch_logging_option(self: Any) -> str:
    params = _params(self)
    app = _get(self, params)
    app.check_guard(params)
    if app.status not in ("READY", "RUNNING"):
        raise _in_use(app.name, app.status)
    option = {
        "CloudWatchLoggingOptionId": f"{len(app.logging) + 1}.1",
        "LogStreamARN": params["CloudWatchLoggingOption"]["LogStreamARN"],
    }
    app.logging.append(option)
    app.bump()
    return json.dumps(
        {
            "ApplicationARN": app.arn,
            "ApplicationVersionId": app.version,
            "CloudWatchLoggingOptionDescriptions": app.logging,
        }
    )


def add_application_vpc_configuration(self: Any) -> str:
    params = _params(self)
    app = _get(self, params)
    app.check_guard(params)
    if app.status not in ("READY", "RUNNING"):
        raise _in_use(app.name, app.status)
    vpcs = app.config.setdefault("VpcConfigurations", [])
    if vpcs:
        raise KdaError("InvalidArgumentException", "The application already has a VPC configuration")
    vpc = dict(params["VpcConfiguration"])
    vpc["VpcConfigurationId"] = f"{len(vpcs) + 1}.1"
    vpc["VpcId"] = "vpc-0123456789abcdef0"
    vpcs.append(vpc)
    app.bump()
    if app.status == "RUNNING":
        _restart_for_update(app)
    return json.dumps({"ApplicationARN": app.arn, "ApplicationVersionId": app.version,
                       "VpcConfigurationDescription": vpc, "OperationId": _token()[:12]})


def delete_application_vpc_configuration(self: Any) -> str:
    params = _params(self)
    app = _get(self, params)
    app.check_guard(params)
    if app.status not in ("READY", "RUNNING"):
        raise _in_use(app.name, app.status)
    vpcs = app.config.get("VpcConfigurations") or []
    keep = [v for v in vpcs if v["VpcConfigurationId"] != params.get("VpcConfigurationId")]
    if len(keep) == len(vpcs):
        raise KdaError("ResourceNotFoundException", f"No VPC configuration {params.get('VpcConfigurationId')}")
    app.config["VpcConfigurations"] = keep
    app.bump()
    if app.status == "RUNNING":
        _restart_for_update(app)
    return json.dumps({"ApplicationARN": app.arn, "ApplicationVersionId": app.version, "OperationId": _token()[:12]})


def rollback_application(self: Any) -> str:
    params = _params(self)
    app = _get(self, params)
    if app.status not in ("RUNNING", "UPDATING", "AUTOSCALING"):
        raise _in_use(app.name, app.status)
    current = params.get("CurrentApplicationVersionId")
    if current is None or int(current) != app.version:
        raise KdaError(
            "ConcurrentModificationException",
            f"Provided application version id {current} does not match current version {app.version}",
        )
    if not app.snapshots:
        raise KdaError("InvalidApplicationConfigurationException", "The application has no snapshots to roll back to")
    if app.updated_from is None or app.updated_from not in app.versions:
        raise KdaError("InvalidArgumentException", "The application has no previous version to roll back to")
    to, failed = app.updated_from, app.version
    app.restore_version(to)
    app.bump()
    app.updated_from, app.rolled_back = None, (failed, to)
    app.run_config = {
        "ApplicationRestoreConfigurationDescription": {"ApplicationRestoreType": "RESTORE_FROM_LATEST_SNAPSHOT"},
        "FlinkRunConfigurationDescription": (app.run_config or {}).get(
            "FlinkRunConfigurationDescription", {"AllowNonRestoredState": False}
        ),
    }
    app.job = None
    app.schedule("ROLLING_BACK", "RUNNING" if app.run_options_ok() else "READY")
    return json.dumps({"ApplicationDetail": app.detail(), "OperationId": _token()[:12]})


def get_bootstrap_brokers(self: Any) -> str:
    """MSK GetBootstrapBrokers: IAM brokers on port 9098 for clusters with IAM client auth."""
    from moto.kafka.exceptions import NotFoundException

    path = unquote(self.parsed_url.path)
    arn = path.split("/clusters/", 1)[-1].rsplit("/bootstrap-brokers", 1)[0]
    cluster = self.kafka_backend.clusters.get(arn)
    if cluster is None:
        raise NotFoundException(f"Cluster {arn} not found")
    region = cluster.region_name
    out: dict[str, str] = {}
    auth = cluster.client_authentication or {}
    iam = (auth.get("sasl") or {}).get("iam", {}).get("enabled") or cluster.cluster_type == "SERVERLESS"
    host = f"{cluster.cluster_name}.{cluster.cluster_id[:6]}.c2.kafka.{region}.amazonaws.com"
    if iam:
        out["bootstrapBrokerStringSaslIam"] = ",".join(f"b-{i}.{host}:9098" for i in (1, 2))
    out["bootstrapBrokerStringTls"] = ",".join(f"b-{i}.{host}:9094" for i in (1, 2))
    return json.dumps(out)


def _cluster_arn(self: Any) -> str:
    # AWS: arn:aws:kafka:REGION:ACCOUNT:cluster/NAME/UUID (moto leaves the name out)
    return f"arn:aws:kafka:{self.region_name}:{self.account_id}:cluster/{self.cluster_name}/{self.cluster_id}"


HANDLERS = {
    "create_application": create_application,
    "describe_application": describe_application,
    "list_applications": list_applications,
    "update_application": update_application,
    "start_application": start_application,
    "stop_application": stop_application,
    "delete_application": delete_application,
    "create_application_snapshot": create_application_snapshot,
    "list_application_snapshots": list_application_snapshots,
    "add_application_cloud_watch_logging_option": add_application_cloud_watch_logging_option,
    "add_application_vpc_configuration": add_application_vpc_configuration,
    "delete_application_vpc_configuration": delete_application_vpc_configuration,
    "rollback_application": rollback_application,
}


def install() -> None:
    """Patch moto's classes (the server runs in this process, so it serves these handlers)."""
    from moto.kafka.models import FakeKafkaCluster
    from moto.kafka.responses import KafkaResponse
    from moto.kinesisanalyticsv2.responses import KinesisAnalyticsV2Response

    for name, fn in HANDLERS.items():
        setattr(KinesisAnalyticsV2Response, name, fn)
    KafkaResponse.get_bootstrap_brokers = get_bootstrap_brokers
    moto_runtime.install_kafka()
    FakeKafkaCluster._generate_arn = _cluster_arn
