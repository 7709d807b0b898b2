"""The docker compose stack (deploy/) checked against the code: there is no Docker engine here.

Every service command must name a runnable module or app factory, every variable compose sets must
be one the code reads, health checks must hit real routes, the broker definitions must equal what
the workers declare, both gateways must send each route to the service that serves it, and each
image must install the distributions its code imports.
"""
from __future__ import annotations

import ast
import importlib
import importlib.metadata
import importlib.util
import json
import multiprocessing
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.markers import Marker
from packaging.requirements import Requirement

from shared.config import REPO_ROOT, Config, InsecureConfigError
from shared.kinds import KINDS
from shared.messaging import declare_topology
from tests.env_names import names_read

DEPLOY = REPO_ROOT / "deploy"
COMPOSE_FILE = DEPLOY / "docker-compose.yml"
COMPOSE_GATEWAY = DEPLOY / "nginx" / "compose.conf"
MAKE_UP_GATEWAY = DEPLOY / "nginx" / "gateway.conf.template"
DEFINITIONS = DEPLOY / "rabbitmq" / "definitions.json"
SERVICE_DOCKERFILE = DEPLOY / "docker" / "Dockerfile.service"
WORKER_DOCKERFILE = DEPLOY / "docker" / "Dockerfile.worker"
SERVICE_REQUIREMENTS = DEPLOY / "docker" / "requirements-service.txt"
ENV_EXAMPLE = REPO_ROOT / ".env.example"
FIRST_PARTY = {"services", "shared", "migrations", "scripts", "tests", "bench"}
# A value check_production accepts for any secret: long, random-looking, no "change-me".
STRONG = "Q7vR2mX9kLp4sT8wZ3nB6yH1cJ5dF0gA"

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[?-])([^}]*))?\}")


class MissingVariable(ValueError):
    """A `${NAME:?message}` variable was unset or empty: compose refuses to start."""


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's substitution (`${X}`, `${X:-default}`, `${X:?error}`, `$$`) over a tree."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match) -> str:
        name, operator, argument = match.groups()
        current = env.get(name)
        if operator in (":?", "?") and not current:
            raise MissingVariable(f"{name}: {argument}")
        if operator in (":-", "-") and not current:
            return argument
        return current or ""

    return _VARIABLE.sub(substitute, value.replace("$$", "\0")).replace("\0", "$")


