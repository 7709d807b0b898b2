"""The web console at `/`, driven in Chromium against the real `make up` stack with real workers.

A person's flow for each kind, from logging in to the finished result, cancel, the admin page,
and the browser session's CSRF defences. Each result view is saved under var/screenshots/.
"""
from __future__ import annotations

import io
import re
import uuid

import psycopg
import pytest
import requests
from PIL import Image
from skimage import data as skimage_data

from shared.media_probe import probe
from tests.conftest import wait_for
from tests.media import ENGLISH_SENTENCES, have_espeak, speak, with_video, word_error_rate

PASSWORD = "correct-horse-42"
JOB_TIMEOUT_MS = 120_000
SPOKEN = " ".join(ENGLISH_SENTENCES[:4])


def new_user(base: str) -> str:
    """A fresh account made through the API (the register form has its own test)."""
    name = f"p{uuid.uuid4().hex[:8]}"
    reply = requests.post(f"{base}/auth/v1/register", json={
        "username": name, "email": f"{name}@example.com", "password": PASSWORD}, timeout=10)
    assert reply.status_code == 201, reply.text
    return name


def log_in(tab, base: str, name: str, password: str = PASSWORD) -> None:
    page = tab.page
    page.goto(f"{base}/")
    page.get_by_label("Username or e-mail").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Jobs").wait_for()
    page.get_by_role("button", name="Log in").wait_for(state="detached")  # the login form is gone too


def cookie_session(base: str, name: str, password: str = PASSWORD) -> requests.Session:
    """A requests session logged in the way the console is: POST /auth/v1/session sets cookies."""
    session = requests.Session()
    reply = session.post(f"{base}/auth/v1/session", json={"login": name, "password": password}, timeout=10)
    assert reply.status_code == 200, reply.text
    assert "access_token" not in reply.text  # the tokens travel only in HttpOnly cookies
    return session


def test_a_person_registers_finds_the_sections_and_logs_out(stack, tab):
    base, page = stack["base"], tab.page
    page.goto(f"{base}/")
    page.get_by_role("link", name="No account yet? Create one").click()
    name = f"r{uuid.uuid4().hex[:8]}"
    page.get_by_label("Username").fill(name)
    page.get_by_label("E-mail").fill(f"{name}@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account and log in").click()
    nav = page.get_by_role("navigation", name="Sections")
    nav.get_by_role("link", name="Jobs").wait_for()
    page.get_by_label("To").locator("option").first.wait_for(state="attached")  # the view has loaded
    assert nav.get_by_role("link").all_inner_texts() == [
        "Translate", "Speech to text", "Images", "Convert", "Pipelines", "Jobs", "Account"]
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["conveyor_access"]["httpOnly"] and cookies["conveyor_access"]["sameSite"] == "Strict"
    assert cookies["conveyor_refresh"]["httpOnly"] and not cookies["conveyor_csrf"]["httpOnly"]
    # A reload keeps the login (the cookies do); the keyboard reaches the sections.
    page.reload()
    page.get_by_label("To").locator("option").first.wait_for(state="attached")
    page.get_by_role("link", name="Skip to content").focus()
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Translate"
    page.get_by_role("button", name="Log out").click()
    page.get_by_role("button", name="Log in").wait_for()
    assert not [c for c in page.context.cookies() if c["name"] == "conveyor_access"]
    page.set_viewport_size({"width": 390, "height": 800})
    tab.screenshot("console-login-phone")


def test_a_text_is_translated_to_spanish_side_by_side(stack, tab):
    base, page = stack["base"], tab.page
    log_in(tab, base, new_user(base))
    page.get_by_role("link", name="Translate").click()
    target = page.get_by_label("To")
    wait_for(lambda: "es" in target.evaluate("s => [...s.options].map(o => o.value)"), timeout=10)
    # The pivots are marked: English to Italian goes through Spanish in this stack.
    assert "via Spanish" in target.locator("option[value=it]").inner_text()
    target.select_option("es")
    page.get_by_label("Text").fill("The cat is black. I would like a cup of coffee.")
    page.get_by_role("button", name="Translate", exact=True).click()
    translation = page.locator("#translation")
    translation.wait_for(timeout=JOB_TIMEOUT_MS)
    assert "gato" in translation.inner_text().lower() and "café" in translation.inner_text().lower()
    assert page.get_by_role("button", name="Copy translation").is_visible()
    assert page.get_by_text("11 words").is_visible()
    tab.screenshot("console-translate-result")
    page.set_viewport_size({"width": 390, "height": 800})
    tab.screenshot("console-translate-result-phone")


