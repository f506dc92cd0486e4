"""The envoyproxy/ratelimit-style YAML: parsing, every validation error, and matching."""

import textwrap
from pathlib import Path

import pytest

from ratelimit_svc.limits import MAX_REQUESTS, Algorithm, Rule, Window
from ratelimit_svc.yaml_config import (
    MAX_STEM_CHARS,
    ConfigError,
    YamlConfig,
    load_config,
    parse_config,
)

pytestmark = pytest.mark.pure

EXAMPLE = Path(__file__).parents[2] / "ratelimit_svc" / "examples" / "ratelimit.yaml"


def config(text: str, **kwargs: Algorithm) -> YamlConfig:
    return parse_config(textwrap.dedent(text), "ratelimit.yaml", **kwargs)


def errors_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        parse_config(textwrap.dedent(text), "ratelimit.yaml")
    assert str(raised.value) == "\n".join(raised.value.errors)
    return list(raised.value.errors)


def only_error(text: str) -> str:
    errors = errors_of(text)
    assert len(errors) == 1, errors
    return errors[0]


def limited(text: str) -> str:
    """A one-descriptor document around a rate_limit body."""
    body = textwrap.indent(textwrap.dedent(text), " " * 6)
    return f"domain: d\ndescriptors:\n  - key: k\n    rate_limit:\n{body}"


MESSAGING = """
    domain: messaging
    descriptors:
      - key: message_type
        value: marketing
        descriptors:
          - key: to_number
            rate_limit:
              unit: day
              requests_per_unit: 5
      - key: to_number
        rate_limit:
          unit: day
          requests_per_unit: 100
"""

PRECEDENCE = """
    domain: d
    descriptors:
      - key: path
        rate_limit: {unit: second, requests_per_unit: 1}
      - key: path
        value: "/api/*"
        rate_limit: {unit: second, requests_per_unit: 2}
      - key: path
        value: "/api/admin/*"
        rate_limit: {unit: second, requests_per_unit: 3}
      - key: path
        value: /api/health
        rate_limit: {unit: second, requests_per_unit: 4}
"""


def requests(rule: Rule | None) -> int:
    assert rule is not None
    (window,) = rule.windows
    return window.requests


# --- parsing ---------------------------------------------------------------------------


def test_example_file_loads_and_matches() -> None:
    loaded = load_config([EXAMPLE])
    assert loaded.domains == frozenset({"edge"})
    assert loaded.sources["edge"] == str(EXAMPLE)
    assert requests(loaded.rules("edge", [("remote_address", "203.0.113.7")])) == 50
    assert loaded.rules("edge", [("remote_address", "10.0.0.1")]) == Rule(
        tag="edge", stem="remote_address=10.0.0.1", label="edge.remote_address_10.0.0.1"
    )
    export = loaded.rules("edge", [("api_key", "k-1"), ("path", "/v1/export")])
    assert export is not None
    assert export.windows == (Window(10, 7 * 86_400, Algorithm.FIXED, False, "day"),)


def test_nested_messaging_config_resolves_each_depth() -> None:
    loaded = config(MESSAGING)
    marketing = loaded.rules("messaging", [("message_type", "marketing"), ("to_number", "206")])
    assert marketing == Rule(
        tag="messaging",
        stem="message_type=marketing|to_number=206",
        label="messaging.message_type_marketing.to_number",
        windows=(Window(5, 86_400, Algorithm.SLIDING, False, "day"),),
    )
    assert requests(loaded.rules("messaging", [("to_number", "206")])) == 100
    # The placeholder level has no limit of its own.
    assert loaded.rules("messaging", [("message_type", "marketing")]) is None


