"""One function per `conveyor` command, ``(client, args) -> exit code``; notes go to stderr."""

from __future__ import annotations

import getpass
import json
import mimetypes
import os
import sys
from email.message import Message
from pathlib import Path
from typing import Any, Iterator, Optional

import requests

from conveyor_cli.client import ApiClient, NotLoggedIn
from conveyor_cli.errors import EXIT_JOB_UNSUCCESSFUL, EXIT_OK, ApiError, CliError
from conveyor_cli.follow import follow_job
from conveyor_cli.progress import JobProgressBar
from conveyor_cli.render import (
    KINDS,
    kind_line,
    model_lines,
    pair_lines,
    parameter_lines,
    result_lines,
    submitted_line,
    target_lines,
)
from conveyor_cli.sse import ServerEvent, parse_events

# A stream may stay silent between keep-alives (15 s); four missed ones mean it is dead.
EVENTS_TIMEOUT = (10, 60)


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False))


def note(message: str) -> None:
    """A line for the person at the terminal, kept out of stdout so that output stays pipeable."""
    print(message, file=sys.stderr)


def _jobs(job_id: str, suffix: str = "") -> str:
    return f"/api/v1/jobs/{job_id}{suffix}"


# --- login -------------------------------------------------------------------------------------


def _ask(prompt: str, secret: bool = False) -> str:
    try:
        answer = getpass.getpass(prompt) if secret else input(prompt)
    except EOFError as exc:
        raise CliError(
            f"Nothing to read for {prompt.strip(': ')!r}; pass it as an option."
        ) from exc
    if not answer.strip():
        raise CliError(f"{prompt.strip(': ')} is empty.")
    return answer.strip() if not secret else answer


def login(client: ApiClient, args) -> int:
    """Log in with a password (tokens) or an API key, and remember it for this server."""
    if args.api_key is not None:
        key = args.api_key or _ask("API key: ", secret=True)
        me = client.json("GET", "/auth/v1/me", auth=False, headers={"X-API-Key": key})
        entry = {"username": me["username"], "api_key": key}
    else:
        name = args.username or _ask("Username or e-mail: ")
        password = args.password if args.password is not None else _ask("Password: ", secret=True)
        tokens = client.json(
            "POST", "/auth/v1/login", auth=False, json={"login": name, "password": password}
        )
        me = client.json(
            "GET",
            "/auth/v1/me",
            auth=False,
            headers={"Authorization": f"Bearer {tokens['access_token']}"},
        )
        entry = {
            "username": me["username"],
            "access_token": tokens["access_token"],
            "refresh_token": tokens["refresh_token"],
        }
    client.store.put(client.base_url, entry)
    note(f"Logged in to {client.base_url} as {me['username']} (saved in {client.store.path}).")
    return EXIT_OK


def logout(client: ApiClient, args) -> int:
    """End the login session on the server (tokens) and forget the stored login."""
    stored = client.store.get(client.base_url)
    if stored.get("access_token"):
        try:
            client.request("POST", "/auth/v1/logout").close()
        except (NotLoggedIn, ApiError):
            pass  # an expired or revoked session needs no ending: forgetting it is all that is left
    if not client.store.forget(client.base_url):
        note(f"Not logged in to {client.base_url}.")
        return EXIT_OK
    note(f"Logged out of {client.base_url}.")
    return EXIT_OK


# --- jobs --------------------------------------------------------------------------------------


def parse_options(pairs: list[str]) -> dict[str, str]:
    """``key=value`` strings as a dict; the API converts the values to the types it expects."""
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise CliError(f"Option {pair!r} is not key=value.")
        options[key.strip()] = value
    return options


def stdin_text(stream: Any = None) -> str:
    """The text piped to ``--text -``, without the one newline that ends the last line of a file."""
    text = (stream or sys.stdin).read()
    if text.endswith("\r\n"):
        return text[:-2]
    return text[:-1] if text.endswith("\n") else text


def _submission_fields(args) -> dict[str, Any]:
    fields: dict[str, Any] = parse_options(args.option or [])
    if args.text is not None:
        fields["text"] = stdin_text() if args.text == "-" else args.text
    for name in ("source_lang", "target_lang", "priority"):
        if getattr(args, name) is not None:
            fields[name] = getattr(args, name)
    return fields


