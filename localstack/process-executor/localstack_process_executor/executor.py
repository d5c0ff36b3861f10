"""Process-based Lambda runtime executor for LocalStack (no Docker).

LocalStack's stock executor (``docker``) starts one container per execution
environment, running AWS's runtime interface emulator with the function code in
``/var/task``. This one starts ``lambda-process-init`` as a local process instead,
with the function's environment; the init runs the code's ``bootstrap`` (custom
runtimes: ``provided``, ``provided.al2``, ``provided.al2023``) and talks to
LocalStack's executor endpoint exactly like the container's init does
(ready/error status, invokes, logs, response/error).

Settings (environment of the LocalStack process):

* ``LAMBDA_RUNTIME_EXECUTOR=process`` selects this executor.
* ``LAMBDA_PROCESS_INIT_BIN``: path of the ``lambda-process-init`` binary
  (default: ``lambda-process-init`` on ``PATH``).
* ``LAMBDA_PROCESS_DIR``: where per-environment directories go (init log, ``TMPDIR``);
  default ``<LocalStack tmp dir>/lambda-process``.
* ``LAMBDA_REMOVE_CONTAINERS`` (LocalStack's own, default true): remove an
  environment's directory when it stops.

Not emulated: memory limits, isolation (the function runs as the LocalStack user, on
the host filesystem and network), ``/var/task`` and ``/opt`` paths (``LAMBDA_TASK_ROOT``
points at the unpacked code instead), layers, container images, other runtimes.
"""

from __future__ import annotations

import logging
import os
import platform
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
from pathlib import Path

from localstack import config
from localstack.aws.api.lambda_ import Architecture, PackageType
from localstack.services.lambda_.invocation.executor_endpoint import (
    ExecutorEndpoint,
    StatusErrorException,
)
from localstack.services.lambda_.invocation.lambda_models import FunctionVersion
from localstack.services.lambda_.invocation.runtime_executor import (
    LambdaRuntimeException,
    RuntimeExecutor,
)
from localstack.utils.net import get_free_tcp_port

LOG = logging.getLogger(__name__)

INIT_BIN_VAR = "LAMBDA_PROCESS_INIT_BIN"
LOG_TAIL_BYTES = 1024 * 1024
STOP_GRACE_SECONDS = 3


def init_binary() -> str | None:
    """Path of lambda-process-init, or None when it cannot be found."""
    configured = os.environ.get(INIT_BIN_VAR, "").strip()
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    return shutil.which("lambda-process-init")


def host_architecture() -> str:
    machine = platform.machine().lower()
    return Architecture.arm64 if machine in ("aarch64", "arm64") else Architecture.x86_64


def environments_dir() -> Path:
    configured = os.environ.get("LAMBDA_PROCESS_DIR", "").strip()
    if configured:
        return Path(configured)
    base = getattr(config.dirs, "tmp", None) or tempfile.gettempdir()
    return Path(base) / "lambda-process"


def gateway_host_and_port() -> tuple[str, int]:
    listen = config.GATEWAY_LISTEN[0]
    host = listen.host
    if host in ("0.0.0.0", "", "::"):
        host = "127.0.0.1"
    return host, listen.port


