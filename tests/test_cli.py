"""What the search, evaluate and train command lines share: plain-text help with defaults, logging to stderr."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections.abc import Callable

import pytest

from tgnas_jax import _cli, evaluate, train
from tgnas_jax.search import __main__ as search_cli

PARSERS: dict[str, Callable[[], argparse.ArgumentParser]] = {
    "search": search_cli.build_parser,
    "evaluate": evaluate.build_parser,
    "train": train.build_parser,
}
#: Docstring markup that must not reach a terminal: reST literals and Sphinx roles.
MARKUP = re.compile(r"``|:(class|func|meth|data|mod|attr|exc):")


def _help(parser: argparse.ArgumentParser, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args(["--help"])
    assert exit_info.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("name", list(PARSERS))
def test_help_is_plain_text_with_each_options_default_and_an_example(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = PARSERS[name]()
    text = _help(parser, capsys)
    assert not MARKUP.search(text), MARKUP.search(text)
    assert f"example:\n  python -m tgnas_jax.{name} " in text
    options = text.split("\noptions:\n")[1].split("\n\n")[0]
    # One block per option: its first line starts with two spaces and a dash, its help may wrap.
    blocks = {block.split()[0].rstrip(","): " ".join(block.split()) for block in re.split(r"\n(?=  -)", options)}
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        block = blocks[action.option_strings[0]]
        assert action.help, f"{action.option_strings} has no help"
        if action.nargs != 0:  # an option taking a value says its default, or that it is required
            assert "default: " in block or "(required)" in block, block


def test_an_options_own_word_on_its_default_is_kept_and_others_are_shown(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(formatter_class=_cli.HelpFormatter)
    parser.add_argument("--size", type=int, default=64, help="how many")
    parser.add_argument("--out", default="x", help="where (default: beside the input)")
    parser.add_argument("--flag", action="store_true", help="a switch")
    text = " ".join(_help(parser, capsys).split())
    assert "how many (default: 64)" in text and "where (default: beside the input)" in text
    assert "a switch (default" not in text


@pytest.mark.parametrize(
    ("flags", "shown"),
    [([], ["info", "warning"]), (["--quiet"], ["warning"]), (["-v"], ["debug", "info", "warning"])],
)
def test_the_log_goes_to_stderr_at_the_level_the_flags_ask_for(
    flags: list[str], shown: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser()
    _cli.add_verbosity(parser)
    for _ in range(2):  # a second configuration replaces the first: each line once
        _cli.configure_logging(parser.parse_args(flags))
    for level in ("debug", "info", "warning"):
        getattr(_cli.LOGGER, level)(level)
    out, err = capsys.readouterr()
    assert out == "" and err.split() == shown
    assert _cli.shows_progress() == ("info" in shown)


def test_quiet_and_verbose_together_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    _cli.add_verbosity(parser)
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args(["-q", "-v"])
    assert exit_info.value.code == 2 and "not allowed with argument" in capsys.readouterr().err


FINISHING_SCRIPT = """
import atexit, sys
from tgnas_jax._cli import finish
atexit.register(lambda: print("exit handler ran", file=sys.stderr))
sys.stdout.write("x" * 1_000_000)  # more than a pipe holds: all of it must still arrive
sys.stdout.write("\\nlast line\\n")
finish(3)
print("never reached")
"""


def test_finish_runs_exit_handlers_flushes_the_streams_and_exits_with_the_code() -> None:
    done = subprocess.run([sys.executable, "-c", FINISHING_SCRIPT], capture_output=True, text=True, timeout=120)
    assert done.returncode == 3
    assert done.stdout == "x" * 1_000_000 + "\nlast line\n"
    assert done.stderr == "exit handler ran\n"
