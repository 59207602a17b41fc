# The one place the version is written: pyproject.toml reads it (statically, without importing
# logitkit) and logitkit.__version__ is this string. Keep it a plain literal assignment.
__version__ = "0.1.0"
