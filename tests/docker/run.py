#!/usr/bin/python3
"""make test-docker: deploy/Dockerfile and deploy/compose.yaml run for real (issue 11, part 1).

A private dockerd (vfs, no bridge, no iptables, its own root, exec root and socket in a temp
dir), a Debian 12 base image made with debootstrap (no registry is reachable; cached, see
CACHE), the image built, two broker containers with host networking on loopback
ports, the host's redis-server and haproxy in front; the cluster kill test of
tests/integration/test_haproxy.py through them, docker stop's drain, the compose file with a
host-networking override, then dockerd stopped by its PID. Prints SKIP and exits 0 when Docker
cannot start here. Run as root with Debian's python: /usr/bin/python3 tests/docker/run.py"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from conftest import (ADMIN_TOKEN, TICKET_SECRET, Broker, Closed, Env,  # noqa: E402
                      free_port, wait_until)
from test_haproxy import kill_one_under_load, start_haproxy, stop_haproxy  # noqa: E402

DOCKER = "/usr/bin/docker"
DOCKERD = "/usr/sbin/dockerd"
COMPOSE = "/usr/bin/docker-compose"
DEBOOTSTRAP = "/usr/sbin/debootstrap"
# Outside the clone, so that CI's fresh clones reuse it; rebuilt when older than CACHE_DAYS.
CACHE = Path(os.environ.get("CALLRELAY_DOCKER_CACHE", "/var/cache/callrelay-test/docker"))
CACHE_DAYS = 30
TMPFS_SIZE = os.environ.get("CALLRELAY_DOCKER_TMPFS", "12g")
BASE_TAR = CACHE / "debian-12-minbase.tar"
AUX_TAR = CACHE / "callrelay-test-aux.tar"  # base + redis-server, for compose
IMAGE = "callrelay:latest"
CONTEXT = ["Makefile", "tools", "broker", "adapters", "client", "demo"]
DRAIN = 25
STOP_TIMEOUT = 30  # above DRAIN, as compose.yaml's stop_grace_period

PHASES = []


class Skip(Exception):
    pass


class Phase:
    def __init__(self, name):
        self.name = name

    def __enter__(self):
        print("== %s" % self.name, flush=True)
        self.start = time.monotonic()

    def __exit__(self, *exc):
        took = time.monotonic() - self.start
        PHASES.append((self.name, took))
        print("   %s: %.1f s%s" % (self.name, took, " (failed)" if exc[0] else ""), flush=True)


def run(args, check=True, **kw):
    p = subprocess.run(args, capture_output=True, text=True, **kw)
    if check and p.returncode != 0:
        raise AssertionError("%s exited %d:\n%s%s" % (" ".join(map(str, args)), p.returncode,
                                                       p.stdout[-3000:], p.stderr[-3000:]))
    return p


class Dockerd:
    def __init__(self, tmp):
        self.tmp = tmp
        self.sock = tmp / "docker.sock"
        self.host = "unix://%s" % self.sock
        self.env = dict(os.environ, DOCKER_HOST=self.host, DOCKER_BUILDKIT="0",
                        COMPOSE_DOCKER_CLI_BUILD="0")
        self.proc = None

    def start(self):
        if os.geteuid() != 0:
            raise Skip("not root (dockerd needs root)")
        for exe in (DOCKER, DOCKERD, DEBOOTSTRAP, COMPOSE):
            if not os.access(exe, os.X_OK):
                raise Skip("%s missing (apt-get install docker.io debootstrap docker-compose)" % exe)
        self.log_path = self.tmp / "dockerd.log"
        self.log = open(self.log_path, "wb")
        data_on_tmpfs(self.tmp / "data")
        self.proc = subprocess.Popen(
            [DOCKERD, "--storage-driver=vfs", "--bridge=none", "--iptables=false",
             "--ip-forward=false", "--ip-masq=false",
             "--data-root", str(self.tmp / "data"), "--exec-root", str(self.tmp / "exec"),
             "--pidfile", str(self.tmp / "dockerd.pid"), "-H", self.host],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise Skip("dockerd exited with %s: %s" % (self.proc.returncode, self.tail()))
            if self.docker("version", check=False).returncode == 0:
                return
            time.sleep(0.5)
        raise Skip("dockerd did not answer within 60 s: %s" % self.tail())

    def tail(self):
        lines = self.log_path.read_text(errors="replace").strip().splitlines()
        return " | ".join(lines[-3:])

    def docker(self, *args, check=True, **kw):
        return run([DOCKER] + list(args), check=check, env=self.env, **kw)

    def inspect(self, name, fmt):
        return self.docker("inspect", "-f", fmt, name).stdout.strip()

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        # Containers first (by their names, through the daemon), then dockerd by its PID.
        ids = self.docker("ps", "-aq", check=False).stdout.split()
        if ids:
            self.docker("rm", "-f", *ids, check=False)
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.log.close()


def data_on_tmpfs(data):
    """vfs copies every layer whole: on a tmpfs the builds write no disk and the data root
    goes with one umount instead of minutes of unlinking. On disk when the mount fails."""
    data.mkdir(mode=0o711)
    p = run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0711" % TMPFS_SIZE, "tmpfs", str(data)],
            check=False)
    print("   dockerd's data root: %s" % ("tmpfs (%s at most)" % TMPFS_SIZE if p.returncode == 0
                                         else "disk (tmpfs: %s)" % p.stderr.strip()), flush=True)


def remove_tree(tmp):
    """The temp dir, after unmounting what dockerd left mounted there (its netns/default)."""
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    for m in sorted((m for m in mounts if m.startswith(str(tmp) + "/")), key=len, reverse=True):
        run(["umount", m], check=False)
    shutil.rmtree(tmp, ignore_errors=True)
    if tmp.exists():
        print("   left behind: %s" % tmp, flush=True)


def debian_mirror():
    """The Debian mirror apt uses (deb822 URIs: or a one-line deb entry)."""
    for f in sorted(Path("/etc/apt").glob("sources.list*")) + \
            sorted(Path("/etc/apt/sources.list.d").glob("*")):
        if not f.is_file():
            continue
        text = f.read_text(errors="replace")
        for m in re.finditer(r"(?m)^(?:URIs:\s*|deb\s+(?:\[[^\]]*\]\s+)?)(\S+/debian)/?(?:\s|$)",
                             text):
            return m.group(1)
    return "http://deb.debian.org/debian"


def fresh(path):
    return path.exists() and time.time() - path.stat().st_mtime < CACHE_DAYS * 86400


def base_image(d, tmp):
    """debian:12 and debian:12-slim from a cached debootstrap tarball."""
    if not fresh(BASE_TAR):
        rootfs = tmp / "rootfs"
        mirror = debian_mirror()
        print("   debootstrap --variant=minbase bookworm from %s" % mirror, flush=True)
        run([DEBOOTSTRAP, "--variant=minbase", "bookworm", str(rootfs), mirror])
        CACHE.mkdir(parents=True, exist_ok=True)
        part = BASE_TAR.with_suffix(".part")
        with open(part, "wb") as out:
            subprocess.run(["tar", "-C", str(rootfs), "-c", "."], stdout=out, check=True)
        part.rename(BASE_TAR)
        shutil.rmtree(rootfs)
    else:
        print("   cached %s" % BASE_TAR, flush=True)
    with open(BASE_TAR, "rb") as f:
        d.docker("import", "-", "debian:12", stdin=f)
    d.docker("tag", "debian:12", "debian:12-slim")


def aux_image(d, tmp):
    """Debian's redis-server on the base image (cached), standing in for compose's
    redis:7-bookworm, which no registry can give here."""
    if fresh(AUX_TAR):
        with open(AUX_TAR, "rb") as f:
            d.docker("load", stdin=f)
        return
    ctx = tmp / "aux"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        "FROM debian:12\nRUN apt-get update && apt-get install -y --no-install-recommends "
        "redis-server && rm -rf /var/lib/apt/lists/*\n")
    d.docker("build", "--network", "host", "-t", "callrelay-test-aux", str(ctx))
    CACHE.mkdir(parents=True, exist_ok=True)
    part = AUX_TAR.with_suffix(".part")
    d.docker("save", "-o", str(part), "callrelay-test-aux")
    part.rename(AUX_TAR)


def build_image(d, tmp):
    """deploy/Dockerfile on a context of what it copies (the classic builder ignores
    Dockerfile.dockerignore and would send build/ and its cache)."""
    ctx = tmp / "context"
    ctx.mkdir()
    for name in CONTEXT:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, ctx / name,
                            ignore=shutil.ignore_patterns("__pycache__", "node_modules"))
        else:
            shutil.copy2(src, ctx / name)
    d.docker("build", "--network", "host", "-f", str(ROOT / "deploy" / "Dockerfile"),
             "-t", IMAGE, str(ctx))


def run_broker(d, name, port, redis_url, extra=()):
    d.docker("run", "-d", "--name", name, "--network", "host",
             "--stop-timeout", str(STOP_TIMEOUT), "--read-only", "--tmpfs", "/tmp",
             "--cap-drop", "ALL", "--security-opt", "no-new-privileges:true",
             "-e", "CALLRELAY_LISTEN=127.0.0.1:%d" % port, "-e", "CALLRELAY_REDIS_URL=" + redis_url,
             "-e", "CALLRELAY_ADMIN_TOKEN=" + ADMIN_TOKEN,
             "-e", "CALLRELAY_TICKET_SECRET=" + TICKET_SECRET,
             "-e", "CALLRELAY_DRAIN_TIMEOUT=%d" % DRAIN, *extra, IMAGE)


def tls_container(d, tmp, redis_url):
    """A broker with CALLRELAY_TLS_CERT/KEY from a read-only volume: the image's HEALTHCHECK
    must speak https to go healthy, and the host reaches it with the certificate verified."""
    from test_tls import make_cert
    certs = tmp / "certs"
    certs.mkdir()
    cert, key = make_cert(certs, "broker")
    certs.chmod(0o755)
    key.chmod(0o644)  # the container's user (10001) reads it; a test key on a temp dir
    port = free_port()
    run_broker(d, "callrelay-tls", port, redis_url, (
        "-v", "%s:/certs:ro" % certs, "-e", "CALLRELAY_TLS_CERT=/certs/" + cert.name,
        "-e", "CALLRELAY_TLS_KEY=/certs/" + key.name))
    wait_healthy(d, "callrelay-tls")
    r = requests.get("https://127.0.0.1:%d/readyz" % port, verify=str(cert), timeout=5)
    assert r.status_code == 200, r.text
    print("   callrelay-tls: HEALTHCHECK healthy over https, GET /readyz %d with the certificate "
          "verified" % r.status_code, flush=True)
    d.docker("stop", "callrelay-tls", timeout=STOP_TIMEOUT + 30)
    assert int(d.inspect("callrelay-tls", "{{.State.ExitCode}}")) == 0


class ContainerBroker:
    """A broker container, seen by the kill test and haproxy like conftest's Broker."""

    def __init__(self, d, name, port):
        self.d, self.name, self.port = d, name, port
        self.base = "http://127.0.0.1:%d" % port
        self.ws_base = "ws://127.0.0.1:%d" % port

    get = Broker.get
    post = Broker.post
    admin = Broker.admin