def test_a_refused_submission_says_why(stack, tab):
    base, page = stack["base"], tab.page
    log_in(tab, base, new_user(base))
    page.get_by_role("link", name="Images").click()
    tab.expected_problems.append("the server responded with a status of 4")
    page.locator("input[type=file]").set_input_files(
        {"name": "notes.jpg", "mimeType": "image/jpeg", "buffer": b"this is not a picture"})
    page.get_by_role("button", name="Analyse picture").click()
    alert = page.get_by_role("alert").filter(has_text=re.compile("refused|Please check|Too large"))
    alert.wait_for()
    tab.screenshot("console-refused")


@pytest.mark.skipif(not have_espeak(), reason="espeak-ng is not installed (make system)")
def test_speech_is_transcribed_beside_a_player_that_follows_the_words(stack, tab, tmp_path):
    base, page = stack["base"], tab.page
    log_in(tab, base, new_user(base))
    page.get_by_role("link", name="Speech to text").click()
    recording = with_video(speak(SPOKEN, tmp_path / "talk.wav"), tmp_path / "talk.webm")
    page.get_by_label("Model").locator("option[value='whisper-tiny.en']").wait_for(state="attached")
    page.locator("input[type=file]").set_input_files(str(recording))
    page.get_by_role("button", name="Transcribe").click()
    page.get_by_role("region", name="Progress").wait_for()
    words = page.locator(".transcript .word")
    words.first.wait_for(timeout=JOB_TIMEOUT_MS)
    heard = " ".join(words.all_inner_texts())
    assert word_error_rate(SPOKEN, heard) <= 0.3, heard
    for fmt in ("TXT", "DOCX", "SRT", "VTT", "JSON"):
        link = page.get_by_role("link", name=fmt, exact=True)
        assert requests.get(base + link.get_attribute("href"), cookies={
            c["name"]: c["value"] for c in page.context.cookies()}, timeout=10).status_code == 200
    # Choosing a word seeks the player there, and the word is highlighted while it plays.
    video = page.locator(".player video")
    video.evaluate("v => { v.muted = true; }")
    wait_for(lambda: video.evaluate("v => v.readyState >= 1"), timeout=30, message="the recording's metadata")
    fifth = words.nth(5)
    fifth.click()
    wait_for(lambda: fifth.evaluate("w => w.classList.contains('current')"), timeout=30,
             message="the chosen word to be highlighted")
    assert video.evaluate("v => v.currentTime") > 0.5
    video.evaluate("v => v.pause()")
    tab.screenshot("console-speech-result")


def test_the_cat_is_outlined_on_the_picture(stack, tab):
    base, page = stack["base"], tab.page
    log_in(tab, base, new_user(base))
    page.get_by_role("link", name="Images").click()
    picture = io.BytesIO()
    Image.fromarray(skimage_data.chelsea()).save(picture, "JPEG", quality=90)
    page.locator("input[type=file]").set_input_files(
        {"name": "chelsea.jpg", "mimeType": "image/jpeg", "buffer": picture.getvalue()})
    page.get_by_role("button", name="Analyse picture").click()
    cat = page.locator(".box[data-label=cat]").first
    cat.wait_for(timeout=JOB_TIMEOUT_MS)
    assert page.locator("table").get_by_role("cell", name="cat", exact=True).count() >= 1
    assert page.get_by_role("region", name="What the picture shows").locator("li").count() >= 1
    page.wait_for_function("document.querySelector('.figure img').complete")
    # Hiding the label hides its boxes; hovering tells the score.
    assert re.fullmatch(r"cat: \d+ %", cat.get_attribute("title"))
    tab.screenshot("console-images-result")
    page.get_by_role("group", name="Show boxes for").get_by_role("checkbox", name=re.compile("cat")).uncheck()
    assert not cat.is_visible()


