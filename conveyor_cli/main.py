"""The `conveyor` command line: arguments, the server to talk to, exit codes for expected errors."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Optional, Sequence

from conveyor_cli import commands
from conveyor_cli.client import ApiClient
from conveyor_cli.credentials import DEFAULT_URL, CredentialStore
from conveyor_cli.errors import EXIT_USAGE, CliError
from conveyor_cli.render import KINDS

EPILOG = """exit codes: 0 done; 1 the API refused (its message is shown) or the job ended failed,
cancelled or partial; 2 bad usage (options, a missing local file); 3 the server cannot be reached."""


def _json(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--json", action="store_true", help=f"{what} as the API's JSON, for programs")


def _download(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--download",
        nargs="?",
        const=".",
        metavar="DIR",
        help="save the job's artifacts (converted file, annotated.jpg) in DIR (default: here) "
        "and print their paths",
    )


def _id(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("id", help="the job's id")


def build_parser() -> argparse.ArgumentParser:
    """Every command with its options."""
    parser = argparse.ArgumentParser(
        prog="conveyor",
        description="Command-line client of a Conveyor server.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--url",
        help=f"the server (default: $CONVEYOR_URL, else the last login's, else {DEFAULT_URL})",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="log what happens (stream fallbacks, refreshes)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    cmd = sub.add_parser("login", help="log in and remember the login for this server")
    cmd.add_argument("-u", "--username", help="username or e-mail (asked when missing)")
    cmd.add_argument("-p", "--password", help="password (asked without echo when missing; safer)")
    cmd.add_argument(
        "--api-key",
        nargs="?",
        const="",
        metavar="KEY",
        help="use an API key (cvk_...) instead of a password; asked when given without value",
    )
    cmd.set_defaults(run=commands.login)

    cmd = sub.add_parser("logout", help="end the login session and forget it")
    cmd.set_defaults(run=commands.logout)

    cmd = sub.add_parser(
        "submit", help="submit a job: text for translate, a file for asr, vision, convert"
    )
    cmd.add_argument("kind", choices=KINDS, help="translate, asr, vision or convert")
    cmd.add_argument("file", nargs="?", help="the input file (asr, vision, convert)")
    cmd.add_argument(
        "--text", help="the text to translate ('-' reads stdin, without its final newline)"
    )
    cmd.add_argument("--source-lang", dest="source_lang", metavar="LANG", help="e.g. en")
    cmd.add_argument("--target-lang", dest="target_lang", metavar="LANG", help="e.g. es")
    cmd.add_argument(
        "-o",
        "--option",
        action="append",
        metavar="KEY=VALUE",
        help="a parameter of the kind (repeatable), e.g. -o model=tiny.en -o language=en",
    )
    cmd.add_argument("--priority", help="low, normal (default) or high")
    cmd.add_argument(
        "--wait",
        action="store_true",
        help="show a progress bar until the job ends, then its result (a conversion's file is "
        "saved here unless --download names a folder)",
    )
    _download(cmd)
    _json(cmd, "the job (or with --wait its result)")
    cmd.set_defaults(run=commands.submit)

    cmd = sub.add_parser("watch", help="follow a job with a progress bar, then print its result")
    _id(cmd)
    _download(cmd)
    _json(cmd, "the result")
    cmd.set_defaults(run=commands.watch)

    cmd = sub.add_parser("status", help="a job's status and progress")
    _id(cmd)
    _json(cmd, "the whole job")
    cmd.set_defaults(run=commands.status)

    cmd = sub.add_parser(
        "result", help="a finished job's result: the text, the detections, the converted file"
    )
    _id(cmd)
    _download(cmd)
    _json(cmd, "the result")
    cmd.set_defaults(run=commands.result)

    cmd = sub.add_parser("export", help="save the result in a file format")
    _id(cmd)
    cmd.add_argument(
        "--format",
        "-f",
        required=True,
        help="txt, json (translate); txt, srt, vtt, docx, json (asr); ...",
    )
    cmd.add_argument(
        "-O",
        "--output",
        metavar="FILE",
        help="where to save ('-' for stdout; default: the server's name)",
    )
    cmd.set_defaults(run=commands.export)

    cmd = sub.add_parser("download", help="save the job's input file, or one of its artifacts")
    _id(cmd)
    cmd.add_argument(
        "artifact", nargs="?", help="an artifact's name (see `conveyor status`); default: the input"
    )
    cmd.add_argument(
        "-O",
        "--output",
        metavar="FILE",
        help="where to save ('-' for stdout; default: the server's name)",
    )
    cmd.set_defaults(run=commands.download)

    cmd = sub.add_parser("cancel", help="cancel a queued or running job")
    _id(cmd)
    _json(cmd, "the cancelled job")
    cmd.set_defaults(run=commands.cancel)

    cmd = sub.add_parser("list", help="your jobs, newest first")
    cmd.add_argument("--kind", help="only this kind")
    cmd.add_argument("--status", help="only this status (queued, running, succeeded, ...)")
    cmd.add_argument("--page", type=int, default=1)
    cmd.add_argument("--per-page", dest="per_page", type=int, default=20)
    _json(cmd, "the page")
    cmd.set_defaults(run=commands.list_jobs)

    cmd = sub.add_parser("kinds", help="the kinds of job, one line each")
    _json(cmd, "the kinds")
    cmd.set_defaults(run=commands.kinds)

    cmd = sub.add_parser(
        "options", help="a kind's options and what the server offers now (models, languages, targets)"
    )
    cmd.add_argument("kind", choices=KINDS, help="translate, asr, vision or convert")
    _json(cmd, "the parameters and catalog")
    cmd.set_defaults(run=commands.options)

    cmd = sub.add_parser("delete", help="delete a job and its files")
    _id(cmd)
    cmd.set_defaults(run=commands.delete)
    return parser


def server_url(args: argparse.Namespace, store: CredentialStore) -> str:
    """--url, else $CONVEYOR_URL, else the server of the last login, else the local default."""
    return (args.url or os.environ.get("CONVEYOR_URL") or store.current_url or DEFAULT_URL).rstrip(
        "/"
    )


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run one command; expected failures print one line on stderr and set the exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="conveyor: %(message)s"
    )
    try:
        store = CredentialStore()
        return args.run(ApiClient(server_url(args, store), store), args)
    except CliError as exc:
        print(f"conveyor: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `conveyor list | head` closes stdout early; that is not an error worth a traceback.
        sys.stderr.close()
        return EXIT_USAGE
