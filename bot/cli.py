"""self-heal: serve, demo, scan, keys."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

from .settings import SettingsError, SetupSettings, load_settings

logger = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="self-heal", description="Turn production tracebacks into pull requests."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the GitHub App service")
    serve.add_argument("--host", default="0.0.0.0")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--log-level", default="INFO")

    commands.add_parser(
        "demo", help="run the whole path on a bundled payload, with stand-ins"
    )

    scan = commands.add_parser("scan", help="group the tracebacks found in logs")
    scan.add_argument("paths", nargs="+", metavar="PATH", help="a file, or - for stdin")
    scan.add_argument("--json", action="store_true", help="print JSON")

    keys = commands.add_parser("keys", help="manage forwarder keys")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    create = key_commands.add_parser("create", help="make a new key and print it")
    create.add_argument("--installation", type=int, required=True)
    create.add_argument("--log-group-prefix")
    key_commands.add_parser("list", help="list keys (never their secrets)")
    revoke = key_commands.add_parser("revoke", help="revoke a key")
    revoke.add_argument("key_id")

    args = parser.parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    if args.command == "demo":
        from . import demo

        return demo.main()
    if args.command == "scan":
        return _scan(args)
    return _keys(args)


def _serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from . import logs
    from .app import make_app

    logs.configure(args.log_level)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"self-heal: {exc}", file=sys.stderr)
        return 2
    if isinstance(settings, SetupSettings):
        host = "localhost" if args.host in ("0.0.0.0", "::") else args.host
        url = f"{settings.public_url or f'http://{host}:{args.port}'}/setup"
        # Only the set-up pages run until the app is registered; say where.
        logger.warning("setup.required", extra={"open": url})
    web.run_app(make_app(settings), host=args.host, port=args.port, access_log=None)
    return 0


def _scan(args: argparse.Namespace) -> int:
    from . import scan
    from .tracebacks import UnreadableInput

    inputs = []
    for path in args.paths:
        try:
            if path == "-":
                inputs.append(sys.stdin.buffer.read())
            else:
                with open(path, "rb") as handle:
                    inputs.append(handle.read())
        except OSError as exc:
            print(f"self-heal scan: {path}: {exc.strerror}", file=sys.stderr)
            return 2
    try:
        groups = scan.scan(inputs)
    except UnreadableInput as exc:
        print(f"self-heal scan: unreadable input: {exc}", file=sys.stderr)
        return 2
    text = (
        json.dumps(scan.as_json(groups), ensure_ascii=False, indent=2) + "\n"
        if args.json
        else scan.as_text(groups)
    )
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        # `self-heal scan ... | head` closed the pipe: not an error of ours.
        sys.stderr.close()
    return 0


def _keys(args: argparse.Namespace) -> int:
    from . import keys

    return keys.main(args)
