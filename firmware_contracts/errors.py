"""The one error type of firmware_contracts."""

ROOT = "$"


class ContractError(ValueError):
    """A payload (or topic) breaks the wire contract.

    `field` is a path into the document such as ``readings[3].m.tds_ppm``, or ``$`` for
    the document itself. The three parts are the exception's args, so the error
    survives pickling (ingest workers may hand it to another process for dead-lettering).
    """

    def __init__(self, kind: str, field: str, reason: str) -> None:
        super().__init__(kind, field, reason)
        self.kind = kind
        self.field = field
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.kind}: {self.field}: {self.reason}"
