"""`make compose-smoke`: build the compose stack's images, run deploy/docker-compose.yml for real, stop it.

With podman and podman-compose (Debian's packages; installed when missing and we are root):

1. a base image made from Debian packages (debootstrap, then `podman import`), since no image registry
   is reachable here; kept as ``localhost/conveyor-smoke-base:bookworm`` and skipped when it exists;
2. the images: Conveyor's service and worker images from their Dockerfiles with ``BASE_IMAGE`` set to
   that base, and test stand-ins for postgres, rabbitmq and nginx (deploy/docker/local/), each timed;
3. a throwaway ``.env`` with random secrets and a fresh signing key pair, in var/compose-smoke/;
4. the stack, started in the order its ``depends_on`` conditions say (podman-compose 1.0.3 ignores the
   conditions, see ``start_in_order``), then ``/readyz`` through the gateway;
5. one job of each kind through the gateway by a registered user (translate text, asr on espeak-ng
   speech, vision on a picture, convert an ffmpeg-made clip);
6. one worker kind scaled to 2 (an override file with ``deploy.replicas``: podman-compose 1.0.3 ignores
   ``--scale``), several jobs, and the two worker ids that ran them;
7. ``down -v``, and a summary with build times and image sizes.

Podman runs with deploy/docker/local/containers.conf (through CONTAINERS_CONF): runc and explicit
rlimits, without which no container starts on this machine. Not part of `make test` (it takes minutes).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

import requests
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

REPO = Path(__file__).resolve().parent.parent
COMPOSE_FILE = REPO / "deploy" / "docker-compose.yml"
LOCAL = REPO / "deploy" / "docker" / "local"
WORK = REPO / "var" / "compose-smoke"
PROJECT = "conveyor-smoke"
BASE_IMAGE = "localhost/conveyor-smoke-base:bookworm"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
BASE_PACKAGES = "python3,python3-pip,python3-venv,python-is-python3,ca-certificates"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
# The stand-ins for the images the compose file pulls: (variable, image, Dockerfile).
STAND_INS = [
    ("CONVEYOR_POSTGRES_IMAGE", "localhost/conveyor-smoke/postgres:15", "Dockerfile.postgres"),
    ("CONVEYOR_RABBITMQ_IMAGE", "localhost/conveyor-smoke/rabbitmq:3.10", "Dockerfile.rabbitmq"),
    ("CONVEYOR_NGINX_IMAGE", "localhost/conveyor-smoke/nginx:1.22", "Dockerfile.nginx"),
]
# The worker service scaled to 2: convert jobs last a second or two, long enough to be shared.
SCALED = "convert_worker"
TOOLS = {"podman": "podman", "podman-compose": "podman-compose", "debootstrap": "debootstrap", "runc": "runc",
         "espeak-ng": "espeak-ng"}  # espeak-ng speaks the asr job's input
# Letters and digits, and neither user name in it (the auth service refuses that).
PASSWORD = "Cv" + secrets.token_hex(8) + "x7"


def log(message: str) -> None:
    print(f"[compose-smoke {time.strftime('%H:%M:%S')}] {message}", flush=True)


def run(command: list[str], *, env: Optional[dict[str, str]] = None, log_file: Optional[Path] = None,
        check: bool = True, cwd: Path = REPO, timeout: float = 3600) -> subprocess.CompletedProcess:
    """Run a command; its output goes to ``log_file`` when given (else it is captured)."""
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        with log_file.open("a") as out:
            out.write(f"$ {' '.join(command)}\n")
            out.flush()
            result = subprocess.run(command, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                    text=True, timeout=timeout)
    else:
        result = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True,
                                timeout=timeout)
    if check and result.returncode != 0:
        where = f"see {log_file}" if log_file else (result.stderr or result.stdout).strip()[-3000:]
        raise RuntimeError(f"`{' '.join(command)}` failed ({result.returncode}): {where}")
    return result


# --- 0. tools -------------------------------------------------------------------------------------

def ensure_tools() -> None:
    missing = [package for tool, package in TOOLS.items() if shutil.which(tool) is None]
    if not missing:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise SystemExit(f"compose-smoke needs {' '.join(missing)} (Debian: apt-get install {' '.join(missing)})")
    log(f"installing {' '.join(missing)} from Debian")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run(["apt-get", "update", "-qq"], env=env)
    run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], env=env)


def podman_env() -> dict[str, str]:
    return {**os.environ, "CONTAINERS_CONF": str(LOCAL / "containers.conf")}


def image_exists(name: str) -> bool:
    return run(["podman", "image", "exists", name], env=podman_env(), check=False).returncode == 0


# --- 1. the base image ----------------------------------------------------------------------------

def build_base(logs: Path) -> Optional[float]:
    """Debian bookworm with Python 3.11 and pip, as a podman image; seconds taken (None: it existed)."""
    if image_exists(BASE_IMAGE):
        log(f"base image {BASE_IMAGE} exists, kept")
        return None
    rootfs = WORK / "rootfs"
    if rootfs.exists():  # a run cut short: start over
        shutil.rmtree(rootfs)
    log(f"debootstrap bookworm into {rootfs} (a few minutes)")
    started = time.monotonic()
    run(["debootstrap", "--variant=minbase", f"--include={BASE_PACKAGES}", "bookworm", str(rootfs), DEBIAN_MIRROR],
        log_file=logs / "base.log")
    # pip installs into the image's own Python, as in the python:3.11 images (PEP 668 marker removed).
    for marker in rootfs.glob("usr/lib/python3*/EXTERNALLY-MANAGED"):
        marker.unlink()
    # This machine reaches PyPI through a TLS-intercepting proxy whose CA only the host's bundle holds:
    # the image gets that bundle. Acceptable only because this base image never leaves this machine
    # (it is made here for the smoke run and never pushed anywhere).
    if HOST_CA_BUNDLE.is_file():
        shutil.copyfile(HOST_CA_BUNDLE, rootfs / "etc" / "ssl" / "certs" / "ca-certificates.crt")
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
    imported = subprocess.run(["podman", "import", "--change", "CMD [\"python3\"]", "-", BASE_IMAGE],
                              stdin=tar.stdout, env=podman_env(), capture_output=True, text=True)
    tar.wait()
    if tar.returncode or imported.returncode:
        raise RuntimeError(f"podman import failed: {imported.stderr.strip()}")
    shutil.rmtree(rootfs)
    return time.monotonic() - started


# --- 2. the images --------------------------------------------------------------------------------

def images_to_build(compose: dict[str, Any]) -> list[dict[str, Any]]:
    """Every image the compose file builds (once each), then the stand-ins: name, Dockerfile, args."""
    found: dict[str, dict[str, Any]] = {}
    for service in compose["services"].values():
        build = service.get("build")
        if build and service["image"] not in found:
            found[service["image"]] = {"image": service["image"], "dockerfile": build["dockerfile"],
                                       "args": dict(build.get("args", {}))}
    for _variable, image, dockerfile in STAND_INS:
        found[image] = {"image": image, "dockerfile": str((LOCAL / dockerfile).relative_to(REPO)), "args": {}}
    return list(found.values())


def build_images(compose: dict[str, Any], logs: Path, only: Optional[set[str]] = None) -> dict[str, float]:
    times = {}
    for spec in images_to_build(compose):
        if only and spec["image"] not in only:
            continue
        args = [arg for name, value in {**spec["args"], "BASE_IMAGE": BASE_IMAGE}.items()
                for arg in ("--build-arg", f"{name}={value}")]
        log_file = logs / f"build-{spec['image'].replace('/', '_').replace(':', '_')}.log"
        log(f"building {spec['image']} ({spec['dockerfile']}), log in {log_file.relative_to(REPO)}")
        started = time.monotonic()
        run(["podman", "build", "--network", "host", "-f", spec["dockerfile"], *args, "-t", spec["image"], "."],
            env=podman_env(), log_file=log_file)
        times[spec["image"]] = time.monotonic() - started
        log(f"built {spec['image']} in {times[spec['image']]:.0f} s")
    return times


def image_sizes(names: list[str]) -> dict[str, str]:
    sizes = {}
    for name in names:
        result = run(["podman", "image", "inspect", "--format", "{{.Size}}", name], env=podman_env(), check=False)
        sizes[name] = (f"{int(result.stdout.strip()) / 1e6:.0f} MB" if result.returncode == 0
                       else f"? ({(result.stderr or result.stdout).strip()[:200]})")
    return sizes


# --- 3. secrets -----------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_secrets() -> dict[str, str]:
    """A throwaway .env and key pair (README, "Production"); the variables compose interpolates."""
    secrets_dir = WORK / "secrets"
    secrets_dir.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = secrets_dir / "jwt_private.pem"
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    (secrets_dir / "jwt_public.pem").write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    # The containers run as uid 10001; only auth and init mount the private key.
    os.chmod(private, 0o600)
    if os.geteuid() == 0:
        os.chown(private, 10001, 10001)
    settings = {
        "CONVEYOR_ENV": "production",
        "CONVEYOR_SECRET_KEY": secrets.token_urlsafe(32),
        "CONVEYOR_WORKER_TOKEN": secrets.token_urlsafe(32),
        "CONVEYOR_ADMIN_TOKEN": secrets.token_urlsafe(32),
        "CONVEYOR_METRICS_TOKEN": secrets.token_urlsafe(32),
        "CONVEYOR_ADMIN_USERNAME": "admin",
        "CONVEYOR_ADMIN_PASSWORD": PASSWORD,
        "CONVEYOR_ADMIN_EMAIL": "admin@example.com",
        "POSTGRES_PASSWORD": secrets.token_urlsafe(24),
        "RABBITMQ_PASSWORD": secrets.token_urlsafe(24),
        "GUNICORN_WORKERS": "2",
    }
    env_file = WORK / "smoke.env"
    env_file.write_text("# Throwaway settings of one `make compose-smoke` run.\n"
                        + "".join(f"{name}={value}\n" for name, value in settings.items()))
    env_file.chmod(0o600)
    return {**settings, "CONVEYOR_ENV_FILE": str(env_file), "CONVEYOR_SECRETS_DIR": str(secrets_dir),
            "CONVEYOR_PORT": str(free_port()), "CONVEYOR_RABBITMQ_UI_PORT": str(free_port()),
            **{variable: image for variable, image, _ in STAND_INS}}


# --- 4. the stack ---------------------------------------------------------------------------------

class Stack:
    def __init__(self, variables: dict[str, str], logs: Path):
        self.env = {**podman_env(), **variables}
        self.logs = logs
        self.files = [COMPOSE_FILE]

    def compose(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        files = [arg for path in self.files for arg in ("-f", str(path))]
        return run(["podman-compose", "-p", PROJECT, *files, *args], env=self.env,
                   log_file=self.logs / "podman-compose.log", check=check, timeout=900)

    def podman(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return run(["podman", *args], env=self.env, check=check)

    def containers(self, service: str) -> list[str]:
        """The service's containers; podman-compose exits 0 even when it could not create one."""
        result = self.podman("ps", "-a", "--filter", f"label=io.podman.compose.project={PROJECT}",
                             "--filter", f"label=com.docker.compose.service={service}", "--format", "{{.Names}}")
        names = sorted(result.stdout.split())
        if not names:
            raise RuntimeError(f"podman-compose created no container for {service}: "
                               f"see {(self.logs / 'podman-compose.log').relative_to(REPO)}")
        return names

    def state(self, name: str) -> dict[str, Any]:
        return json.loads(self.podman("inspect", "--format", "{{json .State}}", name).stdout)

    def wait_for(self, service: str, condition: str, timeout: float = 300) -> None:
        """Block until every container of ``service`` meets a compose ``depends_on`` condition."""
        deadline = time.monotonic() + timeout
        for name in self.containers(service):
            while True:
                state = self.state(name)
                if condition == "service_started" and state["Running"]:
                    break
                if condition == "service_completed_successfully" and not state["Running"] \
                        and state["Status"] == "exited":
                    if state["ExitCode"] != 0:
                        raise RuntimeError(f"{name} exited with {state['ExitCode']}:\n{self.tail(name)}")
                    break
                if condition == "service_healthy":
                    # No systemd here to run the health checks on a timer: run them ourselves.
                    if state["Running"] and self.podman("healthcheck", "run", name, check=False).returncode == 0:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name} not {condition} after {timeout:.0f} s "
                                       f"(status {state['Status']}):\n{self.tail(name)}")
                time.sleep(2)

    def remove_leftovers(self) -> None:
        """Remove the project's containers, volumes and networks, found by podman-compose's label."""
        label = f"label=io.podman.compose.project={PROJECT}"
        for what, listing, removal in (("container", ["ps", "-a", "-q"], ["rm", "-f", "-t", "10"]),
                                       ("volume", ["volume", "ls", "-q"], ["volume", "rm", "-f"]),
                                       ("network", ["network", "ls", "-q"], ["network", "rm", "-f"])):
            found = self.podman(*listing, "--filter", label, check=False).stdout.split()
            if found:
                log(f"removing {len(found)} {what}(s) of project {PROJECT}")
                self.podman(*removal, *found, check=False)

    def tail(self, name: str, lines: int = 40) -> str:
        result = self.podman("logs", "--tail", str(lines), name, check=False)
        return (result.stdout + result.stderr).strip()

    def start_in_order(self, compose: dict[str, Any], services: Optional[list[str]] = None) -> list[str]:
        """Start created containers, each service once its `depends_on` conditions hold.

        podman-compose 1.0.3 reads `depends_on` for the order only: it starts every container at once
        without waiting for `condition: service_healthy` / `service_completed_successfully`. So the
        containers are created with `up --no-start`, and this starts them as compose would.
        """
        pending = list(services or compose["services"])
        started: list[str] = []
        while pending:
            # A dependency outside ``services`` runs already; its condition is still checked below.
            ready = [name for name in pending
                     if not set(compose["services"][name].get("depends_on", {})) & set(pending)]
            if not ready:
                raise RuntimeError(f"depends_on cycle among {pending}")
            for name in ready:
                for dependency, rule in compose["services"][name].get("depends_on", {}).items():
                    self.wait_for(dependency, rule.get("condition", "service_started"))
                log(f"starting {name}")
                for container in self.containers(name):
                    if not self.state(container)["Running"]:
                        self.podman("start", container)
                started.append(name)
                pending.remove(name)
        return started


