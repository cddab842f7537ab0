"""Energy: the meter (:mod:`~specblur.energy.meter`, codecarbon imported only when it measures) and
the ledger it writes (:mod:`~specblur.energy.ledger`). The report is rendered by the command line
(:mod:`specblur.cli.energy`)."""

from specblur.energy.ledger import (
    COLUMNS,
    CSV_FIELDS,
    DEFAULT_COUNTRY,
    JOULES_PER_KWH,
    append,
    context,
    country,
    is_estimate,
    ledger_path,
    notes,
    read,
    report_data,
    summarise,
    summarise_calls,
)
from specblur.energy.meter import Measurement, Meter, component_methods, core_watts, summary_method

__all__ = [
    "COLUMNS",
    "CSV_FIELDS",
    "DEFAULT_COUNTRY",
    "JOULES_PER_KWH",
    "Measurement",
    "Meter",
    "append",
    "component_methods",
    "context",
    "core_watts",
    "country",
    "is_estimate",
    "ledger_path",
    "notes",
    "read",
    "report_data",
    "summarise",
    "summarise_calls",
    "summary_method",
]
