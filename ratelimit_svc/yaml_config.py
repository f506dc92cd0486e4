"""Standalone limits: envoyproxy/ratelimit's YAML configuration, resolved into `Rule`s.

Everything is checked and precomputed at load; `YamlConfig.rules()` then resolves one request
descriptor with a few dict lookups per entry. The format is envoyproxy/ratelimit's:

    domain: edge                    # one per file, unique across files
    descriptors:
      - key: remote_address         # required; matches the request entry's key
        value: 10.0.0.1             # optional; a trailing `*` matches values by prefix
        shadow_mode: true           # count, but never deny
        detailed_metric: true       # accepted and ignored: labels stay bounded
        rate_limit:
          unit: minute              # second, minute, hour, day, week, month, year
          requests_per_unit: 100
          unit_multiplier: 5        # the window lasts unit x multiplier
          name: per_ip              # label `edge.per_ip`, and what `replaces` names
          replaces: [{name: other}] # a request matching both drops `other`
          unlimited: true           # matched, never counted (no unit then)
          algorithm: fixed          # Tollgate's extension: sliding | fixed
        descriptors: []             # nested: matched by the request's next entry

Units are fixed durations, not calendar ones: week = 7 days, month = 30 days and
year = 365 days; such windows are expressed in days (`Window.unit` "day").

As upstream, an empty `value` is no value and an empty `rate_limit:` sets no limit; keys
and units are case-sensitive and case-insensitive respectively.

Differences from envoyproxy/ratelimit, each on purpose:
- `requests_per_unit: 0` (its way to block) is rejected: a Window admits at least one
  request. Denying outright is the gateway's job, not a limit's.
- `unlimited: true` is also accepted on the descriptor itself, beside `rate_limit`.
- Among several `*` prefixes matching one value, the longest wins (it picks the first).
- Labels never carry a request value, even with `detailed_metric`.

Request-side input never raises: any key or value, empty, Unicode or unknown, either
reaches a configured node or yields None. Counter stems escape `%`, `=` and `|` so that two
descriptors never share a counter by accident, and a stem longer than `MAX_STEM_CHARS` is
replaced by its SHA-256 so that Redis keys stay small.
"""

import hashlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Final

import yaml

from ratelimit_svc.limits import (
    MAX_REQUESTS,
    MAX_WINDOW_SECONDS,
    UNIT_SECONDS,
    Algorithm,
    Rule,
    Window,
)

# Upstream units -> (Window.unit, seconds of one unit).
_UNITS: Final = {
    **{unit: (unit, seconds) for unit, seconds in UNIT_SECONDS.items()},
    "week": ("day", 7 * 86_400),
    "month": ("day", 30 * 86_400),
    "year": ("day", 365 * 86_400),
}
_TOP_FIELDS: Final = ("domain", "descriptors")
_DESCRIPTOR_FIELDS: Final = (
    "key",
    "value",
    "rate_limit",
    "descriptors",
    "shadow_mode",
    "detailed_metric",
    "unlimited",
)
_RATE_LIMIT_FIELDS: Final = (
    "unit",
    "requests_per_unit",
    "unit_multiplier",
    "name",
    "replaces",
    "unlimited",
    "algorithm",
)
_YAML_SUFFIXES: Final = (".yaml", ".yml")
MAX_STEM_CHARS: Final = 512
_STEM_ESCAPES: Final = str.maketrans({"%": "%25", "=": "%3D", "|": "%7C"})


class ConfigError(ValueError):
    """The configuration is invalid; `errors` holds one `file: path: problem` line each."""

    def __init__(self, errors: Sequence[str]) -> None:
        self.errors = tuple(errors)
        super().__init__("\n".join(self.errors))


class _Node:
    """One configured descriptor: its children by match kind, and its limit if any."""

    __slots__ = ("any", "exact", "label", "limited", "name", "prefixes", "replaces", "windows")

    def __init__(self, label: str) -> None:
        self.exact: dict[tuple[str, str], _Node] = {}
        # Longest prefix first, so the most specific wildcard wins.
        self.prefixes: dict[str, tuple[tuple[str, _Node], ...]] = {}
        self.any: dict[str, _Node] = {}
        self.label = label
        self.limited = False  # has a rate_limit or is unlimited: a request may end here
        self.windows: tuple[Window, ...] = ()
        self.name = ""
        self.replaces: frozenset[str] = frozenset()


class _Domain:
    __slots__ = ("has_replaces", "root", "source")

    def __init__(self, root: _Node, source: str, has_replaces: bool) -> None:
        self.root = root
        self.source = source
        self.has_replaces = has_replaces


