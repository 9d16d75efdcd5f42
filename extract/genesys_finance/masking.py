"""PII masking applied before anything is written (DESIGN.md decision 2).

The policy (`pii_policy.yml`, overridable) is compiled once into one dict per level mapping a
field name to an operation, so masking a conversation is a handful of dict copies and lookups.
Semantics are those of docs/internals.md, "The masked payload".

Overrides: a YAML file named by a command's `--pii-policy PATH` flag, else by the environment
variable GENESYS_FINANCE_PII_POLICY, is merged over the packaged default field by field (see the
header of pii_policy.yml). A policy that uses `hmac` needs GENESYS_FINANCE_HMAC_KEY.

The org's own numbers (its DID pools, and the policy's `org_numbers:` list) are not personal data:
a `last4` field holding one keeps its value in clear. `mask_number` is the one rule for a single
number, shared by conversations and carrier CDRs.
"""

from __future__ import annotations

import functools
import hmac as _hmac
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from genesys_finance.call_ids import normalised_call_id_hash
from genesys_finance.org_numbers import OrgNumbers
from genesys_finance.settings import PROJECT_ROOT, ConfigError, Settings

POLICY_ENV = "GENESYS_FINANCE_PII_POLICY"
NORMALISED_SUFFIX = "Normalised"  # protocolCallId -> protocolCallIdNormalised
REDACTED = "REDACTED"
ACTIONS = ("redact", "last4", "hmac", "drop", "keep")
PAYLOAD_LEVELS = ("conversation", "participant", "attributes", "session", "flow", "segment")
ENTITY_KINDS = ("queues", "wrapup_codes", "divisions", "users")
LEVELS = PAYLOAD_LEVELS + ENTITY_KINDS
DEFAULT_FIELD = "*"

# Where each level nests in the payload: (parent level, field holding it).
_CHILDREN = {
    "conversation": {"participants": "participant"},
    "participant": {"attributes": "attributes", "sessions": "session"},
    "session": {"flow": "flow", "segments": "segment"},
}

# Children before parents, so a walk binds its compiled level once.
_COMPILE_ORDER = ("segment", "flow", "session", "attributes", "participant", "conversation")
_COMPILE_ORDER_ALL = _COMPILE_ORDER + ENTITY_KINDS

_NON_DIGITS = re.compile(r"[^0-9]+")
_ESCAPED_PLUS = re.compile(r"%2b", re.IGNORECASE)
_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
_VISUAL_SEPARATORS = re.compile(r"[-. ()]+")
_E164 = re.compile(r"\+[0-9]+")

# The rating prefix length is the dbt var `genesys_prefix_digits` (dbt_project.yml): one
# definition, read here so that the prefix the extractor stores is the one the models expect.
PREFIX_DIGITS_VAR = "genesys_prefix_digits"

# An operation writes the masked form of `value` under `key` into `out` (or removes the key).
Op = Callable[[dict[str, Any], str, Any], None]


@dataclass(frozen=True)
class PiiPolicy:
    """The policy as read from YAML: level -> field -> action."""

    levels: dict[str, dict[str, str]]
    prefix_digits: int  # from dbt_project.yml (`project_prefix_digits`), not the policy
    prefix_fields: frozenset[str] = frozenset({"ani", "dnis", "sessionDnis"})
    source: str = "pii_policy.yml"
    org_numbers: tuple[str, ...] = ()  # E.164 numbers of the org kept in clear (`org_numbers:`)
    # `hmac` fields holding a SIP Call-ID: they also get `<field>Normalised`, the keyed hash of
    # the normalised Call-ID (`call_ids.normalise_call_id`), which CDRs written otherwise join.
    call_id_fields: frozenset[str] = frozenset({"protocolCallId"})

    def uses_hmac(self) -> list[str]:
        """`level.field` names masked with hmac (for the missing-key error)."""
        return [
            f"{level}.{name}"
            for level, fields in self.levels.items()
            for name, action in fields.items()
            if action == "hmac"
        ]


