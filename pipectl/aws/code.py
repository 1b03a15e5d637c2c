"""The release's code object in the code bucket: its content-hash key, what is stored there, the upload."""

from __future__ import annotations

from dataclasses import dataclass

from pipectl import build
from pipectl.aws.errors import aws_call, error_code
from pipectl.aws.reporting import transfer
from pipectl.aws.target import Target
from pipectl.errors import PipectlError
from pipectl.progress import Reporter

ARTIFACT_STEM = "data-pipeline-aws"


def code_key(target: Target, sha256: str) -> str:
    return f"{target.code_prefix}{ARTIFACT_STEM}-{sha256[:16]}.zip"


SINGLE_PUT_LIMIT = 5 * 1024**3  # one PutObject (up to 5 GiB): S3 then keeps the whole object's SHA-256


@dataclass(frozen=True)
class Stored:
    """What S3 holds under the code key: its content hash and version (None: not versioned)."""

    sha256: str
    version: str | None


def stored_object(target: Target, bucket: str, key: str, version: str | None = None) -> Stored | None:
    """The object's SHA-256, from S3's full-object checksum when it has one, else by reading it
    (an object another tool uploaded, or a multipart upload); None when there is no object."""
    import base64
    import hashlib

    s3 = target.client("s3")
    extra = {"VersionId": version} if version else {}
    with aws_call(f"read s3://{bucket}/{key}"):
        try:
            head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED", **extra)
        except Exception as exc:
            if error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        found = head.get("VersionId")
        found = None if found in (None, "null") else str(found)
        checksum = head.get("ChecksumSHA256") or ""
        if checksum and "-" not in checksum and head.get("ChecksumType", "FULL_OBJECT") == "FULL_OBJECT":
            return Stored(base64.b64decode(checksum).hex(), found)
        digest = hashlib.sha256()
        body = s3.get_object(Bucket=bucket, Key=key, **({"VersionId": found} if found else {}))["Body"]
        for chunk in iter(lambda: body.read(1024 * 1024), b""):
            digest.update(chunk)
        return Stored(digest.hexdigest(), found)


def upload(target: Target, artifact: build.Artifact, reporter: Reporter) -> tuple[str, bool, str | None]:
    """Make s3://code_bucket/KEY hold exactly the local zip: (key, uploaded?, object version).

    The key carries the zip's content hash, but a key says nothing about what is stored under it:
    the stored object's SHA-256 is compared with the zip's, and a different object is replaced.
    On a versioned bucket the version that holds these bytes is returned, for the application to
    pin (a later overwrite of the key then cannot change what the service runs)."""
    from boto3.s3.transfer import TransferConfig

    bucket = target.aws.code_bucket
    key = code_key(target, artifact.sha256)
    stored = stored_object(target, bucket, key)
    if stored is not None and stored.sha256 == artifact.sha256:
        reporter.done(f"s3://{bucket}/{key} is already uploaded (sha256 matches); upload skipped")
        return key, False, stored.version
    if stored is not None:
        reporter.warn(
            f"s3://{bucket}/{key} holds other bytes (sha256 {stored.sha256[:16]}…, the zip's is "
            f"{artifact.sha256[:16]}…); uploading the zip again"
        )
    with transfer(reporter, f"uploading to s3://{bucket}/{key}", artifact.size) as advance:
        with aws_call(f"upload to s3://{bucket}/{key}"):
            target.client("s3").upload_file(
                artifact.path,
                bucket,
                key,
                ExtraArgs={
                    "Metadata": {"sha256": artifact.sha256},
                    "ContentType": "application/zip",
                    "ChecksumAlgorithm": "SHA256",  # S3 checks the bytes it received and keeps the hash
                },
                Config=TransferConfig(multipart_threshold=SINGLE_PUT_LIMIT),
                Callback=advance,
            )
    stored = stored_object(target, bucket, key)
    if stored is None or stored.sha256 != artifact.sha256:
        raise PipectlError(
            f"s3://{bucket}/{key} does not hold the uploaded zip after the upload "
            f"(sha256 {stored.sha256[:16] if stored else 'none'}…, expected {artifact.sha256[:16]}…)",
            hint="something else writes to this key; check who can write to the code bucket and deploy again",
        )
    reporter.done(
        f"uploaded s3://{bucket}/{key} ({artifact.size:,} bytes, sha256 checked"
        + (f", version {stored.version})" if stored.version else ")")
    )
    return key, True, stored.version
