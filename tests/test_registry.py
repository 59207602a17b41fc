"""The registry (logitkit._registry) is the one table of public functions: each row has all the
pieces a public function needs, and every public function of arrays has a row.

Adding a public function is one row in the registry plus its kernel, its reference twin, its
Dask twin (if the row says so), its CLI subcommand (if the row names one), its entry in
docs/semantics.md and, for a loss or backward function, a valid call in tests/_strategies.py's
EXAMPLES. These tests name what is missing.
"""

import argparse
import pathlib
import re

import pytest

import logitkit
from logitkit import _registry
from logitkit._registry import BY_NAME, FUNCTIONS

import _strategies

ROOT = pathlib.Path(__file__).resolve().parent.parent
SEMANTICS = ROOT / "docs" / "semantics.md"
#: What logitkit.__all__ holds besides the functions of arrays.
NOT_FUNCTIONS_OF_ARRAYS = {"simd_path", "simd_paths", "set_num_threads", "get_num_threads",
                           "threads", "set_spin_us", "get_spin_us", "reference", "testing",
                           "__version__"}

FUNCS = pytest.mark.parametrize("entry", FUNCTIONS, ids=[f.name for f in FUNCTIONS])


def cli_subcommands():
    """The subcommands of the `logitkit` command line. The one place that knows where the CLI's
    parser is built: if it moves, change only this."""
    from logitkit.cli.parser import build_parser
    parser = build_parser()
    subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert len(subparsers) == 1, "expected one set of subcommands in the CLI's parser"
    return set(subparsers[0].choices)


def test_the_table_itself():
    names = [f.name for f in FUNCTIONS]
    assert len(names) == len(set(names)), "a function is registered twice"
    assert BY_NAME == {f.name: f for f in FUNCTIONS}
    for f in FUNCTIONS:
        assert _registry.function(f.name) is f
    with pytest.raises(ValueError, match="not a logitkit function.*softmax"):
        _registry.function("tanh")
    clis = [f.cli for f in FUNCTIONS if f.cli is not None]
    assert len(clis) == len(set(clis)), "two functions share a CLI subcommand"


@FUNCS
def test_exported_by_logitkit(entry):
    assert entry.name in logitkit.__all__, f"{entry.name} is not in logitkit.__all__"
    assert callable(getattr(logitkit, entry.name, None))
    assert entry.fast is getattr(logitkit, entry.name)


@FUNCS
def test_has_a_reference_twin(entry):
    from logitkit import reference
    twin = getattr(reference, entry.name, None)
    assert callable(twin), f"logitkit.reference has no {entry.name}"
    assert entry.reference is twin
    assert entry.fast is not entry.reference, \
        f"logitkit.{entry.name} is its own reference twin: the comparisons would compare nothing"


@FUNCS
def test_has_a_positive_ulp_bar(entry):
    assert isinstance(entry.max_ulp, (int, float)) and not isinstance(entry.max_ulp, bool)
    # a selection's results are exact: the chosen values themselves and their indices
    assert entry.max_ulp == 0 if entry.kind == "select" else entry.max_ulp > 0
    assert entry.max_ulp_vs_reference == entry.max_ulp + _registry.REFERENCE_SLACK_ULP


@FUNCS
def test_kind_is_known(entry):
    assert entry.kind in ("normalize", "reduce", "elementwise", "loss", "backward", "select")


def test_dask_twins_exactly_where_registered():
    pytest.importorskip("dask")
    import logitkit.dask as lkd
    exported = set(getattr(lkd, "__all__", ()))
    for f in FUNCTIONS:
        has_twin = f.name in exported and callable(getattr(lkd, f.name, None))
        assert has_twin == f.dask, (
            f"{f.name}: registered with dask={f.dask}, but logitkit.dask "
            f"{'has' if has_twin else 'has no'} twin of that name")
    stray = exported - set(BY_NAME)
    assert not stray, f"logitkit.dask exports functions the registry lacks: {sorted(stray)}"


