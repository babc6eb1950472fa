"""Scorecards as plain data: one shape for the command line's JSON and the API."""

from __future__ import annotations

from typing import Any

from .selectors import Scorecard


def _number(value: Any) -> Any:
    return None if value is None else str(value)


def scorecard_document(card: Scorecard) -> dict[str, Any]:
    return {
        "person": {"id": card.person.pk, "username": card.person.get_username(), "name": card.name},
        "period": {
            "label": card.period.label,
            "kind": card.period.kind,
            "first": card.period.first.isoformat(),
            "last": card.period.last.isoformat(),
        },
        "attainment": _number(card.attainment),
        "lines": [
            {
                "measure": line.measure.code,
                "layer": line.measure.layer,
                "title": str(line.measure.title),
                "unit": line.measure.unit,
                "better": line.measure.better,
                "target": _number(line.target),
                "weight": _number(line.weight),
                "actual": _number(line.actual),
                "attainment": _number(line.attainment),
                "trend": [{"period": label, "actual": _number(v)} for label, v in line.trend],
            }
            for line in card.lines
        ],
        "goals": [
            {
                "id": g.goal.pk,
                "what": g.goal.what,
                "measure": g.goal.measure or None,
                "target": _number(g.goal.target),
                "deadline": g.goal.deadline.isoformat(),
                "actual": _number(g.actual),
                "percent": _number(g.percent),
                "achieved": g.achieved,
                "overdue": g.overdue,
            }
            for g in card.goals
        ],
    }
