"""Pipeline logic of the API service, callable without HTTP: submit, look up, view, cancel, retry.

The DAG's shape is checked by shared.pipelineflow, each step's options by its kind's contract
(services.api.kinds): a step that cannot run here (an unknown option, a language pair no worker
serves, OCR that no vision worker offers) is refused at submit with 400, not failed later. The
steps that can start at once are queued in the submit's own transaction (job and outbox rows);
shared.pipelineflow.advance starts the others as their inputs succeed.

Limits count a pipeline's steps. The upload is stored once under CONVEYOR_MAX_UPLOAD_MB, like a
job's (413 past it). For CONVEYOR_MAX_ACTIVE_JOBS a pipeline reserves its whole DAG at submit:
every step counts as an active job from then until its job has ended (see
shared.jobflow.lock_user_and_count_active_jobs), so a pipeline is refused with the same 429 as a
job when its steps would take the user past the limit, and a step starting later never does
(nor waits for a slot). A pipeline with more steps than the limit could never run: 400. A retry
reserves again the steps it will run.
"""
from __future__ import annotations

import logging
import mimetypes
import uuid
from contextlib import nullcontext
from pathlib import Path
from typing import Any, BinaryIO, ContextManager, Optional

from flask import current_app, url_for
from marshmallow import ValidationError
from sqlalchemy import func, select

from services.api import quota
from services.api.idempotency import earlier_job, remember
from services.api.jobs import NotFound, owned, safe_filename, storage
from services.api.kinds import SPECS, SubmitRefused
from services.api.kinds.base import live_models, require_workers
from services.api.kinds.convert import offered_targets, require_subtitles_offered
from services.api.pipeline_presets import expand
from shared import jobflow, pipelineflow, webhooks
from shared.db import db, transaction, unit_of_work
from shared.kinds import KINDS
from shared.kinds.asr.exports import FORMATS as TRANSCRIPT_FORMATS
from shared.kinds.asr.exports import export
from shared.kinds.asr.params import validate_params as validate_asr_params
from shared.kinds.convert.targets import TARGETS
from shared.kinds.vision.catalog import TEXT_ID
from shared.models import Job, Pipeline, User
from shared.pipelineflow import UPLOAD, PipelineRefused, Step
from shared.retention import expiry
from shared.states import ACTIVE, JobStatus, values
from shared.storage import StorageLimitExceeded

LOGGER = logging.getLogger(__name__)

# Options that belong to the pipeline as a whole, not to one of its steps.
PIPELINE_LEVEL_OPTIONS = ("priority", "callback_url", "callback_progress")
# Stands in for text that an earlier step will make, so a translate step's pair is checked at submit.
PENDING_TEXT = "text"
# Stands in for the subtitles that earlier steps will make, so a convert step's options are checked at submit.
PENDING_SUBTITLES = "WEBVTT\n\n00:00.000 --> 00:00.001\n-\n"
# Rough seconds a step of each kind takes, for the pipeline's weighted progress (asr: per audio second).
EXPECTED_SECONDS = {"convert": 5.0, "vision": 3.0, "translate": 2.0, "asr": 10.0}
ASR_SECONDS_PER_AUDIO_SECOND = 0.5
# Which convert targets each file-reading kind can take as input.
CONVERT_FEEDS = {"asr": ("audio", "video"), "vision": ("image",), "convert": ("audio", "video", "image")}


def _load_options(step: Step) -> dict[str, Any]:
    """The step's options through its kind's schema (unknown fields refused, defaults filled)."""
    for name in PIPELINE_LEVEL_OPTIONS:
        if name in step.options:
            raise SubmitRefused(f"{name} is set on the pipeline, not on a step.")
    options = dict(step.options)
    if step.kind == "translate" and step.input is not None:
        if "text" in options:
            raise SubmitRefused(f"its text comes from step {step.input!r}; leave out options.text.")
        options["text"] = PENDING_TEXT
    try:
        params = SPECS[step.kind].params_schema().load(options)
    except ValidationError as exc:
        raise SubmitRefused(f"invalid options {exc.messages}.") from None
    for name in PIPELINE_LEVEL_OPTIONS:
        params.pop(name, None)
    return params


