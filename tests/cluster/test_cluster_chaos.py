"""The cluster under load loses a NATS node and an ingest worker (both `kill -9`): every
reading the gateways got a PUBACK for is stored exactly once, the dead worker's
partitions move to the live one, and the alerts and work orders are those of a single
node fed the same batches."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from sqlalchemy import Engine

from simulators.fleet import generate_fleet
from testing_support.chaos_rig import wait_for
from testing_support.cluster_rig import (
    ClusterWorker,
    FailoverGateway,
    count_stored,
    dead_letters,
    lease_holders,
    leases,
    outcomes,
    plans,
    single_node_outcomes,
)
from testing_support.nats_cluster import NatsCluster

PARTITIONS = 16


def test_killing_a_node_and_a_worker_under_load_loses_and_doubles_nothing(
        tmp_path: Path, nats_cluster: NatsCluster, registry: tuple[str, Engine]) -> None:
    url, engine = registry
    workers = [ClusterWorker(f"worker-{i}", tmp_path, url, nats_cluster.urls).start()
               for i in range(2)]
    gateways: list[FailoverGateway] = []
    try:
        # Both workers live, 8 partitions each, before a gateway publishes.
        wait_for(lambda: sorted(Counter(leases(engine).values()).values()) == [8, 8],
                 60, "two workers with 8 partitions each")
        fleet = generate_fleet(seed=23, sites=6)
        # Alerts raised at 10 and cleared at 11; raised at 16 and cleared at 26, open while
        # the worker is killed (about seq 20): the survivor must know them to clear them
        # (`RulesService.resync_alerts`). They must match a single node's.
        plan_list = plans(fleet, batches=40, readings=40,
                          breach_at=frozenset({10, *range(16, 26)}))
        # Spread over the three nodes, so some gateways are on the node that is killed.
        gateways = [FailoverGateway(p, nats_cluster.mqtt_endpoints, pace_s=0.1, first=i)
                    for i, p in enumerate(plan_list)]
        for gw in gateways:
            gw.start()
        total = sum(p.batches for p in plan_list)
        wait_for(lambda: sum(g.sent for g in gateways) >= total // 4, 60, "a quarter sent")

        nats_cluster.kill(0)  # gateways on it fail over; its stream replicas are gone
        wait_for(lambda: sum(g.sent for g in gateways) >= total // 2, 60, "half sent")

        victim_pids = set(leases(engine).values())
        workers[0].kill9()
        killed_at = time.monotonic()
        wait_for(lambda: lease_holders(engine) == 1 and len(leases(engine)) == PARTITIONS,
                 30, "the live worker to lease every partition")
        takeover_s = time.monotonic() - killed_at
        assert len(victim_pids) == 2

        for gw in gateways:
            gw.join(timeout=90)
        assert all(g.sent == g.plan.batches for g in gateways), "a gateway never finished"
        wait_for(lambda: count_stored(engine, plan_list)[0] == 0, 90,
                 "every PUBACKed reading stored")
        missing, duplicated, batches = count_stored(engine, plan_list)
        print(f"\ntakeover after worker kill: {takeover_s:.2f} s; "
              f"gateway failovers: {sum(g.failovers for g in gateways)}")
        assert (missing, duplicated) == (0, 0)
        assert batches == total
        assert dead_letters(engine) == 0
        assert sum(g.failovers for g in gateways) > 0  # some gateways were on the dead node
        alerts, orders = outcomes(engine)
        assert alerts  # the breaches raised alerts
        single_alerts, single_orders = single_node_outcomes(tmp_path, fleet, plan_list)
        assert sorted(set(alerts) - set(single_alerts)) == []  # none the single node lacks
        assert sorted(set(single_alerts) - set(alerts)) == []  # none missing
        assert (alerts, orders) == (single_alerts, single_orders)
    finally:
        for gw in gateways:
            gw.stop.set()
        for w in workers:
            w.stop()