def wait_healthy(d, name, timeout=60):
    def healthy():
        state = json.loads(d.inspect(name, "{{json .State}}"))
        assert state["Running"], "container %s stopped: %s\n%s" % (
            name, state, d.docker("logs", name, check=False).stderr[-3000:])
        return state.get("Health", {}).get("Status") == "healthy"
    wait_until(healthy, timeout, interval=0.5, what="%s's HEALTHCHECK healthy" % name)


def check_non_root(d, name):
    uid = d.docker("exec", name, "id", "-u").stdout.strip()
    pid = int(d.inspect(name, "{{.State.Pid}}"))
    status = Path("/proc/%d/status" % pid).read_text()
    host_uid = re.search(r"(?m)^Uid:\s+(\d+)", status).group(1)
    print("   %s: id -u in the container %s, uid of its process on the host %s" % (
        name, uid, host_uid), flush=True)
    assert uid != "0" and host_uid != "0", (uid, host_uid)


def drain_on_docker_stop(d, world, acme, broker):
    """docker stop: SIGTERM, the websocket closed with 1001, exit 0 well within the timeout."""
    assert d.inspect(IMAGE, "{{.Config.StopSignal}}") == "SIGTERM"
    assert int(d.inspect(broker.name, "{{.Config.StopTimeout}}")) > DRAIN
    acme.add_user("301", broker=broker)
    tab = acme.tab("301", broker=broker)
    start = time.monotonic()
    d.docker("stop", broker.name, timeout=STOP_TIMEOUT + 30)
    took = time.monotonic() - start
    code = tab.wait_closed(5)
    exit_code = int(d.inspect(broker.name, "{{.State.ExitCode}}"))
    oom_killed = d.inspect(broker.name, "{{.State.OOMKilled}}")
    print("   docker stop %s: %.1f s, exit code %d, websocket closed with %s" % (
        broker.name, took, exit_code, code), flush=True)
    assert exit_code == 0 and oom_killed == "false", (exit_code, oom_killed)
    assert code == 1001, code
    assert took < STOP_TIMEOUT, "docker stop waited for its SIGKILL (%.1f s)" % took