def _check_text_step(step: Step, params: dict[str, Any], steps: dict[str, Step]) -> dict[str, Any]:
    """A translate step: its pair now; its text later, from the step it reads (or its own)."""
    if step.input is None:
        return SPECS["translate"].check(params, None)
    if params["source_lang"].strip().lower() == "auto":
        raise SubmitRefused("source_lang 'auto' needs the text at submit; name the language.")
    parent = steps[step.input]
    if parent.kind == "vision" and str(parent.options.get("detection_model_id")) != str(TEXT_ID):
        raise SubmitRefused(f"step {parent.name!r} finds no text: give it detection_model_id "
                            f"{TEXT_ID} (PP-OCRv4), the vision model that reads text.")
    checked = SPECS["translate"].check(params, None)
    return {key: value for key, value in checked.items() if key not in ("text", "word_count")}


def _check_file_from_step(step: Step, params: dict[str, Any], steps: dict[str, Step]) -> dict[str, Any]:
    """A step reading an earlier convert step's file, which does not exist yet: options and workers."""
    parent = steps[step.input]
    made = TARGETS.get(str(parent.options.get("target")))
    if made is None or made.kind not in CONVERT_FEEDS[step.kind]:
        raise SubmitRefused(f"step {parent.name!r} must convert to a {' or '.join(CONVERT_FEEDS[step.kind])} "
                            f"target for a {step.kind} job to read it.")
    capabilities = require_workers(step.kind)
    if step.kind == "asr":
        try:
            return validate_asr_params(params, models=live_models("asr"))
        except ValueError as exc:
            raise SubmitRefused(str(exc)) from exc
    if step.kind == "convert" and str(params.get("target")) not in offered_targets(capabilities):
        raise SubmitRefused(f"no running convert worker makes {params.get('target')!r}.")
    if step.kind == "convert":
        require_subtitles_offered(params, capabilities)
    return params


def check_step(step: Step, steps: dict[str, Step], upload_path: Optional[Path]) -> dict[str, Any]:
    """The step's parameters as its kind's contract normalizes them, or SubmitRefused naming the step."""
    try:
        params = _load_options(step)
        if step.subtitles:
            return _check_subtitled_video(step, params, steps, upload_path)
        if step.kind == "vision" and params.get("detection_model_id") == TEXT_ID:
            _require_ocr()
        if step.kind == "translate":
            return _check_text_step(step, params, steps)
        if step.input == UPLOAD:
            return SPECS[step.kind].check(params, upload_path)
        return _check_file_from_step(step, params, steps)
    except SubmitRefused as exc:
        raise SubmitRefused(f"Step {step.name!r} ({step.kind}): {exc}", exc.status) from None


def _check_subtitled_video(step: Step, params: dict[str, Any], steps: dict[str, Step],
                           upload_path: Optional[Path]) -> dict[str, Any]:
    """A convert step putting other steps' transcripts into the video: checked with stand-in subtitles.

    Their languages are known now (each step's target_lang or asr language), their text only when
    those steps succeed (shared.pipelineflow wires it in), as a translate step's text is.
    """
    if "subtitles" in params:
        raise SubmitRefused("its subtitles come from the steps it names; leave out options.subtitles.")
    tracks = []
    for name in step.subtitles:
        source = steps[name]
        language = pipelineflow.subtitle_language({"kind": source.kind, "params": source.options})
        if language is None:
            raise SubmitRefused(f"step {name!r} must name its language (asr: language) to tag its subtitles.")
        tracks.append({"language": language, "text": PENDING_SUBTITLES})
    with_tracks = {**params, "subtitles": tracks}
    checked = (SPECS["convert"].check(with_tracks, upload_path) if step.input == UPLOAD
               else _check_file_from_step(step, with_tracks, steps))
    return {key: value for key, value in checked.items() if key != "subtitles"}