# --- 5. jobs through the gateway ------------------------------------------------------------------

class Client:
    def __init__(self, base: str):
        self.base = base
        self.session = requests.Session()

    def login(self, username: str, password: str, register_email: Optional[str] = None) -> None:
        if register_email:
            answer = self.session.post(f"{self.base}/auth/v1/register", timeout=30, json={
                "username": username, "email": register_email, "password": password})
            if answer.status_code != 201:
                raise RuntimeError(f"register {username}: {answer.status_code} {answer.text[:300]}")
        answer = self.session.post(f"{self.base}/auth/v1/login", timeout=30,
                                   json={"username": username, "password": password})
        if answer.status_code != 200:
            raise RuntimeError(f"login {username}: {answer.status_code} {answer.text[:300]}")
        self.session.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"

    def submit(self, kind: str, path: Optional[Path] = None, **fields: Any) -> str:
        if path is None:
            answer = self.session.post(f"{self.base}/api/v1/jobs/{kind}", json=fields, timeout=60)
        else:
            with path.open("rb") as file:
                answer = self.session.post(f"{self.base}/api/v1/jobs/{kind}", data=fields,
                                           files={"file": (path.name, file)}, timeout=120)
        if answer.status_code != 202:
            raise RuntimeError(f"submit {kind}: {answer.status_code} {answer.text[:500]}")
        return answer.json()["id"]

    def wait(self, job_id: str, timeout: float = 600) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            job = self.session.get(f"{self.base}/api/v1/jobs/{job_id}", timeout=30).json()
            if job["status"] in ("succeeded", "failed", "cancelled", "partial"):
                return job
            if time.monotonic() > deadline:
                raise RuntimeError(f"job {job_id} still {job['status']} after {timeout:.0f} s")
            time.sleep(1)

    def result(self, job_id: str) -> Any:
        return self.session.get(f"{self.base}/api/v1/jobs/{job_id}/result", timeout=30).json()


