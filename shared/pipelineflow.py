"""Pipelines move along here: the DAG's checks, and what happens when one of its step jobs ends.

A pipeline is a DAG of steps; each step is an ordinary job (shared.jobflow) created when its input
is ready: at submit for the steps that read the upload (or carry their own text), and when the step
feeding it succeeds for the others. That second start happens in ``advance``, a settled-job
listener of shared.jobflow, so the dependants' job and outbox rows commit in the same transaction
as their parent's success: a crash between the two neither loses nor duplicates a step. Starting a
step twice is refused twice over: ``advance`` runs under a row lock on the pipeline and skips a step
that already has a live or successful job, and the unique (pipeline, step, run) of jobs backs that.

Outputs pass by reference: a step reading a file gets its parent's artifact's storage key (or the
pipeline's upload key) as its input key, and a step reading text gets its parent's result text in
its params; nothing goes back through the client.

A convert step may also name ``subtitles``: asr steps, or translate steps reading an asr step,
whose transcripts it puts into the video (muxed as subtitle streams, or burned in). Those are more
parents: the step starts once its input and every one of them has succeeded, and gets each
language's WebVTT (the transcript's timings, the translated lines; what GET .../subtitles/<lang>
serves) in its params.

Lock order is the job first, then its pipeline (a worker's callback locks its job, then ``advance``
locks the pipeline); whoever cancels a pipeline locks its jobs before the pipeline, so the two never
wait for each other in a circle.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any, Optional

from sqlalchemy import select

from shared import jobflow, webhooks
from shared.clock import utcnow
from shared.db import db
from shared.kinds.asr.exports import export
from shared.models import Artifact, Job, Pipeline
from shared.states import JobStatus

LOGGER = logging.getLogger(__name__)

UPLOAD = "upload"
MAX_STEPS = 16
MAX_SUBTITLE_STEPS = 8
STEP_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")

RUNNING, SUCCEEDED, FAILED, CANCELLED = "running", "succeeded", "failed", "cancelled"
PIPELINE_STATUSES = (RUNNING, SUCCEEDED, FAILED, CANCELLED)

# What a kind's job reads and what it makes, as far as a pipeline is concerned.
READS = {"asr": "file", "vision": "file", "convert": "file", "translate": "text"}
MAKES = {"asr": "text", "vision": "text", "convert": "file", "translate": "text"}

# A step whose job ended like this did not produce its output: the pipeline cannot go on.
UNFINISHED = (JobStatus.FAILED.value, JobStatus.PARTIAL.value, JobStatus.CANCELLED.value)


class PipelineRefused(ValueError):
    """The submitted steps do not form a pipeline Conveyor can run; the message says why."""


@dataclass(frozen=True)
class Step:
    """One step as submitted: its name, kind, options and input (UPLOAD, a step's name, or None).

    ``subtitles`` (convert steps only) names the steps whose transcripts go into the video.
    """

    name: str
    kind: str
    input: Optional[str]
    options: dict[str, Any] = field(default_factory=dict)
    subtitles: tuple[str, ...] = ()

    @property
    def parents(self) -> list[str]:
        """The steps this one reads: its input (unless the upload or none), then its subtitles."""
        return parents_of({"input": self.input, "subtitles": self.subtitles})


def _parse_step(index: int, raw: Any, kinds: tuple[str, ...]) -> Step:
    """One step of the request, or PipelineRefused naming what is wrong with it."""
    if not isinstance(raw, dict):
        raise PipelineRefused(f"Step {index + 1} must be an object with name, kind, options and input.")
    unknown = set(raw) - {"name", "kind", "options", "input", "subtitles"}
    if unknown:
        raise PipelineRefused(f"Step {index + 1} has unknown fields: {', '.join(sorted(unknown))}.")
    name, kind, options, source = raw.get("name"), raw.get("kind"), raw.get("options", {}), raw.get("input")
    subtitles = raw.get("subtitles", [])
    if not isinstance(name, str) or not STEP_NAME.match(name):
        raise PipelineRefused(f"Step {index + 1}: name must be 1-64 letters, digits, '-' or '_', "
                              "starting with a letter.")
    if kind not in kinds:
        raise PipelineRefused(f"Step {name!r}: unknown kind {kind!r}; use one of {', '.join(kinds)}.")
    if not isinstance(options, dict):
        raise PipelineRefused(f"Step {name!r}: options must be an object.")
    if source is not None and not isinstance(source, str):
        raise PipelineRefused(f"Step {name!r}: input must be \"upload\" or the name of another step.")
    if (not isinstance(subtitles, list) or len(subtitles) > MAX_SUBTITLE_STEPS
            or not all(isinstance(item, str) for item in subtitles)):
        raise PipelineRefused(f"Step {name!r}: subtitles must be a list of at most {MAX_SUBTITLE_STEPS} step names.")
    if len(set(subtitles)) != len(subtitles):
        raise PipelineRefused(f"Step {name!r}: subtitles names a step twice.")
    return Step(name, kind, source, dict(options), tuple(subtitles))


def _check_acyclic(steps: dict[str, Step]) -> list[Step]:
    """The steps parents first (else in the order given); PipelineRefused on a cycle."""
    ordered: list[Step] = []
    placed: set[str] = set()

    def place(step: Step, path: list[Step]) -> None:
        if step in path:
            # Named as the data flows: each step, then the one reading it.
            names = " -> ".join(s.name for s in [step, *reversed(path[path.index(step) + 1:]), step])
            raise PipelineRefused(f"The steps form a cycle ({names}); a pipeline must be acyclic.")
        for parent in step.parents:
            if parent not in placed:
                place(steps[parent], [*path, step])
        if step.name not in placed:
            placed.add(step.name)
            ordered.append(step)

    for step in steps.values():
        place(step, [])
    return ordered


def _check_feeds(step: Step, steps: dict[str, Step]) -> None:
    """The step's input exists and makes what the step's kind reads."""
    if step.input is None:
        if READS[step.kind] == "file":
            raise PipelineRefused(f"Step {step.name!r} ({step.kind}) reads a file: set its input to "
                                  "\"upload\" or to a step that makes a file.")
        return
    if step.input == UPLOAD:
        if READS[step.kind] != "file":
            raise PipelineRefused(f"Step {step.name!r} ({step.kind}) reads text, not the upload: feed it "
                                  "an asr, vision or translate step, or give it options.text and no input.")
        return
    if step.input == step.name:
        raise PipelineRefused(f"Step {step.name!r} cannot read its own output (a cycle).")
    parent = steps.get(step.input)
    if parent is None:
        raise PipelineRefused(f"Step {step.name!r} reads from {step.input!r}, which is not a step of "
                              "this pipeline (nor \"upload\").")
    if MAKES[parent.kind] != READS[step.kind]:
        raise PipelineRefused(f"Step {step.name!r} ({step.kind}) reads {READS[step.kind]}, but step "
                              f"{parent.name!r} ({parent.kind}) makes {MAKES[parent.kind]}.")


def _check_subtitles(step: Step, steps: dict[str, Step]) -> None:
    """A step's subtitles are transcripts (asr steps, or translations of one) and only a convert step takes them."""
    if step.subtitles and step.kind != "convert":
        raise PipelineRefused(f"Step {step.name!r} ({step.kind}): only a convert step puts subtitles into a video.")
    for name in step.subtitles:
        source = steps.get(name)
        if source is None or name == step.name:
            raise PipelineRefused(f"Step {step.name!r}: its subtitles name {name!r}, which is not another step "
                                  "of this pipeline.")
        feeding = steps.get(source.input or "")
        if not (source.kind == "asr" or (source.kind == "translate" and feeding is not None
                                         and feeding.kind == "asr")):
            raise PipelineRefused(f"Step {step.name!r}: subtitles come from an asr step or a translate step "
                                  f"reading one; {name!r} ({source.kind}) is neither.")


def check_dag(raw_steps: Any, kinds: tuple[str, ...], max_steps: int = MAX_STEPS) -> list[Step]:
    """The request's steps checked as a DAG (names, kinds, inputs, no cycle), parents first.

    Each kind's own options are checked by its contract afterwards (the API does that).
    """
    if not isinstance(raw_steps, list) or not raw_steps:
        raise PipelineRefused("steps must be a non-empty list.")
    if len(raw_steps) > max_steps:
        raise PipelineRefused(f"A pipeline has at most {max_steps} steps; this one has {len(raw_steps)}.")
    steps: dict[str, Step] = {}
    for index, raw in enumerate(raw_steps):
        step = _parse_step(index, raw, kinds)
        if step.name in steps:
            raise PipelineRefused(f"Two steps are named {step.name!r}; step names must be unique.")
        steps[step.name] = step
    for step in steps.values():
        _check_feeds(step, steps)
        _check_subtitles(step, steps)
    return _check_acyclic(steps)


def parents_of(step: dict[str, Any]) -> list[str]:
    """The names of the stored step's parents: its input (unless the upload or none), then its subtitles."""
    return [*([step["input"]] if step["input"] not in (None, UPLOAD) else []), *step.get("subtitles", ())]


def dependants(pipeline: Pipeline, step_name: str) -> list[dict[str, Any]]:
    """The stored steps that read ``step_name``'s output (as their input or their subtitles)."""
    return [step for step in pipeline.steps if step_name in parents_of(step)]


def latest_jobs(pipeline: Pipeline) -> dict[str, Job]:
    """Each step's newest job (a retried step has one per run), read fresh from the database."""
    jobs = db.session.scalars(select(Job).where(Job.pipeline_id == pipeline.id)
                              .order_by(Job.pipeline_run, Job.number)
                              .execution_options(populate_existing=True)).all()
    return {job.pipeline_step: job for job in jobs}


def text_output(job: Job) -> str:
    """The text a finished text-making job hands on: a transcript keeps one line per segment."""
    result = job.result or {}
    if job.kind == "asr":
        segments = [s.get("text", "").strip() for s in result.get("segments") or []]
        return "\n".join(s for s in segments if s) if any(segments) else (result.get("text") or "").strip()
    if job.kind == "vision":
        return "\n".join(line["text"] for line in text_lines(result))
    return (result.get("translated_text") or "").strip()


def text_lines(vision_result: dict[str, Any]) -> list[dict[str, Any]]:
    """The OCR'd regions of a vision result put together into lines, top to bottom, each with its box.

    PP-OCR often cuts a line into words; translated one word at a time they would lose their
    sense, so regions whose vertical centres lie within half a height of each other form one line,
    read left to right. Boxes are as the vision result gives them: centre x, y and size, in [0, 1].
    """
    regions = sorted((d for d in vision_result.get("detections") or [] if (d.get("text") or "").strip()),
                     key=lambda d: d["y"])
    lines: list[list[dict[str, Any]]] = []
    for region in regions:
        if lines and abs(region["y"] - lines[-1][0]["y"]) <= lines[-1][0]["height"] / 2:
            lines[-1].append(region)
        else:
            lines.append([region])
    return [_line(sorted(line, key=lambda d: d["x"])) for line in lines]


def _line(regions: list[dict[str, Any]]) -> dict[str, Any]:
    left = min(d["x"] - d["width"] / 2 for d in regions)
    right = max(d["x"] + d["width"] / 2 for d in regions)
    top = min(d["y"] - d["height"] / 2 for d in regions)
    bottom = max(d["y"] + d["height"] / 2 for d in regions)
    return {"text": " ".join(d["text"].strip() for d in regions), "x": round((left + right) / 2, 6),
            "y": round((top + bottom) / 2, 6), "width": round(right - left, 6), "height": round(bottom - top, 6)}


def file_output(job: Job) -> Optional[Artifact]:
    """The artifact a finished file-making job hands on (the one its result names, else its first)."""
    named = (job.result or {}).get("artifact")
    for artifact in job.artifacts:
        if artifact.name == named:
            return artifact
    return job.artifacts[0] if job.artifacts else None


class StepInputMissing(Exception):
    """The parent succeeded without the output its dependant reads (no text, no file)."""


def translation_lines(translation: dict[str, Any]) -> list[str]:
    """A translate result's non-empty lines (one per transcript segment it was given)."""
    return [line.strip() for line in (translation.get("translated_text") or "").split("\n") if line.strip()]


def translated_transcript(transcript: dict[str, Any], translation: dict[str, Any]) -> Optional[dict[str, Any]]:
    """The transcript with each spoken segment's text replaced by its translated line, timings kept.

    The translate step got one line per non-empty segment (text_output); None when the translation
    does not have as many lines.
    """
    spoken = [s for s in transcript.get("segments") or [] if (s.get("text") or "").strip()]
    lines = translation_lines(translation)
    if not spoken or len(lines) != len(spoken):
        return None
    segments = [{"start": s["start"], "end": s["end"], "text": line} for s, line in zip(spoken, lines)]
    return {"text": " ".join(lines), "language": translation.get("target_lang"),
            "duration": transcript.get("duration"), "words": [], "segments": segments}


def subtitle_language(step: dict[str, Any]) -> Optional[str]:
    """The language of a stored asr or translate step's subtitles, as its params name it (None: detected)."""
    language = step["params"].get("target_lang" if step["kind"] == "translate" else "language")
    return None if language in (None, "", "auto") else language


def subtitle_track(job: Job, source: Optional[Job]) -> dict[str, Any]:
    """A finished asr job's transcript, or a translation of ``source``'s, as a language and its WebVTT."""
    if job.kind == "asr":
        transcript, language = job.result or {}, job.params.get("language") or (job.result or {}).get("language")
    else:
        transcript = translated_transcript((source.result if source is not None else None) or {}, job.result or {})
        language = job.params.get("target_lang")
        if transcript is None:
            raise StepInputMissing(f"the translation of step {job.pipeline_step!r} does not keep one line per "
                                   "segment, so no subtitles can be timed from it")
    if not language or not (transcript.get("segments") or transcript.get("text")):
        raise StepInputMissing(f"step {job.pipeline_step!r} has no transcript in a known language for subtitles")
    return {"language": language, "text": export(transcript, "vtt")[0].decode("utf-8")}


def _wire_input(job_columns: dict[str, Any], params: dict[str, Any], pipeline: Pipeline,
                step: dict[str, Any], parent: Optional[Job]) -> None:
    """Point the step's job at its input: the upload, the parent's artifact, or the parent's text."""
    if step["input"] == UPLOAD:
        job_columns.update(input_key=pipeline.input_key, input_filename=pipeline.input_filename,
                           input_content_type=pipeline.input_content_type, input_size=pipeline.input_size)
    elif parent is not None and MAKES[parent.kind] == "file":
        artifact = file_output(parent)
        if artifact is None:
            raise StepInputMissing(f"step {parent.pipeline_step!r} made no file for step {step['name']!r}")
        job_columns.update(input_key=artifact.storage_key, input_filename=artifact.name,
                           input_content_type=artifact.content_type, input_size=artifact.size)
    elif parent is not None:
        text = text_output(parent)
        if not text:
            raise StepInputMissing(f"step {parent.pipeline_step!r} found no text for step {step['name']!r}")
        params["text"] = text
        params["word_count"] = len(text.split())


def _wire_subtitles(params: dict[str, Any], pipeline: Pipeline, step: dict[str, Any]) -> None:
    """Give a convert step the WebVTT of each step its subtitles name, in their order."""
    current = latest_jobs(pipeline)
    by_name = {s["name"]: s for s in pipeline.steps}
    params["subtitles"] = [subtitle_track(current[name], current.get(by_name[name]["input"] or ""))
                           for name in step["subtitles"]]


def start_step(pipeline: Pipeline, step: dict[str, Any], parent: Optional[Job] = None) -> Job:
    """Create and queue the job of ``step`` (its outbox row too), fed by ``parent`` or the upload."""
    params = dict(step["params"])
    columns: dict[str, Any] = {}
    _wire_input(columns, params, pipeline, step, parent)
    if step.get("subtitles"):
        _wire_subtitles(params, pipeline, step)
    job = jobflow.create_job(pipeline.user_id, step["kind"], params, pipeline.priority,
                             pipeline_id=pipeline.id, pipeline_step=step["name"], pipeline_run=pipeline.run,
                             **columns)
    LOGGER.info("job %s: step %r of pipeline %s (run %d) queued", job.id, step["name"], pipeline.id,
                pipeline.run)
    return job


def end(pipeline: Pipeline, status: str, error: Optional[str], anchor: Optional[Job]) -> None:
    """Record the pipeline's outcome (and queue its webhook); steps not started by now never start.

    ``anchor`` is the step job whose end decided it, which the webhook delivery is filed under.
    """
    pipeline.status = status
    pipeline.error = error
    pipeline.finished_at = utcnow()
    if anchor is not None:
        webhooks.pipeline_event(pipeline, anchor, f"pipeline.{status}")
    LOGGER.info("pipeline %s %s%s", pipeline.id, status, f": {error}" if error else "")


def lock_pipeline(pipeline_id: Any) -> Optional[Pipeline]:
    """The pipeline under a row lock (held to commit), re-read from the database."""
    return db.session.scalars(select(Pipeline).where(Pipeline.id == pipeline_id).with_for_update()
                              .execution_options(populate_existing=True)).first()


def start_ready_steps(pipeline: Pipeline) -> list[Job]:
    """Start every step whose input is ready and that has no live or successful job yet.

    Used at submit (the steps reading the upload or their own text) and on retry (the failed
    steps, and steps whose parent has succeeded meanwhile).
    """
    current = latest_jobs(pipeline)
    started = []
    for step in pipeline.steps:
        job = current.get(step["name"])
        if job is not None and job.status not in UNFINISHED:
            continue
        if not _parents_succeeded(step, current):
            continue
        started.append(start_step(pipeline, step, current.get(step["input"] or "")))
    return started


def _parents_succeeded(step: dict[str, Any], current: dict[str, Job]) -> bool:
    return all(name in current and current[name].status == JobStatus.SUCCEEDED.value for name in parents_of(step))


def _start_dependants(pipeline: Pipeline, job: Job) -> None:
    current = latest_jobs(pipeline)
    for step in dependants(pipeline, job.pipeline_step):
        existing = current.get(step["name"])
        if existing is not None and existing.status not in UNFINISHED:
            # A second report of the same success: the dependant has started already.
            LOGGER.info("pipeline %s: step %r has started already (job %s)", pipeline.id, step["name"], existing.id)
            continue
        if not _parents_succeeded(step, current):
            continue  # it reads other steps too, and one has not succeeded yet: the last to succeed starts it
        try:
            start_step(pipeline, step, current.get(step["input"] or ""))
        except StepInputMissing as exc:
            end(pipeline, FAILED, f"Step {step['name']!r} cannot start: {exc}.", job)
            return


def _finish_if_done(pipeline: Pipeline, job: Job) -> None:
    current = latest_jobs(pipeline)
    if all(step["name"] in current and current[step["name"]].status == JobStatus.SUCCEEDED.value
           for step in pipeline.steps):
        end(pipeline, SUCCEEDED, None, job)


@jobflow.subscribe_settled
def advance(job: Job) -> None:
    """A step job ended: start the steps it feeds, or end the pipeline (failed, cancelled, done)."""
    if job.pipeline_id is None:
        return
    pipeline = lock_pipeline(job.pipeline_id)
    if pipeline is None or pipeline.status != RUNNING:
        return  # a cancelled or failed pipeline starts nothing more
    if job.status == JobStatus.SUCCEEDED.value:
        _start_dependants(pipeline, job)
        if pipeline.status == RUNNING:
            _finish_if_done(pipeline, job)
    elif job.cancelled_at is not None:
        end(pipeline, CANCELLED, f"Step {job.pipeline_step!r} ({job.kind}) was cancelled.", job)
    else:
        end(pipeline, FAILED, f"Step {job.pipeline_step!r} ({job.kind}) failed: {job.error}", job)
