"""The pair score: text, stack, environment and time combined as evidence (docs/metrics.md "Duplicate candidates").

Each signal adds log-odds (natural log) to the evidence that two reports
describe the same problem; the score is the logistic of the sum, so it is in
[0, 1], and a signal the two reports do not both carry adds nothing (a
tracker without stack traces is not capped below the threshold).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Text alone scores 0.75 (log-odds ln 3) when the pair is halfway from the
# reports' typical nearest-neighbour similarity to identical text; each tenth
# of the way more or less moves the log-odds by 0.8.
TEXT_MIDPOINT = 0.5
TEXT_SLOPE = 8.0
# The same stack fingerprint multiplies the odds by e^2 (~7); two different
# fingerprints divide them by e.
SAME_STACK = 2.0
DIFFERENT_STACK = -1.0
# All four environment attributes agreeing, each fully informative: e^1.
ENVIRONMENT = 1.0
# Reports filed the same day: e^0.5, fading with the days between them.
CLOSE_IN_TIME = 0.5
TIME_SCALE_DAYS = 90.0
ATTRIBUTES = ("service", "component", "environment", "error_type")


@dataclass(frozen=True)
class Defects:
    """Per defect (one row each, in vector order): what the score compares besides text.

    `stack` and each attribute are integer codes, -1 when unknown;
    `created_days` is created_at in days.
    """

    stack: np.ndarray
    attributes: dict[str, np.ndarray]
    created_days: np.ndarray


def chance_agreement(codes: np.ndarray) -> float:
    """Probability that two defects, both with a known value, have the same one (sum of squared shares)."""
    known = codes[codes >= 0]
    if len(known) == 0:
        return 1.0
    shares = np.unique(known, return_counts=True)[1] / len(known)
    return float((shares**2).sum())


def background(similarity: np.ndarray, k: int) -> np.ndarray:
    """Each row's typical nearest-neighbour similarity: the mean of its k highest (missing ones count 0)."""
    return -np.sort(-similarity, axis=1)[:, :k].sum(axis=1, dtype=np.float64) / k


def relative_text(similarity: np.ndarray, typical: np.ndarray) -> np.ndarray:
    """Share of the way from the typical similarity (0) to identical text (1), clipped to [0, 1]."""
    headroom = np.maximum(1.0 - typical, 1e-9)
    relative = np.clip((similarity - typical) / headroom, 0.0, 1.0)
    return np.where(similarity >= 1.0 - 1e-6, 1.0, relative)


def matches(codes: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """1 when both are known and equal, -1 when both are known and differ, 0 otherwise."""
    a, b = codes[left], codes[right]
    return np.where((a < 0) | (b < 0), 0, np.where(a == b, 1, -1)).astype(np.int8)


def log_odds(
    relative: np.ndarray, stack: np.ndarray, attribute_matches: dict[str, np.ndarray],
    informativeness: dict[str, float], days_apart: np.ndarray,
) -> np.ndarray:
    """Evidence of each pair. An attribute counts by how rarely two defects agree on it by chance."""
    evidence = np.log(3.0) + TEXT_SLOPE * (relative - TEXT_MIDPOINT)
    evidence += np.where(stack > 0, SAME_STACK, np.where(stack < 0, DIFFERENT_STACK, 0.0))
    for name, match in attribute_matches.items():
        evidence += ENVIRONMENT / len(ATTRIBUTES) * informativeness[name] * match
    return evidence + CLOSE_IN_TIME * np.exp(-days_apart / TIME_SCALE_DAYS)


def scores(evidence: np.ndarray) -> np.ndarray:
    """Logistic of the log-odds, 6 decimals."""
    return np.round(1.0 / (1.0 + np.exp(-evidence)), 6)
