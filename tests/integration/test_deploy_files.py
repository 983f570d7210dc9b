"""The deployment files in deploy/ and .ci/run: they parse, the tools that can check them
offline accept them, and they say what the runtime needs (the libuv evlib plugin, /readyz for
the balancer, /healthz for liveness, one ticket secret for every replica)."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
API_VARS = {"CALLRELAY_LISTEN", "CALLRELAY_REDIS_URL", "CALLRELAY_ADMIN_TOKEN",
            "CALLRELAY_TICKET_SECRET", "CALLRELAY_PUBLIC_URL", "CALLRELAY_RETENTION",
            "CALLRELAY_KEY_PREFIX", "CALLRELAY_MAX_BODY", "CALLRELAY_DEDUPE_WINDOW",
            "CALLRELAY_DRAIN_TIMEOUT"}


def load_all(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def test_yaml_files_parse():
    files = [DEPLOY / "compose.yaml", *sorted((DEPLOY / "k8s").glob("*.yaml"))]
    assert len(files) >= 4
    for f in files:
        docs = load_all(f)
        assert docs, f"{f} is empty"
        for d in docs:
            assert isinstance(d, dict), f"{f}: a document is not a mapping"


# --- compose ---------------------------------------------------------------------------------

def compose():
    return load_all(DEPLOY / "compose.yaml")[0]


def test_compose_redis_has_aof():
    redis = compose()["services"]["redis"]
    cmd = redis["command"]
    cmd = " ".join(cmd) if isinstance(cmd, list) else cmd
    assert re.search(r"--appendonly\s+yes", cmd), cmd
    assert re.search(r"--appendfsync\s+everysec", cmd), cmd
    assert any(str(v).endswith(":/data") for v in redis.get("volumes", [])), "redis data volume"


def test_redis_pubsub_output_limit_fits_one_ingest_call():
    """One ingest call publishes up to about 17 MB of wake-ups (broker/ingest_plan.h); Redis's
    default hard limit for subscribers (32 MB) is too close: compose and run.sh raise it."""
    cmd = compose()["services"]["redis"]["command"]
    cmd = " ".join(cmd) if isinstance(cmd, list) else cmd
    limit = r"--client-output-buffer-limit\s+\"?pubsub 64mb 32mb 60"
    assert re.search(limit, cmd), cmd
    run = (DEPLOY / "run.sh").read_text()
    assert re.search(r'pubsub_limit="pubsub 64mb 32mb 60"', run)
    assert run.count('--client-output-buffer-limit "$pubsub_limit"') == 1
    assert run.count('config set client-output-buffer-limit "$pubsub_limit"') == 1


def test_compose_replicas_share_one_ticket_secret():
    services = compose()["services"]
    brokers = {n: s for n, s in services.items() if n.startswith("callrelay")}
    assert len(brokers) >= 2, f"expected two callrelay replicas, got {sorted(brokers)}"
    secrets = {str(s["environment"]["CALLRELAY_TICKET_SECRET"]) for s in brokers.values()}
    assert len(secrets) == 1 and "CALLRELAY_TICKET_SECRET" in secrets.pop()
    for name, s in brokers.items():
        env = s["environment"]
        assert set(env) <= API_VARS, f"{name}: unknown variables {set(env) - API_VARS}"
        assert env["CALLRELAY_LISTEN"] == "0.0.0.0:8080"
        assert env["CALLRELAY_REDIS_URL"].startswith("redis://redis:")
        grace = s["stop_grace_period"]
        assert grace.endswith("s") and int(grace[:-1]) > int(env["CALLRELAY_DRAIN_TIMEOUT"]), s
        assert s["build"]["dockerfile"] == "deploy/Dockerfile"
        assert (DEPLOY / s["build"]["context"] / s["build"]["dockerfile"]).is_file()
    lb = services["haproxy"]
    assert any("haproxy.cfg" in str(v) for v in lb["volumes"])
    assert any(str(p).split(":")[-1] == "8080" for p in lb["ports"])


# --- haproxy ---------------------------------------------------------------------------------

def haproxy_cfg():
    return (DEPLOY / "haproxy.cfg").read_text()


def test_haproxy_cfg_policy():
    cfg = haproxy_cfg()
    assert re.search(r"(?m)^\s*mode\s+http\b", cfg)
    assert re.search(r"(?m)^\s*timeout\s+tunnel\s+1h\b", cfg)
    # Websockets by the shard= of their URL (where the feed's shard is listened to), the rest
    # round robin (url_param's fallback); consistent, so an instance that leaves or joins moves
    # only its share of the shards.
    assert re.search(r"(?m)^\s*balance\s+url_param\s+shard\s*$", cfg)
    assert re.search(r"(?m)^\s*hash-type\s+consistent\b", cfg)
    assert re.search(r"(?m)^\s*option\s+httpchk\s+GET\s+/readyz\b", cfg)
    # No stickiness: any replica serves any request, the hash is only where it is cheapest.
    assert not re.search(r"(?m)^\s*(cookie|stick|stick-table)\b", cfg)
    assert not re.search(r"(?m)^\s*balance\s+(source|uri|hdr)", cfg)
    # Every server is a compose service.
    hosts = re.findall(r"(?m)^\s*server\s+\S+\s+([^:\s]+):8080\b", cfg)
    assert len(hosts) >= 2
    assert set(hosts) <= set(compose()["services"]), hosts


@pytest.mark.skipif(shutil.which("haproxy") is None,
                    reason="haproxy is not installed (sh deploy/deps.sh --test installs it)")
def test_haproxy_accepts_config():
    r = subprocess.run(["haproxy", "-c", "-f", str(DEPLOY / "haproxy.cfg")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


# --- Dockerfile ------------------------------------------------------------------------------

def test_dockerfile():
    text = (DEPLOY / "Dockerfile").read_text()
    stages = re.split(r"(?mi)^FROM\s+", text)[1:]
    assert len(stages) >= 2, "multi-stage build expected"
    assert all(s.startswith("debian:12") for s in stages), "Debian 12 stages"
    build, runtime = stages[0], stages[-1]
    assert re.search(r"\bmake\b", build)
    for pkg in ("libwebsockets17", "libwebsockets-evlib-uv", "libhiredis0.14", "libjansson4",
                "libcurl4", "libuv1"):
        assert re.search(rf"(?<![\w.-]){re.escape(pkg)}(?![\w.-])", runtime), \
            f"runtime stage lacks {pkg}"
    assert "COPY --from=" in runtime
    user = re.findall(r"(?m)^USER\s+(\S+)", runtime)
    assert user and user[-1].split(":")[0] not in ("root", "0"), "runtime runs as non-root"
    assert re.search(r"(?m)^EXPOSE\s+8080\b", runtime)
    assert re.search(r"(?m)^ENV\s+CALLRELAY_LISTEN=0\.0\.0\.0:8080\b", runtime)
    assert re.search(r"(?ms)^HEALTHCHECK\b.*?/healthz", runtime)
    # The build stage copies what the Makefile builds from.
    for d in ("Makefile", "broker", "adapters", "tools", "client", "demo"):
        assert re.search(rf"(?m)^COPY\s+{d}\b", build), f"build stage does not copy {d}"


# --- systemd ---------------------------------------------------------------------------------

def test_systemd_unit(tmp_path):
    text = (DEPLOY / "callrelay.service").read_text()
    for key in ("NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes",
                "PrivateTmp=yes", "CapabilityBoundingSet=", "RestrictAddressFamilies=",
                "SystemCallFilter=", "KillSignal=SIGTERM"):
        assert re.search(rf"(?m)^{re.escape(key)}", text), f"callrelay.service lacks {key}"
    assert re.search(r"(?m)^(User=\S+|DynamicUser=yes)", text)
    if shutil.which("systemd-analyze") is None:
        return
    # verify needs an existing binary; it warns (exit 0) about unknown or misplaced keys.
    unit = tmp_path / "callrelay.service"
    unit.write_text(re.sub(r"(?m)^ExecStart=.*", "ExecStart=/bin/true",
                           re.sub(r"(?m)^EnvironmentFile=(?!-)", "EnvironmentFile=-", text)))
    r = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "Unknown" not in out and "ignoring" not in out, out


# --- Kubernetes ------------------------------------------------------------------------------

def k8s(kind):
    found = [d for f in sorted((DEPLOY / "k8s").glob("*.yaml")) for d in load_all(f)
             if d.get("kind") == kind]
    assert found, f"no {kind} in deploy/k8s"
    return found[0]


def test_k8s_deployment():
    dep = k8s("Deployment")
    pod = dep["spec"]["template"]["spec"]
    assert dep["spec"]["selector"]["matchLabels"].items() <= \
        dep["spec"]["template"]["metadata"]["labels"].items()
    c = pod["containers"][0]
    # the grace counts the preStop sleep, then the drain: both must fit, with time to spare
    pre_stop = c["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep", pre_stop
    drain = int({e["name"]: e.get("value") for e in c["env"]}["CALLRELAY_DRAIN_TIMEOUT"])
    assert pod["terminationGracePeriodSeconds"] > int(pre_stop[1]) + drain, pod
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    ports = {p.get("name"): p["containerPort"] for p in c["ports"]}
    assert 8080 in ports.values()
    env = {e["name"]: e.get("value") for e in c.get("env", [])}
    assert env.get("CALLRELAY_LISTEN") == "0.0.0.0:8080"
    assert set(env) <= API_VARS
    secret_refs = [e["secretRef"]["name"] for e in c.get("envFrom", []) if "secretRef" in e]
    secret = k8s("Secret")
    assert secret["metadata"]["name"] in secret_refs
    keys = set(secret.get("stringData", {})) | set(secret.get("data", {}))
    assert "CALLRELAY_TICKET_SECRET" in keys and keys <= API_VARS, keys
    svc = k8s("Service")
    assert svc["spec"]["selector"].items() <= dep["spec"]["template"]["metadata"]["labels"].items()
    for p in svc["spec"]["ports"]:
        assert p["targetPort"] in ports or p["targetPort"] in ports.values(), p


def test_k8s_kustomization_lists_existing_files():
    kust = load_all(DEPLOY / "k8s" / "kustomization.yaml")[0]
    for r in kust["resources"]:
        assert (DEPLOY / "k8s" / r).is_file(), r
    if shutil.which("kubectl"):
        r = subprocess.run(["kubectl", "kustomize", str(DEPLOY / "k8s")], capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 0, r.stderr


# --- scripts ---------------------------------------------------------------------------------

@pytest.mark.parametrize("script,shell", [("deploy/deps.sh", "sh"), ("deploy/run.sh", "sh"),
                                          (".ci/run", "bash")])
def test_scripts_parse(script, shell):
    r = subprocess.run([shell, "-n", str(ROOT / script)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    head = (ROOT / script).read_text().splitlines()[:20]
    assert any(re.search(r"set -eu", line) for line in head), f"{script}: set -eu"


def test_deps_dry_run_lists_nothing_unknown():
    """--dry-run needs no root and installs nothing; an unknown option is refused."""
    r = subprocess.run(["sh", str(DEPLOY / "deps.sh"), "--test", "--dry-run"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("deps.sh: "), r.stdout
    r = subprocess.run(["sh", str(DEPLOY / "deps.sh"), "--bogus"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2
    text = (DEPLOY / "deps.sh").read_text()
    assert "libwebsockets-evlib-uv" in text and "systemctl" not in text
