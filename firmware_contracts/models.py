"""Pydantic models of contract v1: the single source of truth for every payload.

The JSON Schema files in `schemas/` are generated from these models
(`python -m firmware_contracts.schema_export`), so change the contract here.

Two rules keep the models and the generated schemas accepting exactly the same documents:
- Optional fields may be absent but never `null` (the schemas give them no null branch).
- Integers follow JSON Schema: `5.0` counts as the integer 5 (and is handed out as `int`),
  `true` never counts as a number.
"""

from typing import Annotated, Any, Final, Literal, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from firmware_contracts.kinds import (
    EPOCH_PATTERN,
    ID_PATTERN,
    MAX_ACKS,
    MAX_CONFIG_VERSION,
    MAX_JSON_INT,
    MAX_METRICS,
    MAX_READINGS,
    METRIC_PATTERN,
    Kind,
)


def _json_integer(value: object) -> object:
    """Read a JSON number the way JSON Schema's "integer" does.

    Pydantic's strict int refuses 5.0 while the schema accepts it, and its Literal[1]
    accepts `true`; both would make the model and the schema disagree.
    """
    if isinstance(value, bool):
        raise ValueError("must be integer, not boolean")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


SchemaVersion = Annotated[
    Literal[1],
    BeforeValidator(_json_integer),
    Field(description="Payload schema version; always 1 on fp/v1 topics."),
]
# Constraints go before the BeforeValidator: placed after it, pydantic can no longer render
# them as minimum/maximum and leaks raw "ge"/"le" keys into the JSON Schema instead.
Count = Annotated[int, Field(ge=0, le=MAX_JSON_INT), BeforeValidator(_json_integer)]
EpochMs = Annotated[
    int,
    Field(ge=0, le=MAX_JSON_INT, description="Milliseconds since the Unix epoch, UTC."),
    BeforeValidator(_json_integer),
]
PositiveSeconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Identifier = Annotated[str, Field(pattern=ID_PATTERN)]
Epoch = Annotated[str, Field(pattern=EPOCH_PATTERN, description=(
    "The gateway outbox's epoch: a random id made when the outbox was created. The cloud's "
    "dedupe key is (gw, epoch, seq); a batch without it is keyed with the empty epoch."))]
MetricName = Annotated[str, Field(pattern=METRIC_PATTERN)]
MetricValue = Annotated[float, Field(allow_inf_nan=False)]


def _metric_map_schema(schema: dict[str, Any]) -> None:
    """Name the key rule of a map with propertyNames instead of patternProperties.

    Pydantic renders key constraints as patternProperties, which lets a key that does not
    match through unchecked; propertyNames + additionalProperties rejects it, as the model does.
    """
    ((pattern, value_schema),) = schema.pop("patternProperties").items()
    schema["propertyNames"] = {"pattern": pattern}
    schema["additionalProperties"] = value_schema


class WireModel(BaseModel):
    """Base of every payload: unknown fields and type coercion are refused."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _present_means_not_null(cls, value: object) -> object:
        # Runs only for fields present in the input: absent optionals keep their None.
        if value is None:
            raise ValueError("must be left out rather than null")
        return value

    def to_wire(self) -> dict[str, Any]:
        """The JSON-ready document, absent optional fields left out."""
        return self.model_dump(mode="json", exclude_none=True)


class Reading(WireModel):
    """One device's measurements at one instant."""

    dev: Identifier = Field(description="Device id, unique within the gateway.")
    ts: EpochMs
    m: Annotated[
        dict[MetricName, MetricValue],
        Field(
            min_length=1,
            max_length=MAX_METRICS,
            description="Metric name (snake_case, unit as suffix: tds_ppm) to value.",
            json_schema_extra=_metric_map_schema,
        ),
    ]


class Telemetry(WireModel):
    """A batch of readings published by a gateway on fp/v1/gw/{gateway_id}/telemetry."""

    v: SchemaVersion
    gw: Identifier = Field(description="Gateway id; the same as in the topic.")
    epoch: Epoch | SkipJsonSchema[None] = None
    seq: Count = Field(
        description="Per-gateway batch sequence, strictly increasing, kept across restarts."
    )
    sent: EpochMs
    readings: list[Reading] = Field(min_length=1, max_length=MAX_READINGS)


class BatchAck(WireModel):
    """One telemetry batch the cloud has committed: stored, a duplicate of one stored, or
    kept as a dead letter. Either way the gateway may delete it."""

    seq: Count
    epoch: Epoch | SkipJsonSchema[None] = Field(
        default=None, description="The batch's epoch; absent when the batch had none."
    )
    outcome: Literal["stored", "duplicate", "dead_lettered"]


class Ack(WireModel):
    """The cloud's acknowledgement on fp/v1/gw/{gateway_id}/ack, published only after the
    batches it names are committed."""

    v: SchemaVersion
    gw: Identifier
    acks: list[BatchAck] = Field(min_length=1, max_length=MAX_ACKS)


ONLINE_REQUIRED: Final = ("fw", "devices")


