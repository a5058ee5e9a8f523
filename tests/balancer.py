"""nginx in front of server instances on loopback, configured from infra/nginx/sparring.conf.template
(tests/test_cluster.py and tests/bench/cluster_load.py).

The template is rendered as the official nginx image does (envsubst of `${NAME}` for the names
given; nginx's own `$variables` stay) and included in a minimal main configuration whose pid,
logs and temp paths are in a directory of the caller's: nginx runs as the current user, needs no
system paths, and stops with the process it belongs to.
"""

from __future__ import annotations

import getpass
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
HAVE_NGINX = Path(NGINX).exists()
TEMPLATE = ROOT / "infra" / "nginx" / "sparring.conf.template"


def render_template(template: str, values: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)] if m.group(1) in values else m.group(0), template)


def nginx_conf(directory: Path, listen: int, ports: list[int]) -> Path:
    upstreams = "\n    ".join(f"server 127.0.0.1:{port} max_fails=1 fail_timeout=2s;" for port in ports)
    (directory / "sparring.conf").write_text(render_template(
        TEMPLATE.read_text(), {"SPARRING_UPSTREAMS": upstreams, "SPARRING_LISTEN": f"127.0.0.1:{listen}"}))
    for sub in ("logs", "temp"):
        (directory / sub).mkdir(exist_ok=True)
    # As root, nginx's workers would switch to `nobody`, who cannot use the temp dir: stay this user.
    user = f"user {getpass.getuser()};\n" if os.geteuid() == 0 else ""
    conf = directory / "nginx.conf"
    conf.write_text(f"""{user}worker_processes 1;
pid {directory}/nginx.pid;
error_log {directory}/logs/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {directory}/temp/body;
    proxy_temp_path {directory}/temp/proxy;
    fastcgi_temp_path {directory}/temp/fastcgi;
    uwsgi_temp_path {directory}/temp/uwsgi;
    scgi_temp_path {directory}/temp/scgi;
    include {directory}/sparring.conf;
}}
""")
    return conf


def start_nginx(directory: Path, listen: int, ports: list[int], *, wait_s: float = 60) -> subprocess.Popen[bytes]:
    """nginx on 127.0.0.1:`listen` in front of the instances on `ports`, once it answers."""
    conf = nginx_conf(directory, listen, ports)
    process = subprocess.Popen([NGINX, "-p", str(directory), "-c", str(conf), "-g", "daemon off;"],
                               stdout=(directory / "nginx.out").open("wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + wait_s
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{listen}/api/health", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError((directory / "nginx.out").read_text() + (directory / "logs" / "error.log").read_text())
        time.sleep(0.1)


def stop_nginx(process: subprocess.Popen[bytes] | None) -> None:
    if process is not None and process.poll() is None:
        process.terminate()
        process.wait(timeout=10)