def wait_ready(base: str, timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            answer = requests.get(f"{base}/readyz", timeout=5)
            if answer.status_code == 200:
                return answer.json()
            last = f"{answer.status_code} {answer.text[:300]}"
        except requests.RequestException as error:
            last = str(error)
        time.sleep(2)
    raise RuntimeError(f"{base}/readyz not ready after {timeout:.0f} s: {last}")


def make_media(directory: Path) -> dict[str, Path]:
    """Speech (espeak-ng), a short clip (ffmpeg test pattern with that speech) and a photograph."""
    sys.path.insert(0, str(REPO))
    from tests.media import speak, with_video  # the test suite's generators: espeak-ng and ffmpeg

    speech = speak("The quick brown fox jumps over the lazy dog.", directory / "speech.wav")
    clip = with_video(speech, directory / "clip.mp4")
    from PIL import Image
    from skimage import data  # scikit-image ships its sample pictures (requirements-dev.txt)

    photo = directory / "astronaut.jpg"
    Image.fromarray(data.astronaut()).save(photo, quality=90)
    return {"speech": speech, "clip": clip, "photo": photo}


def workers_of(admin: Client, kind: str) -> dict[str, str]:
    """Job id -> the worker that ran it (the administrators' job list shows it; owners do not see it)."""
    answer = admin.session.get(f"{admin.base}/api/v1/admin/jobs", params={"kind": kind, "per_page": 100},
                               timeout=30)
    answer.raise_for_status()
    return {job["id"]: job["worker_id"] for job in answer.json()["items"]}


def summary_of(job: dict[str, Any], answer: dict[str, Any], worker: str) -> str:
    """One line: the kind, its worker, and what shows the work was done."""
    result = answer.get("result") or {}
    shown: Any = {
        "translate": result.get("translated_text"),
        "asr": result.get("text"),
        "vision": [f"{d['label']} {d['probability']:.2f}" for d in result.get("detections", [])][:4]
        or [f"{c['label']} {c['score']:.2f}" for c in result.get("class_scores", [])][:3],
        "convert": {"artifact": result.get("artifact"), "audio": result.get("audio")},
    }.get(job["kind"]) or result
    return f"{job['kind']:9} {job['status']:9} by {worker}: {json.dumps(shown, ensure_ascii=False)[:200]}"


def one_job_of_each_kind(client: Client, admin: Client, media: dict[str, Path]) -> list[str]:
    submitted = [
        client.submit("translate", text="The cat is black. I would like a cup of coffee.",
                      source_lang="en", target_lang="es"),
        client.submit("asr", media["speech"]),
        client.submit("vision", media["photo"]),
        client.submit("convert", media["clip"], target="mp3"),
    ]
    lines = []
    for job_id in submitted:
        job = client.wait(job_id)
        lines.append(summary_of(job, client.result(job_id), workers_of(admin, job["kind"]).get(job_id, "?")))
        log(lines[-1])
        if job["status"] != "succeeded":
            raise RuntimeError(f"{job['kind']} job {job_id} {job['status']}: {job.get('error')}")
    return lines


# --- 6. scaling -----------------------------------------------------------------------------------

def scale(stack: Stack, compose: dict[str, Any], service: str, replicas: int) -> list[str]:
    """`--scale service=N`, the way podman-compose 1.0.3 can: an override file with deploy.replicas."""
    override = WORK / f"scale-{service}.yml"
    override.write_text(yaml.safe_dump({"services": {service: {"deploy": {"replicas": replicas}}}}))
    stack.files = [COMPOSE_FILE, override]
    # Creates the new replicas; the existing containers' names are taken, which it reports and skips.
    stack.compose("up", "--no-build", "--no-start", check=False)
    stack.start_in_order(compose, [service])
    return stack.containers(service)


def spread_over_replicas(client: Client, admin: Client, media: dict[str, Path],
                         jobs: int = 8) -> dict[str, list[int]]:
    """Convert jobs submitted at once; the job numbers each worker ran (prefetch 1: they share)."""
    ids = [client.submit(SCALED.removesuffix("_worker"), media["clip"], target="mp3", audio_bitrate="64k")
           for _ in range(jobs)]
    numbers = {}
    for job_id in ids:
        job = client.wait(job_id)
        if job["status"] != "succeeded":
            raise RuntimeError(f"convert job {job_id} {job['status']}: {job.get('error')}")
        numbers[job_id] = job["number"]
    workers = workers_of(admin, SCALED.removesuffix("_worker"))
    by_worker: dict[str, list[int]] = {}
    for job_id, number in numbers.items():
        by_worker.setdefault(workers[job_id], []).append(number)
    return by_worker


def live_workers(admin: Client, kind: str) -> list[str]:
    answer = admin.session.get(f"{admin.base}/api/v1/admin/operations", timeout=30)
    answer.raise_for_status()
    return sorted(worker["id"] for worker in answer.json()["workers"] if worker["kind"] == kind)


# --- main -----------------------------------------------------------------------------------------

def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--skip-build", action="store_true", help="use the images already built")
    parser.add_argument("--keep", action="store_true", help="leave the stack running (no `down -v`)")
    args = parser.parse_args(argv)

    WORK.mkdir(parents=True, exist_ok=True)
    logs = WORK / "logs"
    if logs.exists():
        shutil.rmtree(logs)
    logs.mkdir()
    ensure_tools()
    compose_version = re.search(r"podman-composer? version\s+(\S+)",
                                run(["podman-compose", "version"], check=False).stdout)
    report: dict[str, Any] = {"podman": run(["podman", "--version"]).stdout.strip(),
                              "podman-compose": compose_version.group(1) if compose_version else "?"}

    base_seconds = build_base(logs)
    report["base image"] = f"built in {base_seconds:.0f} s" if base_seconds else "existed"
    variables = write_secrets()
    # Read as written: only the services' names, images, builds and depends_on are used here.
    compose_raw = yaml.safe_load(COMPOSE_FILE.read_text())
    build_times = {} if args.skip_build else build_images(compose_raw, logs)
    names = [BASE_IMAGE, *(spec["image"] for spec in images_to_build(compose_raw))]
    sizes = image_sizes(names)

    stack = Stack(variables, logs)
    stack.remove_leftovers()  # of a run left up with --keep, or cut short
    base = f"http://127.0.0.1:{variables['CONVEYOR_PORT']}"
    results: dict[str, Any] = {}
    failed: Optional[BaseException] = None
    started = time.monotonic()
    try:
        log("podman-compose up --no-start (creates the network, volumes and containers)")
        stack.compose("up", "--no-build", "--no-start")
        stack.start_in_order(compose_raw)
        ready = wait_ready(base)
        results["stack up"] = f"{time.monotonic() - started:.0f} s to /readyz 200 ({json.dumps(ready)[:200]})"
        log(results["stack up"])

        media = make_media(Path(tempfile.mkdtemp(dir=WORK)))
        client = Client(base)
        client.login("smoke", PASSWORD, register_email="smoke@example.com")
        admin = Client(base)
        admin.login(variables["CONVEYOR_ADMIN_USERNAME"], PASSWORD)
        results["one job of each kind"] = one_job_of_each_kind(client, admin, media)

        kind = SCALED.removesuffix("_worker")
        replicas = scale(stack, compose_raw, SCALED, 2)
        log(f"{SCALED} replicas: {replicas}")
        deadline = time.monotonic() + 120
        while len(live_workers(admin, kind)) < 2 and time.monotonic() < deadline:
            time.sleep(2)
        results["live workers after scaling"] = live_workers(admin, kind)
        if len(results["live workers after scaling"]) < 2:
            raise RuntimeError(f"the operations view shows {results['live workers after scaling']} after scaling")
        spread = spread_over_replicas(client, admin, media)
        results["jobs per worker"] = spread
        log(f"jobs per {kind} worker: {spread}")
        if len(spread) < 2:
            raise RuntimeError(f"only {list(spread)} ran the {kind} jobs")
    except Exception as error:  # noqa: BLE001 - whatever failed is reported, and the stack comes down
        failed = error
        results["failed"] = f"{type(error).__name__}: {error}"
        for container in stack.podman("ps", "-a", "--filter", f"label=io.podman.compose.project={PROJECT}",
                                      "--format", "{{.Names}} {{.Status}}", check=False).stdout.splitlines():
            log(f"container {container}")
    finally:
        if not args.keep:
            log("podman-compose down -v")
            stack.compose("down", "-v", check=False)
            stack.remove_leftovers()  # podman-compose 1.0.3 leaves the project's network behind

    print("\n=== compose smoke summary ===")
    for name, value in report.items():
        print(f"{name}: {value}")
    print("build times:", json.dumps({k: f"{v:.0f} s" for k, v in build_times.items()}, indent=2))
    print("image sizes:", json.dumps(sizes, indent=2))
    for name, value in results.items():
        if isinstance(value, list):
            print(f"{name}:")
            for line in value:
                print(f"  {line}")
        else:
            print(f"{name}: {value}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
