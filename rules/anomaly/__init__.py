"""Streaming, causal anomaly detection (see ``detector`` for the design).

``AnomalyDetector`` is the per-device streaming detector (``update``, ``state_dict``,
``from_state``); ``score_batch`` scores a whole table the same way, vectorised; the CLI
is ``rules.anomaly.cli:app`` (``fieldpulse anomaly score``).
"""

from rules.anomaly.detector import AnomalyDetector, DetectorConfig, score_batch, score_table

__all__ = ["AnomalyDetector", "DetectorConfig", "score_batch", "score_table"]
