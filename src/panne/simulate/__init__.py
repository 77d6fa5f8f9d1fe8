"""Realistic synthetic crowd-report traffic with labelled outages, for the demo, for replays
(``panne simulate``) and for scoring detection (:func:`detection_corpus`)."""

from panne.simulate.corpus import SeriesCase, detection_corpus, write_csv
from panne.simulate.model import ServiceSpec, SimReport, TrafficModel, specs_from_catalog
from panne.simulate.outages import KINDS, Event, Outage, meta_2024

__all__ = [
    "KINDS",
    "Event",
    "Outage",
    "SeriesCase",
    "ServiceSpec",
    "SimReport",
    "TrafficModel",
    "detection_corpus",
    "meta_2024",
    "specs_from_catalog",
    "write_csv",
]