def default_policy_text() -> str:
    return resources.files("genesys_finance").joinpath("pii_policy.yml").read_text("utf-8")


def _parse(text: str, source: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"PII policy {source}: not valid YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"PII policy {source}: expected a mapping at the top level")
    return data


def _validated_levels(data: Mapping[str, Any], source: str) -> dict[str, dict[str, str]]:
    levels = data.get("levels") or {}
    if not isinstance(levels, dict):
        raise ConfigError(f"PII policy {source}: `levels` must be a mapping")
    out: dict[str, dict[str, str]] = {}
    for level, fields in levels.items():
        if level not in LEVELS:
            raise ConfigError(
                f"PII policy {source}: unknown level {level!r} (one of {', '.join(LEVELS)})"
            )
        if not isinstance(fields, dict):
            raise ConfigError(f"PII policy {source}: level {level} must map fields to actions")
        for name, action in fields.items():
            if action not in ACTIONS:
                raise ConfigError(
                    f"PII policy {source}: {level}.{name}: unknown action {action!r} "
                    f"(one of {', '.join(ACTIONS)})"
                )
        out[level] = {str(k): str(v) for k, v in fields.items()}
    return out


def project_prefix_digits(project_root: Path = PROJECT_ROOT) -> int:
    """The dbt var `genesys_prefix_digits` of the dbt project: digits kept as a rating prefix."""
    source = project_root / "dbt_project.yml"
    try:
        project = yaml.safe_load(source.read_text("utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{source}: cannot read the var {PREFIX_DIGITS_VAR} ({exc})") from exc
    value = (project.get("vars") or {}).get(PREFIX_DIGITS_VAR)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 15:
        raise ConfigError(f"{source}: vars.{PREFIX_DIGITS_VAR} must be an integer from 1 to 15")
    return value


def _no_prefix_digits(data: Mapping[str, Any], source: str) -> None:
    if "prefix_digits" in data:
        raise ConfigError(
            f"PII policy {source}: prefix_digits is no longer a policy setting; the rating prefix "
            f"length is the dbt var {PREFIX_DIGITS_VAR} in dbt_project.yml (one definition for "
            "the extractor and the models)"
        )


_E164_ENTRY = re.compile(r"\+[0-9]{5,15}")


def _org_numbers(data: Mapping[str, Any], source: str) -> list[str]:
    """The policy's `org_numbers:` list: E.164 strings (`+` and 5 to 15 digits)."""
    value = data.get("org_numbers") or []
    if not isinstance(value, list):
        raise ConfigError(f"PII policy {source}: org_numbers must be a list of E.164 numbers")
    for index, entry in enumerate(value, start=1):
        if not isinstance(entry, str) or not _E164_ENTRY.fullmatch(entry.strip()):
            raise ConfigError(
                f"PII policy {source}: org_numbers entry {index} ({entry!r}) is not an E.164 "
                "number such as '+13175550100' (quote it in YAML)"
            )
    return [entry.strip() for entry in value]


def load_policy(path: Path | None = None) -> PiiPolicy:
    """The packaged default, with the file at `path` (if any) merged over it field by field."""
    base = _parse(default_policy_text(), "pii_policy.yml")
    levels = _validated_levels(base, "pii_policy.yml")
    prefix_fields = base.get("prefix_fields") or []
    call_id_fields = base.get("call_id_fields") or []
    org_numbers = _org_numbers(base, "pii_policy.yml")
    source = "pii_policy.yml"
    if path is not None:
        source = str(path)
        try:
            override = _parse(Path(path).read_text("utf-8"), source)
        except OSError as exc:
            raise ConfigError(f"PII policy {source}: cannot read ({exc.strerror})") from exc
        for level, fields in _validated_levels(override, source).items():
            levels.setdefault(level, {}).update(fields)
        _no_prefix_digits(override, source)
        prefix_fields = override.get("prefix_fields", prefix_fields)
        call_id_fields = override.get("call_id_fields", call_id_fields)
        org_numbers += _org_numbers(override, source)  # the org's numbers add up
    for key, value in (("prefix_fields", prefix_fields), ("call_id_fields", call_id_fields)):
        if not isinstance(value, list):
            raise ConfigError(f"PII policy {source}: {key} must be a list of field names")
    return PiiPolicy(
        levels,
        project_prefix_digits(),
        frozenset(map(str, prefix_fields)),
        source,
        tuple(org_numbers),
        frozenset(map(str, call_id_fields)),
    )


def resolve_policy_path(policy_path: str | Path | None, env: Mapping[str, str]) -> Path | None:
    """A CLI flag value wins over GENESYS_FINANCE_PII_POLICY; neither means the default."""
    chosen = policy_path or env.get(POLICY_ENV) or None
    return Path(chosen) if chosen else None


@dataclass(frozen=True)
class _Level:
    ops: dict[str, Op]
    keys: frozenset[str]
    default: Op | None  # None: unlisted fields are kept


def _redact(value: Any) -> Any:
    if isinstance(value, str):
        return REDACTED
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, list):
        return [_redact(v) for v in value]
    if isinstance(value, dict):
        return {k: _redact(v) for k, v in value.items()}
    return REDACTED


def _split_number(value: str) -> tuple[str, bool]:
    """The number inside an address, and whether it is E.164 (docs/internals.md, one rule with
    the SQL macro `number_part` in macros/masking/masking.sql; a test compares them).

    Surrounding spaces go. A `sip:`/`sips:` URI's number is its user part (up to the first `@`,
    then up to the first `;`), where `%2B` reads `+` and other escapes are not part of it. A
    `tel:` scheme is dropped and the number ends at its first `;` (`;ext=`, `;phone-context=`);
    so does a bare number. It is E.164 when it is `+` and digits, visual separators aside.
    """
    text = value.strip(" ")
    scheme = text[:5].lower()
    if scheme.startswith(("sip:", "sips:")):
        user = text[text.index(":") + 1 :].split("@", 1)[0].split(";", 1)[0]
        number = _ESCAPE.sub("", _ESCAPED_PLUS.sub("+", user))
    else:
        if scheme.startswith("tel:"):
            text = text[4:]
        number = text.split(";", 1)[0]
    return number, _E164.fullmatch(_VISUAL_SEPARATORS.sub("", number)) is not None


class MaskedNumber(NamedTuple):
    """One number as masking leaves it: what `<field>_last4`, `_prefix`, `_org_number` hold."""

    last4: str  # its last 4 digits; "REDACTED" when it has no digits
    prefix: str | None  # E.164 rating prefix, taken before truncation; None if not E.164
    org_number: str | None  # E.164 digits (no `+`) when one of the org's numbers, else None


NO_ORG_NUMBERS = OrgNumbers()


def mask_number(
    value: str, org_numbers: OrgNumbers = NO_ORG_NUMBERS, prefix_digits: int | None = None
) -> MaskedNumber:
    """The masking rule for one number (docs/internals.md, "Where a number is masked").

    `prefix_digits` defaults to the project's (`project_prefix_digits`); a `Masker` passes it.

    Only an E.164 number can be one of the org's numbers (pools and policy hold E.164 numbers):
    a national or SIP-user form of an org number is cut like any other, never kept by accident.
    """
    number, e164 = _split_number(value)
    digits = _NON_DIGITS.sub("", number)
    if not digits:
        return MaskedNumber(REDACTED, None, None)
    if not e164:
        return MaskedNumber(digits[-4:], None, None)
    org_number = digits if org_numbers.contains(digits) else None
    if prefix_digits is None:
        prefix_digits = _default_prefix_digits()
    return MaskedNumber(digits[-4:], digits[:prefix_digits], org_number)


@functools.cache
def _default_prefix_digits() -> int:
    return project_prefix_digits()


class Masker:
    """Applies a compiled PII policy to conversations, dimension entities and single values."""

    def __init__(
        self, policy: PiiPolicy, hmac_key: bytes | None, org_numbers: OrgNumbers | None = None
    ) -> None:
        uses = policy.uses_hmac()
        if uses and not hmac_key:
            raise ConfigError(
                f"GENESYS_FINANCE_HMAC_KEY is not set, but the PII policy ({policy.source}) "
                f"masks {', '.join(uses)} with hmac; set the variable to a secret key"
            )
        self.policy = policy
        self._key = hmac_key
        self._prefix_digits = policy.prefix_digits
        # The DID pools (from the API) and the policy's own list: one set of the org's numbers.
        org = org_numbers or NO_ORG_NUMBERS
        self.org_numbers = OrgNumbers(
            org.ranges, org.numbers | OrgNumbers.build(numbers=policy.org_numbers).numbers
        )
        # Numbers repeat (the same ani on every leg, a few dnis): cache the parsing.
        self._number = functools.lru_cache(maxsize=65536)(self._mask_number)
        self._levels: dict[str, _Level] = {}
        for level in _COMPILE_ORDER_ALL:
            self._levels[level] = self._compile(level)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as what builds it (the CDR parsing process gets one; its cache does not
        pickle). The key travels only through the pipe to that child."""
        return (Masker, (self.policy, self._key, self.org_numbers))

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        policy_path: str | Path | None = None,
        env: Mapping[str, str] | None = None,
        org_numbers: OrgNumbers | None = None,
    ) -> Masker:
        """The masker for these settings; `policy_path` is a CLI flag value (wins over the env).

        `org_numbers`: the org's DID pools and DIDs (the extractor reads them first); the
        policy's `org_numbers:` list is added to them.
        """
        path = resolve_policy_path(policy_path, os.environ if env is None else env)
        return cls(load_policy(path), settings.hmac_key, org_numbers)

    # -- single values -------------------------------------------------------------------

    def require_key(self) -> bytes:
        if not self._key:
            raise ConfigError("GENESYS_FINANCE_HMAC_KEY is not set; it is needed to hash Call-IDs")
        return self._key

    def hmac(self, value: str) -> str:
        """Lowercase hex HMAC-SHA256 of `value` (protocolCallId and CDR sip_call_id alike)."""
        return _hmac.digest(self.require_key(), value.encode("utf-8"), "sha256").hex()

    def number(self, value: str) -> MaskedNumber:
        """`mask_number` with this masker's org numbers and prefix length (cached)."""
        return self._number(value)

    def mask_number(self, value: str) -> tuple[str, str | None]:
        """(last4, prefix) of `number(value)`: the pre-org-numbers API, kept for old callers."""
        masked = self._number(value)
        return masked.last4, masked.prefix

    def _mask_number(self, value: str) -> MaskedNumber:
        return mask_number(value, self.org_numbers, self._prefix_digits)

    # -- documents -----------------------------------------------------------------------

    def mask_conversation(self, conv: dict[str, Any]) -> dict[str, Any]:
        """A masked copy; the input is not modified (untouched nested objects are shared)."""
        return self._mask_dict(self._levels["conversation"], conv)

    def mask_entity(self, kind: str, entity: dict[str, Any]) -> dict[str, Any]:
        """A masked copy of a dimension entity (`queues`, `wrapup_codes`, `divisions`, `users`)."""
        level = self._levels.get(kind) if kind in ENTITY_KINDS else None
        if level is None:
            raise ValueError(f"unknown entity kind {kind!r} (one of {', '.join(ENTITY_KINDS)})")
        return self._mask_dict(level, entity)

    @staticmethod
    def _mask_dict(level: _Level, data: dict[str, Any]) -> dict[str, Any]:
        out = dict(data)
        if level.default is None:
            for key in data.keys() & level.keys:
                level.ops[key](out, key, data[key])
        else:
            ops, default = level.ops, level.default
            for key, value in data.items():
                ops.get(key, default)(out, key, value)
        return out

    # -- policy compilation --------------------------------------------------------------

    def _compile(self, level: str) -> _Level:
        fields = self.policy.levels.get(level, {})
        default_action = fields.get(DEFAULT_FIELD, "keep")
        ops = {
            name: self._op(
                action, name in self.policy.prefix_fields, name in self.policy.call_id_fields
            )
            for name, action in fields.items()
            # `keep` needs an operation only to override a non-keep default.
            if name != DEFAULT_FIELD and (action != "keep" or default_action != "keep")
        }
        for name, child in _CHILDREN.get(level, {}).items():
            if name not in fields:  # an explicit action on a container wins over walking it
                ops[name] = self._child_op(child)
        default = None if default_action == "keep" else self._op(default_action, False)
        return _Level(ops, frozenset(ops), default)

    def _child_op(self, child: str) -> Op:
        level, mask = self._levels[child], self._mask_dict

        def walk(out: dict[str, Any], key: str, value: Any) -> None:
            if isinstance(value, list):
                out[key] = [mask(level, v) if isinstance(v, dict) else _redact(v) for v in value]
            elif isinstance(value, dict):
                out[key] = mask(level, value)
            else:  # malformed container: mask rather than guess
                out[key] = _redact(value)

        return walk

    def _op(self, action: str, with_prefix: bool, call_id: bool = False) -> Op:
        if action == "keep":
            return _keep
        if action == "drop":
            return _drop
        if action == "redact":
            return _redact_op
        if action == "hmac":
            return self._hmac_call_id_op if call_id else self._hmac_op
        return self._last4_prefix_op if with_prefix else self._last4_op

    def _hmac_value(self, value: Any) -> Any:
        if isinstance(value, str):
            # __init__ refused a policy using hmac without a key.
            return _hmac.digest(self._key or b"", value.encode("utf-8"), "sha256").hex()
        if isinstance(value, list):
            return [self._hmac_value(v) for v in value]
        if isinstance(value, dict):
            return {k: self._hmac_value(v) for k, v in value.items()}
        if value is None or isinstance(value, bool):
            return value
        return self.hmac(str(value))

    def _last4_value(self, value: Any) -> Any:
        if isinstance(value, str):
            masked = self._number(value)
            return value if masked.org_number else masked.last4
        if isinstance(value, list):
            return [self._last4_value(v) for v in value]
        return _redact(value)

    def _hmac_op(self, out: dict[str, Any], key: str, value: Any) -> None:
        out[key] = self._hmac_value(value)

    def _hmac_call_id_op(self, out: dict[str, Any], key: str, value: Any) -> None:
        out[key] = self._hmac_value(value)
        if isinstance(value, str):
            normalised = normalised_call_id_hash(self.hmac, value)
            if normalised is not None:
                out[key + NORMALISED_SUFFIX] = normalised

    def _last4_op(self, out: dict[str, Any], key: str, value: Any) -> None:
        out[key] = self._last4_value(value)

    def _last4_prefix_op(self, out: dict[str, Any], key: str, value: Any) -> None:
        if not isinstance(value, str):
            out[key] = self._last4_value(value)
            return
        last4, prefix, org_number = self._number(value)
        out[key] = value if org_number else last4  # the org's own number stays in clear
        if prefix is not None:
            out[key + "Prefix"] = prefix


def _keep(out: dict[str, Any], key: str, value: Any) -> None:
    return None


def _drop(out: dict[str, Any], key: str, value: Any) -> None:
    del out[key]


def _redact_op(out: dict[str, Any], key: str, value: Any) -> None:
    out[key] = _redact(value)