def test_upstream_spellings_are_accepted() -> None:
    loaded = config("""
        domain: d
        descriptors:
          - key: a
            value: ""
            detailed_metric: true
            shadow_mode: false
            rate_limit: {unit: MINUTE, requests_per_unit: 7}
          - key: b
            rate_limit:
          - key: c
            descriptors:
    """)
    # An empty value is no value, the unit's case is free, an empty rate_limit sets none.
    assert loaded.rules("d", [("a", "anything")]) == Rule(
        tag="d", stem="a=anything", label="d.a", windows=(Window(7, 60, unit="minute"),)
    )
    assert loaded.rules("d", [("b", "x")]) is None
    assert loaded.rules("d", [("c", "x")]) is None


def test_domain_without_descriptors_limits_nothing() -> None:
    assert config("domain: quiet").rules("quiet", [("k", "v")]) is None


# --- errors ----------------------------------------------------------------------------


def test_error_names_file_and_path_inside_document() -> None:
    message = only_error("""
        domain: d
        descriptors:
          - key: a
          - key: b
            descriptors:
              - key: c
                rate_limit: {unit: fortnight, requests_per_unit: 1}
    """)
    assert message == (
        "ratelimit.yaml: descriptors[1].descriptors[0].rate_limit.unit: unknown unit "
        "'fortnight' (second, minute, hour, day, week, month, year)"
    )


def test_all_errors_of_a_document_are_reported_together() -> None:
    errors = errors_of("""
        domain: d
        colour: blue
        descriptors:
          - value: v
          - key: b
            rate_limit: {unit: minute, requests_per_unit: 0}
            descriptors:
              - key: c
                shadow_mode: 1
    """)
    assert errors == [
        "ratelimit.yaml: colour: unknown field (allowed: domain, descriptors)",
        "ratelimit.yaml: descriptors[0].key: missing",
        "ratelimit.yaml: descriptors[1].rate_limit.requests_per_unit: must be a positive "
        "integer, got 0 (envoyproxy/ratelimit's 0 to block is not supported)",
        "ratelimit.yaml: descriptors[1].descriptors[0].shadow_mode: must be true or false, got 1",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "ratelimit.yaml: must be a mapping with 'domain' and 'descriptors', got an empty"),
        (
            "- domain: d",
            "ratelimit.yaml: must be a mapping with 'domain' and 'descriptors', got a list",
        ),
        ("descriptors: []", "ratelimit.yaml: domain: missing"),
        ("domain: ''", "ratelimit.yaml: domain: must be a non-empty string, got ''"),
        ("domain: [a]", "domain: must be a non-empty string, got ['a']"),
        (
            "domain: d\ndescriptors: {key: a}",
            "descriptors: must be a list of descriptors, got dict",
        ),
        ("domain: d\ndescriptors: [a]", "descriptors[0]: must be a mapping, got str"),
        ("domain: d\ndescriptors: [{value: v}]", "descriptors[0].key: missing"),
        ("domain: d\ndescriptors: [{key: ''}]", "descriptors[0].key: must be a non-empty string"),
        (
            "domain: d\ndescriptors: [{key: 5}]",
            "descriptors[0].key: must be a non-empty string, got 5",
        ),
        (
            "domain: d\ndescriptors: [{key: k, value: 10}]",
            "value: must be a string (quote it), got 10",
        ),
        (
            "domain: d\ndescriptors: [{key: k, value: true}]",
            "value: must be a string (quote it), got True",
        ),
        (
            "domain: d\ndescriptors: [{key: k, limit: 1}]",
            "descriptors[0].limit: unknown field (allowed: key, value, rate_limit, descriptors, "
            "shadow_mode, detailed_metric, unlimited)",
        ),
        ("domain: d\n5: x", "ratelimit.yaml: 5: unknown field (allowed: domain, descriptors)"),
        (
            "domain: d\ndescriptors: [{key: k, shadow_mode: 'yes'}]",
            "shadow_mode: must be true or false",
        ),
        (
            "domain: d\ndescriptors: [{key: k, detailed_metric: 0}]",
            "detailed_metric: must be true or false",
        ),
        (
            "domain: d\ndescriptors: [{key: k, rate_limit: 5}]",
            "rate_limit: must be a mapping, got int",
        ),
        ("domain: d\ndescriptors: [{key: k]", "ratelimit.yaml: invalid YAML: "),
        ("domain: d\n---\ndomain: e", "ratelimit.yaml: invalid YAML: expected a single document"),
        (
            "domain: d\ndescriptors: [{key: k, unlimited: true, rate_limit: {unit: day}}]",
            "descriptors[0].unlimited: unlimited: true and a rate_limit contradict each other",
        ),
        (
            "domain: d\ndescriptors: [{key: k, unlimited: true, descriptors: 3}]",
            "descriptors[0].descriptors: must be a list of descriptors, got int",
        ),
    ],
)
def test_document_errors(text: str, expected: str) -> None:
    assert expected in only_error(text)