def _require_ocr() -> None:
    """400 unless a live vision worker offers the text-reading model (PP-OCRv4)."""
    require_workers("vision")
    if not any(int(model.get("id", -1)) == TEXT_ID for model in live_models("vision")):
        raise SubmitRefused("no running vision worker reads text (PP-OCRv4 is not installed there).")


def _steps_of(body: dict[str, Any]) -> list[Step]:
    """The request's steps, from its preset or as given, checked as a DAG."""
    if body.get("preset") and body.get("steps"):
        raise PipelineRefused("Give either a preset (with its options) or steps, not both.")
    if body.get("preset"):
        raw = expand(body["preset"], body.get("options"))
    else:
        raw = body.get("steps")
    return pipelineflow.check_dag(raw, KINDS)


def submit(user: User, body: dict[str, Any], upload: Optional[BinaryIO] = None, filename: Optional[str] = None,
           content_type: Optional[str] = None, idempotency: Optional[tuple[str, str]] = None) -> Pipeline:
    """Check every step, store the upload once, write the pipeline and queue its first steps together.

    ``idempotency`` is ``(key, request digest)``: the key is recorded in the same transaction, against
    the pipeline's first job (the keys table points at jobs; the job leads back to its pipeline).
    """
    if not user.may_submit:
        raise SubmitRefused("This account may not submit jobs; ask an administrator.", 403)
    try:
        steps = _steps_of(body)
    except PipelineRefused as exc:
        raise SubmitRefused(str(exc)) from None
    callback_url = body.get("callback_url")
    if callback_url:
        try:
            webhooks.check_callback_url(callback_url, current_app.config["WEBHOOK_ALLOWED_HOSTS"])
        except webhooks.CallbackRefused as exc:
            raise SubmitRefused(str(exc)) from None
    reads_upload = any(step.input == UPLOAD for step in steps)
    if reads_upload and upload is None:
        raise SubmitRefused("A step reads the upload: send multipart/form-data with a 'file' part and the "
                            "other fields beside it (options and steps as JSON text).")
    if upload is not None and not reads_upload:
        raise SubmitRefused("No step reads the uploaded file; set a step's input to \"upload\".")
    pipeline_id = uuid.uuid4()
    input_key, size = _store_upload(pipeline_id, upload, filename) if upload is not None else (None, None)
    try:
        with transaction(), _lent_upload(input_key) as upload_path:
            by_name = {step.name: step for step in steps}
            stored = [{"name": step.name, "kind": step.kind, "input": step.input,
                       "params": check_step(step, by_name, upload_path),
                       **({"subtitles": list(step.subtitles)} if step.subtitles else {})} for step in steps]
            pipeline = Pipeline(id=pipeline_id, user_id=user.id, status=pipelineflow.RUNNING,
                                preset=body.get("preset"), steps=stored, priority=body.get("priority", "normal"),
                                run=1, input_key=input_key, input_size=size, callback_url=callback_url)
            if callback_url:
                webhooks.secret_for(user)
            if input_key:
                pipeline.input_filename = safe_filename(filename)
                pipeline.input_content_type = (content_type or mimetypes.guess_type(pipeline.input_filename)[0]
                                               or "application/octet-stream")
            _check_active_limit(user, len(stored))
            if input_key:
                quota.check(user.id, size)  # under the user's row lock _check_active_limit took
            db.session.add(pipeline)
            db.session.flush()
            started = pipelineflow.start_ready_steps(pipeline)
            if idempotency:
                remember(user.id, idempotency[0], idempotency[1], started[0])
    except BaseException:
        if input_key:
            storage().delete_prefix(f"pipelines/{pipeline_id}")
        raise
    LOGGER.info("pipeline %s: submitted by user %s (%d steps%s)", pipeline.id, user.id, len(stored),
                f", preset {pipeline.preset}" if pipeline.preset else "")
    return pipeline