def test_a_converted_file_plays(stack, tab, tmp_path):
    base, page = stack["base"], tab.page
    log_in(tab, base, new_user(base))
    page.get_by_role("link", name="Convert").click()
    source = with_video(speak("One two three four.", tmp_path / "count.wav"), tmp_path / "count.mp4")
    page.get_by_label("Convert to").locator("option[value=webm]").wait_for(state="attached")
    page.get_by_label("Convert to").select_option("webm")
    page.locator("input[type=file]").set_input_files(str(source))
    page.get_by_role("button", name="Convert").click()
    video = page.locator("video.media-out")
    video.wait_for(timeout=JOB_TIMEOUT_MS)
    video.evaluate("v => { v.muted = true; return v.play(); }")
    wait_for(lambda: video.evaluate("v => v.currentTime > 0.2 && v.videoWidth === 160"), timeout=15,
             message="the converted video to play")
    video.evaluate("v => v.pause()")
    probe = page.get_by_role("region", name="About the output")
    assert "webm" in probe.inner_text()
    assert page.get_by_role("link", name=re.compile(r"^Download .+\.webm")).is_visible()
    tab.screenshot("console-convert-result")


@pytest.mark.skipif(not have_espeak(), reason="espeak-ng is not installed (make system)")
def test_a_running_job_is_cancelled_from_its_page_and_from_the_list(stack, tab, tmp_path):
    base, page = stack["base"], tab.page
    log_in(tab, base, new_user(base))
    page.get_by_role("link", name="Speech to text").click()
    long_talk = speak(" ".join(ENGLISH_SENTENCES * 3), tmp_path / "long.wav")
    page.locator("input[type=file]").set_input_files(str(long_talk))
    page.get_by_role("button", name="Transcribe").click()
    # The transcript grows chunk by chunk while the job runs; cancelling keeps what was heard.
    so_far = page.locator(".partial-text")
    wait_for(lambda: len(so_far.inner_text().split()) >= 3, timeout=JOB_TIMEOUT_MS / 1000,
             message="the first chunk of the transcript")
    tab.screenshot("console-speech-live")
    page.get_by_role("button", name="Cancel this job").click()
    status = page.locator(".job-head .status")
    wait_for(lambda: status.is_visible() and status.inner_text() == "partial", timeout=60,
             message="the job page to show the job stopped with its partial transcript")
    page.locator(".transcript .word").nth(2).wait_for()
    tab.screenshot("console-cancelled")
    # The player has read the recording's first bytes and holds the rest of the response; Chromium
    # aborts that media request when the page moves on (its own way of letting go, not a failure).
    tab.expected_problems.append("/input (net::ERR_ABORTED)")
    page.get_by_role("link", name="Jobs").click()
    row = page.locator("tbody tr").first
    row.get_by_role("cell", name=re.compile("cancelled|partial")).wait_for()
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name=re.compile("^Delete #")).click()
    page.get_by_text("No jobs yet.").wait_for()



@pytest.mark.skipif(not have_espeak(), reason="espeak-ng is not installed (make system)")
def test_a_recording_is_transcribed_and_translated_by_a_pipeline_whose_steps_run_live(stack, tab, tmp_path):
    base, page = stack["base"], tab.page
    log_in(tab, base, new_user(base))
    page.get_by_role("link", name="Pipelines").click()
    page.get_by_label("Preset").select_option("transcribe-translate")
    page.get_by_label("Spanish (es)").wait_for()
    page.locator("input[type=file]").set_input_files(str(speak(SPOKEN, tmp_path / "lecture.wav")))
    page.get_by_label("Spanish (es)").check()
    page.get_by_label("Catalan (ca)").check()
    tab.screenshot("console-pipeline-form")
    page.get_by_role("button", name="Start pipeline").click()
    steps = page.get_by_role("region", name="Steps")
    steps.wait_for()
    assert sorted(steps.locator("tbody th").all_inner_texts()) == ["transcribe", "translate-ca", "translate-es"]
    # The steps change as they run, fed by the pipeline's event stream: the asr step runs while the
    # translations wait for it.
    wait_for(lambda: steps.locator("tr[data-step=transcribe] .status").inner_text() in ("running", "succeeded"),
             timeout=JOB_TIMEOUT_MS / 1000, message="the asr step to start")
    if steps.locator("tr[data-step=translate-es] .status").inner_text() == "pending":
        tab.screenshot("console-pipeline-live")
    spanish = page.locator(".translation[data-lang=es]")
    spanish.wait_for(timeout=JOB_TIMEOUT_MS * 2)
    assert page.locator(".job-head .status").inner_text() == "succeeded"
    assert steps.locator(".status").all_inner_texts() == ["succeeded"] * 3
    text = spanish.inner_text().lower()
    assert "perezoso" in text and "viaje" in text, text  # "brown fox" may be heard as "roundfark"
    assert "viatge" in page.locator(".translation[data-lang=ca]").inner_text().lower()
    vtt = page.get_by_role("link", name="Subtitles (vtt)").first.get_attribute("href")
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    assert requests.get(base + vtt, cookies=cookies, timeout=10).text.startswith("WEBVTT")
    tab.screenshot("console-pipeline-done")
    # Its steps are in the jobs list too, each leading back to the pipeline.
    pipeline_url = page.url
    page.get_by_role("link", name="Jobs").click()
    links = page.get_by_role("link", name=re.compile("^step .* of a pipeline$"))
    links.first.wait_for()
    assert sorted(links.all_inner_texts()) == ["step transcribe of a pipeline", "step translate-ca of a pipeline",
                                               "step translate-es of a pipeline"]
    tab.screenshot("console-jobs-with-pipeline-steps")
    links.first.click()
    page.get_by_role("region", name="Results").wait_for()
    assert page.url == pipeline_url
    page.get_by_role("link", name="Pipelines").click()
    page.locator("tbody tr[data-pipeline] .status").get_by_text("succeeded").wait_for()
    tab.screenshot("console-pipelines-list")