ONE = "unit: second, requests_per_unit: 1"
POSITIVE = "must be a positive integer, got"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("requests_per_unit: 1", "rate_limit.unit: missing (second, minute, hour, day, week"),
        ("{unit: 5, requests_per_unit: 1}", "rate_limit.unit: unknown unit 5 ("),
        ("{unit: second}", "rate_limit.requests_per_unit: missing"),
        ("{unit: second, requests_per_unit: 0}", f"requests_per_unit: {POSITIVE} 0"),
        ("{unit: second, requests_per_unit: -3}", f"requests_per_unit: {POSITIVE} -3"),
        ("{unit: second, requests_per_unit: 1.5}", f"requests_per_unit: {POSITIVE} 1.5"),
        ("{unit: second, requests_per_unit: '10'}", f"requests_per_unit: {POSITIVE} '10'"),
        ("{unit: second, requests_per_unit: true}", f"requests_per_unit: {POSITIVE} True"),
        (
            f"{{unit: second, requests_per_unit: {MAX_REQUESTS + 1}}}",
            f"requests_per_unit: must be at most {MAX_REQUESTS}, got {MAX_REQUESTS + 1}",
        ),
        (f"{{{ONE}, unit_multiplier: 0}}", f"rate_limit.unit_multiplier: {POSITIVE} 0"),
        (f"{{{ONE}, unit_multiplier: -1}}", f"rate_limit.unit_multiplier: {POSITIVE} -1"),
        (f"{{{ONE}, unit_multiplier: 2.5}}", f"rate_limit.unit_multiplier: {POSITIVE} 2.5"),
        (
            "{unit: year, requests_per_unit: 1, unit_multiplier: 2}",
            "rate_limit: a window of 2 x year is 63072000 seconds, "
            "longer than the 31622400 allowed",
        ),
        ("{unit: day, requests_per_unit: 1, unit_multiplier: 367}", "a window of 367 x day is"),
        (
            f"{{{ONE}, per: 2}}",
            "rate_limit.per: unknown field (allowed: unit, requests_per_unit, "
            "unit_multiplier, name, replaces, unlimited, algorithm)",
        ),
        (
            f"{{{ONE}, algorithm: token_bucket}}",
            "rate_limit.algorithm: unknown algorithm 'token_bucket' (sliding, fixed)",
        ),
        (f"{{{ONE}, algorithm: [fixed]}}", "unknown algorithm ['fixed']"),
        (
            f"{{unlimited: true, {ONE}}}",
            "rate_limit.unlimited: an unlimited rate_limit takes no unit, requests_per_unit",
        ),
        ("{unlimited: 'true'}", "rate_limit.unlimited: must be true or false, got 'true'"),
        (f"{{{ONE}, name: 3}}", "rate_limit.name: must be a string, got 3"),
        (f"{{{ONE}, replaces: x}}", "rate_limit.replaces: must be a list of {name: ...}, got str"),
        (f"{{{ONE}, replaces: [x]}}", "replaces[0]: must be a mapping with a name, got str"),
        (f"{{{ONE}, replaces: [{{}}]}}", "replaces[0].name: must be a non-empty string, got None"),
        (
            f"{{{ONE}, replaces: [{{name: ghost}}]}}",
            "replaces[0].name: replaces 'ghost', but no rate_limit in this domain has that name",
        ),
        (
            f"{{{ONE}, name: me, replaces: [{{name: me}}]}}",
            "replaces[0].name: a rate_limit cannot replace itself ('me')",
        ),
    ],
)
def test_rate_limit_errors(body: str, expected: str) -> None:
    message = only_error(limited(body))
    assert message.startswith("ratelimit.yaml: descriptors[0].rate_limit")
    assert expected in message


