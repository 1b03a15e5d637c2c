"""The application's network: the VPC it must join to reach MSK, and whether that VPC lets the
job reach S3, S3 Tables and CloudWatch Logs.

- MSK's IAM brokers (port 9098) have private addresses only: an application outside the cluster's
  VPC times out on every connection. With aws.msk_cluster_arn set and no subnets given, the
  subnets and security groups come from the cluster (kafka:DescribeClusterV2).
- "By default, when you connect a Managed Service for Apache Flink application to a VPC in your
  account, it does not have access to the internet unless the VPC provides access": a NAT gateway
  on the subnets' default route, or VPC endpoints
  (https://docs.aws.amazon.com/managed-flink/latest/java/vpc-internet.html). An internet
  gateway does not help: the application's network interfaces get no public address.
- S3 Tables: table operations go to s3tables.REGION.amazonaws.com (an interface endpoint), the
  data and metadata files to s3.REGION.amazonaws.com (a gateway or interface endpoint)
  (https://docs.aws.amazon.com/AmazonS3/latest/userguide/s3-tables-VPC.html).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from pipectl.aws.errors import SUBNET_NOT_FOUND, aws_call, error_code
from pipectl.aws.target import Target
from pipectl.errors import EXIT_USAGE, NotFoundError, PipectlError
from pipectl.progress import Reporter

# MSK's private broker hosts; IAM is port 9098 inside the VPC, 9198 for public access.
MSK_HOST_RE = re.compile(r"\.kafka(-serverless)?\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")
PUBLIC_PORTS = {"9194", "9196", "9198"}
ACCESS_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}


@dataclass(frozen=True)
class Finding:
    """One egress need: met or not, and the AWS CLI step that meets it."""

    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True  # False: a warning (the job runs without it)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Vpc:
    subnets: tuple[str, ...]
    security_groups: tuple[str, ...]
    source: str  # "settings" | "MSK cluster NAME" | "none"
    findings: list[Finding] = field(default_factory=list)


# MSK ---------------------------------------------------------------------------------------
def describe_cluster(target: Target) -> dict[str, Any]:
    msk = target.msk
    assert msk is not None
    with aws_call(
        f"describe the MSK cluster {msk.name}",
        not_found=NotFoundError(
            f"MSK cluster {msk.arn} does not exist",
            hint="fix aws.msk_cluster_arn (or set aws.bootstrap_servers)",
        ),
    ):
        return dict(target.client("kafka").describe_cluster_v2(ClusterArn=msk.arn)["ClusterInfo"])


def cluster_vpc(info: dict[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(client subnets, security groups) of a provisioned or serverless cluster."""
    if info.get("Provisioned"):
        group = info["Provisioned"].get("BrokerNodeGroupInfo") or {}
        return tuple(group.get("ClientSubnets") or ()), tuple(group.get("SecurityGroups") or ())
    configs = (info.get("Serverless") or {}).get("VpcConfigs") or []
    subnets = tuple(s for c in configs for s in c.get("SubnetIds") or ())
    groups = tuple(g for c in configs for g in c.get("SecurityGroupIds") or ())
    return subnets, groups


def require_active(target: Target, info: dict[str, Any]) -> None:
    state = info.get("State", "?")
    if state != "ACTIVE":
        raise PipectlError(
            f"MSK cluster {target.msk.name if target.msk else ''} is {state}, not ACTIVE",
            hint="wait until `aws kafka describe-cluster-v2 --cluster-arn ARN` says ACTIVE"
            + (" (a FAILED cluster must be recreated)" if state == "FAILED" else ""),
            exit_code=EXIT_USAGE,
        )


def private_brokers(servers: str) -> list[str]:
    """The bootstrap servers that are MSK private endpoints (reachable only inside the VPC)."""
    out = []
    for server in (s.strip() for s in servers.split(",") if s.strip()):
        host, _, port = server.rpartition(":")
        if MSK_HOST_RE.search(host) and port not in PUBLIC_PORTS:
            out.append(server)
    return out


def resolve_vpc(target: Target, servers: str, cluster: dict[str, Any] | None, reporter: Reporter) -> Vpc:
    """The subnets and security groups the application joins; refuses a VPC-less deploy to
    private brokers (before any application is created)."""
    aws = target.aws
    if aws.subnets:
        return Vpc(tuple(aws.subnets), tuple(aws.security_groups), "settings")
    if cluster is not None:
        subnets, groups = cluster_vpc(cluster)
        if subnets and groups:
            name = target.msk.name if target.msk else "?"
            reporter.done(
                f"VPC from MSK cluster {name}: subnets {', '.join(subnets)}; security groups {', '.join(groups)}"
            )
            return Vpc(subnets, groups, f"MSK cluster {name}")
        raise PipectlError(
            "cannot take the VPC from the MSK cluster: DescribeClusterV2 names no client subnets or security groups",
            hint="set aws.subnets and aws.security_groups to the cluster's",
            exit_code=EXIT_USAGE,
        )
    private = private_brokers(servers)
    if private:
        raise PipectlError(
            f"no VPC is set, but the brokers are MSK private endpoints ({private[0]}): "
            "an application outside the cluster's VPC times out on every connection",
            hint="set aws.msk_cluster_arn (deploy then takes the cluster's subnets and security groups), "
            "or aws.subnets and aws.security_groups",
            exit_code=EXIT_USAGE,
        )
    return Vpc((), (), "none")


