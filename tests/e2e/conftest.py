"""Finding, starting and stopping the real servers the end-to-end tests run against.

The binaries come from the distribution packages (`.ci/install-servers.sh` installs them in
CI). A test that needs one and does not find it is skipped, with the reason naming the
package; under CI=true that skip is a failure (tests/conftest.py), and so is a missing wrk,
which a test could otherwise quietly replace with a slower load generator.

Every server is a child process of the test, listening on 127.0.0.1 on a free port, with all
its files (config, logs, pid, data) in the test's tmp_path. Teardown stops it even when the
test failed, and keeps nothing running between tests.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

# Debian puts daemons in /usr/sbin, which is not in every user's PATH.
EXTRA_DIRS = ("/usr/sbin", "/usr/local/sbin", "/sbin")
INSTALL_HINT = "install it with .ci/install-servers.sh (Debian packages nginx, wrk, prometheus)"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}  # as in tests/conftest.py


def find_binary(name: str) -> str | None:
    """The full path of program `name` from PATH or the usual sbin directories, or None.

    Under CI=true a missing program fails the test: CI installs all of them, so no test
    there may take the path for a machine without it.
    """
    found = shutil.which(name)
    if found:
        return found
    for directory in EXTRA_DIRS:
        candidate = os.path.join(directory, name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    if IN_CI:
        pytest.fail(f"CI=true and {name} is not installed; {INSTALL_HINT}", pytrace=False)
    return None


def require_binary(name: str) -> str:
    """The path of `name`, or skip the test saying that it is not installed."""
    path = find_binary(name)
    if path is None:
        pytest.skip(f"{name} not found in PATH or {', '.join(EXTRA_DIRS)}; {INSTALL_HINT}")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(
    predicate, timeout: float, what: str, proc: subprocess.Popen | None = None, log: Path | None = None
) -> None:
    """Poll `predicate` (blocking) until true; fail with the server's log if it never is."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return
        except (OSError, httpx.HTTPError):
            pass
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"{what}: the server exited with status {proc.returncode}\n{_tail(log)}")
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout:g}s\n{_tail(log)}")
        time.sleep(0.05)


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def stop(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGTERM (a fast, clean shutdown for both nginx and Prometheus), then SIGKILL."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)


def _tail(log: Path | None, lines: int = 30) -> str:
    if log is None or not log.exists():
        return ""
    text = log.read_text(errors="replace").splitlines()[-lines:]
    return f"--- {log.name} (last {len(text)} lines) ---\n" + "\n".join(text)


# --------------------------------------------------------------------------- nginx

# The combined format with $request_time appended: what the nginx source's parser reads,
# and what the README tells operators to configure.
NGINX_CONF = """\
{user}worker_processes 2;
pid {root}/nginx.pid;
error_log {root}/error.log notice;

events {{
    worker_connections 256;
}}

http {{
    default_type application/octet-stream;
    types {{ text/html html; }}
    client_body_temp_path {root}/tmp/client_body;
    proxy_temp_path {root}/tmp/proxy;
    fastcgi_temp_path {root}/tmp/fastcgi;
    uwsgi_temp_path {root}/tmp/uwsgi;
    scgi_temp_path {root}/tmp/scgi;

    log_format warroom '$remote_addr - $remote_user [$time_local] "$request" '
                       '$status $body_bytes_sent "$http_referer" "$http_user_agent" '
                       '$request_time';
    access_log {root}/access.log warroom;

    # About one checkout in five fails, chosen per request.
    split_clients "${{request_id}}" $checkout_fails {{
        20%  1;
        *    0;
    }}

    upstream shop {{
        server 127.0.0.1:{backend_port};
    }}

    server {{
        listen 127.0.0.1:{port};
        root {root}/site;
        keepalive_requests 100000;

        location = /landing {{ try_files /landing.html =404; }}
        location = /reward  {{ try_files /reward.html =404; }}
        location = /checkout {{
            default_type text/plain;
            if ($checkout_fails) {{ return 502 "payment provider unavailable\\n"; }}
            proxy_pass http://shop;
        }}
    }}
}}
"""

LANDING = "<!doctype html><title>Autumn flash sale</title><h1>50% off until midnight</h1>\n"
REWARD = "<!doctype html><title>Your reward</title><p>Your code: AUTUMN-" + "X" * 2000 + "\n"


class Shop(ThreadingHTTPServer):
    """The application behind nginx's /checkout: answers after 2-20 ms, like a real backend,
    so `$request_time` carries real, varied latencies."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ShopHandler)
        self.port = self.server_address[1]
        self.thread = threading.Thread(target=self.serve_forever, name="shop", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def handle_error(self, request, client_address) -> None:
        # nginx drops the upstream connection when its client goes away (wrk stopping
        # mid-request, logged as 499): expected here, not worth a traceback.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _ShopHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        time.sleep(random.uniform(0.002, 0.020))
        body = b"order accepted\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # nginx logs the requests
        pass


class Nginx:
    """A real nginx (master + 2 workers, as in production) serving a small campaign site."""

    def __init__(self, binary: str, root: Path, backend_port: int) -> None:
        self.binary = binary
        self.root = root
        self.backend_port = backend_port
        self.port = free_port()
        self.conf = root / "nginx.conf"
        self.access_log = root / "access.log"
        self.error_log = root / "error.log"
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _args(self, *extra: str) -> list[str]:
        # -e: the error log to use before the config is read (else /var/log/nginx/error.log).
        return [self.binary, "-p", str(self.root), "-c", str(self.conf), "-e", str(self.error_log), *extra]

    def start(self) -> None:
        for sub in ("site", "tmp"):
            (self.root / sub).mkdir(exist_ok=True)
        (self.root / "site" / "landing.html").write_text(LANDING)
        (self.root / "site" / "reward.html").write_text(REWARD)
        # As root, nginx would run its workers as "nobody", who cannot enter a pytest
        # tmp_path (mode 0700) to reopen the log after a rotation.
        user = "user root;\n" if os.geteuid() == 0 else ""
        self.conf.write_text(
            NGINX_CONF.format(user=user, root=self.root, port=self.port, backend_port=self.backend_port)
        )
        check = subprocess.run(self._args("-t"), check=False, capture_output=True, text=True)
        if check.returncode != 0:
            pytest.fail(f"nginx -t rejected the test config:\n{check.stderr}")
        with (self.root / "nginx.stderr").open("wb") as stderr:
            self.proc = subprocess.Popen(self._args("-g", "daemon off;"), stdout=subprocess.DEVNULL, stderr=stderr)
        wait_until(lambda: port_open(self.port), 10, "nginx listening", self.proc, self.error_log)

    def reopen(self) -> None:
        """What logrotate's postrotate does: `nginx -s reopen` (SIGUSR1 to the master)."""
        done = subprocess.run(self._args("-s", "reopen"), check=False, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[Nginx]:
    binary = require_binary("nginx")
    shop = Shop()
    shop.start()
    server = Nginx(binary, tmp_path, shop.port)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shop.stop()


# --------------------------------------------------------------------------- Prometheus

PROMETHEUS_YML = """\
global:
  scrape_interval: 1s
  scrape_timeout: 900ms
  evaluation_interval: 1s
scrape_configs:
  - job_name: campaign
    static_configs:
      - targets: ["127.0.0.1:{target_port}"]
"""


class Prometheus:
    """A real Prometheus scraping one target every second; data in tmp_path."""

    def __init__(self, binary: str, root: Path, target_port: int) -> None:
        self.binary = binary
        self.root = root
        self.port = free_port()
        self.target_port = target_port
        self.log = root / "prometheus.log"
        self.proc: subprocess.Popen | None = None
        self._log_file = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        config = self.root / "prometheus.yml"
        config.write_text(PROMETHEUS_YML.format(target_port=self.target_port))
        self._log_file = self.log.open("wb")
        self.proc = subprocess.Popen(
            [
                self.binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={self.root / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--storage.tsdb.retention.time=1h",
                "--log.level=warn",
            ],
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            cwd=self.root,
        )
        wait_until(
            lambda: httpx.get(f"{self.url}/-/ready", timeout=1.0).status_code == 200,
            45,
            "prometheus ready",
            self.proc,
            self.log,
        )

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)
        if self._log_file is not None:
            self._log_file.close()
