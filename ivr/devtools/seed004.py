"""Seed 004's profile (Siping, 9-29 Feb 2020): the report's figures that ``hotline seed-demo``
reproduces, the demo's own catalogue and database, and the check that a catalogue has what
the profile needs (:func:`check_demo_catalogue`, HL-CAT-008)."""

from __future__ import annotations

from ivr.config.catalogue import Catalogue
from ivr.errors import HotlineError
from ivr.settings import PROJECT_ROOT

# Seed 004's figures.
CALLS = 8570
ACCEPTED = 6610
FINISHED = 6572
#: calls about the epidemic (疫情方面电话): its 2150 tickets' calls and 258 calls without a
#: ticket, queued on the epidemic line (skill ``epidemic``)
EPIDEMIC_CALLS = 2408
EPIDEMIC = {"consult": 1665, "help": 298, "complaint": 77, "report": 61, "suggestion": 49}
CATEGORIES = {
    "housing": 765,
    "housing_fund": 708,
    "utilities": 407,
    "transport": 269,
    "enforcement": 217,
    "public_security": 195,
    "medical_insurance": 107,
    "social_security": 32,
    "dogs": 21,
    "pollution": 11,
    "rural_other": 1728,
}
DEPARTMENTS = {  # code: (件数 received, 办结 finished)
    "tiexi": (133, 128),
    "tiedong": (132, 130),
    "lishu": (112, 100),
    "shuangliao": (51, 50),
    "yitong": (36, 31),
    "housing_bureau": (26, 23),
    "police": (15, 14),
    "market": (9, 9),
    "water": (9, 8),
    "heat": (7, 5),
    "transport": (4, 2),
    "natural_resources": (3, 2),
    "fuguo": (3, 2),
    "health": (2, 2),
    "unicom": (2, 1),
    "medical_insurance": (2, 2),
    "urban_investment": (2, 2),
    "mobile": (2, 2),
    "education": (1, 1),
    "ecology": (1, 1),
    "housing_fund": (1, 1),
    "utility_tunnel": (1, 0),
    "hongzui": (1, 1),
    "jishi": (1, 1),
    "telecom": (1, 1),
}
#: the first paragraph: items forwarded by upper-level platforms, per source (the demo
#: catalogue's ``sources``): (items, finished). By group: 省长公开电话办公室转来 17, all
#: finished; 省政数局转来 1, finished; 市长信箱、地方领导留言板 16, 14 finished.
FORWARDED = {
    "people_leaders": (9, 9),
    "governor_mailbox": (5, 5),
    "state_council": (3, 3),
    "gov_cn": (1, 1),
    "mayor_mailbox": (10, 9),
    "local_leaders": (6, 5),
}
OTHER_TYPES = {
    "consult": 50,
    "help": 15,
    "complaint": 25,
    "report": 5,
    "suggestion": 4,
    "praise": 1,
}


#: seed 004's catalogue (Siping): a catalogue-only config directory shipped with the code.
DEMO_CONFIG_DIR = PROJECT_ROOT / "config" / "demo-siping"
#: the demo's own database in the var directory, so that a demo never fills a live hotline's.
DEMO_DATABASE = "demo.db"


def scaled(n: int, scale: float) -> int:
    """A figure of the profile at ``scale`` (rounded)."""
    return round(n * scale)


class DemoCatalogueRefused(HotlineError):
    """The catalogue lacks seed 004's departments, categories or types."""

    code = "HL-CAT-008"


def check_demo_catalogue(catalogue: Catalogue) -> None:
    """Refuse (one line) a catalogue without what seed 004's report needs."""
    lacking = [
        *(f"department {d}" for d in DEPARTMENTS if d not in catalogue.departments),
        *(f"category {c}" for c in ["epidemic", *CATEGORIES] if c not in catalogue.categories),
        *(f"type {t}" for t in {**EPIDEMIC, **OTHER_TYPES} if t not in catalogue.types),
        *(f"source {s}" for s in FORWARDED if s not in catalogue.sources),
    ]
    if lacking:
        shown = ", ".join(lacking[:5]) + (
            f" and {len(lacking) - 5} more" if len(lacking) > 5 else ""
        )
        raise DemoCatalogueRefused(
            f"seed-demo reproduces seed 004 (Siping, 2020-02) and needs its catalogue; this one "
            f"lacks {shown}: use the demo config (the default, --config {DEMO_CONFIG_DIR})"
        )
