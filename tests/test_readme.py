"""The README's Python examples run as written (in order, in one namespace, as a reader would
paste them), so the first screen a user reads stays true."""

import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")


def _blocks():
    with open(README, encoding="utf-8") as f:
        return re.findall(r"```python\n(.*?)```", f.read(), flags=re.S)


@pytest.mark.skipif(not os.path.exists(README), reason="README.md is not beside the tests")
def test_readme_python_examples_run():
    source = "\n".join(_blocks())
    for module in set(re.findall(r"^import (\w+)", source, flags=re.M)) | set(
            re.findall(r"^import (\w+),", source, flags=re.M)):
        pytest.importorskip(module)
    for module in ("pandas", "torch", "dask"):
        if module in source:
            pytest.importorskip(module)
    namespace: dict = {}
    exec(compile(source, "README.md", "exec"), namespace)      # noqa: S102 - the docs' own code
    assert "perplexity" in namespace and 900 < namespace["perplexity"] < 5000