def test_replaces_entries_take_only_a_name() -> None:
    errors = errors_of("""
        domain: d
        descriptors:
          - key: a
            rate_limit: {unit: second, requests_per_unit: 1, name: first}
          - key: b
            rate_limit:
              {unit: second, requests_per_unit: 1, replaces: [{name: first, as: b}]}
    """)
    assert errors == [
        "ratelimit.yaml: descriptors[1].rate_limit.replaces[0].as: unknown field (allowed: name)"
    ]


def test_duplicate_siblings_are_an_error_but_cousins_are_not() -> None:
    errors = errors_of("""
        domain: d
        descriptors:
          - key: k
            value: v
          - key: k
          - key: k
            value: v
          - key: k
          - key: other
            descriptors: [{key: k, value: v}]
    """)
    assert errors == [
        "ratelimit.yaml: descriptors[2]: duplicate descriptor key 'k' value 'v' "
        "(first at descriptors[0])",
        "ratelimit.yaml: descriptors[3]: duplicate descriptor key 'k' (first at descriptors[1])",
    ]


def test_config_error_is_a_value_error() -> None:
    assert issubclass(ConfigError, ValueError)


# --- matching --------------------------------------------------------------------------


def test_exact_beats_longest_prefix_beats_shorter_prefix_beats_any_value() -> None:
    loaded = config(PRECEDENCE)
    assert requests(loaded.rules("d", [("path", "/api/health")])) == 4
    assert requests(loaded.rules("d", [("path", "/api/admin/users")])) == 3
    assert requests(loaded.rules("d", [("path", "/api/books")])) == 2
    assert requests(loaded.rules("d", [("path", "/static/app.js")])) == 1


def test_bare_star_takes_every_value_before_the_key_only_node() -> None:
    loaded = config("""
        domain: d
        descriptors:
          - key: path
            rate_limit: {unit: second, requests_per_unit: 1}
          - key: path
            value: "*"
            descriptors:
              - key: user
                rate_limit: {unit: second, requests_per_unit: 5}
    """)
    assert requests(loaded.rules("d", [("path", ""), ("user", "u")])) == 5
    assert requests(loaded.rules("d", [("path", "/x"), ("user", "u")])) == 5
    # "*" has no limit of its own, and the walk never backtracks to the key-only
    # sibling (as upstream): a one-entry request gets no limit.
    assert loaded.rules("d", [("path", "/x")]) is None


def test_walk_commits_to_the_most_specific_child_without_backtracking() -> None:
    loaded = config("""
        domain: d
        descriptors:
          - key: a
            value: x
            descriptors: [{key: b, value: only, rate_limit: {unit: second, requests_per_unit: 1}}]
          - key: a
            descriptors: [{key: b, rate_limit: {unit: second, requests_per_unit: 2}}]
    """)
    assert requests(loaded.rules("d", [("a", "x"), ("b", "only")])) == 1
    assert loaded.rules("d", [("a", "x"), ("b", "other")]) is None
    assert requests(loaded.rules("d", [("a", "y"), ("b", "other")])) == 2


