"""The demo corpus: realistic assessment PDFs rendered from declarative specs, with their truths.

Entry points: ``python -m demo.corpus`` (regenerate), ``documents.load_specs()``,
``documents.render(spec)``, ``truth.truth_record(spec)``; see README.md in this directory.
"""