def _lent_upload(input_key: Optional[str]) -> ContextManager[Optional[Path]]:
    """The stored upload as a file on this machine for the steps' checks (probing media), if any."""
    return storage().local_copy(input_key) if input_key else nullcontext()


def _store_upload(pipeline_id: uuid.UUID, upload: BinaryIO, filename: Optional[str]) -> tuple[str, int]:
    """Store the pipeline's file once, where every step reading "upload" will find it: (key, size)."""
    key = f"pipelines/{pipeline_id}/input/{safe_filename(filename)}"
    size_limit = quota.upload_limit()
    try:
        return key, storage().save(key, upload, max_bytes=size_limit)
    except StorageLimitExceeded:
        raise quota.too_large(size_limit) from None


def _check_active_limit(user: User, reserving: int) -> None:
    """429 when ``reserving`` more steps would take the user past the active-job limit (400 if they never fit).

    The count (taken under a lock on the user's row) holds the user's active jobs and the steps of
    their running pipelines not started yet, this one's too once it is in the session.
    """
    limit = current_app.config["MAX_ACTIVE_JOBS"]
    if reserving > limit:
        raise SubmitRefused(f"This pipeline has {reserving} steps; with the limit of {limit} active jobs "
                            "it could never run. Split it into smaller pipelines.")
    if jobflow.lock_user_and_count_active_jobs(user.id) + reserving > limit:
        raise SubmitRefused(f"You already have {limit} active jobs (queued or running, counting every step "
                            "of your running pipelines), or this pipeline's steps would pass that; wait for "
                            "some to finish or cancel some.", 429)


def earlier_pipeline(user: User, key: str, digest: str) -> Optional[Pipeline]:
    """The pipeline an earlier request with this Idempotency-Key made, or None (KeyReused if it differed)."""
    job = earlier_job(user.id, key, digest)
    return db.session.get(Pipeline, job.pipeline_id) if job is not None and job.pipeline_id else None


def get_pipeline_for(user: User, pipeline_id: Any, lock: bool = False) -> Pipeline:
    """The caller's pipeline with this id, else NotFound (also for other users' pipelines)."""
    return owned(Pipeline, user, pipeline_id, lock)


def _expected_seconds(pipeline: Pipeline, step: dict[str, Any], job: Optional[Job]) -> float:
    """How long the step should take, the weight of its share of the pipeline's progress.

    An asr step's weight grows with the audio's length: probed at submit for the upload, else the
    length of the media its convert step was given.
    """
    if step["kind"] == "asr":
        duration = (job.params if job is not None else step["params"]).get("duration")
        source = next((s for s in pipeline.steps if s["name"] == step["input"]), None)
        if not duration and source is not None:
            duration = source["params"].get("duration")
        if duration:
            return max(EXPECTED_SECONDS["asr"], float(duration) * ASR_SECONDS_PER_AUDIO_SECOND)
    return EXPECTED_SECONDS[step["kind"]]


def _done_fraction(job: Optional[Job]) -> float:
    if job is None:
        return 0.0
    if job.status == JobStatus.SUCCEEDED.value:
        return 1.0
    return (job.progress_percent or 0.0) / 100.0


def _step_view(step: dict[str, Any], job: Optional[Job]) -> dict[str, Any]:
    view = {"name": step["name"], "kind": step["kind"], "input": step["input"], "subtitles": step.get("subtitles", []),
            "status": job.status if job is not None else "pending",
            "job_id": job.id if job is not None else None, "progress": None, "error": None,
            "links": {}}
    if job is not None:
        view["progress"] = job.progress_percent if job.status != JobStatus.SUCCEEDED.value else 100.0
        view["error"] = job.error
        view["links"] = _links(job)
    return view


