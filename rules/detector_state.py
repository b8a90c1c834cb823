"""The anomaly detectors' learned state, saved in the database so a restart does not
warm up again, and restored at start."""

from __future__ import annotations

import json

from sqlalchemy import Engine
from sqlmodel import Session, select

from foundations.database import session_scope
from rules.anomaly_scores import AnomalyScorer, ModelScorer
from rules.tables import AnomalyState, ModelAnomalyState

# A detector's state is large (hundreds of KB): saved now and then, not on every
# tick; losing a few minutes of learning costs little.
SAVE_INTERVAL_MS = 5 * 60 * 1000


def restore(engine: Engine, scorer: AnomalyScorer, model_scorer: ModelScorer) -> None:
    with Session(engine) as session:
        for saved in session.exec(select(AnomalyState)):
            scorer.restore((saved.device_id, saved.metric), json.loads(saved.state))
        for kept in session.exec(select(ModelAnomalyState)):
            model_scorer.restore((kept.model_id, tuple(kept.metrics.split(","))),
                                 json.loads(kept.state))


def save(engine: Engine, scorer: AnomalyScorer, model_scorer: ModelScorer, at: int) -> int:
    """Write the detectors that learned since the last save; returns how many."""
    states = scorer.export()
    model_states = model_scorer.export()
    with session_scope(engine) as session:
        for (device_id, metric), state in states.items():
            session.merge(AnomalyState(device_id=device_id, metric=metric,
                                       state=json.dumps(state), updated_at=at))
        for (model_id, metrics), state in model_states.items():
            session.merge(ModelAnomalyState(model_id=model_id, metrics=",".join(metrics),
                                            state=json.dumps(state), updated_at=at))
    return len(states) + len(model_states)
