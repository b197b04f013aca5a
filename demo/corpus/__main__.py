"""``python -m demo.corpus``: regenerate the corpus (PDFs, truths, broken inputs) from the specs.

    python -m demo.corpus                          the grid family (demo/corpus/pdf) and the broken inputs
    python -m demo.corpus --only ID ...            just these documents (grid family)
    python -m demo.corpus --family NAME            one layout family, main and wording specs
    python -m demo.corpus --family NAME --only ID  one document of a family
    python -m demo.corpus --family all             every family, the scanned ones included

Families: grid, sheet, flow, landscape, stacked, bold, and the scans grid-scan, stacked-scan.
"""

from __future__ import annotations

import argparse
import sys

from demo.corpus.broken import write_broken
from demo.corpus.build import write_all, write_documents
from demo.corpus.documents import COLLECTIONS, load_spec
from demo.corpus.families import FAMILIES, scan_families


def _family_names() -> list[str]:
    return list(FAMILIES) + scan_families()


def _only(parser, family: str, ids: list[str]) -> None:
    for doc_id in ids:
        for collection, (spec_dir, _) in COLLECTIONS.items():
            path = spec_dir / f"{doc_id}.yaml"
            if path.exists():
                write_documents([load_spec(path)], family, collection)
                print(f"{family} {doc_id}")
                break
        else:
            parser.error(f"no spec for {doc_id} in {', '.join(str(d) for d, _ in COLLECTIONS.values())}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo.corpus", description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", metavar="ID", help="regenerate only these document ids")
    parser.add_argument("--family", choices=_family_names() + ["all"],
                        help="regenerate a layout family (main and wording specs) instead of the grid corpus")
    args = parser.parse_args(argv)
    if args.family is None:
        if args.only:
            _only(parser, "grid", args.only)
        else:
            for doc_id in write_all("grid"):
                print(doc_id)
            for path in write_broken():
                print(path.name)
        return 0
    families = _family_names() if args.family == "all" else [args.family]
    for family in families:
        if args.only:
            _only(parser, family, args.only)
            continue
        for collection in COLLECTIONS:
            ids = write_all(family, collection)
            print(f"{family} ({collection}): {len(ids)} documents")
    return 0


if __name__ == "__main__":
    sys.exit(main())