@pytest.mark.skipif(not have_espeak(), reason="espeak-ng is not installed (make system)")
def test_a_lecture_video_comes_back_with_its_spanish_subtitles_muxed_in_and_plays(stack, tab, tmp_path):
    base, page = stack["base"], tab.page
    log_in(tab, base, new_user(base))
    page.get_by_role("link", name="Pipelines").click()
    page.get_by_label("Spanish (es)").wait_for()
    assert not page.get_by_label("Subtitle streams").is_visible()  # transcribe-translate has no video out
    page.get_by_label("Preset").select_option("subtitles")
    lecture = with_video(speak(SPOKEN, tmp_path / "lecture.wav"), tmp_path / "lecture.mp4")
    page.locator("input[type=file]").set_input_files(str(lecture))
    page.get_by_label("Spanish (es)").check()
    # The video choices belong to this preset only, and burning in offers the ticked languages.
    assert page.get_by_label("Burned into the picture").locator("option").all_inner_texts() == ["None", "Spanish (es)"]
    page.get_by_label("Subtitle streams").select_option("mp4")
    tab.screenshot("console-pipeline-subtitles-form")
    page.get_by_role("button", name="Start pipeline").click()
    steps = page.get_by_role("region", name="Steps")
    steps.wait_for()
    assert steps.locator("tbody th").all_inner_texts()[-1] == "add-subtitles"
    player = page.locator("video.subtitled-video")
    player.wait_for(timeout=JOB_TIMEOUT_MS * 2)
    assert steps.locator(".status").all_inner_texts() == ["succeeded"] * steps.locator(".status").count()
    # The browser reads the muxed file's header: a real video of the lecture's length.
    duration = wait_for(lambda: page.evaluate("document.querySelector('video.subtitled-video').duration"),
                        timeout=20, message="the player to read the video's duration")
    assert abs(duration - probe(lecture).duration) < 0.5, duration
    href = page.get_by_role("link", name=re.compile(r"^Download .*\.mp4$")).get_attribute("href")
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    muxed = tmp_path / "muxed.mp4"
    muxed.write_bytes(requests.get(base + href, cookies=cookies, timeout=30).content)
    streams = probe(muxed).streams
    assert [(st.codec_name, st.language) for st in streams if st.codec_type == "subtitle"] == [("mov_text", "spa")]
    tab.screenshot("console-pipeline-subtitled-video")
    # As with the recording's player: Chromium lets go of the video's held response on closing.
    tab.expected_problems.append("/lecture.mp4 (net::ERR_ABORTED)")


def test_a_notice_is_read_and_translated_line_by_line_by_a_pipeline(stack, tab):
    from tests.unit.vision_drawing import printed_text

    base, page = stack["base"], tab.page
    log_in(tab, base, new_user(base))
    page.get_by_role("link", name="Pipelines").click()
    page.get_by_label("Preset").select_option("read-translate")
    page.get_by_label("Spanish (es)").check()
    notice = io.BytesIO()
    Image.fromarray(printed_text("Good morning", scale=2.0, thickness=5)[0]).save(notice, format="PNG")
    page.locator("input[type=file]").set_input_files(
        {"name": "notice.png", "mimeType": "image/png", "buffer": notice.getvalue()})
    page.get_by_role("button", name="Start pipeline").click()
    results = page.get_by_role("region", name="Results")
    results.wait_for(timeout=JOB_TIMEOUT_MS)
    assert page.locator(".job-head .status").inner_text() == "succeeded"
    cells = results.locator("table.read-lines tbody tr").first.locator("td").all_inner_texts()
    assert cells[0].lower() == "good morning" and "días" in cells[1].lower(), cells
    tab.screenshot("console-pipeline-read-translate")

