"""A plausible, reproducible installed base: customers, sites, gateways, devices, engineers.

Everything is drawn from one `random.Random(seed)`, so a seed names a fleet:
the demo, the tests and a teammate's laptop all see the same world.
"""

from __future__ import annotations

import math
import random
import unicodedata
from dataclasses import asdict, dataclass, replace
from typing import Any

from asset_registry.catalog import load_models
from simulators.profiles import SimulatorError, builtin_profiles

EARTH_RADIUS_KM = 6371.0088


@dataclass(frozen=True, slots=True)
class City:
    name: str
    lat: float
    lon: float
    radius_km: float
    # Local time drives the daily cycle of the simulated signals.
    tz: str = "Europe/Berlin"


MUNICH = City("Munich", 48.1372, 11.5756, 9.0)


@dataclass(frozen=True, slots=True)
class Customer:
    id: str
    name: str
    contact_email: str
    sales_owner_email: str = ""  # the account's sales owner (sales opportunities)
    contract_level: str = "standard"  # sets the SLA clocks of the customer's cases


@dataclass(frozen=True, slots=True)
class Site:
    id: str
    customer_id: str
    name: str
    address: str
    lat: float
    lon: float
    # Feed (tap) water total dissolved solids: how fast a purifier's filter fills.
    feed_tds_ppm: float = 0.0


@dataclass(frozen=True, slots=True)
class Gateway:
    """A simulated gateway: the site it stands at."""

    id: str
    site_id: str


@dataclass(frozen=True, slots=True)
class Device:
    id: str
    serial: str
    model_id: str
    site_id: str
    gateway_id: str


@dataclass(frozen=True, slots=True)
class Engineer:
    id: str
    name: str
    skills: tuple[str, ...]
    home_lat: float
    home_lon: float
    shift_start: str  # "HH:MM" local time
    shift_end: str
    email: str = ""  # where their work-order e-mails go


