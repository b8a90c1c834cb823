"""The asset registry: who owns which device, where it stands, what model it is."""

from __future__ import annotations

from sqlalchemy import BigInteger
from sqlmodel import Field, SQLModel


class Customer(SQLModel, table=True):
    id: str = Field(primary_key=True)
    name: str
    contact_email: str = ""
    # The service contract: sets the SLA clocks of its cases (dispatch/sla.py).
    contract_level: str = "standard"  # basic | standard | premium
    # What a visit costs them (service/pricing.py): warranty (nothing), service_contract
    # (parts only) or chargeable (parts and labour).
    coverage: str = "chargeable"
    # Who sells to this account: sales opportunities are routed to them (sales/).
    sales_owner_email: str = ""
    # The language of their QR pages and e-mails (foundations.i18n locale, e.g. "zh_CN");
    # "" = the browser's on the pages, English in e-mails.
    language: str = ""


class Site(SQLModel, table=True):
    id: str = Field(primary_key=True)
    customer_id: str = Field(foreign_key="customer.id", index=True)
    name: str
    address: str = ""
    lat: float
    lon: float


class Gateway(SQLModel, table=True):
    id: str = Field(primary_key=True)
    site_id: str = Field(foreign_key="site.id")
    online: bool = False
    firmware: str = ""
    # ms epoch of the last status message, so an old retained status cannot
    # overwrite a newer one.
    status_ts: int = Field(default=0, sa_type=BigInteger)


class Device(SQLModel, table=True):
    id: str = Field(primary_key=True)
    serial: str = Field(index=True)
    model_id: str
    site_id: str = Field(foreign_key="site.id", index=True)
    gateway_id: str = Field(foreign_key="gateway.id", index=True)
    # Unguessable token printed in the device's QR code: the customer's key to
    # this device's page, and to nothing else.
    qr_token: str = Field(unique=True)
    online: bool = False
    # ms epoch of the newest reading (BigInteger: PostgreSQL's integer is 32-bit)
    last_seen: int | None = Field(default=None, sa_type=BigInteger)