class YamlConfig:
    """The loaded domains, ready for matching. Immutable once built."""

    __slots__ = ("_domains", "default_algorithm", "sources")

    def __init__(self, domains: dict[str, _Domain], default_algorithm: Algorithm) -> None:
        self._domains = domains
        self.default_algorithm = default_algorithm
        # domain -> the file it came from, for logs and the health endpoint.
        self.sources = MappingProxyType({name: d.source for name, d in domains.items()})

    @property
    def domains(self) -> frozenset[str]:
        return frozenset(self._domains)

    def rules(self, domain: str, entries: Sequence[tuple[str, str]]) -> Rule | None:
        """The rule for one request descriptor, or None when the configuration sets none."""
        found = self._domains.get(domain)
        if found is None:
            return None
        node = _walk(found.root, entries)
        return None if node is None else _rule(domain, node, entries)

    def rules_for_request(
        self, domain: str, descriptors: Sequence[Sequence[tuple[str, str]]]
    ) -> list[Rule | None]:
        """`rules()` for each descriptor of one request, with `replaces` applied.

        A descriptor whose rule is named in another matched rule's `replaces` gets None.
        """
        found = self._domains.get(domain)
        if found is None:
            return [None] * len(descriptors)
        nodes = [_walk(found.root, entries) for entries in descriptors]
        if found.has_replaces:
            replaced = frozenset().union(*(n.replaces for n in nodes if n is not None))
            nodes = [None if n is None or n.name in replaced else n for n in nodes]
        return [
            None if node is None else _rule(domain, node, entries)
            for node, entries in zip(nodes, descriptors, strict=True)
        ]


def _walk(node: _Node, entries: Sequence[tuple[str, str]]) -> _Node | None:
    for key, value in entries:
        child = node.exact.get((key, value))
        if child is None:
            for prefix, candidate in node.prefixes.get(key, ()):
                if value.startswith(prefix):
                    child = candidate
                    break
            else:
                child = node.any.get(key)
                if child is None:
                    return None
        node = child
    return node if node.limited else None


def _rule(domain: str, node: _Node, entries: Sequence[tuple[str, str]]) -> Rule:
    stem = "|".join(
        f"{key.translate(_STEM_ESCAPES)}={value.translate(_STEM_ESCAPES)}" for key, value in entries
    )
    if len(stem) > MAX_STEM_CHARS:
        stem = "sha256:" + hashlib.sha256(stem.encode("utf-8", "surrogatepass")).hexdigest()
    return Rule(tag=domain, stem=stem, label=node.label, windows=node.windows)


def parse_config(
    text: str, source: str = "<string>", *, default_algorithm: Algorithm = Algorithm.SLIDING
) -> YamlConfig:
    """One YAML document -> a config with its one domain. Raises ConfigError."""
    parser = _Parser(source, default_algorithm)
    parsed = parser.document(text)
    if parser.errors or parsed is None:
        raise ConfigError(parser.errors)
    return YamlConfig({parsed[0]: parsed[1]}, default_algorithm)


def load_config(
    paths: Sequence[Path], *, default_algorithm: Algorithm = Algorithm.SLIDING
) -> YamlConfig:
    """Files, or directories of `*.yaml`/`*.yml` (dotfiles skipped), -> one config.

    Every file is checked and every problem reported at once in one ConfigError.
    """
    errors: list[str] = []
    domains: dict[str, _Domain] = {}
    for path in _files(paths, errors):
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            errors.append(f"{path}: cannot read: {exc}")
            continue
        parser = _Parser(str(path), default_algorithm)
        parsed = parser.document(text)
        errors.extend(parser.errors)
        if parsed is None:
            continue
        name, domain = parsed
        if name in domains:
            errors.append(
                f"{path}: domain: domain {name!r} is already defined in {domains[name].source}"
            )
        elif not parser.errors:
            domains[name] = domain
    if errors:
        raise ConfigError(errors)
    return YamlConfig(domains, default_algorithm)


def _files(paths: Sequence[Path], errors: list[str]) -> Iterator[Path]:
    # A generator, so that errors and files come in the order they were given.
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found = sorted(
                p
                for p in path.iterdir()
                if p.suffix in _YAML_SUFFIXES and not p.name.startswith(".") and p.is_file()
            )
            if not found:
                # Standalone with no domain would limit nothing: a wrong mount, not an intent.
                errors.append(f"{path}: no *.yaml or *.yml file in this directory")
            yield from found
        elif path.is_file():
            yield path
        else:
            errors.append(f"{path}: no such file or directory")


