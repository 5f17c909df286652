"""deploy/: the Dockerfile and Kubernetes manifests parse and agree with the settings and the servers."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, Iterator, List

import yaml

from bot.scaleout import haproxy_config

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
# Variables of the runtime (Python, TensorFlow, Rasa, SQLAlchemy), not our settings.
RUNTIME_VARS = {"PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE", "PYTHONPATH", "TF_CPP_MIN_LOG_LEVEL",
                "RASA_TELEMETRY_ENABLED", "SQLALCHEMY_SILENCE_UBER_WARNING"}
# The health endpoint of each server (bot/action_server.py, bot/console/views.py; Rasa's own "/").
HEALTH = {"dianli-rasa": "/", "dianli-actions": "/health", "dianli-console": "/health"}
PORT_SETTING = {"dianli-rasa": "RASA_PORT", "dianli-actions": "ACTION_PORT", "dianli-console": "CONSOLE_PORT"}


def env_example() -> Dict[str, str]:
    """Every variable .env.example names (set, or shown in a comment), with its example value."""
    names: Dict[str, str] = {}
    for line in (ROOT / ".env.example").read_text(encoding="utf-8").splitlines():
        m = re.match(r"^#?\s*([A-Z][A-Z0-9_]+)=(\S*)", line)
        if m and line.startswith("#"):
            names.setdefault(m.group(1), m.group(2))
        elif m:
            names[m.group(1)] = m.group(2)
    return names


def documents() -> Iterator[dict]:
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc:
                yield doc


def by_kind(kind: str) -> List[dict]:
    return [d for d in documents() if d["kind"] == kind]


def settings_map() -> Dict[str, str]:
    (cm,) = by_kind("ConfigMap")
    (secret,) = by_kind("Secret")
    return {**cm["data"], **secret["stringData"]}


def test_every_manifest_parses_as_a_kubernetes_object() -> None:
    docs = list(documents())
    assert {d["kind"] for d in docs} >= {"ConfigMap", "Secret", "Deployment", "Service", "NetworkPolicy"}
    for d in docs:
        assert d["apiVersion"] and d["metadata"]["name"], d


def test_every_variable_the_manifests_set_is_a_documented_setting() -> None:
    documented = set(env_example())
    used = set(settings_map())
    for dep in by_kind("Deployment"):
        for c in dep["spec"]["template"]["spec"]["containers"]:
            used |= {e["name"] for e in c.get("env", [])}
            refs = {r.get("configMapRef", r.get("secretRef", {})).get("name") for r in c["envFrom"]}
            assert refs == {"dianli-settings", "dianli-secrets"}, dep["metadata"]["name"]
    assert used - documented == set(), "set in deploy/k8s but not in .env.example"


def test_the_dockerfile_sets_only_documented_or_runtime_variables_and_exposes_the_ports() -> None:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    env_block = re.search(r"^ENV (.*?)(?:\n\n|\nWORKDIR)", text, re.S | re.M).group(1)
    names = set(re.findall(r"([A-Z][A-Z0-9_]+)=", env_block))
    assert names - RUNTIME_VARS - set(env_example()) == set()
    defaults = env_example()
    exposed = {int(p) for p in re.search(r"^EXPOSE (.+)$", text, re.M).group(1).split()}
    assert exposed == {int(defaults[k]) for k in ("RASA_PORT", "ACTION_PORT", "CONSOLE_PORT")}
    assert "python -m bot train" in text  # the model is baked into the image


def test_ports_agree_between_settings_containers_probes_and_services() -> None:
    settings = settings_map()
    defaults = env_example()
    services = {s["metadata"]["name"]: s for s in by_kind("Service")}
    for dep in by_kind("Deployment"):
        name = dep["metadata"]["name"]
        port = int(settings[PORT_SETTING[name]])
        assert port == int(defaults[PORT_SETTING[name]]), name
        (c,) = dep["spec"]["template"]["spec"]["containers"]
        named = {p["name"]: p["containerPort"] for p in c["ports"]}
        assert named == {"http": port}, name
        if "--port" in c["command"]:
            assert int(c["command"][c["command"].index("--port") + 1]) == port, name
        for probe in ("readinessProbe", "livenessProbe"):
            get = c[probe]["httpGet"]
            assert (get["path"], named.get(get["port"], get["port"])) == (HEALTH[name], port), (name, probe)
        svc = services[name]
        assert svc["spec"]["selector"] == dep["spec"]["selector"]["matchLabels"], name
        (sp,) = svc["spec"]["ports"]
        assert sp["port"] == port and named.get(sp["targetPort"], sp["targetPort"]) == port, name
    # Rasa reaches the action servers through their Service, on their port.
    m = re.fullmatch(r"http://([a-z-]+):(\d+)/webhook", settings["ACTION_SERVER_URL"])
    assert m and m.group(1) in services and int(m.group(2)) == int(settings["ACTION_PORT"])
    (policy,) = by_kind("NetworkPolicy")
    assert policy["spec"]["ingress"][0]["ports"] == [{"port": int(settings["ACTION_PORT"])}]


def test_pods_share_the_secrets_that_each_process_would_otherwise_make_for_itself() -> None:
    settings = settings_map()
    for name in ("ACTION_SERVER_TOKEN", "WEBCHAT_SECRET", "TRACKER_STORE_URL", "ORDERS_DB_URL", "LOCK_STORE_URL"):
        assert settings.get(name), name
    assert settings["TRACKER_STORE_URL"].startswith("postgresql://")
    assert settings["LOCK_STORE_URL"].startswith("redis://")


def test_haproxy_template_gets_one_server_line_per_process() -> None:
    cfg = haproxy_config("127.0.0.1:7000", "127.0.0.1:7001", [7101, 7102, 7103], [7201])
    assert "${" not in cfg
    assert re.findall(r"server rasa\d 127\.0\.0\.1:(\d+) check", cfg) == ["7101", "7102", "7103"]
    assert re.findall(r"server actions\d 127\.0\.0\.1:(\d+) check", cfg) == ["7201"]
    assert "bind 127.0.0.1:7000" in cfg and "bind 127.0.0.1:7001" in cfg
