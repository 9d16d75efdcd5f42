"""Carrier CDR files into `carrier_raw`, one module per job.

`profile` (a format described in YAML, `profiles/*.yml`), `reader` (file -> raw records),
`parse` (records -> typed `CdrRow` / `CdrReject`), `mask` (numbers and Call-IDs, as for
conversations), `load` (rows -> warehouse), `files` (the whole run, with per-file reports).
"""

from genesys_finance.cdr.files import FileReport, load_cdr_files, open_file, read_file
from genesys_finance.cdr.parse import CdrReject, CdrRow
from genesys_finance.cdr.profile import Profile, builtin, builtin_names, from_file, resolve
from genesys_finance.cdr.reader import CdrFileError

__all__ = [
    "CdrFileError",
    "CdrReject",
    "CdrRow",
    "FileReport",
    "Profile",
    "builtin",
    "builtin_names",
    "from_file",
    "load_cdr_files",
    "open_file",
    "read_file",
    "resolve",
]