class _Parser:
    """Checks one document, collecting every problem rather than stopping at the first."""

    def __init__(self, source: str, default_algorithm: Algorithm) -> None:
        self.source = source
        self.default_algorithm = default_algorithm
        self.errors: list[str] = []
        self.names: set[str] = set()
        self.references: list[tuple[str, str]] = []  # (path, name) of each `replaces`

    def error(self, path: str, message: str) -> None:
        self.errors.append(
            f"{self.source}: {path}: {message}" if path else f"{self.source}: {message}"
        )

    def document(self, text: str) -> tuple[str, _Domain] | None:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            self.error("", f"invalid YAML: {' '.join(str(exc).split())}")
            return None
        if not isinstance(data, dict):
            kind = "an empty document" if data is None else f"a {type(data).__name__}"
            self.error("", f"must be a mapping with 'domain' and 'descriptors', got {kind}")
            return None
        self.unknown_fields(data, "", _TOP_FIELDS)
        domain = data.get("domain")
        if not isinstance(domain, str) or not domain:
            problem = "missing" if domain is None else f"must be a non-empty string, got {domain!r}"
            self.error("domain", problem)
            domain = ""
        root = _Node(domain)
        self.descriptors(root, data.get("descriptors"), "descriptors", (domain,))
        for path, name in self.references:
            if name not in self.names:
                self.error(
                    path, f"replaces {name!r}, but no rate_limit in this domain has that name"
                )
        return (domain, _Domain(root, self.source, bool(self.references))) if domain else None

    def unknown_fields(
        self, data: dict[object, object], path: str, allowed: tuple[str, ...]
    ) -> None:
        for field in data:
            if field not in allowed:
                where = f"{path}.{field}" if path else str(field)
                self.error(where, f"unknown field (allowed: {', '.join(allowed)})")

    def descriptors(self, parent: _Node, raw: object, path: str, label: tuple[str, ...]) -> None:
        if raw is None:
            return
        if not isinstance(raw, list):
            self.error(path, f"must be a list of descriptors, got {type(raw).__name__}")
            return
        seen: dict[tuple[str, str | None], str] = {}
        prefixes: dict[str, list[tuple[str, _Node]]] = {}
        for index, item in enumerate(raw):
            here = f"{path}[{index}]"
            built = self.descriptor(item, here, label)
            if built is None:
                continue
            key, value, node = built
            if (key, value) in seen:
                shown = f"key {key!r}" + ("" if value is None else f" value {value!r}")
                self.error(here, f"duplicate descriptor {shown} (first at {seen[key, value]})")
                continue
            seen[key, value] = here
            if value is None:
                parent.any[key] = node
            elif value.endswith("*"):
                prefixes.setdefault(key, []).append((value[:-1], node))
            else:
                parent.exact[key, value] = node
        parent.prefixes = {
            key: tuple(sorted(found, key=lambda pair: -len(pair[0])))
            for key, found in prefixes.items()
        }

    def descriptor(
        self, raw: object, path: str, label: tuple[str, ...]
    ) -> tuple[str, str | None, _Node] | None:
        if not isinstance(raw, dict):
            self.error(path, f"must be a mapping, got {type(raw).__name__}")
            return None
        self.unknown_fields(raw, path, _DESCRIPTOR_FIELDS)
        key = raw.get("key")
        if key is None:
            self.error(f"{path}.key", "missing")
        elif not isinstance(key, str) or not key:
            self.error(f"{path}.key", f"must be a non-empty string, got {key!r}")
        value = raw.get("value")
        if value is not None and not isinstance(value, str):
            self.error(f"{path}.value", f"must be a string (quote it), got {value!r}")
            value = None
        value = value or None  # upstream reads an empty value as no value
        shadow = self.flag(raw, "shadow_mode", path)
        self.flag(raw, "detailed_metric", path)
        unlimited = self.flag(raw, "unlimited", path)

        segment = str(key) if value is None or value.endswith("*") else f"{key}_{value}"
        node = _Node(".".join((*label, segment)))
        rate_limit = raw.get("rate_limit")
        if unlimited and rate_limit is not None:
            self.error(
                f"{path}.unlimited", "unlimited: true and a rate_limit contradict each other"
            )
        elif unlimited:
            node.limited = True
        elif rate_limit is not None:
            self.rate_limit(node, rate_limit, f"{path}.rate_limit", shadow, label[0])
        self.descriptors(node, raw.get("descriptors"), f"{path}.descriptors", (*label, segment))
        if not isinstance(key, str) or not key:
            return None
        return key, value, node

    def flag(self, raw: dict[object, object], field: str, path: str) -> bool:
        value = raw.get(field, False)
        if not isinstance(value, bool):
            self.error(f"{path}.{field}", f"must be true or false, got {value!r}")
            return False
        return value

    def rate_limit(self, node: _Node, raw: object, path: str, shadow: bool, domain: str) -> None:
        if not isinstance(raw, dict):
            self.error(path, f"must be a mapping, got {type(raw).__name__}")
            return
        self.unknown_fields(raw, path, _RATE_LIMIT_FIELDS)
        name = raw.get("name", "")
        if not isinstance(name, str):
            self.error(f"{path}.name", f"must be a string, got {name!r}")
            name = ""
        if name:
            self.names.add(name)
            node.name = name
            node.label = f"{domain}.{name}"
        node.replaces = self.replaces(raw.get("replaces"), f"{path}.replaces", name)
        unlimited = raw.get("unlimited", False)
        if not isinstance(unlimited, bool):
            # Which of a limit or none was meant is unknown: any further check would mislead.
            self.error(f"{path}.unlimited", f"must be true or false, got {unlimited!r}")
            return
        if unlimited:
            given = [
                f for f in ("unit", "requests_per_unit", "unit_multiplier", "algorithm") if f in raw
            ]
            if given:
                self.error(
                    f"{path}.unlimited", f"an unlimited rate_limit takes no {', '.join(given)}"
                )
            node.limited = True
            return
        window = self.window(raw, path, shadow)
        if window is not None:
            node.windows = (window,)
            node.limited = True

    def window(self, raw: dict[object, object], path: str, shadow: bool) -> Window | None:
        unit = raw.get("unit")
        known = ", ".join(_UNITS)
        if unit is None:
            self.error(f"{path}.unit", f"missing ({known})")
        elif not isinstance(unit, str) or unit.lower() not in _UNITS:
            self.error(f"{path}.unit", f"unknown unit {unit!r} ({known})")
            unit = None
        requests = self.count(raw, "requests_per_unit", path, MAX_REQUESTS, required=True)
        multiplier = self.count(raw, "unit_multiplier", path, None, required=False)
        algorithm = self.default_algorithm
        if "algorithm" in raw:
            given = raw["algorithm"]
            by_value = {a.value: a for a in Algorithm}
            if isinstance(given, str) and given.lower() in by_value:
                algorithm = by_value[given.lower()]
            else:
                choices = ", ".join(by_value)
                self.error(f"{path}.algorithm", f"unknown algorithm {given!r} ({choices})")
        if not isinstance(unit, str) or requests is None or multiplier is None:
            return None
        window_unit, unit_seconds = _UNITS[unit.lower()]
        seconds = unit_seconds * multiplier
        if seconds > MAX_WINDOW_SECONDS:
            self.error(
                path,
                f"a window of {multiplier} x {unit} is {seconds} seconds, "
                f"longer than the {MAX_WINDOW_SECONDS} allowed",
            )
            return None
        return Window(requests, seconds, algorithm, shadow, window_unit)

    def count(
        self,
        raw: dict[object, object],
        field: str,
        path: str,
        ceiling: int | None,
        *,
        required: bool,
    ) -> int | None:
        where = f"{path}.{field}"
        value = raw.get(field)
        if value is None:
            if required:
                self.error(where, "missing")
                return None
            return 1
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(where, f"must be a positive integer, got {value!r}")
        elif value < 1:
            hint = " (envoyproxy/ratelimit's 0 to block is not supported)" if value == 0 else ""
            self.error(where, f"must be a positive integer, got {value}{hint}")
        elif ceiling is not None and value > ceiling:
            self.error(where, f"must be at most {ceiling}, got {value}")
        else:
            return value
        return None

    def replaces(self, raw: object, path: str, own_name: str) -> frozenset[str]:
        if raw is None:
            return frozenset()
        if not isinstance(raw, list):
            self.error(path, f"must be a list of {{name: ...}}, got {type(raw).__name__}")
            return frozenset()
        names: set[str] = set()
        for index, item in enumerate(raw):
            here = f"{path}[{index}]"
            if not isinstance(item, dict):
                self.error(here, f"must be a mapping with a name, got {type(item).__name__}")
                continue
            self.unknown_fields(item, here, ("name",))
            name = item.get("name")
            if not isinstance(name, str) or not name:
                self.error(f"{here}.name", f"must be a non-empty string, got {name!r}")
            elif name == own_name:
                self.error(f"{here}.name", f"a rate_limit cannot replace itself ({name!r})")
            else:
                names.add(name)
                self.references.append((f"{here}.name", name))
        return frozenset(names)