def _uncommented(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


def required_variables(text: str) -> set[str]:
    return {name for name, operator, _ in _VARIABLE.findall(_uncommented(text))
            if operator in (":?", "?")}


def read_env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            name, value = line.split("=", 1)
            values[name.strip()] = value
    return values


@pytest.fixture(scope="module")
def compose_text() -> str:
    return COMPOSE_FILE.read_text()


@pytest.fixture(scope="module")
def compose(compose_text) -> dict[str, Any]:
    return yaml.safe_load(compose_text)


@pytest.fixture(scope="module")
def strong_env(compose_text) -> dict[str, str]:
    """The .env an operator writes: every required variable set to a strong secret."""
    return {name: STRONG for name in required_variables(compose_text)}


@pytest.fixture(scope="module")
def resolved(compose, strong_env) -> dict[str, Any]:
    return interpolate(compose, strong_env)


def conveyor_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services built from this repository (not the postgres, rabbitmq and nginx images)."""
    return {name: service for name, service in compose["services"].items() if "build" in service}


# --- commands ---------------------------------------------------------------------------------

def _module_file(module: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    if spec is None:
        return None
    if spec.submodule_search_locations:  # a package runs its __main__
        main = importlib.util.find_spec(f"{module}.__main__")
        return Path(main.origin) if main else None
    return Path(spec.origin)


def test_every_python_m_command_names_a_runnable_module(compose):
    commands = [service["command"] for service in conveyor_services(compose).values()
                if service["command"][:2] == ["python", "-m"]]
    assert len(commands) >= len(KINDS) + 2  # the workers, the relay and init
    for command in commands:
        module = command[2]
        path = _module_file(module)
        assert path is not None, f"`python -m {module}`: no module, or a package without __main__"
        source = path.read_text()
        assert path.name == "__main__.py" or '__name__ == "__main__"' in source, \
            f"`python -m {module}` would import {path} and do nothing"


def test_every_job_kind_has_a_scalable_worker_service(compose):
    for kind in KINDS:
        service = compose["services"].get(f"{kind}_worker")
        assert service is not None, f"no {kind}_worker service"
        assert service["command"] == ["python", "-m", f"services.{kind}_worker"]
        assert service["build"]["args"]["KIND"] == kind
        assert service["deploy"]["replicas"] >= 1
        # A fixed container name would make `--scale` impossible.
        assert "container_name" not in service


def _gunicorn(service: dict[str, Any]) -> tuple[str, int, str]:
    """(config file, bound port, app spec) of a gunicorn command."""
    command = service["command"]
    assert command[0] == "gunicorn"
    config = command[command.index("-c") + 1]
    port = int(command[command.index("--bind") + 1].rsplit(":", 1)[1])
    return config, port, command[-1]


@pytest.mark.parametrize("name", ["auth", "api"])
def test_gunicorn_serves_a_real_app_factory_on_the_exposed_port(compose, name):
    service = compose["services"][name]
    config, port, app_spec = _gunicorn(service)
    assert (REPO_ROOT / config).is_file()
    module_name, factory = app_spec.split(":")
    assert factory.endswith("()"), "gunicorn calls the factory: `module:create_app()`"
    module = importlib.import_module(module_name)
    assert callable(getattr(module, factory[:-2], None)), f"{module_name} has no {factory}"
    assert str(port) in [str(p) for p in service["expose"]]


def test_gunicorn_config_sizes_workers_from_the_cpu_count_and_logs_access(monkeypatch):
    monkeypatch.delenv("GUNICORN_WORKERS", raising=False)
    settings: dict[str, Any] = {}
    exec(compile((DEPLOY / "gunicorn.conf.py").read_text(), "gunicorn.conf.py", "exec"), settings)
    assert settings["workers"] == max(2, multiprocessing.cpu_count())
    assert settings["timeout"] > 0 and settings["graceful_timeout"] > 0
    assert "%(s)s" in settings["access_log_format"] and settings["accesslog"] == "-"


def test_gunicorn_keeps_a_log_file_private_and_leaves_a_device_alone(tmp_path):
    settings: dict[str, Any] = {}
    exec(compile((DEPLOY / "gunicorn.conf.py").read_text(), "gunicorn.conf.py", "exec"), settings)
    log_file, fifo = tmp_path / "access.log", tmp_path / "fifo"
    log_file.touch(mode=0o644)
    os.mkfifo(fifo, 0o666)  # stands in for /dev/null: not a regular file
    os.chmod(fifo, 0o666)

    settings["keep_private"](str(log_file))
    settings["keep_private"](str(fifo))

    assert stat.S_IMODE(log_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(fifo.stat().st_mode) == 0o666


def test_an_empty_access_log_setting_turns_the_access_log_off(monkeypatch):
    monkeypatch.setenv("GUNICORN_ACCESSLOG", "")
    settings: dict[str, Any] = {}
    exec(compile((DEPLOY / "gunicorn.conf.py").read_text(), "gunicorn.conf.py", "exec"), settings)
    assert settings["accesslog"] is None


# --- health checks ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def url_maps(tmp_path_factory) -> dict[str, Any]:
    """The route tables of both apps, built with a throwaway key pair (no database is touched)."""
    from services.api import create_app as create_api
    from services.auth import create_app as create_auth

    config = Config()
    keys = tmp_path_factory.mktemp("deploy-keys")
    config.JWT_PRIVATE_KEY_FILE = keys / "jwt_private.pem"
    config.JWT_PUBLIC_KEY_FILE = keys / "jwt_public.pem"
    auth = create_auth(config)  # makes the development key pair the API then reads
    return {"auth": auth.url_map, "api": create_api(config).url_map}


_HEALTH_URL = re.compile(r"http://127\.0\.0\.1:(\d+)(/[^'\"\s]*)")


@pytest.mark.parametrize("name", ["auth", "api"])
def test_health_check_asks_the_service_port_for_a_route_the_app_serves(compose, url_maps, name):
    service = compose["services"][name]
    kind, probe = service["healthcheck"]["test"]
    # The slim image has no curl: the probe must run on the image's Python. One shell string: the
    # podman-compose of Debian 12 joins a CMD list unquoted, breaking any item with spaces.
    assert kind == "CMD-SHELL" and shlex.split(probe)[:2] == ["python", "-c"]
    port, path = _HEALTH_URL.search(probe).groups()
    assert int(port) == _gunicorn(service)[1]
    adapter = url_maps[name].bind("localhost")
    endpoint, _ = adapter.match(path, method="GET")
    assert endpoint.endswith("healthz")


def test_services_wait_for_what_they_need(compose):
    services = compose["services"]
    for name in ("auth", "api", "relay"):
        assert services[name]["depends_on"]["init"]["condition"] == "service_completed_successfully"
    assert services["init"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ["relay", *(f"{kind}_worker" for kind in KINDS)]:
        assert services[name]["depends_on"]["broker-topology"]["condition"] == \
            "service_completed_successfully"
    for kind in KINDS:
        assert services[f"{kind}_worker"]["depends_on"]["api"]["condition"] == "service_healthy"
    for name in ("postgres", "rabbitmq", "auth", "api"):
        assert services[name]["healthcheck"]["test"]


# --- environment ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def code_env_names() -> set[str]:
    """Names the Python code reads (tests/env_names.py scans it; compose's own ${...} do not count)."""
    return {name for name, files in names_read(REPO_ROOT).items() if any(f.endswith(".py") for f in files)}


def test_every_variable_compose_sets_is_one_the_code_reads(compose, code_env_names):
    for name, service in conveyor_services(compose).items():
        unknown = set(service.get("environment", {})) - code_env_names
        assert not unknown, f"{name} sets variables no code reads: {sorted(unknown)}"


def test_env_example_lists_every_variable_compose_requires(compose_text):
    listed = set(read_env_file(ENV_EXAMPLE))
    missing = required_variables(compose_text) - listed
    assert not missing, f".env.example lacks {sorted(missing)}"
    assert {"CONVEYOR_WORKER_TOKEN", "POSTGRES_PASSWORD"} <= required_variables(compose_text)


def _production_config(environment: dict[str, Any], monkeypatch) -> Config:
    for name in list(os.environ):
        if name.startswith("CONVEYOR_") or name in {"DATABASE_URL", "AMQP_URL"}:
            monkeypatch.delenv(name)
    for name, value in environment.items():
        monkeypatch.setenv(name, str(value))
    return Config()


def test_each_service_environment_passes_the_production_check(resolved, monkeypatch):
    for name, service in conveyor_services(resolved).items():
        config = _production_config(service["environment"], monkeypatch)
        assert config.ENV == "production", name
        config.check_production()
        assert config.API_URL == "http://api:8002"


def test_the_shipped_env_example_cannot_start_the_stack(compose, monkeypatch):
    example = read_env_file(ENV_EXAMPLE)
    with pytest.raises(MissingVariable):
        interpolate(compose, example)  # the database and broker passwords are left empty
    filled = {**example, "POSTGRES_PASSWORD": STRONG, "RABBITMQ_PASSWORD": STRONG}
    api = interpolate(compose, filled)["services"]["api"]
    with pytest.raises(InsecureConfigError):  # ...and the app secrets are placeholders
        _production_config({**example, **api["environment"]}, monkeypatch).check_production()


def test_only_auth_and_init_get_the_private_signing_key(compose):
    for name, service in conveyor_services(compose).items():
        secrets = set(service.get("secrets", []))
        environment = service.get("environment", {})
        for variable in ("CONVEYOR_JWT_PRIVATE_KEY_FILE", "CONVEYOR_JWT_PUBLIC_KEY_FILE"):
            if variable in environment:
                assert environment[variable] in {f"/run/secrets/{s}" for s in secrets}, name
        has_private = "CONVEYOR_JWT_PRIVATE_KEY_FILE" in environment or "jwt_private.pem" in secrets
        assert has_private == (name in {"auth", "init"}), name
    assert compose["services"]["api"]["secrets"] == ["jwt_public.pem"]
    for secret in compose["secrets"].values():
        # deploy/secrets/ unless CONVEYOR_SECRETS_DIR names another directory (make compose-smoke's)
        assert interpolate(secret["file"], {}).startswith("./secrets/")
        assert interpolate(secret["file"], {"CONVEYOR_SECRETS_DIR": "/elsewhere"}).startswith("/elsewhere/")
    ignored = (REPO_ROOT / ".dockerignore").read_text().split()
    assert {"deploy/secrets", ".env", ".venv", ".git", "var"} <= set(ignored)


# --- broker topology --------------------------------------------------------------------------

class RecordingChannel:
    """Stands in for a pika channel and writes down what declare_topology declares."""

    def __init__(self):
        self.exchanges, self.queues, self.bindings = {}, {}, set()

    def exchange_declare(self, exchange, exchange_type="direct", durable=False, **_):
        self.exchanges[exchange] = (exchange_type, durable)

    def queue_declare(self, queue, durable=False, arguments=None, **_):
        self.queues[queue] = (durable, arguments or {})

    def queue_bind(self, queue, exchange, routing_key=None, **_):
        self.bindings.add((exchange, queue, routing_key))


def test_broker_definitions_equal_what_the_workers_declare(resolved):
    prefix = resolved["services"]["relay"]["environment"]["CONVEYOR_AMQP_PREFIX"]
    channel = RecordingChannel()
    declare_topology(channel, prefix)
    definitions = json.loads(DEFINITIONS.read_text())

    exchanges = {e["name"]: (e["type"], e["durable"]) for e in definitions["exchanges"]}
    assert exchanges == channel.exchanges
    # Any difference in arguments makes the workers' declare fail with PRECONDITION_FAILED.
    queues = {q["name"]: (q["durable"], q["arguments"]) for q in definitions["queues"]}
    assert queues == channel.queues
    assert {(b["source"], b["destination"], b["routing_key"]) for b in definitions["bindings"]} == \
        channel.bindings
    for policy in definitions.get("policies", []):
        matched = [queue for queue in channel.queues if re.search(policy["pattern"], queue)]
        assert matched, f"policy {policy['name']} applies to no queue"


# --- gateways ---------------------------------------------------------------------------------

_LOCATION = re.compile(r"location\s+(=|~\*|~|\^~)?\s*(\S+)\s*\{([^{}]*)\}")


def parse_locations(text: str) -> list[dict[str, Any]]:
    """Each nginx `location` in order: modifier, pattern, upstream or return code, buffering."""
    locations = []
    for modifier, pattern, body in _LOCATION.findall(text):
        upstream = re.search(r"proxy_pass\s+http://(\w+)\s*;", body)
        returned = re.search(r"return\s+(\d+)", body)
        locations.append({
            "modifier": modifier or "", "pattern": pattern,
            "to": upstream.group(1) if upstream else int(returned.group(1)),
            "unbuffered": bool(re.search(r"proxy_buffering\s+off", body)),
        })
    return locations


def route(locations: list[dict[str, Any]], uri: str) -> dict[str, Any]:
    """The location nginx picks for ``uri`` (exact, then ^~ prefix, then regexes, then prefix)."""
    for location in locations:
        if location["modifier"] == "=" and location["pattern"] == uri:
            return location
    prefixes = [loc for loc in locations if loc["modifier"] in ("", "^~")
                and uri.startswith(loc["pattern"])]
    longest = max(prefixes, key=lambda loc: len(loc["pattern"]), default=None)
    if longest is not None and longest["modifier"] == "^~":
        return longest
    for location in locations:
        flags = re.IGNORECASE if location["modifier"] == "~*" else 0
        if location["modifier"] in ("~", "~*") and re.search(location["pattern"], uri, flags):
            return location
    assert longest is not None, f"no location matches {uri}"
    return longest


_CONVERTER_SAMPLES = {"int": "7", "uuid": str(uuid.uuid4()), "path": "a/b.css"}


def sample_path(rule: str) -> str:
    return re.sub(r"<(?:(\w+)(?:\([^)]*\))?:)?\w+>",
                  lambda m: _CONVERTER_SAMPLES.get(m.group(1) or "", "x1"), rule)


@pytest.mark.parametrize("gateway", [COMPOSE_GATEWAY, MAKE_UP_GATEWAY], ids=["compose", "make-up"])
def test_gateway_sends_every_route_to_the_service_that_serves_it(url_maps, gateway):
    locations = parse_locations(gateway.read_text())
    checked = 0
    for owner, url_map in url_maps.items():
        for rule in url_map.iter_rules():
            if rule.endpoint == "static":  # Flask's default; neither service has static files
                continue
            path = sample_path(rule.rule)
            chosen = route(locations, path)
            if path.startswith("/internal/"):
                assert chosen["to"] == 404, f"{path} must not be reachable through the gateway"
                continue
            assert chosen["to"] == owner, \
                f"{path} is served by {owner}, the gateway sends it to {chosen['to']}"
            if "GET" in rule.methods and path.endswith("/events"):
                assert chosen["unbuffered"], f"{path} streams events: proxy_buffering must be off"
            checked += 1
    assert checked > 30


def test_compose_gateway_routes_the_same_locations_as_the_make_up_gateway():
    compose_locations = parse_locations(COMPOSE_GATEWAY.read_text())
    assert compose_locations == parse_locations(MAKE_UP_GATEWAY.read_text())
    assert len(compose_locations) >= 5


def test_compose_gateway_upstreams_are_the_services_gunicorn_ports(compose):
    text = COMPOSE_GATEWAY.read_text()
    upstreams = dict(re.findall(r"upstream\s+(\w+)\s*\{\s*server\s+(\S+?);", text))
    for name in ("auth", "api"):
        assert upstreams[name] == f"{name}:{_gunicorn(compose['services'][name])[1]}"
    listen = re.search(r"listen\s+(\d+);", COMPOSE_GATEWAY.read_text()).group(1)
    assert compose["services"]["gateway"]["ports"][0].endswith(f":{listen}")


@pytest.mark.skipif(shutil.which("nginx") is None, reason="needs nginx to check the syntax")
def test_compose_gateway_is_valid_nginx(tmp_path):
    # Service names resolve only inside compose's network; the syntax check needs an address.
    body = re.sub(r"server\s+(auth|api):", "server 127.0.0.1:", COMPOSE_GATEWAY.read_text())
    (tmp_path / "conveyor.conf").write_text(body)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid; error_log stderr; events {{}}\n"
        f"http {{ client_body_temp_path {tmp_path}; proxy_temp_path {tmp_path}; "
        f"access_log off; include {tmp_path}/conveyor.conf; }}\n")
    command = ["nginx", "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr


# --- compose validator ------------------------------------------------------------------------

@pytest.mark.skipif(shutil.which("docker-compose") is None,
                    reason="needs Debian's docker-compose (v1) to validate the file")
def test_docker_compose_v1_accepts_the_file(tmp_path, compose_text, strong_env):
    # v1 predates the top-level `name` key of the Compose Specification; everything else it checks.
    body = re.sub(r"(?m)^name: .*\n", "", compose_text)
    (tmp_path / "docker-compose.yml").write_text(body)
    (tmp_path / "app.env").write_text("")
    variables = {**strong_env, "CONVEYOR_ENV_FILE": f"{tmp_path}/app.env"}
    (tmp_path / "vars.env").write_text("".join(f"{k}={v}\n" for k, v in variables.items()))
    result = subprocess.run(
        ["docker-compose", "--env-file", str(tmp_path / "vars.env"),
         "--project-directory", str(DEPLOY), "-f", str(tmp_path / "docker-compose.yml"),
         "config", "--quiet"],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


# --- images -----------------------------------------------------------------------------------

def _is_guarded(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """Inside `if TYPE_CHECKING:` or a `try` that catches ImportError: not needed at run time."""
    while node in parents:
        parent = parents[node]
        if isinstance(parent, ast.If) and "TYPE_CHECKING" in ast.unparse(parent.test):
            return True
        if isinstance(parent, ast.Try) and node in parent.body and any(
                handler.type is not None and re.search(r"ImportError|ModuleNotFoundError",
                                                       ast.unparse(handler.type))
                for handler in parent.handlers):
            return True
        node = parent
    return False


def _first_party_file(module: str) -> Path | None:
    base = REPO_ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_distributions(entry_modules: list[str]) -> set[str]:
    """Third-party top-level names imported from the entry modules on (function-level included)."""
    seen: set[str] = set()
    third_party: set[str] = set()
    pending = list(entry_modules)
    while pending:
        module = pending.pop()
        if module in seen:
            continue
        seen.add(module)
        path = _first_party_file(module)
        assert path is not None, f"{module} is not in the repository"
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        parts = module.split(".")
        pending.extend(".".join(parts[:i]) for i in range(1, len(parts)))  # parent packages run too
        tree = ast.parse(path.read_text(), str(path))
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)) or _is_guarded(node, parents):
                continue
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
            for name in names:
                top = name.split(".")[0]
                if top in FIRST_PARTY:
                    if _first_party_file(name):
                        pending.append(name)
                elif top and top not in sys.stdlib_module_names and top != "__future__":
                    third_party.add(top)
    return third_party


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_by(requirement_files: list[Path], no_deps: list[Path] = ()) -> set[str]:
    """Distributions pip installs from these files, with dependencies (as the venv has them)."""
    def names(path: Path) -> list[Requirement]:
        found = []
        for line in path.read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if line.startswith("-r "):
                found += names((path.parent / line[3:].strip()).resolve())
            elif line and not line.startswith("-"):
                found.append(Requirement(line))
        return found

    seen: set[tuple[str, frozenset]] = set()
    pending = [(req.name, frozenset(req.extras))
               for path in requirement_files for req in names(path)]
    while pending:
        name, extras = pending.pop()
        if (_normalize(name), extras) in seen:
            continue
        seen.add((_normalize(name), extras))
        for line in importlib.metadata.distribution(name).requires or []:
            req = Requirement(line)
            marker_envs = [{"extra": extra} for extra in extras] or [{"extra": ""}]
            if req.marker is None or any(Marker(str(req.marker)).evaluate(env)
                                         for env in marker_envs):
                pending.append((req.name, frozenset(req.extras)))
    without_deps = {_normalize(req.name) for path in no_deps for req in names(path)}
    return {name for name, _ in seen} | without_deps


def assert_image_installs(entry_modules: list[str], requirement_files: list[Path],
                          no_deps: list[Path] = ()) -> None:
    installed = installed_by(requirement_files, no_deps)
    providers = importlib.metadata.packages_distributions()
    missing = {}
    for top in imported_distributions(entry_modules):
        dists = {_normalize(d) for d in providers.get(top, [])}
        assert dists, f"`import {top}`: no installed distribution provides it"
        if not dists & installed:
            missing[top] = sorted(dists)
    assert not missing, f"the image lacks what the code imports: {missing}"


def test_service_image_installs_what_auth_api_relay_and_init_import():
    dockerfile = SERVICE_DOCKERFILE.read_text()
    assert f"pip install -r {SERVICE_REQUIREMENTS.relative_to(REPO_ROOT)}" in dockerfile
    assert_image_installs(["services.auth", "services.api", "services.relay.__main__", "services.ops.__main__"],
                          [SERVICE_REQUIREMENTS])


@pytest.mark.parametrize("kind", KINDS)
def test_worker_image_installs_what_its_worker_imports(kind):
    dockerfile = WORKER_DOCKERFILE.read_text()
    assert 'pip install -r requirements.txt' in dockerfile
    for step in ('if [ -f "requirements-$KIND.txt" ]; then pip install -r "requirements-$KIND.txt"',
                 'if [ "$KIND" = vision ] || [ "$KIND" = translate ]; then '
                 'pip install --no-deps -r requirements-nodeps.txt'):
        assert step in dockerfile
    files = [REPO_ROOT / "requirements.txt"]
    if (REPO_ROOT / f"requirements-{kind}.txt").is_file():
        files.append(REPO_ROOT / f"requirements-{kind}.txt")
    no_deps = [REPO_ROOT / "requirements-nodeps.txt"] if kind in ("vision", "translate") else []
    assert _module_file(f"services.{kind}_worker") is not None, \
        f"services/{kind}_worker has no __main__"
    assert_image_installs([f"services.{kind}_worker.__main__"], files, no_deps)


def test_the_import_scan_notices_a_missing_distribution(tmp_path):
    # Guards the image checks: the messaging module needs pika, which requests does not bring.
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("requests==2.*\n")
    with pytest.raises(AssertionError, match="pika"):
        assert_image_installs(["shared.messaging"], [requirements])


def test_images_run_as_an_unprivileged_user_and_stay_offline():
    for dockerfile in (SERVICE_DOCKERFILE, WORKER_DOCKERFILE):
        text = dockerfile.read_text()
        # The public Python image unless the build passes another base (make compose-smoke does).
        assert re.search(r"^ARG BASE_IMAGE=python:3\.11-slim", text, re.M)
        assert re.findall(r"^FROM\s+(\S+)", text, re.M) == ["${BASE_IMAGE}"]
        user = re.findall(r"^USER\s+(\S+)", text, re.M)
        assert user and user[-1] not in {"root", "0"}
        assert not re.search(r"\b(build-essential|gcc|g\+\+)\b", text)
    worker = WORKER_DOCKERFILE.read_text()
    assert "HF_HUB_OFFLINE=1" in worker
    assert "install_whisper_base.py" in worker
    bootstrap = (REPO_ROOT / "scripts" / "bootstrap_system.sh").read_text()
    pairs = re.search(r'APERTIUM_PAIRS="([^"]+)"', bootstrap)
    for package in pairs.group(1).split():
        assert package in worker, f"the translate image lacks {package}, which `make up` installs"


# --- the pulled images and make compose-smoke's stand-ins ---------------------------------------

LOCAL = DEPLOY / "docker" / "local"
OFFICIAL_IMAGES = {"postgres": "postgres:16", "rabbitmq": "rabbitmq:3.13-management",
                   "broker-topology": "rabbitmq:3.13-management", "gateway": "nginx:1.27-alpine"}


def _pulled(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: service for name, service in compose["services"].items() if "build" not in service}


def test_pulled_images_default_to_the_official_ones_and_each_has_a_stand_in(compose):
    from scripts.compose_smoke import STAND_INS

    pulled = _pulled(compose)
    assert {name: interpolate(service["image"], {}) for name, service in pulled.items()} == OFFICIAL_IMAGES
    stand_ins = {variable: image for variable, image, _ in STAND_INS}
    for name, service in pulled.items():
        variable = _VARIABLE.fullmatch(service["image"]).group(1)
        assert variable in stand_ins, f"{name}: make compose-smoke has no stand-in for {variable}"
        assert interpolate(service["image"], {variable: stand_ins[variable]}) == stand_ins[variable]
    for _, _, dockerfile in STAND_INS:
        text = (LOCAL / dockerfile).read_text()
        assert "TEST STAND-IN" in text
        assert re.findall(r"^FROM\s+(\S+)", text, re.M) == ["${BASE_IMAGE}"]


def _reads(script: Path) -> set[str]:
    return set(re.findall(r"\$\{?([A-Z_][A-Z0-9_]*)", script.read_text()))


def test_the_postgres_stand_in_honours_what_compose_uses_of_the_official_image(compose):
    service = compose["services"]["postgres"]
    assert set(service["environment"]) <= _reads(LOCAL / "postgres-standin.sh")
    dockerfile = (LOCAL / "Dockerfile.postgres").read_text()
    data_dir = re.search(r"^ENV PGDATA=(\S+)", dockerfile, re.M).group(1)
    assert [volume.split(":")[1] for volume in service["volumes"]] == [data_dir]
    assert service["healthcheck"]["test"][1] == "pg_isready"
    assert "postgresql-client" in dockerfile  # pg_isready


def test_the_rabbitmq_stand_in_honours_what_compose_uses_of_the_official_image(compose):
    broker, topology = compose["services"]["rabbitmq"], compose["services"]["broker-topology"]
    assert set(broker["environment"]) <= _reads(LOCAL / "rabbitmq-standin.sh")
    for volume in broker["volumes"]:
        target = volume.split(":")[1]
        assert target == "/var/lib/rabbitmq" or target.startswith("/etc/rabbitmq/conf.d/")
    assert "/etc/rabbitmq/conf.d" in (LOCAL / "rabbitmq-standin.sh").read_text()
    dockerfile = (LOCAL / "Dockerfile.rabbitmq").read_text()
    # Debian's rabbitmq-server brings rabbitmq-diagnostics (health check) and rabbitmqadmin (topology).
    assert "rabbitmq-server" in dockerfile and "enable --offline rabbitmq_management" in dockerfile
    assert broker["healthcheck"]["test"][1] == "rabbitmq-diagnostics"
    assert "rabbitmqadmin " in topology["command"][-1]


def test_the_nginx_stand_in_reads_the_gateway_where_compose_mounts_it(compose):
    mounts = [volume.split(":")[1] for volume in compose["services"]["gateway"]["volumes"]]
    assert mounts == ["/etc/nginx/conf.d/default.conf"]
    main = (LOCAL / "nginx.conf").read_text()
    assert "include /etc/nginx/conf.d/*.conf;" in main
    # compose.conf sets these in the http block; a second one would stop nginx ("duplicate").
    for directive in re.findall(r"^(\w+)\s", COMPOSE_GATEWAY.read_text(), re.M):
        if directive not in {"upstream", "server", "map", "log_format"}:
            assert not re.search(rf"^\s*{directive}\s", main, re.M), directive


def test_the_smoke_runs_podman_with_runc_and_limits_this_machine_accepts():
    import tomllib

    settings = tomllib.loads((LOCAL / "containers.conf").read_text())
    assert settings["engine"]["runtime"] == "runc"
    assert {limit.split("=")[0] for limit in settings["containers"]["default_ulimits"]} == {"nofile", "nproc"}


def test_compose_smoke_builds_each_image_once_as_the_services_that_run_it_say(compose):
    from scripts.compose_smoke import STAND_INS, images_to_build

    specs = images_to_build(compose)
    names = [spec["image"] for spec in specs]
    assert len(names) == len(set(names))
    built = {spec["image"]: spec for spec in specs}
    for name, service in conveyor_services(compose).items():
        # Services sharing an image (init, auth, api, relay) must agree on how it is built.
        assert built[service["image"]]["dockerfile"] == service["build"]["dockerfile"], name
        assert built[service["image"]]["args"] == service["build"].get("args", {}), name
    assert {spec["args"].get("KIND") for spec in specs} >= set(KINDS)
    assert {image for _, image, _ in STAND_INS} <= set(built)
