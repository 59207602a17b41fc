"""`python -m logitkit`: the command line (with no arguments, the worked example)."""

from logitkit.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
