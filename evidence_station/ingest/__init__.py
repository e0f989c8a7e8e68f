"""Ingest as a pipeline of stages (beets' importer habit):
``scan → plan → copy_hash → verify → commit``, one function a stage, in
:mod:`evidence_station.ingest.stages`; :mod:`evidence_station.ingest.pipeline` runs them
for one docking session. A file that fails drops out with its reason; the batch goes on
unless the failure means the camera or the store is gone."""