def test_limit_comes_from_the_node_of_the_last_entry_only() -> None:
    loaded = config("""
        domain: d
        descriptors:
          - key: a
            rate_limit: {unit: second, requests_per_unit: 1}
            descriptors:
              - key: b
                rate_limit: {unit: second, requests_per_unit: 2}
    """)
    assert requests(loaded.rules("d", [("a", "1")])) == 1
    assert requests(loaded.rules("d", [("a", "1"), ("b", "2")])) == 2
    # Deeper than the configuration, or a key it does not know: no limit.
    assert loaded.rules("d", [("a", "1"), ("b", "2"), ("c", "3")]) is None
    assert loaded.rules("d", [("a", "1"), ("z", "2")]) is None
    assert loaded.rules("d", [("b", "2")]) is None


def test_unknown_domain_and_empty_descriptor_have_no_limit() -> None:
    loaded = config(MESSAGING)
    assert loaded.rules("other", [("to_number", "1")]) is None
    assert loaded.rules("messaging", []) is None
    assert loaded.rules_for_request("other", [[("to_number", "1")], []]) == [None, None]


@pytest.mark.parametrize("where", ["descriptor", "rate_limit"])
def test_unlimited_yields_a_rule_without_windows(where: str) -> None:
    flag = "unlimited: true" if where == "descriptor" else "rate_limit: {unlimited: true}"
    loaded = config(f"domain: d\ndescriptors:\n  - key: ldap\n    {flag}\n")
    rule = loaded.rules("d", [("ldap", "x")])
    assert rule == Rule(tag="d", stem="ldap=x", label="d.ldap")
    assert rule.unlimited


def test_shadow_mode_marks_the_window() -> None:
    loaded = config("""
        domain: d
        descriptors:
          - key: user
            value: user-a
            shadow_mode: true
            rate_limit: {unit: second, requests_per_unit: 10}
          - key: user
            value: user-b
            rate_limit: {unit: second, requests_per_unit: 20}
    """)
    shadowed = loaded.rules("d", [("user", "user-a")])
    enforced = loaded.rules("d", [("user", "user-b")])
    assert shadowed is not None and shadowed.windows[0].shadow
    assert enforced is not None and not enforced.windows[0].shadow


@pytest.mark.parametrize(
    ("unit", "multiplier", "seconds", "window_unit", "label"),
    [
        ("second", 1, 1, "second", "9 per second"),
        ("minute", 5, 300, "minute", "9 per 5 minutes"),
        ("hour", 1, 3600, "hour", "9 per hour"),
        ("day", 2, 172_800, "day", "9 per 2 days"),
        ("week", 1, 604_800, "day", "9 per 7 days"),
        ("week", 2, 1_209_600, "day", "9 per 14 days"),
        ("month", 1, 2_592_000, "day", "9 per 30 days"),
        ("month", 12, 31_104_000, "day", "9 per 360 days"),
        ("year", 1, 31_536_000, "day", "9 per 365 days"),
    ],
)
def test_units_and_multiplier_make_fixed_length_windows(
    unit: str, multiplier: int, seconds: int, window_unit: str, label: str
) -> None:
    body = f"{{unit: {unit}, requests_per_unit: 9, unit_multiplier: {multiplier}}}"
    rule = parse_config(limited(body)).rules("d", [("k", "v")])
    assert rule is not None
    (window,) = rule.windows
    assert (window.seconds, window.unit, window.label) == (seconds, window_unit, label)


def test_algorithm_defaults_to_the_loader_and_can_be_set_per_limit() -> None:
    text = """
        domain: d
        descriptors:
          - key: a
            rate_limit: {unit: second, requests_per_unit: 1}
          - key: b
            rate_limit: {unit: second, requests_per_unit: 1, algorithm: Sliding}
    """
    fixed_by_default = config(text, default_algorithm=Algorithm.FIXED)
    assert fixed_by_default.default_algorithm is Algorithm.FIXED
    for key, expected in [("a", Algorithm.FIXED), ("b", Algorithm.SLIDING)]:
        rule = fixed_by_default.rules("d", [(key, "x")])
        assert rule is not None and rule.windows[0].algorithm is expected
    rule = config(text).rules("d", [("a", "x")])
    assert rule is not None and rule.windows[0].algorithm is Algorithm.SLIDING