# Egress ------------------------------------------------------------------------------------
def _route_table_of(subnet: str, vpc_id: str, tables: list[dict]) -> dict | None:
    main = None
    for table in tables:
        if table.get("VpcId") != vpc_id:
            continue
        for assoc in table.get("Associations") or []:
            if assoc.get("SubnetId") == subnet:
                return table
            if assoc.get("Main"):
                main = table
    return main


def _default_route(table: dict | None) -> dict:
    for route in (table or {}).get("Routes") or []:
        if route.get("DestinationCidrBlock") == "0.0.0.0/0" and route.get("State", "active") == "active":
            return route
    return {}


def egress(target: Target, subnets: tuple[str, ...], security_groups: tuple[str, ...]) -> list[Finding]:
    """What the subnets can reach: S3, S3 Tables, CloudWatch Logs (ec2 Describe* calls only)."""
    ec2 = target.client("ec2")
    region = target.region
    with aws_call("describe the application's subnets (ec2:DescribeSubnets)"):
        try:
            found = ec2.describe_subnets(SubnetIds=list(subnets))["Subnets"]
        except Exception as exc:
            if error_code(exc) == SUBNET_NOT_FOUND:
                raise PipectlError(
                    f"a subnet of the application does not exist in {region}: {', '.join(subnets)}",
                    hint="fix aws.subnets (or the MSK cluster's client subnets)",
                    exit_code=EXIT_USAGE,
                ) from None
            raise
    vpc_of = {s["SubnetId"]: s["VpcId"] for s in found}
    vpc_ids = sorted(set(vpc_of.values()))
    with aws_call("read the route tables, NAT gateways and VPC endpoints (ec2:Describe*)"):
        tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": vpc_ids}])["RouteTables"]
        nats = ec2.describe_nat_gateways(Filters=[{"Name": "vpc-id", "Values": vpc_ids}])["NatGateways"]
        endpoints = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": vpc_ids}])["VpcEndpoints"]
    nat_ok = {n["NatGatewayId"] for n in nats if n.get("State") == "available"}
    live = [e for e in endpoints if str(e.get("State", "available")).lower() == "available"]

    def has_endpoint(service: str, kind: str | None = None, table_id: str | None = None) -> bool:
        name = f"com.amazonaws.{region}.{service}"
        for e in live:
            if e.get("ServiceName") != name or (kind and e.get("VpcEndpointType") != kind):
                continue
            if e.get("VpcEndpointType") == "Gateway" and table_id not in (e.get("RouteTableIds") or []):
                continue
            return True
        return False

    no_nat: list[str] = []
    igw_only: list[str] = []
    no_s3: list[str] = []
    no_tables = no_logs = False
    rtb_without_s3: set[str] = set()
    rtb_without_nat: set[str] = set()
    for subnet in subnets:
        table = _route_table_of(subnet, vpc_of[subnet], tables)
        route = _default_route(table)
        table_id = (table or {}).get("RouteTableId")
        nat = route.get("NatGatewayId") in nat_ok or bool(
            route.get("NetworkInterfaceId") or route.get("InstanceId") or route.get("TransitGatewayId")
        )
        if not nat:
            no_nat.append(subnet)
            rtb_without_nat.add(table_id or "RTB_ID")
            if str(route.get("GatewayId", "")).startswith("igw-"):
                igw_only.append(subnet)
            if not (has_endpoint("s3", "Gateway", table_id) or has_endpoint("s3", "Interface")):
                no_s3.append(subnet)
                if table_id:
                    rtb_without_s3.add(table_id)
            no_tables = no_tables or not has_endpoint("s3tables", "Interface")
            no_logs = no_logs or not has_endpoint("logs", "Interface")

    vpc = vpc_ids[0] if vpc_ids else "VPC_ID"
    sub_args = " ".join(subnets)
    sg_args = " ".join(security_groups) or "SG_ID"
    nat_note = (
        f"; {', '.join(igw_only)} route 0.0.0.0/0 to an internet gateway, which gives the application no "
        "internet access (its network interfaces get no public address)"
        if igw_only
        else ""
    )
    out = [
        Finding(
            "egress: NAT gateway",
            not no_nat,
            "every subnet routes 0.0.0.0/0 to a NAT gateway"
            if not no_nat
            else f"no NAT gateway on the default route of {', '.join(no_nat)}{nat_note}; the job needs VPC endpoints instead",
            ""
            if not no_nat
            else "or add a NAT gateway in a public subnet and route 0.0.0.0/0 of these subnets to it: "
            f"aws ec2 create-route --route-table-id {' '.join(sorted(rtb_without_nat))} --destination-cidr-block 0.0.0.0/0 "
            "--nat-gateway-id NAT_ID",
            required=False,
        )
    ]
    rtbs = " ".join(sorted(rtb_without_s3)) or "RTB_ID"
    out.append(
        Finding(
            "egress: S3",
            not no_s3,
            "reachable (NAT gateway or S3 endpoint)"
            if not no_s3
            else f"neither a NAT gateway nor an S3 gateway endpoint serves {', '.join(no_s3)} (Iceberg data and metadata files)",
            ""
            if not no_s3
            else f"aws ec2 create-vpc-endpoint --vpc-id {vpc} --vpc-endpoint-type Gateway "
            f"--service-name com.amazonaws.{region}.s3 --route-table-ids {rtbs}",
        )
    )
    out.append(
        Finding(
            "egress: S3 Tables",
            not no_tables,
            "reachable (NAT gateway or S3 Tables endpoint)"
            if not no_tables
            else "no S3 Tables interface endpoint and no NAT gateway (the catalog's table operations)",
            ""
            if not no_tables
            else f"aws ec2 create-vpc-endpoint --vpc-id {vpc} --vpc-endpoint-type Interface "
            f"--service-name com.amazonaws.{region}.s3tables --subnet-ids {sub_args} --security-group-ids {sg_args} "
            "--private-dns-enabled",
        )
    )
    out.append(
        Finding(
            "egress: CloudWatch Logs",
            not no_logs,
            "reachable (NAT gateway or logs endpoint)"
            if not no_logs
            else "no CloudWatch Logs interface endpoint and no NAT gateway: log lines the job writes itself "
            "(AWS SDK calls) cannot leave the VPC; the service still delivers Flink's own log",
            ""
            if not no_logs
            else f"aws ec2 create-vpc-endpoint --vpc-id {vpc} --vpc-endpoint-type Interface "
            f"--service-name com.amazonaws.{region}.logs --subnet-ids {sub_args} --security-group-ids {sg_args} "
            "--private-dns-enabled",
            required=False,
        )
    )
    return out


