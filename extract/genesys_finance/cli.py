"""The `genesys-finance` command line.

Each subcommand lives in its own module exposing `HELP`, `add_arguments(parser)` and
`run(args) -> int`; modules are imported only when their command runs, so `--help`
stays fast and one broken command cannot take the others down.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

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
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="genesys-finance",
        description="Genesys Cloud conversation details into SQL tables finance can trust.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module_path in COMMANDS.items():
        module = importlib.import_module(module_path)
        command_parser = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(command_parser)
        command_parser.set_defaults(_module=module)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
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
