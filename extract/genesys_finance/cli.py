"""The `genesys-finance` command line.

Each subcommand lives in its own module exposing `add_arguments(parser)` and
`run(args) -> int`. `--help` lists the commands from the static tables below without importing
any of them; only the module of the command that runs is imported. So `--help` stays fast, and
a command whose module is broken (a missing optional dependency, a syntax error) fails alone,
with a message naming it, while every other command works.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from types import ModuleType

from genesys_finance import __version__
from genesys_finance.settings import ConfigError

COMMANDS: dict[str, str] = {
    "simulator": "genesys_sim.command",
    "extract": "genesys_finance.commands.extract",
    "jobs": "genesys_finance.commands.jobs",
    "load-cdrs": "genesys_finance.commands.load_cdrs",
    "build": "genesys_finance.commands.build",
    "run": "genesys_finance.commands.run",
    "demo": "genesys_finance.commands.demo",
    "query": "genesys_finance.commands.query",
    "audit-pii": "genesys_finance.commands.audit_pii",
    "report": "genesys_finance.commands.report",
}

HELPS: dict[str, str] = {
    "simulator": "serve a simulated Genesys Cloud API (login + analytics) on a local port",
    "extract": "extract conversation details (month-chunked jobs) and dimensions into genesys_raw",
    "jobs": "show the extract job ledger (genesys_raw.extract_jobs)",
    "load-cdrs": "load carrier CDR CSV files into carrier_raw (numbers and Call-IDs masked)",
    "build": "build the dbt models and run their tests (dbt build); --docs also writes the "
    "static docs page",
    "run": "extract (incremental by default) + load CDR files + dbt build",
    "demo": "run the whole job against the local simulator into a demo DuckDB file",
    "query": "answer a SELECT over genesys.* (virtual tables) and finance.* with the cheapest "
    "API calls",
    "audit-pii": "scan the warehouse, dbt target/ and logs for clear-text PII (phone numbers "
    "that are not the org's, e-mail addresses, listed names); exits 1 on any hit",
    "report": "write the finance report (one self-contained HTML file) from the finance marts",
}

# Examples for every command's --help (static, like HELPS: --help imports no command module).
EXAMPLES: dict[str, str] = {
    "simulator": "genesys-finance simulator --port 8080 --start 2026-01-01 --end 2026-02-01\n"
    "  GENESYS_API_URL=http://127.0.0.1:8080 genesys-finance extract --start 2026-01-01 "
    "--end 2026-02-01",
    "extract": "genesys-finance extract --start 2026-01-01 --end 2026-02-01\n"
    "  genesys-finance extract            # incremental: from the last complete interval",
    "jobs": "genesys-finance jobs --target postgres",
    "load-cdrs": "genesys-finance load-cdrs invoices/carrier-a-2026-01.csv --format generic\n"
    "  genesys-finance load-cdrs voice-usage.csv --format genesys-voice",
    "build": "genesys-finance build\n"
    "  genesys-finance build --select fct_voice_leg_costs+ --target postgres\n"
    "  genesys-finance build --docs       # then open target/static_index.html",
    "run": "genesys-finance run --cdrs invoices/*.csv",
    "demo": "genesys-finance demo             # twelve simulated months, then the report\n"
    "  genesys-finance demo --months 2 --conversations-per-day 50",
    "query": 'genesys-finance query "select count(*) from genesys.conversations '
    "where conversation_start >= '2026-01-01' and conversation_start < '2026-01-08'\"",
    "audit-pii": "genesys-finance audit-pii\n"
    "  genesys-finance audit-pii --target postgres --names-file agent-names.txt",
    "report": "genesys-finance report --out finance-report.html\n"
    "  genesys-finance report --start 2026-01-01 --end 2026-04-01 --target postgres\n"
    "  (the period is widened to whole calendar months; without dates: every month in the marts)",
}


class CommandUnavailable(RuntimeError):
    """A command's module cannot be imported."""


def load_command(name: str) -> ModuleType:
    try:
        return importlib.import_module(COMMANDS[name])
    except Exception as exc:  # any import-time failure is this command's alone
        raise CommandUnavailable(
            f"genesys-finance {name}: the command cannot be loaded "
            f"({type(exc).__name__}: {exc}); the other commands are not affected"
        ) from exc


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; only `command`'s module is imported (for its arguments)."""
    parser = argparse.ArgumentParser(
        prog="genesys-finance",
        description="Genesys Cloud conversation details into SQL tables finance can trust.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        help_text = HELPS.get(name, f"see genesys-finance {name} --help")
        example = EXAMPLES.get(name)
        command_parser = sub.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=f"examples:\n  {example}" if example else None,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        if name == command:
            module = load_command(name)
            module.add_arguments(command_parser)
            command_parser.set_defaults(_module=module)
    return parser


def _command_in(argv: Sequence[str]) -> str | None:
    """The subcommand named in `argv`: its first word that is not an option."""
    word = next((arg for arg in argv if not arg.startswith("-")), None)
    return word if word in COMMANDS else None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = _command_in(argv)
    try:
        parser = build_parser(command)
    except CommandUnavailable as exc:
        print(exc, file=sys.stderr)
        return 1
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args._module.run(args) or 0)
    except ConfigError as exc:
        print(f"genesys-finance {args.command}: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"genesys-finance {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
