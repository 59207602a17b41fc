"""The `logitkit` command line. With no arguments: the seeds' worked example."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args:
        print(f"logitkit: unknown arguments {' '.join(args)!r}; run without arguments for "
              "the worked example", file=sys.stderr)
        return 2
    from logitkit import _demo

    return _demo.main()