def _readable_upload(name: str) -> Path:
    """The local input file, refused as bad usage before anything is sent when it cannot be read."""
    upload = Path(name)
    if not upload.exists():
        raise CliError(f"No such file: {upload}")
    if not upload.is_file():
        raise CliError(f"Not a file: {upload}")
    if not os.access(upload, os.R_OK):
        raise CliError(f"Cannot read {upload}: permission denied")
    return upload


def submit(client: ApiClient, args) -> int:
    """Submit a job (text as JSON, a file as multipart); --wait follows it and prints its result."""
    if args.download is not None and not args.wait:
        raise CliError("--download needs --wait (or run `conveyor result ID --download` later).")
    fields = _submission_fields(args)
    path = f"/api/v1/jobs/{args.kind}"
    if args.file is None:
        job = client.json("POST", path, json=fields)
    else:
        upload = _readable_upload(args.file)
        content_type = mimetypes.guess_type(upload.name)[0] or "application/octet-stream"
        with upload.open("rb") as stream:
            job = client.json(
                "POST", path, data=fields, files={"file": (upload.name, stream, content_type)}
            )
    if not args.wait:
        if args.json:
            print_json(job)
        else:
            print(submitted_line(job))
        return EXIT_OK
    note(f"Job {job['id']} ({job['kind']} #{job['number']}) is {job['status']}.")
    return _wait_and_report(client, job, args)


def watch(client: ApiClient, args) -> int:
    """Follow a submitted job with a progress bar and print its result."""
    job = client.json("GET", _jobs(args.id))
    return _wait_and_report(client, job, args)


def _events(client: ApiClient, job_id: str) -> Iterator[ServerEvent]:
    response = client.request(
        "GET",
        _jobs(job_id, "/events"),
        stream=True,
        timeout=EVENTS_TIMEOUT,
        headers={"Accept": "text/event-stream"},
    )
    with response:
        yield from parse_events(response.iter_content(chunk_size=None))


def _wait_and_report(client: ApiClient, job: dict[str, Any], args) -> int:
    job_id = job["id"]
    with JobProgressBar(f"{job['kind']} #{job['number']}") as bar:
        status = follow_job(
            lambda: _events(client, job_id), lambda: client.json("GET", _jobs(job_id)), bar.update
        )
    download_dir = args.download
    if download_dir is None and job["kind"] == "convert" and status == "succeeded" and not args.json:
        # The converted file is what a person waits for; it lands here unless --download says where.
        download_dir = "."
    if status in ("succeeded", "partial"):
        _report_result(client, client.json("GET", _jobs(job_id)), args.json, download_dir)
    if status == "succeeded":
        return EXIT_OK
    job = client.json("GET", _jobs(job_id))
    raise CliError(
        f"Job {job_id} ended {status}: {job.get('error') or 'no reason given'}.",
        EXIT_JOB_UNSUCCESSFUL,
    )


def _report_result(
    client: ApiClient, job: dict[str, Any], as_json: bool, download_dir: Optional[str]
) -> None:
    """Print a finished job's result (human lines, or the API's JSON) and save its artifacts."""
    body = client.json("GET", _jobs(job["id"], "/result"))
    saved = save_artifacts(client, job, download_dir) if download_dir is not None else []
    if as_json:
        print_json({**body, "downloaded": [str(path) for path in saved]} if saved else body)
        return
    if body.get("status") == "partial":
        note(f"Job {job['id']} ended partial: {body.get('error') or 'only part of it was done'}.")
    lines = result_lines(job["kind"], body.get("result"))
    if lines is None:
        print_json(body)
    elif job["kind"] == "convert" and saved:
        note(lines[0])
    else:
        for line in lines:
            print(line)
        if job["kind"] == "convert":
            name = (body.get("result") or {}).get("artifact", "ARTIFACT")
            note(f"Save it with: conveyor download {job['id']} {name}  (or --download DIR)")
        elif job.get("artifacts") and download_dir is None:
            names = ", ".join(a["name"] for a in job["artifacts"])
            note(f"Artifacts: {names} (save them with: conveyor result {job['id']} --download DIR)")
    for path in saved:
        print(path)


