"""dbt's own command line, started with CPython's cycle collector tuned for a short-lived command.

    python -m genesys_finance.dbt_cli run --project-dir . --profiles-dir profiles

The arguments, output and exit status are exactly those of the `dbt` command; `dbt_runner` starts
every dbt subprocess this way. Why: importing dbt creates some hundreds of thousands of long-lived
objects (modules, classes, mashumaro's generated code), and every full collection walks all of
them again, once more at interpreter exit. On an incremental run over a day of data that was about
a quarter of the whole command: 3.7-4.0 s, of which 0.45 s in 680 collections during the run and
~0.6 s in the final one (py-spy, `gc.callbacks`; bench/RESULTS.md "dbt build / Fifth pass").
Collecting nothing during the import and then freezing what it built (`gc.freeze`: kept out of
every later collection, as those objects live until exit anyway) brings it to 2.8-3.0 s. Objects
dbt creates afterwards are collected as usual.
"""

from __future__ import annotations

import gc
from collections.abc import Callable


def load_dbt_cli() -> Callable[[], None]:
    """Import dbt's click command with no collection, then freeze what the import built."""
    gc.disable()
    try:
        from dbt.cli.main import cli
    finally:
        gc.enable()
    gc.freeze()
    return cli


def main() -> None:
    load_dbt_cli()()  # click: exits with dbt's status


if __name__ == "__main__":
    main()
