"""Every error the inspection domain raises, under one root.

    InspectionError                     the domain refused something
    ├── InvalidIdentifier               (also ValueError) a VIN or plate broke its rule: field, value,
    │                                   reason                          (inspection.identifiers)
    ├── RecordOutOfLimits               (also ValueError) a record or part beyond the shared table of
    │                                   counts and ranges: path, reason (inspection.record_limits)
    ├── FieldValueError                 (also ValueError) a vehicle field's text is not a value of it:
    │                                   option, reason                  (inspection.vehicle_fields)
    ├── InvalidRegisterField            (also ValueError) an engine number or body colour is not one:
    │                                   field, value, reason            (inspection.register_identity)
    ├── RegisterCsvError                (also ValueError) a vehicle register CSV as written: line,
    │   │                               column, reason                  (inspection.vehicle_register_csv)
    │   ├── RegisterHeaderError         the header is not a register's: nothing is read (raised)
    │   └── RegisterRowError            one row is not a registered vehicle (yielded; reading goes on)
    ├── UnknownLimit                    (also KeyError) the limit table has no entry for a rule and
    │                                   variant: rule, variant          (inspection.verdicts.limits)
    ├── LimitSetScheduleError           (also ValueError) a province / date schedule of limit sets
    │                                   that cannot be used: source, key, reason (inspection.limit_sets)
    └── NoLimitSet                      (also LookupError) the schedule has no set for that province
                                        on that date                    (inspection.limit_sets)

Each keeps the builtin base it had (``ValueError`` / ``KeyError``), so callers that caught those
still do; new code catches ``InspectionError`` or the class it means. A run with an unknown limit
set is refused by ``LimitSet`` itself (``ValueError``, as any enum).
"""

from __future__ import annotations


class InspectionError(Exception):
    """The root of the inspection domain's errors (see the tree above)."""
