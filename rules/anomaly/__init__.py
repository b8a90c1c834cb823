"""Streaming, causal anomaly detection (see ``detector`` for the design).

``detector.AnomalyDetector`` is the per-device streaming detector (``update``,
``state_dict``, ``from_state``; its parts in ``memory``); ``detector.score_batch`` scores a
whole table the same way, vectorised; ``model_detector`` is the multivariate detector
shared by a device model's fleet; ``windows`` feeds them per-device means; the CLI is
``rules.anomaly.cli:app`` (``fieldpulse anomaly score``).
"""
