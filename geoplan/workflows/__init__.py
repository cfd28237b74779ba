"""Workflows: the jobs the CLI and the Python API (:mod:`geoplan.api`) both run.

* :mod:`geoplan.workflows.coverage` — the main job (``geoplan run``): network, facilities,
  demand, reach, isochrones, coverage per area and street, accessibility, standards, gap
  index, ledger, and its outputs.
* :mod:`geoplan.workflows.siting` — siting scenarios on a finished run (``geoplan site``).
* :mod:`geoplan.workflows.standards` — planning standards per street and district
  (``geoplan standards``).
* :mod:`geoplan.workflows.report` — the report (``geoplan report``).
* :mod:`geoplan.workflows.init` — a commented config for a new district (``geoplan init``).
"""