def compose_override(tmp, ports, redis_port):
    """The brokers and Redis on the host's network, on free loopback ports; Debian's
    redis-server (the aux image) in place of the registry's redis:7-bookworm."""
    redis_url = "redis://127.0.0.1:%d/0" % redis_port
    broker = lambda port: {  # noqa: E731
        "network_mode": "host",
        "environment": {"CALLRELAY_LISTEN": "127.0.0.1:%d" % port,
                        "CALLRELAY_REDIS_URL": redis_url}}
    override = {
        "services": {
            "redis": {"image": "callrelay-test-aux", "network_mode": "host",
                      "command": ["redis-server", "--port", str(redis_port), "--bind",
                                  "127.0.0.1", "--dir", "/data", "--appendonly", "yes"],
                      "healthcheck": {"test": ["CMD", "redis-cli", "-p", str(redis_port),
                                               "ping"]}},
            "callrelay-1": broker(ports[0]),
            "callrelay-2": broker(ports[1]),
        }}
    path = tmp / "compose.override.json"
    path.write_text(json.dumps(override, indent=1))
    return path


def compose(d, tmp):
    ports = [free_port(), free_port()]
    redis_port = free_port()
    override = compose_override(tmp, ports, redis_port)
    env = dict(d.env, CALLRELAY_ADMIN_TOKEN=ADMIN_TOKEN, CALLRELAY_TICKET_SECRET=TICKET_SECRET)
    base = [COMPOSE, "-f", str(ROOT / "deploy" / "compose.yaml"), "-f", str(override),
            "-p", "callrelay-test"]
    run(base + ["config", "-q"], env=env)
    try:
        # Not haproxy: its "ports:" cannot be taken away by an override (compose merges
        # lists) and docker-compose 1.29 refuses ports with host networking.
        run(base + ["up", "-d", "--no-build", "redis", "callrelay-1", "callrelay-2"], env=env,
            timeout=180)
        for port in ports:
            wait_until(lambda: requests.get("http://127.0.0.1:%d/readyz" % port,
                                            timeout=2).status_code == 200,
                       60, interval=0.5, what="GET /readyz on %d (compose)" % port)
        print("   compose: /readyz 200 on callrelay-1 and callrelay-2", flush=True)
        ids = run(base + ["ps", "-q", "callrelay-1", "callrelay-2"], env=env).stdout.split()
        run(base + ["stop", "-t", str(STOP_TIMEOUT), "callrelay-1", "callrelay-2"], env=env,
            timeout=120)
        codes = [int(d.inspect(i, "{{.State.ExitCode}}")) for i in ids]
        print("   compose stop: exit codes %s" % codes, flush=True)
        assert len(codes) == 2 and codes == [0, 0], codes
    finally:
        down = run(base + ["down", "-v", "-t", str(STOP_TIMEOUT)], env=env, check=False,
                   timeout=120)
        print("   compose down: exit %d" % down.returncode, flush=True)
    assert down.returncode == 0, down.stderr[-3000:]


