"""The static site: every city, document and problem in the warehouse as browsable HTML.

Named ``website`` so it does not shadow Python's own ``site`` module. ``build_site(settings)``
writes ``<data root>/reports/site/`` incrementally; ``piawatch site`` builds, opens or serves it.
"""

from website.build import BuildResult, build_site, site_dir

__all__ = ["BuildResult", "build_site", "site_dir"]
