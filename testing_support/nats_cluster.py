"""A throwaway NATS cluster with JetStream and MQTT listeners, on free loopback ports.

Used by the cluster tests and `fieldpulse bench cluster`: `NatsCluster(size=3)` starts
`size` `nats-server` processes, each with its own configuration file and JetStream store
in a temporary directory, routed to one another. Any node can be killed with SIGKILL (as
a crash would) and started again on the same ports and store, which is how the tests
prove that a batch a gateway got a PUBACK for survives the node that acked it.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from foundations.processes import free_port, kill, terminate, wait_for_port
from ingest.jetstream import engine_mappings


class NatsError(RuntimeError):
    pass


def find_nats_server() -> str | None:
    return shutil.which("nats-server") or next(
        (p for p in ("/usr/sbin/nats-server", "/usr/local/bin/nats-server")
         if Path(p).exists()), None)


@dataclass
class NatsNode:
    name: str
    client_port: int = field(default_factory=free_port)
    cluster_port: int = field(default_factory=free_port)
    mqtt_port: int = field(default_factory=free_port)
    monitor_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.client_port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


def node_config(node: NatsNode, peers: list[NatsNode], store: Path, replicas: int,
                partitions: int = 16) -> str:
    routes = ", ".join(f"nats-route://127.0.0.1:{p.cluster_port}" for p in peers
                       if p is not node)
    cluster = ("" if len(peers) == 1 else
               f"cluster {{ name: fieldpulse, listen: 127.0.0.1:{node.cluster_port}, "
               f"routes: [{routes}] }}\n")
    # `stream_replicas`/`consumer_replicas`: the MQTT sessions' and QoS 1 messages' streams
    # are replicated on every node, so a PUBACK means "stored on a majority" (measured in
    # ingest/README.md, "Cluster").
    return (
        f"server_name: {node.name}\n"
        f"listen: 127.0.0.1:{node.client_port}\n"
        f"http: 127.0.0.1:{node.monitor_port}\n"
        f"jetstream {{ store_dir: \"{store}\", max_memory_store: 256MB, "
        f"max_file_store: 4GB }}\n"
        f"{cluster}"
        f"mqtt {{ listen: 127.0.0.1:{node.mqtt_port}, stream_replicas: {replicas}, "
        f"consumer_replicas: {replicas}, ack_wait: \"10s\" }}\n"
        + engine_mappings(partitions)
    )


@dataclass
class NatsCluster:
    """`size` routed nats-server nodes; `start()` returns once JetStream has a meta leader."""

    size: int = 3
    partitions: int = 16  # ingest partitions in the subject mapping (`ingest.jetstream`)
    base_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="fp-nats-")))
    nodes: list[NatsNode] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.nodes:
            self.nodes = [NatsNode(f"n{i + 1}") for i in range(self.size)]

    @property
    def urls(self) -> list[str]:
        return [n.url for n in self.nodes]

    @property
    def mqtt_endpoints(self) -> list[tuple[str, int]]:
        return [("127.0.0.1", n.mqtt_port) for n in self.nodes]

    def start(self) -> NatsCluster:
        for node in self.nodes:
            self._launch(node)
        for node in self.nodes:
            wait_for_port(node.client_port, timeout_s=30)
        self.wait_ready()
        self.open_mqtt_streams()
        return self

    def open_mqtt_streams(self) -> None:
        """NATS creates its MQTT streams (`$MQTT_msgs`, sessions, retained) when the first
        MQTT client connects; the ingest workers' consumers need the stream to exist."""
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="fieldpulse-setup",
                             protocol=mqtt.MQTTv311)
        deadline = time.monotonic() + 30
        while True:
            try:
                client.connect("127.0.0.1", self.nodes[0].mqtt_port)
                if client.loop(timeout=5) == mqtt.MQTT_ERR_SUCCESS and client.is_connected():
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise NatsError(f"MQTT listener not ready: {self.log()}")
            time.sleep(0.2)
        client.disconnect()

    def _launch(self, node: NatsNode) -> None:
        binary = find_nats_server()
        if binary is None:
            raise NatsError("no nats-server binary (apt-get install nats-server)")
        store = self.base_dir / node.name
        store.mkdir(parents=True, exist_ok=True)
        conf = store / "nats.conf"
        conf.write_text(node_config(node, self.nodes, store / "js", min(3, self.size),
                                    self.partitions))
        log = (store / "nats.log").open("ab")
        node.process = subprocess.Popen([binary, "-c", str(conf)], stdout=log,
                                        stderr=subprocess.STDOUT)
        log.close()

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        """Every running node answers /healthz: JetStream is up and current on it (with a
        meta leader; without one no stream can be created or written)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if all(self._healthy(n) for n in self.nodes if n.running):
                return
            time.sleep(0.2)
        raise NatsError(f"NATS cluster not ready after {timeout_s:g} s: {self.log()}")

    @staticmethod
    def _healthy(node: NatsNode) -> bool:
        try:
            with urllib.request.urlopen(
                    f"http://127.0.0.1:{node.monitor_port}/healthz", timeout=2) as resp:
                return resp.status == 200
        except OSError:
            return False

    def kill(self, index: int) -> None:
        """SIGKILL one node, as a crash or a power cut would end it."""
        kill(self.nodes[index].process)
        self.nodes[index].process = None

    def restart(self, index: int) -> None:
        node = self.nodes[index]
        self._launch(node)
        wait_for_port(node.client_port, timeout_s=30)

    def stop(self) -> None:
        for node in reversed(self.nodes):
            terminate(node.process, timeout_s=10)
            node.process = None

    def remove(self) -> None:
        for node in self.nodes:
            kill(node.process)
            node.process = None
        shutil.rmtree(self.base_dir, ignore_errors=True)

    def log(self) -> str:
        return "\n".join(
            f"--- {n.name}\n" + (self.base_dir / n.name / "nats.log").read_text(
                errors="replace")[-1500:]
            for n in self.nodes if (self.base_dir / n.name / "nats.log").exists())