class Status(WireModel):
    """Gateway presence on fp/v1/gw/{gateway_id}/status (retained).

    The online birth is published on connect; the offline message is the MQTT last will,
    fixed at connect time, so it carries no device list.
    """

    model_config = ConfigDict(
        # The schema form of `_online_birth_is_complete`.
        json_schema_extra={
            "if": {"properties": {"state": {"const": "online"}}, "required": ["state"]},
            "then": {
                "required": list(ONLINE_REQUIRED),
                "$comment": "is required when state is online",
            },
        }
    )

    v: SchemaVersion
    gw: Identifier
    state: Literal["online", "offline"]
    ts: EpochMs
    fw: Annotated[str, Field(min_length=1, max_length=64)] | SkipJsonSchema[None] = Field(
        default=None, description="Firmware version; required when online."
    )
    devices: list[Identifier] | SkipJsonSchema[None] = Field(
        default=None, description="Ids of the attached devices; required when online."
    )
    backlog: Count | SkipJsonSchema[None] = Field(
        default=None, description="Readings waiting in the gateway's outbox."
    )
    evicted: Count | SkipJsonSchema[None] = Field(
        default=None,
        description="Readings dropped because the outbox was full, counted since first start.",
    )
    lost: Count | SkipJsonSchema[None] = Field(
        default=None, description="Readings sampled that could not be kept at all (the disk "
        "full with nothing left to evict, and the memory buffer full), since first start.",
    )
    config_version: Count | SkipJsonSchema[None] = Field(
        default=None, description="Version of the remote config the gateway runs (0: local)."
    )
    config_error: Annotated[str, Field(min_length=1, max_length=1024)] | SkipJsonSchema[None] = (
        Field(default=None, description="Why the last remote config was rejected, if it was.")
    )

    @model_validator(mode="after")
    def _online_birth_is_complete(self) -> Self:
        if self.state == "online":
            for name in ONLINE_REQUIRED:
                if getattr(self, name) is None:
                    raise ValueError(f"{name} is required when state is online")
        return self


Severity = Literal["info", "low", "medium", "high", "critical"]
FiniteNumber = Annotated[float, Field(allow_inf_nan=False)]


class EdgeRule(WireModel):
    """A threshold rule the gateway evaluates itself, so a crossing is sent first."""

    id: Identifier = Field(description="Rule id, as in the device model.")
    metric: MetricName
    condition: Literal["above", "below"]
    threshold: FiniteNumber = Field(description="Raise when the value goes past this.")
    clear: FiniteNumber = Field(
        description="Re-arm once the value is back past this (on the safe side of threshold)."
    )
    severity: Severity
    devices: list[Identifier] | SkipJsonSchema[None] = Field(
        default=None, max_length=10_000,
        description="Devices the rule applies to; absent: every device reporting the metric.",
    )


# The first three since v1 began; the snake_case ones are the device models' commands
# (`[commands.NAME]` in asset_registry/device_models), sent by the cloud's command link.
COMMAND_NAMES: Final = ("ping", "read-now", "set-interval", "read_now", "set_sample_period",
                        "stream", "reset_fault", "reboot")
CommandName = Literal["ping", "read-now", "set-interval", "read_now", "set_sample_period",
                      "stream", "reset_fault", "reboot"]


class Config(WireModel):
    """Sampling, batching and edge rules on fp/v1/gw/{gateway_id}/config (retained)."""

    v: SchemaVersion
    version: Annotated[
        int, Field(ge=1, le=MAX_CONFIG_VERSION), BeforeValidator(_json_integer)
    ] = Field(
        description="Config revision; grows with every change, so a gateway can skip stale "
        "ones. At most 2^31 - 1: a larger one is refused, so it cannot outrank later configs."
    )
    sample_period_s: PositiveSeconds = Field(description="Seconds between two samples.")
    # A batch larger than a telemetry payload may carry could never be published.
    batch_max_readings: Annotated[
        int, Field(ge=1, le=MAX_READINGS), BeforeValidator(_json_integer)
    ] = Field(description="Publish a batch once it holds this many readings.")
    batch_max_age_s: PositiveSeconds = Field(
        description="Publish a batch at the latest this many seconds after its first reading."
    )
    device_periods: Annotated[
        dict[Identifier, PositiveSeconds], Field(json_schema_extra=_metric_map_schema)
    ] | SkipJsonSchema[None] = Field(
        default=None, description="Seconds between two samples of one device, overriding "
        "sample_period_s for it.",
    )
    rules: Annotated[list[EdgeRule], Field(max_length=1024)] | SkipJsonSchema[None] = Field(
        default=None, description="Edge threshold rules; a crossing is published first."
    )
    commands: Annotated[
        dict[Identifier, Annotated[list[CommandName], Field(max_length=64)]],
        Field(json_schema_extra=_metric_map_schema),
    ] | SkipJsonSchema[None] = Field(
        default=None, description="Device id to the commands its device model allows: a "
        "command for a device is refused unless listed here. Absent: every command the "
        "gateway knows.",
    )


class Command(WireModel):
    """A command to a gateway on fp/v1/gw/{gateway_id}/cmd (not retained)."""

    v: SchemaVersion
    id: Identifier = Field(description="Command id, echoed in the ack; the gateway never "
                           "runs the same id twice (a repeat gets the stored answer).")
    cmd: CommandName
    args: dict[str, Any] = Field(description="Command arguments; {} when there are none.")
    dev: Identifier | SkipJsonSchema[None] = Field(
        default=None, description="The device the command is for; absent: the gateway.")
    expires: EpochMs | SkipJsonSchema[None] = Field(
        default=None, description="Deadline (ms): a command arriving later is refused, "
        "not run.")


class CommandAck(WireModel):
    """A gateway's answer to a command on fp/v1/gw/{gateway_id}/cmd/ack."""

    v: SchemaVersion
    id: Identifier = Field(description="The id of the command answered.")
    ok: bool
    result: dict[str, Any] | SkipJsonSchema[None] = None
    error: Annotated[str, Field(min_length=1, max_length=1024)] | SkipJsonSchema[None] = None
    stage: Literal["received"] | SkipJsonSchema[None] = Field(
        default=None, description="'received': the gateway has the command (kept on its "
        "disk) and will answer it; absent: the answer itself.")


MODELS: Final[dict[Kind, type[WireModel]]] = {
    "telemetry": Telemetry,
    "status": Status,
    "config": Config,
    "cmd": Command,
    "cmd_ack": CommandAck,
    "ack": Ack,
}
