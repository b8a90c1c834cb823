"""The gateway keeps a batch until the cloud has it: the broker's PUBACK deletes nothing.

A real Mosquitto, the edge agent, and ingest (`IngestConsumer`) started only later: until
then the broker acknowledges every batch and the outbox still holds them all, re-sending
what stays unacked; once ingest runs it stores each batch once and acks it, and the
outbox empties.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from edge_support import LedgerDriver, Recorder, agent_config, read_ledger, running

from asset_registry.catalog import load_models
from edge_agent.agent import EdgeAgent
from fieldpulse.fleet_import import import_fleet
from fieldpulse.schema import upgrade
from foundations.database import make_engine
from foundations.workers import Supervisor
from ingest.consumer import IngestConsumer
from ingest.device_directory import DeviceDirectory
from ingest.pipeline import IngestPipeline
from ingest.telemetry_store import SqlTelemetryStore
from support import wait_until
from testing_support.broker_logins import address


def test_batches_stay_until_the_cloud_acks_them_and_are_stored_once(
        mosquitto, small_fleet, gateway, tmp_path: Path) -> None:
    gw_id, values = gateway
    recorder = Recorder(mosquitto, [f"fp/v1/gw/{gw_id}/telemetry"])
    driver = LedgerDriver(values, tmp_path / "ledger")
    agent = EdgeAgent(agent_config(tmp_path, gw_id, mosquitto, cloud_acks=True,
                                   ack_timeout_s=1.0, inflight_window=4), driver)
    engine = make_engine(f"sqlite:///{tmp_path / 'cloud.db'}")
    upgrade(engine)
    import_fleet(engine, small_fleet)
    supervisor = None
    try:
        with running(agent):
            wait_until(lambda: agent.link.stats.resent >= 4, what="unacked batches re-sent")
            # The broker acknowledged them; without the cloud's word they stay.
            assert agent.link.stats.acked > 0 and agent.link.stats.confirmed == 0
            published = recorder.telemetry()
            assert len({b["seq"] for b in published}) < len(published)  # sent again
            assert agent.outbox.backlog_readings >= sum(len(b["readings"]) for b in
                                                        {b["seq"]: b for b in published}
                                                        .values())
            # The window holds the rest back on disk: never more than 4 unacked at once.
            assert max(b["seq"] for b in published) < 4
            pipeline = IngestPipeline(engine, DeviceDirectory(engine, load_models()),
                                      SqlTelemetryStore(engine))
            consumer = IngestConsumer(pipeline, address(mosquitto))
            supervisor = Supervisor([consumer]).start()
            wait_until(lambda: agent.link.stats.confirmed >= 10, what="the cloud's acks")
            driver.paused = True
            wait_until(lambda: agent.outbox.backlog_readings == 0, what="the outbox to empty")
        produced = set(read_ledger(tmp_path / "ledger"))
        store = SqlTelemetryStore(engine)
        for dev, metrics in values.items():
            stamps = [ts for ts, _ in store.points(dev, next(iter(metrics)), 0, 2**62)]
            assert set(stamps) == produced, dev
            assert not [ts for ts, n in Counter(stamps).items() if n > 1], dev
        assert pipeline.stats.batches_acked >= pipeline.stats.batches_stored > 0
    finally:
        if supervisor is not None:
            supervisor.stop()
        recorder.close()
        engine.dispose()