def test_replaces_drops_the_named_rule_from_the_same_request() -> None:
    loaded = load_config([EXAMPLE])
    search = [("api_key", "k-1"), ("path", "/v1/search/books")]
    partner = [("tenant", "acme"), ("path", "/v1/search/books")]
    per_ip = [("remote_address", "203.0.113.7")]
    alone = loaded.rules_for_request("edge", [search, per_ip])
    assert [requests(rule) for rule in alone] == [60, 50]
    together = loaded.rules_for_request("edge", [search, partner, per_ip])
    assert together[0] is None
    assert [requests(rule) for rule in together[1:]] == [600, 50]
    # One descriptor at a time, nothing is replaced.
    assert requests(loaded.rules("edge", search)) == 60


# --- stems, labels and request-side input ------------------------------------------------


def test_every_counter_of_a_domain_shares_its_tag() -> None:
    loaded = load_config([EXAMPLE])
    for entries in ([("remote_address", "1.2.3.4")], [("api_key", "k"), ("path", "/v1/x")]):
        rule = loaded.rules("edge", entries)
        assert rule is not None and rule.tag == "edge"


def test_stems_are_the_request_entries_and_distinct_per_value() -> None:
    loaded = config(PRECEDENCE)
    values = [
        "/api/books",
        "/api/films",
        "/api/admin/a",
        "/api/admin/b",
        "/x",
        "/y",
        "/api/health",
        "",
    ]
    stems = [rule.stem for rule in (loaded.rules("d", [("path", v)]) for v in values) if rule]
    assert stems == [f"path={value}" for value in values]


def test_stem_escaping_keeps_lookalike_descriptors_apart() -> None:
    loaded = config("""
        domain: d
        descriptors:
          - key: a
            descriptors: [{key: b, rate_limit: {unit: second, requests_per_unit: 1}}]
          - key: a=b
            descriptors: [{key: c, rate_limit: {unit: second, requests_per_unit: 1}}]
    """)
    first = loaded.rules("d", [("a", "x|b=y"), ("b", "z")])
    second = loaded.rules("d", [("a", "x"), ("b", "y|b=z")])
    third = loaded.rules("d", [("a=b", "x"), ("c", "100%")])
    assert first is not None and second is not None and third is not None
    assert first.stem == "a=x%7Cb%3Dy|b=z"
    assert second.stem == "a=x|b=y%7Cb%3Dz"
    assert third.stem == "a%3Db=x|c=100%25"


def test_labels_stay_bounded_whatever_the_request_values() -> None:
    loaded = load_config([EXAMPLE])
    labels = set()
    for n in range(500):
        for entries in (
            [("remote_address", f"203.0.{n // 256}.{n % 256}")],
            [("remote_address", f"192.168.0.{n}")],
            [("user_agent", f"curl/8.{n}")],
            [("api_key", f"key-{n}"), ("path", f"/v1/search/{n}")],
            [("api_key", f"key-{n}"), ("path", f"/v1/items/{n}")],
            [("plan", "free"), ("api_key", f"key-{n}")],
        ):
            rule = loaded.rules("edge", entries)
            assert rule is not None
            labels.add(rule.label)
    assert labels == {
        "edge.remote_address",
        "edge.user_agent",
        "edge.search_per_key",
        "edge.api_key.path",
        "edge.plan_free.api_key",
    }
    assert loaded.rules("edge", [("remote_address", "10.0.0.1")]) is not None


