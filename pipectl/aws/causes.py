"""The root exception of a failing job and what to do about it: a small table of known causes.

Pure functions over the text of a stack trace (Java's "Caused by:" chain, or a Python one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

EXCEPTION_RE = re.compile(r"^(?:Caused by: )?(?P<cls>[\w$.]+(?:Exception|Error|Throwable))(?::\s*(?P<msg>.*))?$")

# The one line streaming_job.py prints when it refuses to start on the service (a missing or
# malformed properties file, PipelineConfig group, DEPLOYMENT_ENV=aws or job setting).
JOB_REFUSED_RE = re.compile(r"^\s*(?:[\w.]+\.)?JobConfigError: (?P<msg>.+?)\s*$", re.M)

# Known root causes: (pattern in the exception text, what it means and what to do).
KNOWN_CAUSES: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        JOB_REFUSED_RE,
        "the job refused to start on the service (its properties say which): deploy with `pipectl aws deploy`, "
        "which writes the PipelineConfig group with DEPLOYMENT_ENV=aws and every property the job needs",
    ),
    (
        re.compile(
            r"UnsupportedClassVersionError.*?(\S+) has been compiled by a more recent version.*?class file version (\d+)",
            re.S,
        ),
        "{0} was compiled for Java {java} (class file version {1}); the service runs Java 11: build every class for "
        "Java 11 (aws-msk-iam-auth 2.3.4 or older) and deploy again",
    ),
    (
        re.compile(r"UnsupportedClassVersionError"),
        "a class was compiled for a newer Java than the service's Java 11: build every class for Java 11 and deploy again",
    ),
    (
        re.compile(r"SaslAuthenticationException|Access denied.*kafka-cluster|kafka-cluster.*not authorized", re.I),
        "MSK refused the IAM authentication: give the execution role the kafka-cluster actions from "
        "`pipectl aws iam-policy` (Connect, DescribeTopic, ReadData, group actions)",
    ),
    (
        re.compile(r"ClassNotFoundException:\s*software\.amazon\.msk"),
        "the MSK IAM auth classes are not in lib/pyflink-dependencies.jar: rebuild with `pipectl aws package`",
    ),
    (
        re.compile(
            r"(?:AccessDenied|Forbidden|403).*(?:s3tables|S3Tables|table bucket)|(?:s3tables|S3Tables).*(?:AccessDenied|Forbidden|403)",
            re.S,
        ),
        "the execution role may not use the table bucket: apply the policy from `pipectl aws iam-policy` "
        "(s3tables actions on the bucket ARN and on bucket/table/*)",
    ),
    (
        re.compile(
            r"(?:UnknownHost|SdkClientException|Unable to execute HTTP request|Connect timed out).*(?:s3tables|s3\.|amazonaws\.com)",
            re.S,
        ),
        "the job cannot reach S3 or S3 Tables from its subnets: add a NAT gateway or the VPC endpoints "
        "(`pipectl doctor --env aws` names what is missing)",
    ),
    (
        re.compile(
            r"TimeoutException|Timed out waiting for a node assignment|broker.*(?:not available|unreachable)|"
            r"Connection to node .* could not be established",
            re.I,
        ),
        "the Kafka brokers cannot be reached: run the application in the MSK cluster's VPC (aws.subnets and "
        "aws.security_groups, or aws.msk_cluster_arn to derive them) and let its security group reach port 9098",
    ),
)
GENERIC_FIX = "see the whole stack trace with `pipectl aws logs`; fix the job and deploy again"
JAVA_OF_CLASS_VERSION = {55: "11", 61: "17", 65: "21"}


@dataclass(frozen=True)
class Cause:
    exception: str  # "java.lang.UnsupportedClassVersionError: software/..." (one line)
    fix: str


def root_exception(text: str) -> str | None:
    """The innermost exception of a Java stack trace (or a Python one), as one line. The job's own
    refusal to start (`JobConfigError: ...`) wins over the Java exceptions that follow it."""
    refused = JOB_REFUSED_RE.findall(text)
    if refused:
        return f"JobConfigError: {refused[-1]}"
    found = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("at ") or not line:
            continue
        m = EXCEPTION_RE.match(line)
        if m:
            found = line[len("Caused by: ") :] if line.startswith("Caused by: ") else line
    return found


def explain(exception: str, context: str = "") -> Cause:
    """The fix for an exception from the table of known causes (context: the whole trace)."""
    text = f"{exception}\n{context}"
    for pattern, fix in KNOWN_CAUSES:
        m = pattern.search(text)
        if m:
            if pattern is JOB_REFUSED_RE:
                return Cause(_one_line(exception), fix)
            groups = [g.replace("/", ".") if g else "" for g in m.groups()]
            java = JAVA_OF_CLASS_VERSION.get(int(groups[1]), str(int(groups[1]) - 44)) if len(groups) > 1 else ""
            return Cause(_one_line(exception), fix.format(*groups, java=java))
    return Cause(_one_line(exception), GENERIC_FIX)


def _one_line(text: str, width: int = 500) -> str:
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


__all__ = ["GENERIC_FIX", "JOB_REFUSED_RE", "KNOWN_CAUSES", "Cause", "explain", "root_exception"]
