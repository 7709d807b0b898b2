"""Weight and render time of the two docs pages (/docs, /auth/docs) in headless Chromium (issue 12).

For each page: the bytes that crossed the wire (as sent: the script and stylesheet gzipped) beside
the same files' size uncompressed, the number of requests, and the time from navigation until Swagger
UI has drawn every operation of the document: the median of several loads, each in a fresh browser
context (nothing cached).

Run: python -m bench.bench_docs_page [--loads 5]. Needs Chromium (make system). No database, broker
or gateway: the services build their documents and serve the pages without them.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import threading
import time
from contextlib import contextmanager

from werkzeug.serving import make_server

METHODS = ("get", "put", "post", "delete", "patch")


@contextmanager
def served(app):
    """The app on a free local port, in a thread; its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


def one_load(browser, url: str, operations: int) -> tuple[float, int, int, int]:
    """(seconds until every operation is drawn, bytes sent, bytes uncompressed, requests) of one cold load."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    finished = []
    page.on("requestfinished", lambda request: finished.append(request))
    started = time.monotonic()
    page.goto(url)
    page.wait_for_function(f"document.querySelectorAll('.opblock').length >= {operations}", timeout=60_000)
    seconds = time.monotonic() - started
    page.wait_for_load_state("networkidle")
    sent = sum(request.sizes()["responseBodySize"] + request.sizes()["responseHeadersSize"] for request in finished)
    unpacked = sum(len(request.response().body()) for request in finished)
    context.close()
    return seconds, sent, unpacked, len(finished)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("CONVEYOR_DATA_DIR", tempfile.mkdtemp(prefix="conveyor-bench-docs-"))
    from playwright.sync_api import sync_playwright

    from services.api import create_app as create_api
    from services.auth import create_app as create_auth
    from shared.config import Config
    from shared.keys import ensure_signing_keys

    ensure_signing_keys(Config())
    pages = [(create_api(), "/docs", "/openapi.json"), (create_auth(), "/auth/docs", "/auth/openapi.json")]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), headless=True)
        for app, page_path, document_path in pages:
            document = app.test_client().get(document_path).json
            operations = sum(1 for item in document["paths"].values() for method in item if method in METHODS)
            with served(app) as base:
                loads = [one_load(browser, base + page_path, operations) for _ in range(args.loads)]
            seconds = statistics.median(load[0] for load in loads)
            _, sent, unpacked, requests = loads[-1]
            print(f"{page_path:<11} {operations:>3} operations drawn in {seconds:.2f} s (median of {args.loads}); "
                  f"{requests} requests, {sent / 1024:.0f} KB transferred ({unpacked / 1024:.0f} KB uncompressed)")
        browser.close()


if __name__ == "__main__":
    main()
