"""The cloud's command link to the gateways: publish due commands, record their acks.

One worker (`commands`), with a broker account of its own (`fieldpulse-commands`: the
broker takes the username as the client id, so no other connection can take its session).

- A gateway is online when its retained status says so (`fp/v1/gw/+/status`, newest `ts`
  wins); the link learns every gateway's status on subscribing and each change at once.
- A command is published to an online gateway only; one for an offline gateway waits in
  the database (the broker keeps nothing for a gateway: it connects with a clean session)
  and goes out when the gateway's birth arrives.
- A command is marked sent, then published (QoS 1, the PUBACK awaited).
- Until the gateway acks receipt (`stage: received`) the command is published again, with
  the same id, every `retry_s`: the gateway runs an id once and answers a repeat from its
  store, so repeating is safe and losing a message is not.
- At its deadline a command not yet answered is expired, whatever the gateway is doing.
- Configuration rollouts (`commands.rollouts`): each gateway's config is published
  retained (the broker hands it to a gateway that connects later); the gateways'
  statuses (`config_version`, `config_error`) report each one applied or failed.
- Acks (`fp/v1/gw/+/cmd/ack`) move the command on (`commands.service.record_ack`): a
  gateway can only ever touch its own commands (the ACL confines what it publishes to its
  own topics, and the command's gateway must be the topic's).

Why aiomqtt here and paho in ingest: this side sends and awaits answers (publish, await
the PUBACK, then mark the command sent; read acks and status as an async stream) — one
asyncio task per concern, no callback threads, and the same client the async portal can
use to await answers. Ingest is a high-rate consumer with manual acks that paho's
threaded loop serves fastest (measured; `fieldpulse bench ingest`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy import Engine

from asset_registry.catalog import DeviceModel
from commands import rollouts, service
from firmware_contracts.topics import (
    CMD_ACK_FILTER,
    STATUS_FILTER,
    cmd_topic,
    config_topic,
    parse_topic,
)
from firmware_contracts.validate import ContractError, load
from foundations.clock import now_ms
from foundations.database import session_scope
from foundations.workers import Life, Worker
from ingest.consumer import BrokerAddress

log = logging.getLogger("fieldpulse.commands")

COMMANDS_CLIENT = "fieldpulse-commands"  # its account, named like its client id
SESSION_EXPIRY_S = 3600  # acks that arrive while the link reconnects wait in the broker


@dataclass(slots=True)
class LinkStats:
    published: int = 0
    acks: int = 0
    acks_ignored: int = 0  # unknown id, another gateway's command, a repeat
    invalid: int = 0  # acks or statuses that break the contract (ingest dead-letters them)
    expired: int = 0
    connects: int = 0


class CommandLink(Worker):
    name = "commands"
    stall_after_s = 120.0

    def __init__(self, engine: Engine, broker: BrokerAddress,
                 models: Mapping[str, DeviceModel], *, retry_s: float = 5.0,
                 poll_s: float = 1.0, clock: Callable[[], int] = now_ms) -> None:
        super().__init__()
        self._engine, self._broker, self._models = engine, broker, models
        self._retry_ms, self._poll_s, self._clock = int(retry_s * 1000), poll_s, clock
        self._online: dict[str, bool] = {}  # gateway -> its last status said online
        # Gateways with a published config not yet applied or refused: only their statuses
        # are worth a database transaction.
        self._awaiting: set[str] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._kick: asyncio.Event | None = None
        self.connected = threading.Event()
        self.stats = LinkStats()

    def online_gateways(self) -> set[str]:
        return {gw for gw, up in self._online.items() if up}

    def wake(self) -> None:
        """New commands (or a stop): send now rather than at the next poll."""
        super().wake()
        loop, kick = self._loop, self._kick
        if loop is not None and kick is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed in between
                loop.call_soon_threadsafe(kick.set)

    def run(self, life: Life) -> None:
        asyncio.run(self._main(life))

    async def _main(self, life: Life) -> None:
        self._loop, self._kick = asyncio.get_running_loop(), asyncio.Event()
        delay = 0.2
        try:
            while not self.stopping:
                try:
                    await self._session(life)
                    delay = 0.2
                except aiomqtt.MqttError as exc:
                    log.warning("event=command_link_down error=%s; retry in %.1f s", exc,
                                delay)
                finally:
                    self.connected.clear()
                if not self.stopping:
                    await self._pause(delay)
                    delay = min(delay * 2, 10.0)
        finally:
            self._loop = None

    async def _pause(self, seconds: float) -> None:
        assert self._kick is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._kick.wait(), seconds)
        self._kick.clear()

    def _client(self) -> aiomqtt.Client:
        broker = self._broker
        tls = None
        if broker.tls:
            tls = ssl.create_default_context(
                cafile=str(broker.ca_file) if broker.ca_file else None)
            if broker.cert_file and broker.key_file:
                tls.load_cert_chain(str(broker.cert_file), str(broker.key_file))
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]  # paho's
        props.SessionExpiryInterval = SESSION_EXPIRY_S
        return aiomqtt.Client(
            broker.host, broker.port, username=broker.username, password=broker.password,
            identifier=broker.username or COMMANDS_CLIENT,
            protocol=aiomqtt.ProtocolVersion.V5, clean_start=False, properties=props,
            keepalive=30, tls_context=tls, timeout=10)

    async def _session(self, life: Life) -> None:
        async with self._client() as client:
            self._awaiting = await asyncio.to_thread(self._awaiting_now)
            await client.subscribe([(STATUS_FILTER, 1), (CMD_ACK_FILTER, 1)])
            self.stats.connects += 1
            self.connected.set()
            log.info("event=command_link_up broker=%s:%s", self._broker.host,
                     self._broker.port)
            reader = asyncio.create_task(self._read(client))
            try:
                while not self.stopping and not reader.done():
                    life.beat()
                    await self._send_due(client)
                    await self._pause(self._poll_s)
            finally:
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader  # re-raises a broken connection's MqttError

    async def _read(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            parsed = parse_topic(message.topic.value)
            payload = message.payload
            if parsed is None or not isinstance(payload, bytes | bytearray):
                continue
            gateway_id, kind = parsed
            if kind == "status":
                doc = self._status(gateway_id, bytes(payload))
                if doc is not None and "config_version" in doc and gateway_id in self._awaiting:
                    await asyncio.to_thread(self._config_progress, gateway_id, doc)
            elif kind == "cmd_ack":
                await asyncio.to_thread(self._ack, gateway_id, bytes(payload))

    def _status(self, gateway_id: str, payload: bytes) -> dict[str, Any] | None:
        if not payload:
            return None  # a cleared retained status
        try:
            doc = load("status", payload)
        except ContractError:
            self.stats.invalid += 1
            return None
        if doc["gw"] != gateway_id:
            return None
        # The latest message wins, not the highest `ts`: a will carries its connection's
        # start time, older than the periodic statuses it follows. The broker keeps one
        # topic's messages in order, and the retained one it replays is the latest.
        was_up = self._online.get(gateway_id, False)
        self._online[gateway_id] = up = doc["state"] == "online"
        if up and not was_up:
            self._wake_loop()  # its held commands go out now
        return doc

    def _config_progress(self, gateway_id: str, doc: dict[str, Any]) -> None:
        with session_scope(self._engine) as session:
            rollouts.record_config_status(session, gateway_id, doc["config_version"],
                                          doc.get("config_error"), doc["ts"], self._clock())
            self._awaiting = rollouts.awaiting_gateways(session)

    def _wake_loop(self) -> None:
        if self._kick is not None:
            self._kick.set()

    def _ack(self, gateway_id: str, payload: bytes) -> None:
        try:
            doc = load("cmd_ack", payload)
        except ContractError as exc:
            self.stats.invalid += 1
            log.warning("event=command_ack_invalid gateway=%s error=%s", gateway_id, exc)
            return
        with session_scope(self._engine) as session:
            status = service.record_ack(session, gateway_id, doc, self._clock())
        if status is None:
            self.stats.acks_ignored += 1
        else:
            self.stats.acks += 1
            log.info("event=command_%s id=%s gateway=%s", status, doc["id"], gateway_id)

    async def _send_due(self, client: aiomqtt.Client) -> None:
        for gateway_id, rollout_id, config in await asyncio.to_thread(self._due_configs):
            # Retained: a gateway offline now gets it when it connects, and after a restart.
            try:
                await client.publish(config_topic(gateway_id), config, qos=1, retain=True)
            except aiomqtt.MqttError:
                await asyncio.to_thread(self._config_unpublished, gateway_id, rollout_id)
                raise
        for gateway_id, payload in await asyncio.to_thread(self._due):
            # Each awaits the broker's PUBACK; a broken connection ends the session, and the
            # next one publishes again what is still undelivered, when it is due again.
            await client.publish(cmd_topic(gateway_id), payload, qos=1)
            self.stats.published += 1

    def _due_configs(self) -> list[tuple[str, int, bytes]]:
        """Configs to publish, marked published first: the gateway's status can come back
        before the PUBACK has been handled here, and must find its rollout published."""
        now = self._clock()
        with session_scope(self._engine) as session:
            due = rollouts.due_configs(session)
            out = [(gw, rollout_id, rollouts.gateway_config(session, self._models, gw,
                                                            rollout_id))
                   for gw, rollout_id in due]
            for gw, rollout_id in due:
                rollouts.mark_published(session, gw, rollout_id, now)
        self._awaiting |= {gw for gw, _ in due}
        return out

    def _awaiting_now(self) -> set[str]:
        with session_scope(self._engine) as session:
            return rollouts.awaiting_gateways(session)

    def _config_unpublished(self, gateway_id: str, rollout_id: int) -> None:
        with session_scope(self._engine) as session:
            rollouts.mark_pending(session, gateway_id, rollout_id, self._clock())

    def _due(self) -> list[tuple[str, bytes]]:
        """Expire what is past its deadline; mark what is due sent and return it. Marked
        before it is published: the gateway's receipt can come before the PUBACK has been
        handled here, and must find the command sent."""
        now = self._clock()
        with session_scope(self._engine) as session:
            expired = service.expire_due(session, now)
            due = service.due_for_sending(session, self.online_gateways(), now)
            out = []
            for command in due:
                service.mark_sent(session, command, now, self._retry_ms)
                out.append((command.gateway_id, service.wire_payload(command)))
        if expired:
            self.stats.expired += len(expired)
            log.info("event=commands_expired ids=%s", ",".join(expired))
        return out
