"""moto's CloudFormation, extended with what `pipectl aws bootstrap`'s template uses and moto 5.2
lacks, each mapped onto moto's own backends (as tests/aws/moto_flink.py does for Managed Flink):

- AWS::S3Tables::TableBucket and AWS::S3Tables::Namespace: moto's CloudFormation has no S3 Tables
  types (it skips them with "not supported by moto's CloudFormation implementation"). Here they
  create and delete through moto's s3tables backend, and, as AWS does, a non-empty table bucket or
  namespace cannot be deleted.
- AWS::S3::Bucket: moto applies BucketEncryption and Tags but ignores VersioningConfiguration and
  PublicAccessBlockConfiguration; here both are applied, so that the test reads them back.
- AWS::EC2::VPCEndpoint survives a stack delete in moto; here it is deleted.
- AWS::IAM::Role: moto stores an inline policy given as an object as Python's repr (not JSON), and
  an update ignores Policies and AssumeRolePolicyDocument; here both are JSON and updated.
- ExecuteChangeSet: moto leaves the stack's outputs as they were when the change set's stack was
  made (none, for a CREATE); here they are computed from the executed template, as AWS does.

cfn-lint checks the same template against AWS's own resource schemas (tests/aws/test_template.py).
"""

from __future__ import annotations

from typing import Any

from moto.cloudformation import parsing
from moto.core.common_models import CloudFormationModel

_installed = False


def _s3tables(account_id: str, region_name: str) -> Any:
    from moto.s3tables.models import s3tables_backends

    return s3tables_backends[account_id][region_name]


class NotEmpty(Exception):
    pass


class CfnTableBucket(CloudFormationModel):
    def __init__(self, arn: str, name: str):
        self.arn = arn
        self.name = name

    @staticmethod
    def cloudformation_name_type() -> str:
        return "TableBucketName"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::S3Tables::TableBucket"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "TableBucketARN"

    def get_cfn_attribute(self, attribute_name: str) -> str:
        return self.arn

    @property
    def physical_resource_id(self) -> str:
        return self.arn

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> CfnTableBucket:
        props = cloudformation_json["Properties"]
        bucket = _s3tables(account_id, region_name).create_table_bucket(props.get("TableBucketName", resource_name))
        return cls(bucket.arn, bucket.name)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[override]
        cls, original_resource: Any, new_resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> Any:
        return original_resource

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> None:
        backend = _s3tables(account_id, region_name)
        bucket = backend.get_table_bucket(resource_name)
        if any(ns.tables for ns in bucket.namespaces.values()):
            raise NotEmpty(f"table bucket {resource_name} is not empty")
        backend.delete_table_bucket(resource_name)

    def delete(self, account_id: str, region_name: str) -> None:
        self.delete_from_cloudformation_json(self.arn, {}, account_id, region_name)


class CfnNamespace(CloudFormationModel):
    def __init__(self, bucket_arn: str, name: str):
        self.bucket_arn = bucket_arn
        self.name = name

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Namespace"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::S3Tables::Namespace"

    @property
    def physical_resource_id(self) -> str:
        return f"{self.bucket_arn}|{self.name}"

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[override]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> CfnNamespace:
        props = cloudformation_json["Properties"]
        _s3tables(account_id, region_name).create_namespace(props["TableBucketARN"], props["Namespace"])
        return cls(props["TableBucketARN"], props["Namespace"])

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[override]
        cls, original_resource: Any, new_resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> Any:
        return original_resource

    def delete(self, account_id: str, region_name: str) -> None:
        backend = _s3tables(account_id, region_name)
        try:
            bucket = backend.get_table_bucket(self.bucket_arn)
        except Exception:  # noqa: BLE001 - the bucket went first
            return
        ns = bucket.namespaces.get(self.name)
        if ns is None:
            return
        if ns.tables:
            raise NotEmpty(f"namespace {self.name} is not empty")
        backend.delete_namespace(self.bucket_arn, self.name)


