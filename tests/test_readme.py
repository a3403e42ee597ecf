"""The README's Python examples run as written (with the shipped predictor), and say what they claim."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks(section: str) -> list[str]:
    """The ```python blocks of the README section whose heading starts with ``section``."""
    text = README.read_text()
    start = text.index(f"## {section}")
    end = text.find("\n## ", start + 1)
    return re.findall(r"```python\n(.*?)```", text[start : end if end > 0 else None], re.S)


@pytest.mark.slow
@pytest.mark.parametrize("section", ["Use it from Python", "Your own space"])
def test_readme_examples_run(section: str, capsys: pytest.CaptureFixture[str]) -> None:
    blocks = _python_blocks(section)
    assert blocks, f"no python example under {section!r}"
    namespace: dict = {"__name__": "readme"}
    for block in blocks:
        exec(compile(block, f"README.md: {section}", "exec"), namespace)
    assert capsys.readouterr().out.strip()
    if section == "Your own space":  # the budget the example sets holds, in the space's own count
        found, mobile = namespace["found"], namespace["mobile"]
        assert found.params <= 60_000 and found.params == mobile.num_params(found.arch)