def save_artifacts(client: ApiClient, job: dict[str, Any], directory: str) -> list[Path]:
    """Download every artifact of ``job`` into ``directory``, never overwriting a file there."""
    artifacts = job.get("artifacts") or []
    if not artifacts:
        note(f"Job {job['id']} has no artifacts to download.")
        return []
    folder = Path(directory)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"Cannot create {folder}: {exc.strerror or exc}.") from exc
    saved = []
    for artifact in artifacts:
        response = client.request(
            "GET",
            _jobs(job["id"], f"/artifacts/{requests.utils.quote(artifact['name'], safe='')}"),
            stream=True,
        )
        name = plain_name(artifact["name"]) or "artifact"
        saved.append(write_file(response, unused_path(folder / name)))
    return saved


def unused_path(path: Path) -> Path:
    """``path``, or ``stem-1.ext``, ``stem-2.ext``, ... when a file already has that name."""
    candidate, number = path, 0
    while candidate.exists():
        number += 1
        candidate = path.with_name(f"{path.stem}-{number}{path.suffix}")
    return candidate


def _percent(job: dict[str, Any]) -> str:
    percent = (job.get("progress") or {}).get("percent")
    return "" if percent is None else f"{percent:.0f}%"


def status(client: ApiClient, args) -> int:
    """One job's status, progress, input and artifacts."""
    job = client.json("GET", _jobs(args.id))
    if args.json:
        print_json(job)
        return EXIT_OK
    progress = job.get("progress") or {}
    rows = [
        ("id", job["id"]),
        ("kind", f"{job['kind']} #{job['number']}"),
        ("status", f"{job['status']} {_percent(job)}".strip()),
        ("priority", job.get("priority")),
        ("queue", progress.get("queue_position")),
        ("error", job.get("error")),
        ("created", job.get("created_at")),
        ("finished", job.get("finished_at")),
    ]
    if job.get("input"):
        rows.append(("input", f"{job['input']['filename']} ({job['input']['size']} bytes)"))
    rows.extend(
        ("artifact", f"{a['name']} ({a['size']} bytes)") for a in job.get("artifacts") or []
    )
    for name, value in rows:
        if value not in (None, ""):
            print(f"{name:<9} {value}")
    return EXIT_OK


def result(client: ApiClient, args) -> int:
    """The result of a finished job: what a person wants from it, or --json; --download saves artifacts."""
    _report_result(client, client.json("GET", _jobs(args.id)), args.json, args.download)
    return EXIT_OK