def _apply_bucket_settings(bucket_name: str, props: dict, account_id: str, region_name: str) -> None:
    from moto.s3.models import s3_backends
    from moto.utilities.utils import get_partition

    backend = s3_backends[account_id][get_partition(region_name)]
    versioning = (props.get("VersioningConfiguration") or {}).get("Status")
    if versioning:
        backend.put_bucket_versioning(bucket_name, versioning)
    pab = props.get("PublicAccessBlockConfiguration")
    if pab:
        backend.put_public_access_block(bucket_name, {k: str(v).lower() for k, v in pab.items()})


def install() -> None:
    global _installed
    if _installed:
        return
    from moto.ec2.models.vpcs import VPCEndPoint
    from moto.s3.models import FakeBucket

    create, update = FakeBucket.create_from_cloudformation_json, FakeBucket.update_from_cloudformation_json

    def create_bucket(resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kw: Any) -> Any:
        bucket = create.__func__(FakeBucket, resource_name, cloudformation_json, account_id, region_name, **kw)  # type: ignore[attr-defined]
        _apply_bucket_settings(bucket.name, cloudformation_json.get("Properties", {}), account_id, region_name)
        return bucket

    def update_bucket(original: Any, new_name: str, cloudformation_json: Any, account_id: str, region_name: str) -> Any:
        bucket = update.__func__(FakeBucket, original, new_name, cloudformation_json, account_id, region_name)  # type: ignore[attr-defined]
        _apply_bucket_settings(bucket.name, cloudformation_json.get("Properties", {}), account_id, region_name)
        return bucket

    FakeBucket.create_from_cloudformation_json = staticmethod(create_bucket)  # type: ignore[method-assign,assignment]
    FakeBucket.update_from_cloudformation_json = staticmethod(update_bucket)  # type: ignore[method-assign,assignment]

    def delete_endpoint(self: Any, account_id: str, region_name: str) -> None:
        from moto.ec2.models import ec2_backends

        ec2_backends[account_id][region_name].delete_vpc_endpoints([self.id])

    VPCEndPoint.delete = delete_endpoint  # type: ignore[attr-defined]

    import json

    from moto.iam.models import Role

    def put_policy(self: Any, policy_name: str, policy_json: Any) -> None:
        self.policies[policy_name] = policy_json if isinstance(policy_json, str) else json.dumps(policy_json)

    role_update = Role.update_from_cloudformation_json

    def update_role(original: Any, new_name: str, cloudformation_json: Any, account_id: str, region_name: str) -> Any:
        role = role_update.__func__(Role, original, new_name, cloudformation_json, account_id, region_name)  # type: ignore[attr-defined]
        props = cloudformation_json["Properties"]
        trust = props.get("AssumeRolePolicyDocument")
        if trust is not None:
            role.assume_role_policy_document = trust if isinstance(trust, str) else json.dumps(trust)
        wanted = {p["PolicyName"]: p["PolicyDocument"] for p in props.get("Policies", [])}
        for gone in set(role.policies) - set(wanted):
            del role.policies[gone]
        for name, document in wanted.items():
            role.put_policy(name, document)
        return role

    Role.put_policy = put_policy  # type: ignore[method-assign]
    Role.update_from_cloudformation_json = staticmethod(update_role)  # type: ignore[method-assign,assignment]

    from moto.cloudformation.models import CloudFormationBackend

    execute = CloudFormationBackend.execute_change_set

    def execute_change_set(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
        execute(self, change_set_name, stack_name)
        for stack in self.stacks.values():
            if stack.name == stack_name or stack.stack_id == stack_name or stack_name is None:
                stack._parse_template()
                stack.output_map = stack._create_output_map()

    CloudFormationBackend.execute_change_set = execute_change_set  # type: ignore[method-assign]
    for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cached.cache_clear()
    _installed = True


__all__ = ["CfnNamespace", "CfnTableBucket", "install"]