def test_the_account_page_makes_and_revokes_api_keys_and_shows_the_webhook_secret(stack, tab):
    base, page = stack["base"], tab.page
    log_in(tab, base, new_user(base))
    page.get_by_role("link", name="Account", exact=True).click()
    page.get_by_label("Key name").fill("laptop script")
    page.get_by_role("button", name="Create API key").click()
    key = page.locator("#new-api-key").inner_text()
    assert key.startswith("cvk_")
    assert requests.get(f"{base}/api/v1/jobs", headers={"X-API-Key": key}, timeout=10).status_code == 200
    page.get_by_role("button", name="Show secret").click()
    secret = page.locator("#webhook-secret")
    wait_for(lambda: "•" not in secret.inner_text(), timeout=10, message="the secret to show")
    shown = secret.inner_text()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Rotate secret").click()
    wait_for(lambda: secret.inner_text() != shown, timeout=10, message="a new secret")
    tab.screenshot("console-account")
    page.get_by_role("button", name="Revoke laptop script").click()
    page.get_by_role("button", name="Revoke laptop script").wait_for(state="detached")
    assert requests.get(f"{base}/api/v1/jobs", headers={"X-API-Key": key}, timeout=10).status_code == 401


def test_the_admin_manages_users_and_sees_every_job(stack, tab):
    base, page = stack["base"], tab.page
    someone = new_user(base)
    worker_session = cookie_session(base, someone)
    csrf = worker_session.cookies["conveyor_csrf"]
    assert worker_session.post(f"{base}/api/v1/jobs/translate", headers={"X-CSRF-Token": csrf}, json={
        "text": "Good morning.", "source_lang": "en", "target_lang": "es"}, timeout=10).status_code == 202
    log_in(tab, base, "boss", "Stack-admin-pass-77")
    page.get_by_role("link", name="Admin").click()
    # Operations: every kind's queue and dead letters, and the stack's four live workers.
    queues = page.get_by_role("table", name="Queues")
    queues.get_by_role("cell", name="translate", exact=True).wait_for()
    kinds = ["asr", "convert", "translate", "vision"]
    assert sorted(queues.locator("tbody tr td:first-child").all_inner_texts()) == kinds
    workers = page.get_by_role("table", name="Live workers")
    workers.get_by_role("cell", name="vision", exact=True).first.wait_for()
    assert set(kinds) <= set(workers.locator("tbody tr td:nth-child(2)").all_inner_texts())
    may_submit = page.get_by_label(f"{someone} may submit jobs")
    may_submit.uncheck()
    page.get_by_text(f"Saved {someone}.").wait_for()
    refused = worker_session.post(f"{base}/api/v1/jobs/translate", headers={"X-CSRF-Token": csrf}, json={
        "text": "Good evening.", "source_lang": "en", "target_lang": "es"}, timeout=10)
    assert refused.status_code == 403, refused.text
    jobs = page.get_by_role("table").nth(3)
    jobs.get_by_role("cell", name="Translation").first.wait_for()
    page.get_by_label("Kind").select_option("translate")
    # (A pipeline's step says so under its kind.)
    wait_for(lambda: set(jobs.locator("tbody tr td:nth-child(2) .kind").all_inner_texts()) == {"Translation"},
             timeout=10, message="the list to show translations only")
    tab.screenshot("console-admin")