def _links(job: Job) -> dict[str, Any]:
    """Where a step job's outputs are: the job, its result, its files and exports."""
    links: dict[str, Any] = {"job": url_for("jobs.get_job", job_id=job.id)}
    if job.status == JobStatus.SUCCEEDED.value:
        links["result"] = url_for("jobs.result", job_id=job.id)
        links["artifacts"] = {a.name: url_for("jobs.artifact", job_id=job.id, name=a.name) for a in job.artifacts}
        formats = SPECS[job.kind].exporters
        links["exports"] = {fmt: url_for("jobs.export", job_id=job.id, format=fmt) for fmt in formats}
    return links


def pipeline_view(pipeline: Pipeline) -> dict[str, Any]:
    """The public view: status, each step with its job, progress weighted by expected step time, links."""
    current = pipelineflow.latest_jobs(pipeline)
    weights = {s["name"]: _expected_seconds(pipeline, s, current.get(s["name"])) for s in pipeline.steps}
    done = sum(weights[s["name"]] * _done_fraction(current.get(s["name"])) for s in pipeline.steps)
    percent = 100.0 if pipeline.status == pipelineflow.SUCCEEDED else round(100.0 * done / sum(weights.values()), 1)
    # The expected time of what is left, by the same weights (queue waits not counted): a rough guide.
    eta = round(sum(weights.values()) - done, 1) if pipeline.status == pipelineflow.RUNNING else None
    view = {"id": pipeline.id, "status": pipeline.status, "preset": pipeline.preset, "priority": pipeline.priority,
            "run": pipeline.run, "error": pipeline.error, "created_at": pipeline.created_at,
            "finished_at": pipeline.finished_at,
            "expires_at": expiry(pipeline.finished_at if pipeline.status != pipelineflow.RUNNING else None,
                                 current_app.config["RETENTION_DAYS"]),
            "progress": {"percent": percent, "eta_seconds": eta},
            "input": ({"filename": pipeline.input_filename, "content_type": pipeline.input_content_type,
                       "size": pipeline.input_size} if pipeline.input_key else None),
            "steps": [_step_view(s, current.get(s["name"])) for s in pipeline.steps]}
    view["subtitles"] = subtitle_links(pipeline, current)
    view["translated_lines"] = translated_lines(pipeline, current)
    return view


def _finished_translation_of(pipeline: Pipeline, current: dict[str, Job], kind: str) -> list[tuple[Job, Job]]:
    """(source job, translate job) for each translate step reading a ``kind`` step, both succeeded."""
    pairs = []
    for step in pipeline.steps:
        job, source = current.get(step["name"]), current.get(step["input"] or "")
        if (step["kind"] == "translate" and source is not None and source.kind == kind and job is not None
                and job.status == source.status == JobStatus.SUCCEEDED.value):
            pairs.append((source, job))
    return pairs


def translated_lines(pipeline: Pipeline, current: dict[str, Job]) -> dict[str, list[dict[str, Any]]]:
    """Per language, each line that OCR read with its box and its translation (read-translate)."""
    found = {}
    for source, job in _finished_translation_of(pipeline, current, "vision"):
        lines = pipelineflow.text_lines(source.result or {})
        translated = pipelineflow.translation_lines(job.result or {})
        if len(lines) == len(translated):
            found[job.params["target_lang"]] = [{**line, "translation": text} for line, text in zip(lines, translated)]
    return found


def subtitle_links(pipeline: Pipeline, current: dict[str, Job]) -> dict[str, dict[str, str]]:
    """Per language, the srt/vtt files of a finished transcript translated line by line."""
    links = {}
    for _, job in _finished_translation_of(pipeline, current, "asr"):
        lang = job.params["target_lang"]
        links[lang] = {fmt: url_for("pipelines.subtitles", pipeline_id=pipeline.id, lang=lang, format=fmt)
                       for fmt in SUBTITLE_FORMATS}
    return links


SUBTITLE_FORMATS = tuple(fmt for fmt in ("srt", "vtt") if fmt in TRANSCRIPT_FORMATS)


