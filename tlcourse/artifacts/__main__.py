"""``python -m tlcourse.artifacts {list,check,build} [NAME ...]``: see :mod:`tlcourse.artifacts`."""

from __future__ import annotations

import argparse
import sys
import time

from tlcourse.artifacts.catalog import ARTIFACTS, artifact, build, check, in_build_order
from tlcourse.artifacts.shipped import FINGERPRINT_NAME, StaleArtifactError, artifact_dir, read_fingerprint


def _size(name: str) -> int:
    folder = artifact_dir(name)
    return sum(p.stat().st_size for p in folder.iterdir()) if folder.is_dir() else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tlcourse.artifacts", description=__doc__)
    parser.add_argument("command", choices=("list", "check", "build"))
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"artifacts (default: all of "
                        f"{', '.join(a.name for a in ARTIFACTS)})")
    args = parser.parse_args(argv)
    try:
        entries = in_build_order(args.names) if args.names else list(ARTIFACTS)
    except ValueError as error:
        parser.error(str(error))
    if args.command == "list":
        for entry in entries:
            try:
                fingerprint = read_fingerprint(entry.name)["fingerprint"]
            except StaleArtifactError:
                fingerprint = "not built"
            print(f"{entry.name:16} {_size(entry.name) / 2**20:6.2f} MiB  {fingerprint:16}  {entry.about}")
        print(f"{'total':16} {sum(_size(a.name) for a in entries) / 2**20:6.2f} MiB")
        return 0
    if args.command == "check":
        failed = 0
        for entry in entries:
            try:
                check(entry.name)
                print(f"{entry.name:16} ok")
            except StaleArtifactError as error:
                failed += 1
                print(f"{entry.name:16} STALE: {error}")
        return 1 if failed else 0
    for entry in entries:
        needs = [artifact(n).name for n in entry.needs]
        print(f"building {entry.name}: {entry.about}" + (f" (on the shipped {', '.join(needs)})" if needs else ""),
              flush=True)
        start = time.perf_counter()
        record = build(entry.name)
        print(f"wrote {artifact_dir(entry.name)} in {time.perf_counter() - start:.0f} s, fingerprint "
              f"{record['fingerprint']}:")
        for file in [*record["files"], FINGERPRINT_NAME]:
            print(f"  {file:24} {(artifact_dir(entry.name) / file).stat().st_size / 1024:9.1f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