class ProcessRuntimeExecutor(RuntimeExecutor):
    executor_endpoint: ExecutorEndpoint
    process: subprocess.Popen | None

    def __init__(self, id: str, function_version: FunctionVersion) -> None:
        super().__init__(id=id, function_version=function_version)
        self.executor_endpoint = ExecutorEndpoint(self.id, container_address="127.0.0.1")
        self.process = None
        self.env_dir = environments_dir() / self.id
        self.log_path = self.env_dir / "init.log"

    # -- lifecycle ------------------------------------------------------------------
    def start(self, env_vars: dict[str, str]) -> None:
        init_bin = init_binary()
        if not init_bin:
            raise LambdaRuntimeException(
                f"lambda-process-init not found: set {INIT_BIN_VAR} or put it on PATH"
            )
        code_dir = Path(self.function_version.config.code.get_unzipped_code_location())
        self.env_dir.mkdir(parents=True, exist_ok=True)
        tmp_dir = self.env_dir / "tmp"
        tmp_dir.mkdir(exist_ok=True)

        self.executor_endpoint.start()
        port = get_free_tcp_port()
        self.executor_endpoint.container_port = port

        env = {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "LANG": "C.UTF-8",
        }
        env.update({key: str(value) for key, value in env_vars.items() if value is not None})
        env.update(
            {
                "LAMBDA_TASK_ROOT": str(code_dir),
                "LAMBDA_RUNTIME_DIR": str(code_dir),
                "TMPDIR": str(tmp_dir),
                "LAMBDA_PROCESS_INIT_INVOKE_ADDR": f"127.0.0.1:{port}",
            }
        )
        LOG.debug(
            "Starting %s for %s (environment %s, invoke port %s)",
            init_bin,
            self.function_version.qualified_arn,
            self.id,
            port,
        )
        with open(self.log_path, "ab") as log_file:
            self.process = subprocess.Popen(
                [init_bin],
                env=env,
                cwd=str(code_dir),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        threading.Thread(
            target=self._watch_process,
            args=(self.process,),
            name=f"lambda-process-{self.id[:8]}",
            daemon=True,
        ).start()
        self.executor_endpoint.wait_for_startup()

    def _watch_process(self, process: subprocess.Popen) -> None:
        """Fail the start-up at once if the init dies before reporting ready."""
        code = process.wait()
        future = self.executor_endpoint.startup_future
        if future is not None and not future.done():
            message = f"lambda-process-init exited with code {code} before the runtime was ready"
            LOG.warning("%s (environment %s): %s", message, self.id, self._tail_log(2000))
            try:
                future.set_exception(
                    StatusErrorException(message, payload=message.encode("utf-8"))
                )
            except Exception:  # the future was settled meanwhile
                pass

    def stop(self) -> None:
        process = self.process
        if process is not None and process.poll() is None:
            try:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                process.wait(timeout=STOP_GRACE_SECONDS)
            except ProcessLookupError:
                pass
        try:
            self.executor_endpoint.shutdown()
        except Exception as e:
            LOG.debug("Error while stopping executor endpoint of %s: %s", self.id, e)
        if config.LAMBDA_REMOVE_CONTAINERS:
            shutil.rmtree(self.env_dir, ignore_errors=True)

    # -- addresses ------------------------------------------------------------------
    def get_address(self) -> str:
        return "127.0.0.1"

    def get_endpoint_from_executor(self) -> str:
        return gateway_host_and_port()[0]

    def get_runtime_endpoint(self) -> str:
        host, port = gateway_host_and_port()
        return f"http://{host}:{port}{self.executor_endpoint.get_endpoint_prefix()}"

    # -- invocations ----------------------------------------------------------------
    def invoke(self, payload: dict[str, str]):
        return self.executor_endpoint.invoke(payload)

    def get_logs(self) -> str:
        return self._tail_log(LOG_TAIL_BYTES)

    def _tail_log(self, max_bytes: int) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(0, os.SEEK_END)
                size = f.tell()
                f.seek(max(0, size - max_bytes))
                return f.read().decode("utf-8", errors="replace")
        except OSError:
            return "No logs: the environment was not started"

    # -- versions -------------------------------------------------------------------
    @classmethod
    def prepare_version(cls, function_version: FunctionVersion) -> None:
        cfg = function_version.config
        if cfg.package_type != PackageType.Zip:
            raise LambdaRuntimeException(
                "The process executor runs zip packages only (no container images without Docker)"
            )
        runtime = str(cfg.runtime or "")
        if not runtime.startswith("provided"):
            raise LambdaRuntimeException(
                f"The process executor runs custom runtimes (provided.al2023/provided.al2) only, not {runtime}"
            )
        if cfg.layers:
            LOG.warning(
                "Function %s has layers; the process executor ignores them",
                function_version.qualified_arn,
            )
        if not init_binary():
            raise LambdaRuntimeException(
                f"lambda-process-init not found: set {INIT_BIN_VAR} or put it on PATH"
            )
        arch = cfg.architectures[0] if cfg.architectures else Architecture.x86_64
        if arch != host_architecture():
            LOG.warning(
                "Function %s is built for %s but runs as a process on this %s host: build it for the host",
                function_version.qualified_arn,
                arch,
                host_architecture(),
            )
        cfg.code.prepare_for_execution()
        bootstrap = Path(cfg.code.get_unzipped_code_location()) / "bootstrap"
        if not bootstrap.is_file():
            raise LambdaRuntimeException(
                f"The function's code has no bootstrap at its root ({bootstrap})"
            )
        # Unzipping may drop the executable bit (the Docker executor chmods /var/task).
        mode = bootstrap.stat().st_mode
        bootstrap.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)

    @classmethod
    def cleanup_version(cls, function_version: FunctionVersion) -> None:
        pass

    @classmethod
    def validate_environment(cls) -> bool:
        if not init_binary():
            LOG.warning(
                "LAMBDA_RUNTIME_EXECUTOR=process but lambda-process-init was not found: set %s "
                "or put it on PATH (cargo build --release -p lambda-process-init)",
                INIT_BIN_VAR,
            )
            return False
        return True
