"""AWS: package and upload the job, Managed Flink lifecycle, S3 Tables, the execution role's IAM policy.

Modules (boto3 and pyiceberg are imported inside functions):
  target       checked settings (all problems at once) and boto3 clients
  errors       the one mapping of botocore errors to PipectlErrors
  application  the application's desired configuration and its diff against DescribeApplication
  deploy       package -> upload -> create/update -> start -> wait -> driver check
  manage       status, stop, destroy and the wait on the service
  logs         CloudWatch Logs: log group/stream, recent events, Python driver errors
  iam          the execution role's policy and trust policy
  bootstrap    the CloudFormation stack of what deploy needs (templates/bootstrap.yaml), and its teardown
  plan         deploy --plan and diff: what deploy would change, changing nothing
  commits      does the job commit? the table's newest snapshot against the records read
  tables       S3 Tables catalog listing and pyiceberg reads
"""