def list_jobs(client: ApiClient, args) -> int:
    """The caller's jobs, newest first, as a table (or JSON)."""
    query = {"page": args.page, "per_page": args.per_page}
    query.update({name: getattr(args, name) for name in ("kind", "status") if getattr(args, name)})
    page = client.json("GET", "/api/v1/jobs", params=query)
    if args.json:
        print_json(page)
        return EXIT_OK
    print(f"{'ID':<36}  {'KIND':<9} {'#':>5}  {'STATUS':<10} {'DONE':>4}  CREATED")
    for job in page["items"]:
        print(
            f"{job['id']:<36}  {job['kind']:<9} {job['number']:>5}  {job['status']:<10} "
            f"{_percent(job):>4}  {job['created_at']}"
        )
    pages = max(1, -(-page["total"] // page["per_page"]))
    note(f"page {page['page']} of {pages}, {page['total']} job(s)")
    return EXIT_OK


def cancel(client: ApiClient, args) -> int:
    """Cancel a queued or running job (the API refuses once it has finished)."""
    job = client.json("POST", _jobs(args.id, "/cancel"))
    if args.json:
        print_json(job)
    else:
        note(f"Job {job['id']} is {job['status']}.")
    return EXIT_OK


def delete(client: ApiClient, args) -> int:
    """Delete a job and its files."""
    client.request("DELETE", _jobs(args.id)).close()
    note(f"Deleted job {args.id}.")
    return EXIT_OK


# --- files -------------------------------------------------------------------------------------


def suggested_filename(content_disposition: Optional[str]) -> Optional[str]:
    """The file name a Content-Disposition header suggests, without any directory part."""
    if not content_disposition:
        return None
    header = Message()
    header["content-disposition"] = content_disposition
    return plain_name(header.get_filename() or "")


def plain_name(name: str) -> Optional[str]:
    """A server-chosen name reduced to its last part, so that it cannot climb out of a folder."""
    name = Path(name.replace("\\", "/")).name
    return name if name not in ("", ".", "..") else None


def save_response(response: requests.Response, target: Optional[str], fallback: str) -> None:
    """Write a streamed body to ``target`` (``-``: stdout), else to the name the server suggests."""
    if target == "-":
        with response:
            for chunk in response.iter_content(64 * 1024):
                sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.flush()
        return
    if target is None:
        path = Path(suggested_filename(response.headers.get("Content-Disposition")) or fallback)
        if path.exists():
            response.close()
            raise CliError(f"{path} already exists; choose another name with -O.")
    else:
        path = Path(target)
    write_file(response, path)


def write_file(response: requests.Response, path: Path) -> Path:
    """Stream a response body into ``path``; say on stderr what was saved."""
    size = 0
    with response:
        try:
            with path.open("wb") as stream:
                for chunk in response.iter_content(64 * 1024):
                    stream.write(chunk)
                    size += len(chunk)
        except OSError as exc:
            raise CliError(f"Cannot write {path}: {exc.strerror or exc}.") from exc
    note(f"Saved {path} ({size} bytes).")
    return path


def export(client: ApiClient, args) -> int:
    """The result in a file format (txt, srt, vtt, docx, json, ... as the job's kind offers)."""
    response = client.request(
        "GET", _jobs(args.id, "/export"), params={"format": args.format}, stream=True
    )
    save_response(response, args.output, f"{args.id}.{args.format}")
    return EXIT_OK


def download(client: ApiClient, args) -> int:
    """The job's input file, or one of its artifacts by name."""
    suffix = (
        f"/artifacts/{requests.utils.quote(args.artifact, safe='')}" if args.artifact else "/input"
    )
    response = client.request("GET", _jobs(args.id, suffix), stream=True)
    save_response(response, args.output, args.artifact or f"{args.id}.input")
    return EXIT_OK


# --- what can be submitted ---------------------------------------------------------------------


def kinds(client: ApiClient, args) -> int:
    """The four kinds of job, one line each."""
    if args.json:
        print_json([{"kind": kind, "summary": summary, "example": example}
                    for kind, (summary, example) in KINDS.items()])
        return EXIT_OK
    for kind in KINDS:
        print(kind_line(kind))
    note("Each kind's options: conveyor options KIND")
    return EXIT_OK


def _params_schema(client: ApiClient, kind: str) -> dict[str, Any]:
    """The kind's submit parameters as the API's OpenAPI document describes them."""
    spec = client.json("GET", "/openapi.json", auth=False)
    name = f"{kind.capitalize()}Params"
    try:
        return spec["components"]["schemas"][name]
    except (KeyError, TypeError) as exc:
        raise CliError(f"{client.base_url}/openapi.json does not describe {name}.", 1) from exc


def options(client: ApiClient, args) -> int:
    """A kind's parameters, and what its live workers offer: models, language pairs or targets."""
    schema = _params_schema(client, args.kind)
    found: dict[str, Any] = {"kind": args.kind, "parameters": schema.get("properties") or {}}
    lines = [f"Options of {args.kind}:", *parameter_lines(schema)]
    if args.kind in ("asr", "vision"):
        models = client.json("GET", "/api/v1/models", auth=False).get(args.kind) or []
        found["models"] = models
        lines += model_lines(args.kind, models) if models else [f"No running {args.kind} worker reports models now."]
    elif args.kind == "translate":
        pairs = client.json("GET", "/api/v1/languages", auth=False).get("pairs") or []
        found["pairs"] = pairs
        lines += pair_lines(pairs) if pairs else ["No running translate worker serves a language pair now."]
    elif args.kind == "convert":
        targets = client.json("GET", "/api/v1/models", auth=False).get("convert") or []
        found["targets"] = targets
        lines += target_lines(targets) if targets else ["No running convert worker reports targets now."]
    if args.json:
        print_json(found)
        return EXIT_OK
    for line in lines:
        print(line)
    return EXIT_OK