@pytest.mark.parametrize(
    "value",
    ["", "ünïcødé/日本語/🚦", " ", "\x00", "a" * 100_000, "%|=*", "\ud800"],
    ids=["empty", "unicode", "space", "nul", "long", "specials", "surrogate"],
)
def test_request_values_never_crash(value: str) -> None:
    loaded = load_config([EXAMPLE])
    for entries in (
        [("remote_address", value)],
        [(value, value)],
        [("api_key", value), ("path", value)],
        [("tenant", value), ("path", value)],
    ):
        rule = loaded.rules("edge", entries)
        assert rule is None or len(rule.stem) <= MAX_STEM_CHARS
    assert loaded.rules("edge", [(value, "x")]) is None


def test_long_stems_are_hashed_and_stay_distinct() -> None:
    loaded = config(MESSAGING)
    short = loaded.rules("messaging", [("to_number", "1" * (MAX_STEM_CHARS - 10))])
    first = loaded.rules("messaging", [("to_number", "1" * 10_000)])
    second = loaded.rules("messaging", [("to_number", "1" * 9_999 + "2")])
    assert short is not None and short.stem == "to_number=" + "1" * (MAX_STEM_CHARS - 10)
    assert first is not None and second is not None
    assert first.stem.startswith("sha256:") and len(first.stem) == len("sha256:") + 64
    assert first.stem != second.stem


# --- files and directories ---------------------------------------------------------------


def write(path: Path, domain: str, limit: int = 1) -> Path:
    path.write_text(
        f"domain: {domain}\ndescriptors:\n"
        f"  - key: k\n    rate_limit: {{unit: second, requests_per_unit: {limit}}}\n"
    )
    return path


def test_directory_loads_every_yaml_file_and_skips_the_rest(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", "alpha", 1)
    write(tmp_path / "b.yml", "beta", 2)
    (tmp_path / "notes.txt").write_text("not: config")
    (tmp_path / ".hidden.yaml").write_text("broken: [")
    (tmp_path / "sub.yaml").mkdir()
    loaded = load_config([tmp_path])
    assert loaded.domains == frozenset({"alpha", "beta"})
    assert loaded.sources == {"alpha": str(tmp_path / "a.yaml"), "beta": str(tmp_path / "b.yml")}
    assert requests(loaded.rules("beta", [("k", "v")])) == 2


def test_files_and_directories_combine(tmp_path: Path) -> None:
    directory = tmp_path / "conf"
    directory.mkdir()
    write(directory / "a.yaml", "alpha")
    loaded = load_config([directory, write(tmp_path / "extra.yaml", "extra")])
    assert loaded.domains == frozenset({"alpha", "extra"})


def test_duplicate_domain_across_files_names_both(tmp_path: Path) -> None:
    first = write(tmp_path / "a.yaml", "shared")
    second = write(tmp_path / "b.yaml", "shared")
    with pytest.raises(ConfigError) as raised:
        load_config([tmp_path])
    assert str(raised.value) == (f"{second}: domain: domain 'shared' is already defined in {first}")


def test_errors_of_every_file_are_reported_together(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("domain: a\ndescriptors: [{key: k, rate_limit: {unit: x}}]")
    (tmp_path / "b.yaml").write_text("descriptors: []")
    (tmp_path / "c.yaml").write_bytes(b"domain: \xff\n")
    with pytest.raises(ConfigError) as raised:
        load_config([tmp_path, tmp_path / "missing.yaml"])
    errors = raised.value.errors
    assert [line.split(": ", 1)[0] for line in errors] == [
        str(tmp_path / "a.yaml"),
        str(tmp_path / "a.yaml"),
        str(tmp_path / "b.yaml"),
        str(tmp_path / "c.yaml"),
        str(tmp_path / "missing.yaml"),
    ]
    assert "cannot read" in errors[3]
    assert errors[4].endswith("no such file or directory")


def test_empty_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no \*\.yaml or \*\.yml file in this directory"):
        load_config([tmp_path])


def test_no_paths_give_an_empty_config() -> None:
    assert load_config([]).domains == frozenset()
