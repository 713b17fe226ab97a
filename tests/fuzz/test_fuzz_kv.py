"""``livn.cli.kv.parse_kv``: any tokens give a nested dict or a ConfigError naming the token."""

from __future__ import annotations

import json

from fuzz_contract import ANY, budget, outcome
from fuzz_strategies import RAW_TOKENS, texts
from hypothesis import example, given, settings
from hypothesis import strategies as st

from livn.cli.kv import parse_kv

keys = st.one_of(
    st.sampled_from(["key", "key.sub", "k1.k2.k3", "samples", "**samples", ".key", "key.", "k1..k2", "", "**",
                     "ü.日本", "=", "a b"]),
    st.text(max_size=6),
)
tokens = st.one_of(
    st.builds(lambda k, v: f"{k}={v}", keys, st.one_of(st.sampled_from(RAW_TOKENS), texts())),
    texts(),
)


@settings(max_examples=budget(150))
@given(st.lists(tokens, max_size=6))
@example(["a=1", "a.b=2"])  # a key nested under a value
@example(["a.b=2", "a=1"])
@example(["a={}", "a.b=1", 'a={"c": 2}'])
@example(["key=" + "[" * 100_000 + "]" * 100_000])  # was a RecursionError
def test_any_tokens_parse_or_are_refused_by_name(argv):
    result, error = outcome(lambda: parse_kv(argv), surface="kv.parse_kv", verdict=ANY,
                            suspects=list(argv) + [t.partition("=")[0] for t in argv])
    if error is None:
        assert isinstance(result, dict)
        if argv:  # the last token is in the result, at its dotted key (later ones override)
            key, _, _ = argv[-1].partition("=")
            node = result
            for part in key.removeprefix("**").split("."):
                assert isinstance(node, dict) and part in node, (argv, result)
                node = node[part]


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), texts()),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text("abc", min_size=1, max_size=3), inner,
                                            max_size=3)),
    max_leaves=8,
)
simple_keys = st.text("abcxyz_", min_size=1, max_size=5)


@settings(max_examples=budget(80))
@given(st.dictionaries(simple_keys, json_values, max_size=5))
def test_json_values_round_trip(config):
    argv = [f"{k}={json.dumps(v)}" for k, v in config.items()]
    result, _ = outcome(lambda: parse_kv(argv), surface="kv.round-trip", verdict="ok",
                            suspects=[])
    assert result == config


@settings(max_examples=budget(40))
@given(simple_keys, json_values, json_values)
def test_later_tokens_override_earlier(key, first, second):
    result, _ = outcome(lambda: parse_kv([f"{key}={json.dumps(first)}",
                                          f"{key}={json.dumps(second)}"]),
                        surface="kv.override", verdict="ok", suspects=[])
    if isinstance(first, dict) and isinstance(second, dict):
        assert result[key] == {**first, **second}
    else:
        assert result[key] == second
