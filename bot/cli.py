"""self-heal: serve, demo, scan, keys."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

from .settings import SettingsError, SetupSettings, load_settings

logger = logging.getLogger(__name__)

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="self-heal", description="Turn production tracebacks into pull requests."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser(
        "serve",
        help="run the GitHub App service",
        description="Run the service. Settings come from SELF_HEAL_* environment "
        "variables (see the README); with no app registered yet, only the "
        "set-up pages run.",
    )
    serve.add_argument(
        "--host", default="0.0.0.0", help="address to listen on (default: %(default)s)"
    )
    serve.add_argument(
        "--port", type=_port, default=8080, help="port (default: %(default)s)"
    )
    serve.add_argument(
        "--log-level",
        type=str.upper,
        choices=LOG_LEVELS,
        default="INFO",
        help="default: %(default)s",
    )

    commands.add_parser(
        "demo", help="run the whole path on a bundled payload, with stand-ins"
    )

    scan = commands.add_parser("scan", help="group the tracebacks found in logs")
    scan.add_argument("paths", nargs="+", metavar="PATH", help="a file, or - for stdin")
    scan.add_argument("--json", action="store_true", help="print JSON")

    config = commands.add_parser(
        "config", help="check a .github/self-healing.yml before you push it"
    )
    config_commands = config.add_subparsers(
        dest="config_command", metavar="{check}", required=True
    )
    check = config_commands.add_parser("check", help="validate a config file")
    check.add_argument(
        "path",
        nargs="?",
        default=".github/self-healing.yml",
        help="default: %(default)s",
    )

    keys = commands.add_parser(
        "keys",
        help="manage forwarder keys",
        description="Forwarder keys, kept in the database SELF_HEAL_DATABASE names.",
    )
    key_commands = keys.add_subparsers(
        dest="keys_command", metavar="{create,list,revoke}", required=True
    )
    create = key_commands.add_parser("create", help="make a new key and print it")
    create.add_argument(
        "--installation",
        type=_positive,
        required=True,
        help="the installation id whose repositories the key may reach",
    )
    create.add_argument(
        "--log-group-prefix", help="only log groups starting with this (optional)"
    )
    key_commands.add_parser("list", help="list keys (never their secrets)")
    revoke = key_commands.add_parser("revoke", help="revoke a key")
    revoke.add_argument("key_id")

    args = parser.parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    if args.command == "demo":
        from . import demo

        try:
            return demo.main()
        except BrokenPipeError:
            # `self-heal demo | head` closed the pipe: not an error of ours.
            sys.stderr.close()
            return 0
    if args.command == "scan":
        return _scan(args)
    if args.command == "config":
        return _check_config(args.path)
    return _keys(args)


def _check_config(path: str) -> int:
    """Validate a config file as the bot would; org defaults are not read."""
    from .repo_config import CONFIG_PATH, ConfigError, load_yaml, parse_config

    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        print(f"self-heal config: {path}: {exc.strerror}", file=sys.stderr)
        return 2
    except UnicodeDecodeError:
        print(f"self-heal config: {path}: not UTF-8 text", file=sys.stderr)
        return 2
    try:
        config, warnings = parse_config(load_yaml(text))
    except ConfigError as exc:
        print(f"self-heal config: {path}: {exc.key}: {exc.why}", file=sys.stderr)
        return 1
    for warning in warnings:
        # The warnings name the file's usual place; say the one checked.
        print(f"warning: {warning.replace(CONFIG_PATH, path, 1)}", file=sys.stderr)
    groups = ", ".join(g.name for g in config.log_groups) or "none"
    print(f"{path} is valid; log groups: {groups}")
    return 0


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
    if not isinstance(settings, SetupSettings):
        problem = database_problem(settings.database)
        if problem:
            print(f"self-heal: {problem}", file=sys.stderr)
            return 2
    if isinstance(settings, SetupSettings):
        host = "localhost" if args.host in ("0.0.0.0", "::") else args.host
        url = f"{settings.public_url or f'http://{host}:{args.port}'}/setup"
        # Only the set-up pages run until the app is registered; say where.
        logger.warning("setup.required", extra={"open": url})
    try:
        web.run_app(make_app(settings), host=args.host, port=args.port, access_log=None)
    except OSError as exc:
        print(
            f"self-heal: cannot listen on {args.host}:{args.port}: {exc.strerror}",
            file=sys.stderr,
        )
        return 2
    return 0


def database_problem(path: str) -> str | None:
    """Why the database cannot be opened, in one line; None when it can."""
    import sqlite3

    from .store import Store

    try:
        Store(path).close()
    except (OSError, sqlite3.Error) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        return f"cannot open the database {path}: {reason}"
    return None


def _port(value: str) -> int:
    if not value.isdigit() or not 0 <= int(value) <= 65535:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port (0 to 65535)")
    return int(value)


def _positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not an id")
    return int(value)


def _scan(args: argparse.Namespace) -> int:
    from . import scan
    from .tracebacks import UnreadableInput

    inputs = []
    for path in args.paths:
        try:
            if path == "-":
                inputs.append(("stdin", sys.stdin.buffer.read()))
            else:
                with open(path, "rb") as handle:
                    inputs.append((path, handle.read()))
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
