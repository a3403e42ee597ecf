"""``--describe OP=TEXT``: parsed, gathered into one dict, and refused when malformed."""

from __future__ import annotations

import argparse

import pytest

from tgnas_jax.embeddings import add_describe_option, parse_describe


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tool")
    add_describe_option(parser)
    return parser


def test_sentences_are_gathered_by_operator_the_last_one_winning():
    args = _parser().parse_args(["--describe", "my_op = A gated 3x3 convolution ", "--describe", "b=x=y"])
    assert args.describe == {"my_op": "A gated 3x3 convolution", "b": "x=y"}
    assert _parser().parse_args(["--describe", "a=1", "--describe", "a=2"]).describe == {"a": "2"}


def test_no_option_gives_none_and_parses_do_not_share_a_dict():
    parser = _parser()
    assert parser.parse_args([]).describe is None
    first = parser.parse_args(["--describe", "a=1"]).describe
    assert parser.parse_args(["--describe", "b=2"]).describe == {"b": "2"} and first == {"a": "1"}


@pytest.mark.parametrize("text", ["no-equals-sign", "=A sentence", "my_op=", "  =  "])
def test_malformed_values_are_usage_errors(text, capsys):
    with pytest.raises(argparse.ArgumentTypeError, match="expected OP=TEXT"):
        parse_describe(text)
    with pytest.raises(SystemExit) as done:
        _parser().parse_args(["--describe", text])
    assert done.value.code == 2 and "expected OP=TEXT" in capsys.readouterr().err
