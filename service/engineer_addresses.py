"""Engineers' e-mail addresses as the service desk stores them, for the notifications'
address book (`notifications.recipients.AddressBook(engineers=...)`)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from sqlalchemy import Engine
from sqlmodel import Session, select

from service.tables import Engineer


class StoredEngineerAddresses(Mapping[str, str]):
    """Engineer id -> e-mail address as stored now (`Engineer.email`): read at each
    lookup, so new and changed engineers need no restart."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def __getitem__(self, engineer_id: str) -> str:
        with Session(self._engine) as session:
            email = session.exec(select(Engineer.email).where(Engineer.id == engineer_id)
                                 ).first()
        if not email:
            raise KeyError(engineer_id)
        return email

    def __iter__(self) -> Iterator[str]:
        with Session(self._engine) as session:
            return iter(list(session.exec(select(Engineer.id).where(Engineer.email != ""))))

    def __len__(self) -> int:
        return sum(1 for _ in self)
