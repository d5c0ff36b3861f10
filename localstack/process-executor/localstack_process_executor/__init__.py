"""LocalStack Lambda runtime executor that runs functions as local processes.

Select it with ``LAMBDA_RUNTIME_EXECUTOR=process``; point ``LAMBDA_PROCESS_INIT_BIN``
at the ``lambda-process-init`` binary (local/lambda-process-init). See
localstack/README.md ("Lambda without Docker").
"""