def list_pipelines(user: User, page: int, per_page: int) -> dict[str, Any]:
    """A page of the caller's pipelines, newest first."""
    query = select(Pipeline).where(Pipeline.user_id == user.id)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    found = db.session.scalars(query.order_by(Pipeline.created_at.desc(), Pipeline.id)
                               .offset((page - 1) * per_page).limit(per_page)).all()
    return {"items": [pipeline_view(p) for p in found], "page": page, "per_page": per_page, "total": total}


class NotNow(Exception):
    """The pipeline's state does not allow this (cancel a finished one, retry a running one)."""


@unit_of_work
def cancel(user: User, pipeline_id: Any) -> Pipeline:
    """Cancel a running pipeline: its running steps are cancelled, its pending ones never start.

    The step jobs are locked before the pipeline (the order shared.pipelineflow keeps).
    """
    key = get_pipeline_for(user, pipeline_id).id
    active = db.session.scalars(select(Job).where(Job.pipeline_id == key, Job.status.in_(values(ACTIVE)))
                                .order_by(Job.id).with_for_update().execution_options(populate_existing=True)).all()
    pipeline = pipelineflow.lock_pipeline(key)
    if pipeline.status != pipelineflow.RUNNING:
        raise NotNow(f"the pipeline is already {pipeline.status}")
    # A step that succeeded while this waited for its lock may have started its dependants: they are
    # committed now, so a second look finds them (skipping any a worker's callback holds this instant:
    # that callback's own advance finds the pipeline cancelled and starts nothing more).
    known = {job.id for job in active}
    active = [job for job in active if job.status in values(ACTIVE)] + list(db.session.scalars(
        select(Job).where(Job.pipeline_id == key, Job.status.in_(values(ACTIVE)), Job.id.notin_(known))
        .with_for_update(skip_locked=True).execution_options(populate_existing=True)))
    newest = max(pipelineflow.latest_jobs(pipeline).values(), key=lambda job: job.number, default=None)
    pipelineflow.end(pipeline, pipelineflow.CANCELLED, "Cancelled by its owner.", newest)
    for job in active:
        jobflow.cancel(job)
    LOGGER.info("pipeline %s: cancelled by its owner (%d running steps stopped)", pipeline.id, len(active))
    return pipeline


@unit_of_work
def retry(user: User, pipeline_id: Any) -> Pipeline:
    """Run a failed or cancelled pipeline again from the steps that did not succeed (a new run)."""
    pipeline = get_pipeline_for(user, pipeline_id)
    pipeline = pipelineflow.lock_pipeline(pipeline.id)
    if pipeline.status not in (pipelineflow.FAILED, pipelineflow.CANCELLED):
        raise NotNow(f"the pipeline is {pipeline.status}; only a failed or cancelled one is retried")
    pipeline.run += 1
    pipeline.status, pipeline.error, pipeline.finished_at = pipelineflow.RUNNING, None, None
    try:
        started = pipelineflow.start_ready_steps(pipeline)
    except pipelineflow.StepInputMissing as exc:
        raise NotNow(f"running it again would fail the same way: {exc}") from None
    _check_active_limit(user, 0)
    LOGGER.info("pipeline %s: retried (run %d, %d steps started)", pipeline.id, pipeline.run, len(started))
    return pipeline


def subtitle_file(pipeline: Pipeline, lang: str, fmt: str) -> tuple[bytes, str, str]:
    """The srt or vtt of ``lang``: NotFound when no step translates a transcript into it, NotNow until done."""
    current = pipelineflow.latest_jobs(pipeline)
    for step in pipeline.steps:
        job, source = current.get(step["name"]), current.get(step["input"] or "")
        if (job is None or source is None or source.kind != "asr" or step["kind"] != "translate"
                or job.params.get("target_lang") != lang):
            continue
        if job.status != JobStatus.SUCCEEDED.value:
            raise NotNow(f"The {lang} translation is {job.status}; its subtitles are not ready.")
        transcript = pipelineflow.translated_transcript(source.result or {}, job.result or {})
        if transcript is None:
            raise NotNow("The translation does not keep one line per segment; no subtitles can be timed from it.")
        return export(transcript, fmt)
    raise NotFound()