def main():
    total = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="crdock-"))
    d = Dockerd(tmp)
    world = haproxy = None
    try:
        with Phase("dockerd"):
            try:
                d.start()
            except Skip as e:
                print("SKIP: docker cannot start here: %s" % e, flush=True)
                return 0
        with Phase("base image (debootstrap, cached)"):
            base_image(d, tmp)
        with Phase("build deploy/Dockerfile"):
            build_image(d, tmp)
        with Phase("redis, two broker containers, haproxy"):
            world = Env(tmp)
            world.start_redis()  # the host's redis-server
            redis_url = "redis://127.0.0.1:%d/0" % world.redis_server.port
            brokers = []
            for name in ("callrelay-a", "callrelay-b"):
                port = free_port()
                run_broker(d, name, port, redis_url)
                brokers.append(ContainerBroker(d, name, port))
            for b in brokers:
                wait_healthy(d, b.name)
                check_non_root(d, b.name)
            haproxy = start_haproxy(tmp, brokers)
            front = haproxy[2]
        with Phase("kill test through the containers"):
            kill_one_under_load(world, front, lambda: d.docker(
                "kill", "-s", "KILL", brokers[0].name))
        with Phase("docker stop drains"):
            acme = world.provision("drain", broker=front)
            drain_on_docker_stop(d, world, acme, brokers[1])
        stop_haproxy(*haproxy[:2])
        haproxy = None
        with Phase("a TLS container's health check"):
            tls_container(d, tmp, redis_url)
        with Phase("compose up, /readyz, down"):
            aux_image(d, tmp)
            compose(d, tmp)
    except Closed as e:
        print("FAIL: %s" % e, flush=True)
        return 1
    finally:
        if haproxy is not None:
            stop_haproxy(*haproxy[:2])
        with Phase("stop dockerd, remove temp dirs"):
            if world is not None and world.redis_server is not None:
                world.redis_server.stop()
            d.stop()
            remove_tree(tmp)
        print("phases: " + ", ".join("%s %.1f s" % p for p in PHASES))
        print("total: %.1f s" % (time.monotonic() - total), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