@dataclass(frozen=True, slots=True)
class Fleet:
    city: City
    customers: tuple[Customer, ...]
    sites: tuple[Site, ...]
    gateways: tuple[Gateway, ...]
    devices: tuple[Device, ...]
    engineers: tuple[Engineer, ...]

    def __post_init__(self) -> None:
        # A fleet read back from JSON may have been edited by hand; refuse
        # dangling references here rather than deep inside a consumer.
        for kind, items in (
            ("customer", self.customers),
            ("site", self.sites),
            ("gateway", self.gateways),
            ("device", self.devices),
            ("engineer", self.engineers),
        ):
            ids = [item.id for item in items]
            if len(set(ids)) != len(ids):
                raise SimulatorError(f"fleet: duplicate {kind} ids")
        customers = {c.id for c in self.customers}
        sites = {s.id for s in self.sites}
        gateway_site = {g.id: g.site_id for g in self.gateways}
        for s in self.sites:
            if s.customer_id not in customers:
                raise SimulatorError(f"fleet: site {s.id} has unknown customer {s.customer_id}")
        for g in self.gateways:
            if g.site_id not in sites:
                raise SimulatorError(f"fleet: gateway {g.id} has unknown site {g.site_id}")
        for d in self.devices:
            if gateway_site.get(d.gateway_id) != d.site_id:
                raise SimulatorError(f"fleet: device {d.id} gateway is not at site {d.site_id}")

    def devices_of(self, gateway_id: str) -> list[Device]:
        return [d for d in self.devices if d.gateway_id == gateway_id]

    def site(self, site_id: str) -> Site:
        for s in self.sites:
            if s.id == site_id:
                return s
        raise KeyError(site_id)

    def device(self, device_id: str) -> Device:
        for d in self.devices:
            if d.id == device_id:
                return d
        raise KeyError(device_id)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: only dicts, lists, strings and numbers."""
        out = asdict(self)
        for engineer in out["engineers"]:
            engineer["skills"] = list(engineer["skills"])
        return {
            key: list(value) if isinstance(value, tuple) else value for key, value in out.items()
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fleet:
        return cls(
            city=City(**data["city"]),
            customers=tuple(Customer(**c) for c in data["customers"]),
            sites=tuple(Site(**s) for s in data["sites"]),
            gateways=tuple(Gateway(**g) for g in data["gateways"]),
            devices=tuple(Device(**d) for d in data["devices"]),
            engineers=tuple(
                Engineer(**{**e, "skills": tuple(e["skills"])}) for e in data["engineers"]
            ),
        )


# Name pools: fiction that reads like a Munich service book.
_CUSTOMERS = (
    "Frischmarkt Süd GmbH",
    "Praxisgemeinschaft Isartal",
    "Hotel Viktualia",
    "Datenhaus Nord GmbH",
    "Bürozentrum Maxvorstadt",
    "Café Lindwurm",
    "Bäckerei Hofbauer",
    "Stadtbad Giesing",
    "Klinik am Englischen Garten",
    "Brauhaus Isartor",
    "Kantine Werksviertel",
    "Fitnessclub Olympia",
)
_DISTRICTS = (
    "Schwabing",
    "Maxvorstadt",
    "Haidhausen",
    "Sendling",
    "Neuhausen",
    "Giesing",
    "Bogenhausen",
    "Pasing",
    "Laim",
    "Au",
    "Moosach",
    "Trudering",
    "Milbertshofen",
)
_STREETS = (
    "Leopoldstraße",
    "Sendlinger Straße",
    "Rosenheimer Straße",
    "Lindwurmstraße",
    "Landsberger Straße",
    "Dachauer Straße",
    "Ungererstraße",
    "Schleißheimer Straße",
    "Tegernseer Landstraße",
    "Prinzregentenstraße",
    "Nymphenburger Straße",
    "Wasserburger Landstraße",
    "Fraunhoferstraße",
    "Belgradstraße",
    "Einsteinstraße",
)
_ENGINEERS = (
    "Anna Huber",
    "Markus Wagner",
    "Selin Yılmaz",
    "Tobias Maier",
    "Lena Schmid",
    "Jonas Becker",
    "Katarina Novak",
    "Felix Bauer",
)
_SHIFTS = (("07:00", "16:00"), ("08:00", "17:00"), ("10:00", "19:00"))
_SALES_OWNERS = ("miriam.keller@sales.example.com", "paul.brandt@sales.example.com")
# Contract levels in turn (not drawn from the generator: adding them left every
# other seeded choice as it was).
_CONTRACT_LEVELS = ("standard", "premium", "basic")


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h))


def _scatter(rng: random.Random, city: City) -> tuple[float, float]:
    """A point uniformly spread over the city disc (sqrt keeps the centre from crowding)."""
    # 0.98: rounding to 6 decimals (~0.1 m) must never push a point outside.
    dist = city.radius_km * 0.98 * math.sqrt(rng.random()) / EARTH_RADIUS_KM
    bearing = rng.uniform(0.0, 2 * math.pi)
    lat1, lon1 = math.radians(city.lat), math.radians(city.lon)
    # Spherical destination point, the exact inverse of the haversine distance.
    lat2 = math.asin(
        math.sin(lat1) * math.cos(dist) + math.cos(lat1) * math.sin(dist) * math.cos(bearing)
    )
    lon2 = lon1 + math.atan2(
        math.sin(bearing) * math.sin(dist) * math.cos(lat1),
        math.cos(dist) - math.sin(lat1) * math.sin(lat2),
    )
    return round(math.degrees(lat2), 6), round(math.degrees(lon2), 6)


def _slug(name: str) -> str:
    name = name.lower()
    for umlaut, plain in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss")):
        name = name.replace(umlaut, plain)
    # Other accents (é, dotless i) lose their marks: mail domains here stay ASCII.
    name = unicodedata.normalize("NFKD", name.replace("ı", "i")).encode("ascii", "ignore").decode()
    words = "".join(ch if ch.isalnum() else " " for ch in name).split()
    return "-".join(w for w in words if w not in ("gmbh", "am"))


def _pick(pool: tuple[str, ...], i: int) -> str:
    # Past the end of a pool, number the repeats so names stay unique.
    return pool[i % len(pool)] + ("" if i < len(pool) else f" {i // len(pool) + 1}")


def generate_fleet(
    seed: int = 7, sites: int = 12, city: City = MUNICH, engineers: int = 5
) -> Fleet:
    if sites < 1 or engineers < 1:
        raise SimulatorError("fleet: need at least one site and one engineer")
    rng = random.Random(seed)
    catalogue = load_models()
    model_ids = sorted(set(builtin_profiles()) & set(catalogue))
    skills = sorted({catalogue[m].service_skill for m in model_ids})

    n_customers = max(1, round(sites / 2))  # most customers run two sites
    pool = tuple(rng.sample(_CUSTOMERS, len(_CUSTOMERS)))
    customers = tuple(
        Customer(f"cus-{i + 1:03d}", name, f"facilities@{_slug(name)}.example.com",
                 contract_level=_CONTRACT_LEVELS[i % len(_CONTRACT_LEVELS)])
        for i, name in ((i, _pick(pool, i)) for i in range(n_customers))
    )
    # Every customer owns a site; the rest go to random customers.
    owners = [c.id for c in customers] + [rng.choice(customers).id for _ in range(sites)]
    streets = rng.sample(_STREETS, len(_STREETS))
    districts = rng.sample(_DISTRICTS, len(_DISTRICTS))
    customer_name = {c.id: c.name for c in customers}

    site_list: list[Site] = []
    gateway_list: list[Gateway] = []
    device_list: list[Device] = []
    serials: set[str] = set()
    for i in range(sites):
        site_id, gateway_id = f"site-{i + 1:03d}", f"gw-{i + 1:03d}"
        lat, lon = _scatter(rng, city)
        address = f"{streets[i % len(streets)]} {rng.randint(1, 180)}, {city.name}"
        name = f"{customer_name[owners[i]]} – {_pick(tuple(districts), i)}"
        site_list.append(Site(site_id, owners[i], name, address, lat, lon))
        gateway_list.append(Gateway(gateway_id, site_id))
        models = [rng.choice(model_ids) for _ in range(rng.randint(1, 4))]
        if i < len(model_ids):
            models[0] = model_ids[i]  # the first sites show every model at least once
        for model_id in models:
            serial = ""
            while not serial or serial in serials:
                prefix = builtin_profiles()[model_id].serial_prefix
                serial = f"{prefix}-{rng.randint(21, 25)}-{rng.randint(0, 999_999):06d}"
            serials.add(serial)
            device_id = f"dev-{len(device_list) + 1:04d}"
            device_list.append(Device(device_id, serial, model_id, site_id, gateway_id))

    customers, site_list = _accounts_and_water(seed, customers, site_list)
    return Fleet(
        city=city,
        customers=customers,
        sites=tuple(site_list),
        gateways=tuple(gateway_list),
        devices=tuple(device_list),
        engineers=_workforce(rng, city, engineers, skills),
    )


def _accounts_and_water(seed: int, customers: tuple[Customer, ...], sites: list[Site]
                        ) -> tuple[tuple[Customer, ...], list[Site]]:
    """Sales owners and feed water, drawn from a generator of their own: the fleet a
    seed named before they existed stays the same."""
    rng = random.Random(f"accounts-and-water:{seed}")
    owned = tuple(replace(c, sales_owner_email=_SALES_OWNERS[i % len(_SALES_OWNERS)])
                  for i, c in enumerate(customers))
    # Tap water around a city varies with the source and the building's pipes.
    watered = [replace(s, feed_tds_ppm=float(round(rng.uniform(250.0, 650.0)))) for s in sites]
    return owned, watered


def _workforce(
    rng: random.Random, city: City, count: int, skills: list[str]
) -> tuple[Engineer, ...]:
    names = rng.sample(_ENGINEERS, len(_ENGINEERS))
    shifts = rng.sample(_SHIFTS, len(_SHIFTS))
    team = []
    for i in range(count):
        # Primary skills go round-robin so every skill is covered once the team
        # is as large as the skill list; some also hold a second skill (overlap).
        own = [skills[i % len(skills)]]
        if len(skills) > 1 and (i >= len(skills) or rng.random() < 0.5):
            own.append(rng.choice([s for s in skills if s not in own]))
        lat, lon = _scatter(rng, city)
        start, end = shifts[i % len(shifts)]
        team.append(
            Engineer(
                f"eng-{i + 1:02d}", name := _pick(tuple(names), i), tuple(sorted(own)), lat, lon,
                start, end, email=f"{_slug(name).replace('-', '.')}@service.example.com",
            )
        )
    return tuple(team)
