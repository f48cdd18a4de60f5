"""Services, teams and people: six service families, repeated with numbered names as the scale grows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipelines.synthetic.arrays import Table, as_text, cat
from pipelines.synthetic.codes import ENV_RAW, SEVERITY_RAW


@dataclass(frozen=True)
class _Blueprint:
    """One service family; scale > 1 repeats the families with numbered names."""

    name: str
    key: str
    language: str
    strategy: str  # production rollout: full | canary | bluegreen
    components: tuple[str, str, str, str]
    cadence_weeks: int
    prod_share: float  # share of non-duplicate defects found in production
    volume: float  # relative defect volume
    rollback_prob: float


BLUEPRINTS = (
    _Blueprint("payments", "PAY", "python", "canary", ("invoice", "ledger", "refunds", "gateway"), 2, 0.10, 1.2, 0.08),
    _Blueprint("checkout", "CHK", "java", "full", ("cart", "pricing", "promotions", "orders"), 1, 0.22, 1.3, 0.15),
    _Blueprint("catalog", "CAT", "python", "full", ("products", "inventory", "images", "feeds"), 2, 0.07, 0.9, 0.04),
    _Blueprint("search", "SRCH", "java", "bluegreen", ("indexer", "query", "ranking", "suggest"), 3, 0.14, 0.8, 0.06),
    _Blueprint(
        "accounts", "ACC", "python", "canary", ("login", "profile", "sessions", "permissions"), 2, 0.09, 1.0, 0.05
    ),
    _Blueprint("notifications", "NTF", "java", "full", ("email", "sms", "push", "templates"), 1, 0.16, 0.8, 0.08),
)
STRATEGIES = ("full", "canary", "bluegreen")
TEAM_NAMES = ("Atlas", "Borealis", "Cobalt", "Delta", "Ember", "Fjord", "Granite", "Harbor")
FIRST_NAMES = (
    "Jane", "Omar", "Priya", "Lukas", "Mei", "Carlos", "Aisha", "Tom", "Sofia", "Kenji", "Fatima", "Erik",
    "Nadia", "Diego", "Hannah", "Ravi", "Olga", "Samuel", "Chloe", "Mateo", "Ingrid", "Yusuf", "Lena", "Noah",
)
LAST_NAMES = (
    "Doe", "Haddad", "Sharma", "Weber", "Chen", "Ortiz", "Bello", "Novak", "Rossi", "Tanaka", "Khan", "Berg",
    "Petrova", "Silva", "Schmidt", "Iyer", "Ivanova", "Mensah", "Martin", "Garcia", "Larsen", "Demir", "Fischer",
    "Park",
)
PEOPLE_PER_TEAM = 5


def make_services(rng: np.random.Generator, scale: float) -> Table:
    """round(6 * scale) services (at least one), each with its team, tool styles and release numbering."""
    n = max(1, round(6 * scale))
    i = np.arange(n)
    bp = [BLUEPRINTS[k % len(BLUEPRINTS)] for k in range(n)]
    family = i // len(BLUEPRINTS)
    suffix = np.where(family == 0, "", cat("-", as_text(family + 1)))
    key_suffix = np.where(family == 0, "", as_text(family + 1))
    team = i * 2 // 3  # 6 services -> 4 teams, two of them owning two services
    team_suffix = np.where(team < len(TEAM_NAMES), "", cat(" ", as_text(team // len(TEAM_NAMES) + 1)))
    base_share = np.array([b.prod_share for b in bp])
    return {
        "name": cat(as_text([b.name for b in bp]), suffix),
        "key": cat(as_text([b.key for b in bp]), key_suffix),
        "java": np.array([b.language == "java" for b in bp]),
        "strategy": np.array([STRATEGIES.index(b.strategy) for b in bp]),
        "components": as_text([b.components for b in bp]).reshape(n, 4),
        "cadence": np.array([b.cadence_weeks for b in bp]),
        # Small per-service jitter keeps services of the same family distinct.
        "prod_share": np.clip(base_share + rng.uniform(-0.015, 0.015, n), 0.06, 0.24),
        "volume": np.array([b.volume for b in bp]) * rng.uniform(0.9, 1.1, n),
        "rollback_prob": np.array([b.rollback_prob for b in bp]),
        "team": team,
        "team_name": cat(as_text(TEAM_NAMES)[team % len(TEAM_NAMES)], team_suffix),
        "env_style": i % ENV_RAW.shape[0],
        "sev_style": team % SEVERITY_RAW.shape[0],
        "status_style": team % 2,
        "major": rng.integers(1, 4, n),
        "minor0": rng.integers(3, 9, n),  # releases cross x.9 -> x.10, which text sorting gets wrong
        "id_offset": rng.integers(0, 400, n),
    }


def make_people(rng: np.random.Generator, n_teams: int) -> tuple[np.ndarray, np.ndarray]:
    """Per team PEOPLE_PER_TEAM display names and matching e-mail local parts."""
    first = rng.integers(0, len(FIRST_NAMES), (n_teams, PEOPLE_PER_TEAM))
    last = rng.integers(0, len(LAST_NAMES), (n_teams, PEOPLE_PER_TEAM))
    f, l_ = as_text(FIRST_NAMES)[first], as_text(LAST_NAMES)[last]
    return cat(f, " ", l_), np.strings.lower(cat(f, ".", l_))