def test_the_admin_retries_a_failed_job_from_the_list(stack, tab):
    base, page = stack["base"], tab.page
    owner = cookie_session(base, new_user(base))
    job = owner.post(f"{base}/api/v1/jobs/translate", headers={"X-CSRF-Token": owner.cookies["conveyor_csrf"]},
                     json={"text": "The dog sleeps.", "source_lang": "en", "target_lang": "es"}, timeout=10).json()
    wait_for(lambda: owner.get(f"{base}/api/v1/jobs/{job['id']}", timeout=10).json()["status"] == "succeeded",
             timeout=60, message="the job to finish")
    # The stack's workers do not fail good jobs: the test records this one as failed, as a crashed
    # engine would have left it. The retry that follows is the real path.
    with psycopg.connect(stack["database_url"], autocommit=True) as conn:
        conn.execute("UPDATE jobs SET status = 'failed', error = 'the engine crashed' WHERE id = %s",
                     (job["id"],))
    log_in(tab, base, "boss", "Stack-admin-pass-77")
    page.get_by_role("link", name="Admin").click()
    page.get_by_label("Status").select_option("failed")
    page.get_by_role("button", name=f"Retry #{job['number']}").click()
    notice = page.get_by_text(re.compile(rf"Job #{job['number']} is queued again as job #(\d+)\."))
    notice.wait_for()
    again = int(re.search(r"as job #(\d+)", notice.inner_text()).group(1))
    tab.screenshot("console-admin-retry")

    def retried():
        items = owner.get(f"{base}/api/v1/jobs", timeout=10).json()["items"]
        return next((item for item in items if item["number"] == again and item["status"] == "succeeded"), None)
    wait_for(retried, timeout=60, message="the retried job to succeed")


def test_a_cookie_session_refuses_requests_without_the_csrf_token_or_from_another_origin(stack, tab):
    base = stack["base"]
    session = cookie_session(base, new_user(base))
    job = {"text": "Hello.", "source_lang": "en", "target_lang": "es"}
    assert session.get(f"{base}/api/v1/jobs", timeout=10).status_code == 200  # reading needs no token
    without_token = session.post(f"{base}/api/v1/jobs/translate", json=job, timeout=10)
    assert without_token.status_code == 403 and "CSRF" in without_token.json()["message"]
    wrong_token = session.post(f"{base}/api/v1/jobs/translate", json=job, timeout=10,
                               headers={"X-CSRF-Token": "guessed"})
    assert wrong_token.status_code == 403
    token = {"X-CSRF-Token": session.cookies["conveyor_csrf"]}
    other_origin = session.post(f"{base}/api/v1/jobs/translate", json=job, timeout=10,
                                headers={**token, "Origin": "http://evil.example"})
    assert other_origin.status_code == 403 and "Cross-origin" in other_origin.json()["message"]
    assert session.post(f"{base}/api/v1/jobs/translate", json=job, timeout=10,
                        headers={**token, "Origin": base}).status_code == 202
    # Logging out voids the session's tokens even if a copy of the cookie is replayed.
    access = session.cookies["conveyor_access"]
    assert session.delete(f"{base}/auth/v1/session", timeout=10, headers={
        "X-CSRF-Token": session.cookies["conveyor_refresh_csrf"], "Origin": base}).status_code == 204
    assert requests.get(f"{base}/api/v1/jobs", cookies={"conveyor_access": access}, timeout=10).status_code == 401

    # In the browser: our own page, but a script that does not send the header, is refused too.
    page = tab.page
    log_in(tab, base, new_user(base))
    tab.expected_problems.append("the server responded with a status of 403")
    status = page.evaluate("""async () => (await fetch('/api/v1/jobs/translate', {method: 'POST',
        headers: {'Content-Type': 'application/json'},
        body: JSON.stringify({text: 'Hi.', source_lang: 'en', target_lang: 'es'})})).status""")
    assert status == 403
    page.get_by_role("link", name="Jobs").click()
    page.get_by_text("No jobs yet.").wait_for()


def test_the_console_is_small(stack):
    """The page and every asset it loads weigh under 300 KB compressed (the issue's budget)."""
    base = stack["base"]
    index = requests.get(f"{base}/", timeout=10)
    assert index.status_code == 200 and index.headers["Content-Type"].startswith("text/html")
    assets = re.findall(r'(?:src|href)="(/console/[^"?]+)', index.text)
    static = sorted({*assets, *(f"/console/{name}" for name in re.findall(
        r"'\./([a-z]+\.js)'", requests.get(f"{base}/console/app.js", timeout=10).text))})
    total = len(index.content)
    for path in static:
        reply = requests.get(f"{base}{path}", headers={"Accept-Encoding": "gzip"}, timeout=10)
        assert reply.status_code == 200, path
        total += int(reply.headers.get("Content-Length") or len(reply.content))
    assert len(static) >= 8 and total < 300 * 1024, (static, total)
