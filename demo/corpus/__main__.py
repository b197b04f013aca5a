"""``python -m demo.corpus``: regenerate the corpus (PDFs, truths, broken inputs) from the specs.

    python -m demo.corpus                 every document and every broken input
    python -m demo.corpus --only ID ...   just these documents
"""

from __future__ import annotations

import argparse
import sys

from demo.corpus.broken import write_broken
from demo.corpus.build import write_all, write_document
from demo.corpus.documents import SPEC_DIR, load_spec


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo.corpus", description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", metavar="ID", help="regenerate only these document ids")
    args = parser.parse_args(argv)
    if args.only:
        for doc_id in args.only:
            path = SPEC_DIR / f"{doc_id}.yaml"
            if not path.exists():
                parser.error(f"no spec {path}")
            write_document(load_spec(path))
            print(doc_id)
    else:
        for doc_id in write_all():
            print(doc_id)
        for path in write_broken():
            print(path.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