def test_cli_subcommands_exactly_where_registered():
    commands = cli_subcommands()
    for f in FUNCTIONS:
        if f.cli is not None:
            assert f.cli in commands, f"{f.name}: registered CLI subcommand {f.cli!r} is missing"
        else:
            spellings = {f.name, f.name.replace("_", "-")}
            assert not spellings & commands, (
                f"{f.name}: the CLI has a subcommand {sorted(spellings & commands)} but the "
                f"registry says it has none")


def test_documented_in_semantics():
    if not SEMANTICS.exists():
        pytest.skip(f"{SEMANTICS.relative_to(ROOT)} is not here (a test run outside the "
                    "repository, e.g. against an installed wheel without docs/)")
    text = SEMANTICS.read_text(encoding="utf-8")
    missing = [f.name for f in FUNCTIONS
               if not re.search(rf"^###[ \t]+`{re.escape(f.name)}`(?:[ \t].*)?$", text,
                                re.MULTILINE)]
    assert not missing, (f"docs/semantics.md has no heading ### `name` for: "
                         f"{', '.join(missing)}")


def test_every_public_function_of_arrays_is_registered():
    public = set(logitkit.__all__) - NOT_FUNCTIONS_OF_ARRAYS
    for name in public:
        assert callable(getattr(logitkit, name)), f"logitkit.{name} is not callable"
    missing = public - set(BY_NAME)
    assert not missing, f"add these to src/logitkit/_registry.py: {sorted(missing)}"
    helpers = NOT_FUNCTIONS_OF_ARRAYS & set(BY_NAME)
    assert not helpers, f"not functions of arrays, but registered: {sorted(helpers)}"


def test_the_tests_extras_cover_the_registry():
    """tests/_strategies.py's FUNCTIONS is the registry's, and every loss and backward function
    has a valid call there (the bad-input matrix runs it)."""
    assert [f.name for f in _strategies.FUNCTIONS] == [f.name for f in FUNCTIONS]
    needs_example = {f.name for f in FUNCTIONS if f.kind in ("loss", "backward")}
    assert set(_strategies.EXAMPLES) == needs_example, (
        f"without an example: {sorted(needs_example - set(_strategies.EXAMPLES))}; "
        f"an example for no such function: {sorted(set(_strategies.EXAMPLES) - needs_example)}")


SOURCES = ROOT / "src" / "logitkit"


def _needs_sources():
    if not (SOURCES / "csrc" / "kernels.h").exists():
        pytest.skip("the C and Cython sources are not here (a test run against an installed "
                    "wheel, outside the repository)")


@FUNCS
def test_kernel_and_binding_files_exist(entry):
    """The registry names where each function's C algorithm and Cython binding live, and its
    binding file calls into C (a kernel table or a job runner)."""
    _needs_sources()
    kernel = SOURCES / "csrc" / "kernels" / entry.kernel
    binding = SOURCES / "binding" / entry.binding
    assert entry.kernel and kernel.exists(), f"{entry.name}: no kernel file {kernel}"
    assert entry.binding and binding.exists(), f"{entry.name}: no binding file {binding}"
    assert re.search(r"lk_f(32|64)\.|lk_run_", binding.read_text(encoding="utf-8")), (
        f"{entry.name}: {binding.name} calls no kernel")


def test_every_kernel_file_is_compiled_for_every_target():
    """kernels/all_types-inl.h, which every target unit compiles, includes each kernel file."""
    _needs_sources()
    kernels = SOURCES / "csrc" / "kernels"
    included = set(re.findall(r'#include "kernels/([\w-]+\.h)"',
                              (kernels / "all_types-inl.h").read_text(encoding="utf-8")))
    files = {p.name for p in kernels.glob("*-inl.h")} - {"all-inl.h", "all_types-inl.h"}
    assert files == included, (f"not compiled: {sorted(files - included)}; "
                               f"included but missing: {sorted(included - files)}")
    for target in ("baseline", "avx2", "avx512", "neon"):
        unit = (SOURCES / "csrc" / "targets" / f"{target}.c").read_text(encoding="utf-8")
        assert '#include "kernels/all-inl.h"' in unit, f"targets/{target}.c compiles no kernel"
