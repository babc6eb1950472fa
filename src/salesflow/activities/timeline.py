"""A client's timeline: everything about the client in time order, newest first -- its
deals, the stages taken, done and moved (with the reasons), the handoff notes, calls,
meetings, proposals, notes and e-mail, and, for those who watch for leaks, the reveals and
exports of its contacts -- filterable by kind, as the reader may see it.

The entries live in five tables (activities, handoff notes, the audit trail -- the client's
own events and the base's exports -- and the deals). ``Timeline`` reads a page from each
table's own index (newest first, at most as many rows as the page needs) and merges them,
so a page costs the same few queries whatever the client's history holds; it offers the
small part of a queryset that DRF's ``CursorPagination`` uses (``order_by``, a filter on
``at``, a slice), so the API pages it by cursor and the page reads it the same way.

What an entry shows follows ``access.Viewer``: the holder of one of the client's tasks and
the roles entitled to its contacts read what was said and written (numbers and addresses
as they may see them: in full for the holder, masked otherwise); everybody else sees what
kind of thing happened, when, and who of the company did it.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from django.db.models import F, QuerySet
from django.db.models.functions import Left
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from salesflow.audit.models import AuditEvent
from salesflow.clients.masking import mask_email, mask_phone
from salesflow.clients.models import Client, Lead
from salesflow.conveyor.selectors import describe_notes
from salesflow.exceptions import NotFound
from salesflow.handoff.models import HandoffNote
from salesflow.people import display_names

from .access import Viewer
from .calls import STATUSES as CALL_STATUSES
from .models import Activity

PREVIEW = 800  # characters of a text shown in a timeline entry

# the kinds a reader filters by, in the order the filter offers them
KINDS: dict[str, Any] = {
    "call": gettext_lazy("Calls"),
    "meeting": gettext_lazy("Meetings"),
    "email": gettext_lazy("E-mail"),
    "proposal": gettext_lazy("Proposals"),
    "note": pgettext_lazy("timeline", "Notes"),
    "deal": gettext_lazy("Deals"),
    "handoff": gettext_lazy("Handoff notes"),
    "stage": gettext_lazy("Stages"),
    "handover": gettext_lazy("Work moved"),
    "access": gettext_lazy("Reveals and exports"),
}
ACTIVITY_KINDS = tuple(Activity.Kind.values)
STAGE_ACTIONS = (
    AuditEvent.Action.ASSIGN,
    AuditEvent.Action.CLAIM,
    AuditEvent.Action.COMPLETE,
    AuditEvent.Action.APPROVE,
    AuditEvent.Action.REJECT,
    AuditEvent.Action.CANCEL,
    AuditEvent.Action.SIDE_TASK,
    AuditEvent.Action.DATA_FIX,
)
HANDOVER_ACTIONS = (AuditEvent.Action.REASSIGN, AuditEvent.Action.UNASSIGN)
FIELD_NAMES = {"phone": gettext_lazy("phone"), "email": gettext_lazy("e-mail")}
# ties at one moment: deals first, then the work on them, then what was said
RANK = {"deal": 0, "event": 1, "note": 2, "activity": 3, "export": 4}


@dataclass
class Entry:
    """One thing that happened, as one reader may see it."""

    at: datetime
    kind: str  # one of KINDS
    source: str  # a key of RANK
    pk: int
    title: str = ""
    who: str = ""
    hidden: bool = False  # the reader sees that it happened, and when, not what was said
    subject: str = ""
    text: str = ""
    rows: list[tuple[str, str]] = field(default_factory=list)
    contact: str = ""
    counterpart: str = ""
    outcome: str = ""
    duration: int | None = None
    next_step: str = ""
    next_step_date: date | None = None
    mail_id: int | None = None
    attachments: int = 0
    direction: str = ""
    recording_url: str = ""

    @property
    def key(self) -> tuple[datetime, int, int]:
        return (self.at, RANK[self.source], self.pk)


def parse_kinds(values: Iterable[str]) -> tuple[str, ...]:
    """Kinds from a request (``?kind=call&kind=email`` or ``?kind=call,email``); NotFound
    naming the unknown one (nothing is filtered on a guess)."""
    kinds: list[str] = []
    for value in values:
        for kind in value.split(","):
            kind = kind.strip()
            if not kind:
                continue
            if kind not in KINDS:
                raise NotFound(
                    _("There is no kind “%(kind)s” on a timeline (known: %(known)s).")
                    % {"kind": kind[:40], "known": ", ".join(KINDS)}
                )
            if kind not in kinds:
                kinds.append(kind)
    return tuple(kinds)


class Timeline:
    """A client's timeline for one reader (see the module's docstring). Immutable: every
    ``order_by``/``filter`` returns a new one."""

    def __init__(
        self,
        *,
        client: Client,
        client_ids: Sequence[int],
        viewer: Viewer,
        kinds: Sequence[str] = (),
        descending: bool = True,
        before: datetime | None = None,
        after: datetime | None = None,
    ) -> None:
        self.client = client
        self.client_ids = list(client_ids)
        self.viewer = viewer
        wanted = set(kinds or KINDS)
        if not viewer.watches_access:
            wanted.discard("access")
        self.kinds = frozenset(wanted)
        self.descending = descending
        self.before = before
        self.after = after

    def _clone(self, **changes: Any) -> Timeline:
        clone = Timeline.__new__(Timeline)
        clone.__dict__.update(self.__dict__)
        clone.__dict__.update(changes)
        return clone

    # --- the part of a queryset CursorPagination uses -----------------------------------

    def order_by(self, *fields: str) -> Timeline:
        if not fields or fields[0].lstrip("-") != "at":
            raise ValueError("a timeline is ordered by 'at' only")
        return self._clone(descending=fields[0].startswith("-"))

    def filter(self, **conditions: Any) -> Timeline:
        changes = {}
        for lookup, value in conditions.items():
            moment = _moment(value)
            if lookup == "at__lt":
                changes["before"] = moment
            elif lookup == "at__gt":
                changes["after"] = moment
            else:
                raise ValueError(f"a timeline filters by at__lt / at__gt only, not {lookup}")
        return self._clone(**changes)

    def __getitem__(self, key: slice) -> list[Entry]:
        if not isinstance(key, slice) or key.step not in (None, 1):
            raise TypeError("a timeline is read in slices")
        start, stop = key.start or 0, key.stop
        if stop is None or stop <= start:
            return []
        streams = [self._entries(source, stop) for source in self._sources()]
        merged = heapq.merge(*streams, key=lambda e: e.key, reverse=self.descending)
        page = [entry for _n, entry in zip(range(stop), merged, strict=False)][start:]
        return self._present(page)

    def __iter__(self) -> Iterator[Entry]:
        raise TypeError("a timeline is read in slices (it has no end worth reading)")

    # --- the sources -------------------------------------------------------------------

    def _sources(self) -> list[tuple[str, QuerySet[Any], str]]:
        """(source, queryset, its time column) for every table the kinds read."""
        ids = self.client_ids
        sources: list[tuple[str, QuerySet[Any], str]] = []
        activity_kinds = [k for k in ACTIVITY_KINDS if k in self.kinds]
        if activity_kinds:
            activities = Activity.objects.filter(client_id__in=ids)
            if len(activity_kinds) < len(ACTIVITY_KINDS):
                activities = activities.filter(kind__in=activity_kinds)
            activities = (
                activities.select_related("author", "contact", "exchange_call")
                .defer("text")
                .annotate(
                    preview=Left("text", PREVIEW),
                    mail_preview=Left("mail__text_body", PREVIEW),
                    mail_attachments=F("mail__attachment_count"),
                )
            )
            sources.append(("activity", activities, "occurred"))
        if "deal" in self.kinds:
            sources.append(("deal", Lead.objects.filter(client_id__in=ids), "created"))
        if "handoff" in self.kinds:
            notes = HandoffNote.objects.filter(client_id__in=ids).select_related("author")
            sources.append(("note", notes, "created"))
        actions = [
            *(STAGE_ACTIONS if "stage" in self.kinds else ()),
            *(HANDOVER_ACTIONS if "handover" in self.kinds else ()),
            *((AuditEvent.Action.REVEAL,) if "access" in self.kinds else ()),
        ]
        if actions:
            events = AuditEvent.objects.filter(
                client_id__in=ids, action__in=actions
            ).select_related("actor", "from_user", "to_user", "task")
            sources.append(("event", events, "created"))
        if "access" in self.kinds:
            exports = AuditEvent.objects.filter(
                client__isnull=True,
                action=AuditEvent.Action.EXPORT,
                created__gte=self.client.created,
            ).select_related("actor")
            sources.append(("export", exports, "created"))
        return sources

    def _entries(self, source: tuple[str, QuerySet[Any], str], limit: int) -> Iterator[Entry]:
        name, queryset, column = source
        if self.before is not None:
            queryset = queryset.filter(**{f"{column}__lt": self.before})
        if self.after is not None:
            queryset = queryset.filter(**{f"{column}__gt": self.after})
        sign = "-" if self.descending else ""
        for row in queryset.order_by(f"{sign}{column}", f"{sign}pk")[:limit]:
            yield _entry(name, row)

    # --- what the reader sees ----------------------------------------------------------

    def _present(self, page: list[Entry]) -> list[Entry]:
        people: dict[int, Any] = {}
        for entry in page:
            for user in getattr(entry, "_people", ()):
                people[user.pk] = user
        names = display_names(people.values())
        notes = [e._row for e in page if e.source == "note"]  # type: ignore[attr-defined]
        note_views = {view.note.pk: view for view in describe_notes(notes)}
        return [_shown(entry, self.viewer, names, note_views) for entry in page]


def _moment(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise NotFound(_("Invalid cursor")) from None
    if moment.tzinfo is None:
        raise NotFound(_("Invalid cursor"))
    return moment


def _entry(source: str, row: Any) -> Entry:
    """An entry with its row (``_row``) and the people in it (``_people``), before it is
    shown to anyone."""
    if source == "activity":
        entry = Entry(at=row.occurred, kind=row.kind, source=source, pk=row.pk)
        people = [row.author]
    elif source == "deal":
        entry = Entry(at=row.created, kind="deal", source=source, pk=row.pk)
        people = []
    elif source == "note":
        entry = Entry(at=row.created, kind="handoff", source=source, pk=row.pk)
        people = [row.author]
    else:
        kind = (
            "access"
            if row.action in ("reveal", "export")
            else ("handover" if row.action in HANDOVER_ACTIONS else "stage")
        )
        entry = Entry(at=row.created, kind=kind, source=source, pk=row.pk)
        people = [row.actor, getattr(row, "from_user", None), getattr(row, "to_user", None)]
    entry._row = row  # type: ignore[attr-defined]
    entry._people = [p for p in people if p is not None]  # type: ignore[attr-defined]
    return entry


def _shown(entry: Entry, viewer: Viewer, names: dict[int, str], notes: dict[int, Any]) -> Entry:
    row = entry._row  # type: ignore[attr-defined]
    details = viewer.reads_details
    if entry.source == "activity":
        return _activity(entry, row, viewer, names)
    if entry.source == "deal":
        source = Lead.Source(row.source).label if row.source in Lead.Source.values else row.source
        return replace(
            entry,
            title=_("Deal opened: %(source)s") % {"source": source},
            hidden=not details,
            text=row.request[:PREVIEW] if details else "",
        )
    if entry.source == "note":
        view = notes.get(row.pk)
        route = f"{view.from_title} → {view.to_title}" if view else ""
        if row.kind == HandoffNote.Kind.BOUNCE:
            title = _("Sent back: %(route)s") % {"route": route}
        else:
            title = _("Handoff: %(route)s") % {"route": route}
        return replace(
            entry,
            title=title,
            who=names.get(row.author_id, ""),
            hidden=not details,
            rows=list(view.rows) if view and details else [],
            text=row.text if details else "",
        )
    return _event(entry, row, viewer, names)


def _duration(seconds: int | None) -> str:
    if not seconds:
        return ""
    minutes, rest = divmod(seconds, 60)
    return (
        _("%(m)d min %(s)02d s") % {"m": minutes, "s": rest}
        if minutes
        else _("%(s)d s") % {"s": rest}
    )


ACTIVITY_TITLES: dict[tuple[str, str], Any] = {
    ("call", "in"): gettext_lazy("Incoming call"),
    ("call", "out"): gettext_lazy("Outgoing call"),
    ("call", ""): gettext_lazy("Call"),
    ("email", "in"): gettext_lazy("E-mail received"),
    ("email", "out"): gettext_lazy("E-mail sent"),
    ("meeting", ""): gettext_lazy("Meeting"),
    ("proposal", ""): gettext_lazy("Proposal sent"),
    ("note", ""): pgettext_lazy("timeline", "Note"),
}


def _activity(entry: Entry, row: Activity, viewer: Viewer, names: dict[int, str]) -> Entry:
    title = ACTIVITY_TITLES.get((row.kind, row.direction)) or ACTIVITY_TITLES[(row.kind, "")]
    duration = _duration(row.duration)
    title_text = f"{title} · {duration}" if duration else str(title)
    if row.client_id is None:
        title_text = _("%(title)s (matched no client)") % {"title": title_text}
    common: dict[str, Any] = {
        "title": title_text,
        "who": names.get(row.author_id, "") if row.author_id else "",
        "direction": row.direction,
        "mail_id": row.mail_id,
        "attachments": getattr(row, "mail_attachments", 0) or 0,
        "duration": row.duration,
    }
    if not viewer.reads_details:
        return replace(entry, hidden=True, **common)
    counterpart = row.counterpart
    if counterpart:
        if "@" in counterpart:
            counterpart = counterpart if viewer.sees("email") else mask_email(counterpart)
        else:
            counterpart = counterpart if viewer.sees("phone") else mask_phone(counterpart)
    text = getattr(row, "preview", "") or getattr(row, "mail_preview", "") or ""
    call = getattr(row, "exchange_call", None) if row.source == Activity.Source.EXCHANGE else None
    outcome = str(CALL_STATUSES.get(row.outcome, row.outcome)) if call else row.outcome
    return replace(
        entry,
        subject=row.subject,
        text=text,
        contact=row.contact.name if row.contact is not None else "",
        counterpart=counterpart,
        outcome=outcome,
        recording_url=call.recording_url if call else "",
        next_step=row.next_step,
        next_step_date=row.next_step_date,
        **common,
    )


def _stage_title(row: AuditEvent) -> str:
    node = getattr(row.task, "flow_task", None) if row.task_id else None
    return str(getattr(node, "task_title", "")) or _("a stage")


def _event(entry: Entry, row: AuditEvent, viewer: Viewer, names: dict[int, str]) -> Entry:
    actor = names.get(row.actor_id, "") if row.actor_id else ""
    giver = names.get(row.from_user_id, "") if row.from_user_id else ""
    receiver = names.get(row.to_user_id, "") if row.to_user_id else ""
    stage = _stage_title(row) if row.task_id else ""
    action = row.action
    if action == AuditEvent.Action.ASSIGN:
        title = _("%(stage)s: given to %(to)s") % {"stage": stage, "to": receiver}
    elif action == AuditEvent.Action.CLAIM:
        title = _("%(stage)s: taken") % {"stage": stage}
    elif action == AuditEvent.Action.COMPLETE:
        title = _("%(stage)s: done") % {"stage": stage}
    elif action == AuditEvent.Action.APPROVE:
        title = _("%(stage)s: approved") % {"stage": stage}
    elif action == AuditEvent.Action.REJECT:
        title = _("%(stage)s: rejected") % {"stage": stage}
    elif action == AuditEvent.Action.CANCEL:
        title = _("%(stage)s: cancelled") % {"stage": stage}
    elif action == AuditEvent.Action.SIDE_TASK:
        title = _("%(stage)s: a side task handed to the assistants") % {"stage": stage}
    elif action == AuditEvent.Action.DATA_FIX:
        title = _("The client card fixed")
    elif action == AuditEvent.Action.REASSIGN:
        if row.to_user_id:
            title = _("%(stage)s: moved from %(from)s to %(to)s") % {
                "stage": stage, "from": giver or _("the pool"), "to": receiver,
            }  # fmt: skip
        else:
            title = _("%(stage)s: moved from %(from)s back to the pool") % {
                "stage": stage, "from": giver,
            }  # fmt: skip
    elif action == AuditEvent.Action.UNASSIGN:
        title = _("%(stage)s: given back to the pool") % {"stage": stage}
    elif action == AuditEvent.Action.REVEAL:
        fields = ", ".join(str(FIELD_NAMES.get(f, f)) for f in (row.data or {}).get("fields", []))
        return replace(entry, title=_("A contact revealed"), who=actor, text=fields)
    else:
        return replace(entry, title=_("The client base exported"), who=actor, text=row.reason)
    # a person's words are shown; what the system wrote on its own (a pool's hand-out) is
    # in the title already, and in the language of the job that wrote it
    said = row.reason if row.actor_id is not None and viewer.reads_details else ""
    return replace(entry, title=title, who=actor, hidden=not viewer.reads_details, text=said)


def client_timeline(*, client: Client, viewer: Viewer, kinds: Sequence[str] = ()) -> Timeline:
    """The timeline of ``client`` -- and of the clients merged into it -- for ``viewer``
    (``access.access_client`` gives both). One query for the merged clients."""
    merged = list(Client.objects.filter(merged_into=client).values_list("pk", flat=True))
    return Timeline(client=client, client_ids=[client.pk, *merged], viewer=viewer, kinds=kinds)


def first_page(timeline: Timeline, size: int = 25) -> list[Entry]:
    return timeline.order_by("-at")[0:size]
