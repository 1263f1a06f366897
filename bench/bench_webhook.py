"""Webhook acknowledgements under load: `approvalbot serve` (gunicorn, as in the Docker image) driven by wrk.

Starts the server on a loopback port with a temporary SQLite store (each delivery id is recorded in it
before the 202, as in production), then runs `wrk` with a Lua script that sends one fixed, signed body
(GitHub's official `pull_request` example, action switched to `labeled`) with a unique
X-GitHub-Delivery per request. `labeled` is an event approvalbot acknowledges, records and queues but
ignores, so the workers do no GitHub work during the run (APPROVALBOT_GITHUB_URL also points at a dead
loopback port, so nothing could reach a real GitHub anyway). Log level WARNING, as the Probot baseline
in GITHUB-FIDELITY.md was measured with LOG_LEVEL=warn.

    apt-get install -y wrk            # Debian package
    python bench/bench_webhook.py [--duration 10] [--connections 32] [--threads 2]

Prints requests/s and p50/p99 latency of the 202s for each load shape, and the server's CPU time per
request (user + system of gunicorn and its worker, from /proc on Linux): on a shared box requests/s moves
with the neighbours' load, CPU per request much less. Fails if any answer was not 202.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from bot.emulator.keys import app_key_pair  # noqa: E402

EXAMPLES = ROOT / "tests" / "contract" / "webhook-examples.json"
SECRET = "bench-secret"

LUA = """\
-- One signed body; a unique X-GitHub-Delivery per request (a repeated id would be answered 200, not 202).
local body_file = io.open("%(body)s", "rb")
wrk.method = "POST"
wrk.body = body_file:read("*a")
body_file:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-GitHub-Event"] = "pull_request"
wrk.headers["X-Hub-Signature-256"] = "%(signature)s"

local threads = {}
local next_id = 0
function setup(thread)
  next_id = next_id + 1
  thread:set("tid", next_id)
  table.insert(threads, thread)
end

function init(args)
  counter = 0
  other = 0
end

function request()
  counter = counter + 1
  wrk.headers["X-GitHub-Delivery"] = string.format("%(run)s-%%d-%%d", tid, counter)
  return wrk.format()
end

function response(status, headers, body)
  if status ~= 202 then other = other + 1 end
end

function done(summary, latency, requests)
  local others = 0
  for _, thread in ipairs(threads) do others = others + thread:get("other") end
  io.write(string.format("RESULT requests=%%d seconds=%%.3f p50_us=%%d p99_us=%%d not_202=%%d errors=%%d\\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99), others,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status
      + summary.errors.timeout))
end
"""


@dataclass(frozen=True)
class Result:
    shape: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    not_202: int
    errors: int
    cpu_ms: float | None = None  # server CPU per request

    @property
    def cpu(self) -> str:
        return "n/a" if self.cpu_ms is None else f"{self.cpu_ms:.2f} ms"

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


def body() -> bytes:
    examples = json.loads(EXAMPLES.read_text())
    payload = next(e["payload"] for e in examples if e["definition"] == "pull_request$opened")
    payload["action"] = "labeled"
    payload["label"] = {
        "id": 1,
        "node_id": "LA_kwDOAAAAAc8AAAABAAAAAQ",
        "url": "https://api.github.com/repos/octocat/Hello-World/labels/bug",
        "name": "bug",
        "color": "f29513",
        "default": True,
        "description": "Something isn't working",
    }
    return json.dumps(payload, separators=(",", ":")).encode()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(tmp: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "APPROVALBOT_WEBHOOK_SECRET": SECRET,
        "APPROVALBOT_APP_ID": "1",
        "APPROVALBOT_GITHUB_URL": f"http://127.0.0.1:{free_port()}",  # nothing listens there
        "DATABASE_URL": f"sqlite:///{tmp / 'bench.db'}",
        "APPROVALBOT_LOG_LEVEL": "WARNING",
    }
    (tmp / "app.pem").write_text(app_key_pair()[0])
    env["APPROVALBOT_PRIVATE_KEY"] = str(tmp / "app.pem")  # never used: the bench event needs no GitHub
    script = shutil.which("approvalbot")
    argv = [script] if script else [sys.executable, "-m", "bot"]
    log = (tmp / "server.log").open("wb")
    process = subprocess.Popen(
        [*argv, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited early:\n{(tmp / 'server.log').read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return process
        except OSError:
            time.sleep(0.2)
    process.terminate()
    raise SystemExit("the server did not become healthy within 60 s")


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU of `pid` and its descendants (gunicorn's worker is a child); None off Linux."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        children = [
            int(child)
            for task in Path(f"/proc/{pid}/task").iterdir()
            for child in (task / "children").read_text().split()
        ]
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "; utime, stime are fields 14, 15
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    below = [cpu_seconds(child) for child in children]
    return own + sum(b for b in below if b is not None)


def run_wrk(url: str, lua: Path, threads: int, connections: int, duration: int) -> Result:
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "-s", str(lua), "--latency", url]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60)
    match = re.search(
        r"RESULT requests=(\d+) seconds=([\d.]+) p50_us=(\d+) p99_us=(\d+) not_202=(\d+) errors=(\d+)",
        done.stdout,
    )
    if match is None:
        raise SystemExit(f"wrk gave no result:\n{done.stdout}\n{done.stderr}")
    requests, seconds, p50, p99, others, errors = match.groups()
    return Result(
        f"wrk -t{threads} -c{connections} {duration}s",
        int(requests),
        float(seconds),
        int(p50) / 1000,
        int(p99) / 1000,
        int(others),
        int(errors),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per load shape (default 10)")
    parser.add_argument("--connections", type=int, default=32, help="concurrent connections (default 32)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    with tempfile.TemporaryDirectory(prefix="approvalbot-bench-") as name:
        tmp = Path(name)
        payload = body()
        (tmp / "pr.body").write_bytes(payload)
        signature = "sha256=" + hmac.new(SECRET.encode(), payload, hashlib.sha256).hexdigest()
        port = free_port()
        server = start_server(tmp, port)
        results = []
        try:
            url = f"http://127.0.0.1:{port}/webhook"
            shapes = [(args.threads, args.connections), (1, 1)]
            for run, (threads, connections) in enumerate(shapes):
                lua = tmp / f"run{run}.lua"
                lua.write_text(LUA % {"body": tmp / "pr.body", "signature": signature, "run": f"r{run}"})
                before = cpu_seconds(server.pid)
                result = run_wrk(url, lua, threads, connections, args.duration)
                after = cpu_seconds(server.pid)
                if before is not None and after is not None and result.requests:
                    result = replace(result, cpu_ms=(after - before) * 1000 / result.requests)
                results.append(result)
        finally:
            server.terminate()
            server.wait(30)
    print(f"body: {len(payload):,} bytes, pull_request.labeled (ignored by the bot), signed HMAC-SHA256")
    print("| load | requests | req/s | p50 | p99 | server CPU/request | not 202 | socket errors |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r.shape} | {r.requests:,} | {r.rps:,.0f} | {r.p50_ms:.2f} ms | {r.p99_ms:.2f} ms "
            f"| {r.cpu} | {r.not_202} | {r.errors} |"
        )
    print("Probot 14.3.2, LOG_LEVEL=warn, same 2-CPU box (GITHUB-FIDELITY.md):")
    print("  wrk -t2 -c32 10s: 2,581-2,752 req/s, p50 10.8-11.3 ms, p99 37.5-52.4 ms")
    print("  wrk -t1 -c1 5s:   2,116 req/s, p50 0.45 ms, p99 1.72 ms")
    return 1 if any(r.not_202 or r.errors for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
