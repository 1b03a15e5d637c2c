"""The one place where botocore errors become PipectlErrors.

Errors are told apart by their botocore class or their AWS error *code*, never by message
text. AWS's own message is shown only where it explains a rejected request (validation);
credentials never appear in a message (botocore does not put them there, and neither do we).

Usage:

    with aws_call("describe application 'orders'", not_found=NotFoundError(...)):
        client.describe_application(...)
"""

from __future__ import annotations

from contextlib import contextmanager
from collections.abc import Iterator

from pipectl.errors import EXIT_USAGE, NotFoundError, PipectlError

ACCESS_DENIED = {
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "AuthorizationError",
    "AllAccessDisabled",
    "Forbidden",
    "403",
}
BAD_CREDENTIALS = {
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "InvalidAccessKeyId",
    "InvalidToken",
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
}
NOT_FOUND = {
    "ResourceNotFoundException",
    "NotFoundException",
    "NoSuchBucket",
    "NoSuchKey",
    "NoSuchEntity",
    "NotFound",
    "404",
}
REJECTED = {
    "ValidationException",
    "InvalidArgumentException",
    "InvalidRequestException",
    "InvalidApplicationConfigurationException",
    "CodeValidationException",
    "UnsupportedOperationException",
    "BadRequestException",
    "LimitExceededException",
    "ServiceQuotaExceededException",
}
# Narrower sets, for the calls that tell one case apart from the rest:
READ_DENIED = {"AccessDenied", "AccessDeniedException"}  # the caller may not read it (deploy goes on)
S3TABLES_NOT_FOUND = {"NotFoundException", "ResourceNotFoundException", "NoSuchTable"}  # namespace or table
# an S3 Tables endpoint without the table maintenance API (the moto emulator answers HTTP 404)
MAINTENANCE_NOT_SERVED = {"404", "UnknownOperationException", "NotImplemented"}
SUBNET_NOT_FOUND = "InvalidSubnetID.NotFound"  # ec2:DescribeSubnets
THROTTLED = {"Throttling", "ThrottlingException", "TooManyRequestsException", "SlowDown"}
WRONG_REGION = {"PermanentRedirect", "301", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException"}

CREDENTIALS_HINT = (
    "configure credentials: `aws configure`, `aws sso login --profile NAME` with aws.profile set, "
    "or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
)


class AwsError(PipectlError):
    """An AWS request failed; `code` is the AWS error code when there was one."""

    def __init__(self, message: str, hint: str | None = None, exit_code: int | None = None, code: str = ""):
        super().__init__(message, hint, exit_code)
        self.code = code


def error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _aws_message(exc: BaseException) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Message", "")).strip()


def translate(exc: BaseException, action: str, not_found: PipectlError | None = None) -> PipectlError | None:
    """The PipectlError for a botocore exception, or None when `exc` is not one of botocore's."""
    import botocore.exceptions as bx

    if isinstance(exc, (bx.NoCredentialsError, bx.PartialCredentialsError, bx.CredentialRetrievalError)):
        return AwsError(f"no usable AWS credentials found while trying to {action}", CREDENTIALS_HINT, EXIT_USAGE)
    if isinstance(exc, bx.TokenRetrievalError) or type(exc).__name__ in (
        "SSOTokenLoadError",
        "UnauthorizedSSOTokenError",
    ):
        return AwsError(
            "the AWS SSO session has expired or was never started",
            "run `aws sso login` for the configured profile",
            EXIT_USAGE,
        )
    if isinstance(exc, bx.ProfileNotFound):
        return AwsError(
            f"AWS profile {getattr(exc, 'kwargs', {}).get('profile', '')!r} is not configured",
            "fix aws.profile (or AWS_PROFILE), or add the profile with `aws configure --profile NAME`",
            EXIT_USAGE,
        )
    if isinstance(exc, bx.NoRegionError):
        return AwsError("no AWS region is configured", "set aws.region in pipectl.toml or AWS_REGION", EXIT_USAGE)
    if isinstance(exc, (bx.EndpointConnectionError, bx.ConnectTimeoutError)):
        endpoint = getattr(exc, "kwargs", {}).get("endpoint_url", "")
        return AwsError(
            f"cannot reach the AWS endpoint {endpoint} while trying to {action}".replace("  ", " "),
            "check aws.region (is the service offered in that region?), aws.endpoint_url and the network",
        )
    if isinstance(exc, bx.ReadTimeoutError):
        return AwsError(f"AWS did not answer in time while trying to {action}", "try again")
    if not isinstance(exc, bx.ClientError):
        if isinstance(exc, bx.BotoCoreError):
            return AwsError(f"could not {action}: {type(exc).__name__}", "run again with --verbose")
        return None

    code = error_code(exc)
    if code in ACCESS_DENIED:
        return AwsError(
            f"access denied: the AWS caller may not {action} ({code})",
            "grant the missing permission to the identity you deploy with (`aws sts get-caller-identity` shows it)",
            code=code,
        )
    if code in BAD_CREDENTIALS:
        return AwsError(f"AWS rejected the credentials ({code})", CREDENTIALS_HINT, EXIT_USAGE, code=code)
    if code in NOT_FOUND:
        if not_found is not None:
            return not_found
        return AwsError(f"not found: could not {action} ({code})", "check the names and aws.region", 3, code=code)
    if code in WRONG_REGION:
        headers = (getattr(exc, "response", None) or {}).get("ResponseMetadata", {}).get("HTTPHeaders", {})
        where = headers.get("x-amz-bucket-region")
        found = f" (it is in {where})" if where else ""
        return AwsError(
            f"wrong region: could not {action}{found}",
            "set aws.region to the region the resource lives in",
            EXIT_USAGE,
            code=code,
        )
    if code == "ConcurrentModificationException":
        return AwsError(
            f"the application changed while trying to {action}",
            "someone else modified it; run the command again",
            code=code,
        )
    if code == "ResourceInUseException":
        return AwsError(
            f"the resource is busy: could not {action} ({_aws_message(exc) or code})",
            "wait for the current operation to finish (`pipectl aws status`), then run the command again",
            code=code,
        )
    if code in REJECTED:
        detail = _aws_message(exc)
        return AwsError(
            f"AWS rejected the request to {action}: {code}" + (f": {detail}" if detail else ""),
            "fix the settings named above and run again",
            code=code,
        )
    if code in THROTTLED:
        return AwsError(f"AWS throttled the request to {action} ({code})", "wait a moment and run again", code=code)
    return AwsError(
        f"AWS error {code or 'unknown'} while trying to {action}",
        "run again with --verbose for details",
        code=code,
    )


@contextmanager
def aws_call(action: str, not_found: PipectlError | None = None) -> Iterator[None]:
    """Turn botocore errors raised in the block into PipectlErrors. `action` completes
    "could not ..."; `not_found` replaces the generic error when AWS answers with a
    not-found code."""
    try:
        yield
    except PipectlError:
        raise
    except Exception as exc:  # translate() decides; unknown errors pass through (re-raised)
        mapped = translate(exc, action, not_found)
        if mapped is None:
            raise
        raise mapped from None


__all__ = ["AwsError", "NotFoundError", "aws_call", "error_code", "translate"]
