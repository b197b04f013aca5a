"""Where the loader's names used to live, for the importers not yet moved to the modules below.

Import from the module that holds each name instead: ``load.connection`` (connect, the warehouse
errors, write_transaction), ``load.merge`` (merge_rows, insert_rows), ``load.runs`` (the runs
table), ``load.loader`` (load_run, failure_id, OutOfOrderLoad). This module goes once nothing
imports it.
"""

from load.connection import (WarehouseBusy, WarehouseMissing, WarehouseUnavailable, connect,  # noqa: F401
                             write_transaction)
from load.loader import OutOfOrderLoad, failure_id, load_run  # noqa: F401
from load.merge import merge_rows  # noqa: F401
from load.runs import RUN_COUNTS, RUN_STEPS, record_run_end, record_run_start, record_run_step  # noqa: F401
