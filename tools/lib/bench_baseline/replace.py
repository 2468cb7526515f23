"""Literal text replacement for tools/bench_baseline.sh's compatibility patches.

    python3 replace.py FILE OLD NEW [COUNT]

Replaces every occurrence of OLD (a literal string, not a pattern) with NEW.
Fails (exit 1, with a message naming the file) when OLD does not occur, or,
with COUNT, when it does not occur exactly COUNT times: a patch that no longer
applies must stop the benchmark, not be skipped silently.
"""
import sys


def main() -> int:
    if len(sys.argv) not in (4, 5):
        print(__doc__, file=sys.stderr)
        return 2
    path, old, new = sys.argv[1:4]
    want = int(sys.argv[4]) if len(sys.argv) == 5 else None
    with open(path, encoding="utf-8") as f:
        text = f.read()
    n = text.count(old)
    if n == 0 or (want is not None and n != want):
        print(
            f"compat patch no longer applies: {path}: found {n} of "
            f"{'>= 1' if want is None else want} occurrence(s) of {old!r}",
            file=sys.stderr,
        )
        return 1
    with open(path, "w", encoding="utf-8") as f:
        f.write(text.replace(old, new))
    return 0


if __name__ == "__main__":
    sys.exit(main())
