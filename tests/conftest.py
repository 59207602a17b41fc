import pytest


def pytest_addoption(parser):
    parser.addoption("--run-slow", action="store_true", default=False,
                     help="also run tests marked slow (the full adversarial accuracy suite)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--run-slow"):
        return
    skip_slow = pytest.mark.skip(reason="slow: run with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)


@pytest.fixture(params=__import__("logitkit").simd_paths())
def each_simd_path(request):
    """Runs a test once per SIMD code path this CPU supports, then restores the default."""
    import logitkit
    default = logitkit.simd_path()
    logitkit._set_simd_path(request.param)
    yield request.param
    logitkit._set_simd_path(default)
