"""The web console's first paint and page weight, measured in Debian's Chromium (issue 12's budget:
first paint under 1 s, assets under 300 KB compressed).

Each run opens `/` in a fresh browser context (empty cache) and reads the Paint Timing entries
(first-paint, first-contentful-paint) and the bytes transferred for the page and every script and
style it loaded; then, logged in, the Translate view (the lazily imported modules included).

Run against a running stack (`make up`): python -m bench.bench_console [--base URL] [--runs 5]
[--user NAME --password PASS] (without a user, only the login page is measured).
"""
from __future__ import annotations

import argparse
import shutil
import statistics

from playwright.sync_api import sync_playwright

MEASURE = """() => {
    const paint = Object.fromEntries(performance.getEntriesByType('paint').map(e => [e.name, e.startTime]));
    const entries = [...performance.getEntriesByType('navigation'), ...performance.getEntriesByType('resource')];
    return {paint, bytes: entries.reduce((sum, e) => sum + e.transferSize, 0),
            files: entries.length};
}"""


def measure(browser, base: str, user: str | None, password: str | None) -> dict:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{base}/", wait_until="networkidle")
    first = page.evaluate(MEASURE)
    figures = {"first_paint_ms": first["paint"].get("first-paint"),
               "first_contentful_paint_ms": first["paint"].get("first-contentful-paint"),
               "login_page_kb": first["bytes"] / 1024, "login_page_files": first["files"]}
    if user:
        page.get_by_label("Username or e-mail").fill(user)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        page.get_by_label("To").wait_for()
        page.wait_for_load_state("networkidle")
        after = page.evaluate(MEASURE)
        figures.update(translate_view_kb=after["bytes"] / 1024, translate_view_files=after["files"])
    context.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="http://127.0.0.1:8000")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--user")
    parser.add_argument("--password")
    args = parser.parse_args()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), headless=True)
        runs = [measure(browser, args.base, args.user, args.password) for _ in range(args.runs)]
        browser.close()
    for key in runs[0]:
        values = [run[key] for run in runs if run.get(key) is not None]
        print(f"{key:28} median {statistics.median(values):8.1f}   (runs: {', '.join(f'{v:.1f}' for v in values)})")
    print("budget: first paint < 1000 ms, page weight < 300 KB compressed (transferSize includes headers)")


if __name__ == "__main__":
    main()
