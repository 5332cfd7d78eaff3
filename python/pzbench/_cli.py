"""The ``pzbench`` console script (pyproject.toml): the command line of the Rust binary, run inside
the extension (crates/python/src/cli.rs), so that ``pip install`` alone gives a CI job the gate."""
import sys

from . import _core


def main() -> None:
    """Run ``pzbench`` with this process's arguments and exit with its code (0, 1 or 2)."""
    sys.exit(_core.main(sys.argv))


if __name__ == "__main__":
    main()
