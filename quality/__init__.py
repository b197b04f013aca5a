"""Data-quality rules over parsed assessments (Great Expectations suites) and their findings.

``check_records`` serves ``piawatch check``; ``check_warehouse`` the nightly check step.
"""

from quality.check import check_records, check_warehouse

__all__ = ["check_records", "check_warehouse"]