def preflight(target: Target, vpc: Vpc, reporter: Reporter) -> None:
    """Refuse a deploy whose subnets cannot reach S3 or S3 Tables, naming each missing piece."""
    if not vpc.subnets:
        return
    try:
        vpc.findings = egress(target, vpc.subnets, vpc.security_groups)
    except PipectlError as exc:
        if getattr(exc, "code", "") not in ACCESS_DENIED:
            raise
        reporter.warn(
            "cannot check the VPC's egress (no ec2:Describe* permission); "
            "`pipectl doctor --env aws` checks it with a role that may"
        )
        return
    missing = [f for f in vpc.findings if not f.ok and f.required]
    for f in vpc.findings:
        if not f.ok and not f.required and f.name != "egress: NAT gateway":
            reporter.warn(f"{f.name}: {f.detail} -- {f.fix}")
    if missing:
        raise PipectlError(
            "the application's subnets cannot reach what the job needs: "
            + "; ".join(f"{f.name.split(': ', 1)[1]}: {f.detail}" for f in missing),
            hint=" ; ".join(f.fix for f in missing) + " (or a NAT gateway on the subnets' default route)",
            exit_code=EXIT_USAGE,
        )
    reporter.done("VPC egress: " + ", ".join(f.name.split(": ", 1)[1] for f in vpc.findings if f.ok) + " reachable")


def findings(target: Target) -> list[Finding]:
    """The network checks of `pipectl doctor --env aws`: MSK ACTIVE, the VPC, and its egress,
    the same lines deploy stops at (each with its fix)."""
    from pipectl.progress import SILENT

    out: list[Finding] = []
    cluster = None
    if target.msk is not None:
        name = f"MSK cluster {target.msk.name}"
        try:
            cluster = describe_cluster(target)
        except PipectlError as exc:
            return [Finding(name, False, exc.message, exc.hint or "")]
        try:
            require_active(target, cluster)
            out.append(Finding(name, True, "state ACTIVE"))
        except PipectlError as exc:
            out.append(Finding(name, False, f"state {cluster.get('State', '?')}; deploy needs ACTIVE", exc.hint or ""))
    try:
        vpc = resolve_vpc(target, target.aws.bootstrap_servers, cluster, SILENT)
    except PipectlError as exc:
        return out + [Finding("vpc", False, exc.message, exc.hint or "")]
    if not vpc.subnets:
        return out + [Finding("vpc", True, "none (the brokers are not MSK private endpoints)", required=False)]
    out.append(
        Finding(
            "vpc",
            True,
            f"subnets {', '.join(vpc.subnets)}; security groups {', '.join(vpc.security_groups)} (from {vpc.source})",
        )
    )
    try:
        out += egress(target, vpc.subnets, vpc.security_groups)
    except PipectlError as exc:
        out.append(Finding("egress", False, exc.message, exc.hint or ""))
    return out


__all__ = [
    "Finding",
    "Vpc",
    "cluster_vpc",
    "describe_cluster",
    "egress",
    "findings",
    "preflight",
    "private_brokers",
    "require_active",
    "resolve_vpc",
]
