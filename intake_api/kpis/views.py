"""`GET /v1/kpis?from=&to=` and the dashboard's drill-down and downloads (scope `agents`;
signed-in agents need the role supervisor or manager)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse

from core.columns import utcnow
from core.database import unit_of_work
from core.errors import NotFound, Unprocessable
from intake_api.agents.access import require_role
from intake_api.auth.dependencies import request_sessions
from intake_api.auth.models import Principal
from intake_api.auth.responses import AUTHENTICATED, error_responses
from intake_api.kpis import export, service
from intake_api.kpis.models import Drill, DrillTicket, KpiFilters, Kpis
from intake_api.params import IsoDateTime
from intake_api.services import services
from intake_api.tickets.models import format_ticket_id

router = APIRouter(prefix="/v1/kpis", tags=["kpis"], responses=AUTHENTICATED)
DEFAULT_WINDOW = timedelta(days=30)
manager_view = require_role("supervisor")


def _aware(moment: datetime) -> datetime:
    """Times without a zone are UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime
    now: datetime


def window(
    start: IsoDateTime | None = Query(None, alias="from", description="Window start (ISO 8601)."),
    end: IsoDateTime | None = Query(None, alias="to", description="Window end, exclusive."),
) -> Window:
    """[from, to), by default the last 30 days; `to` defaults to now (or to `from`, when that
    is later: an empty window), so only a `from` after the `to` given is refused."""
    now = utcnow()
    begin = _aware(start) if start else None
    end = _aware(end) if end else max(now, begin or now)
    start = begin or end - DEFAULT_WINDOW
    if start > end:
        raise Unprocessable(
            "`from` must not be after `to`", start=start.isoformat(), end=end.isoformat()
        )
    return Window(start, end, now)


def _lines(request: Request) -> dict[str, str]:
    """Each KB product's product line."""
    products = services(request.app).kb.graph.products
    return {pid: product.line for pid, product in products.items() if product.line}


async def _figures(request: Request, span: Window, filters: KpiFilters) -> Kpis:
    """The figures, their independent reads run at once (each in a session of its own)."""
    return await service.kpis(
        request_sessions(request),
        start=span.start,
        end=span.end,
        now=span.now,
        filters=filters,
        lines=_lines(request),
    )


@router.get("", response_model=Kpis)
async def get_kpis(
    request: Request,
    filters: Annotated[KpiFilters, Query()],
    span: Window = Depends(window),
    _: Principal = Depends(manager_view),
) -> Kpis:
    """AI handling share, durable resolution, first response and resolution times,
    first-contact resolution, SLA per priority, tier, skill group and agent, CSAT and survey
    response rate, repeat faults within 30 days, volume, hand-off reasons and knowledge gaps,
    over [from, to) (default: the last 30 days), of the tickets the filters keep. Each figure
    is defined in docs/agents.md."""
    return await _figures(request, span, filters)


class CsvResponse(PlainTextResponse):
    media_type = "text/csv"


class YamlResponse(PlainTextResponse):
    media_type = "application/yaml"


@router.get("/export.csv", response_class=CsvResponse)
async def export_kpis(
    request: Request,
    filters: Annotated[KpiFilters, Query()],
    span: Window = Depends(window),
    _: Principal = Depends(manager_view),
) -> CsvResponse:
    """Every figure of `GET /v1/kpis` as CSV rows `metric,value`."""
    body = export.kpis_csv(await _figures(request, span, filters))
    return CsvResponse(
        body,
        headers={"Content-Disposition": 'attachment; filename="kpis.csv"'},
    )


@router.get("/tickets", response_model=Drill)
async def drill_down(
    request: Request,
    filters: Annotated[KpiFilters, Query()],
    metric: Literal["sla.response", "sla.resolution", "durable_resolution", "volume"],
    outcome: Literal["met", "breached", "durable", "not_durable", "all"],
    dimension: Literal[
        "all", "priority", "tier", "skill_group", "agent", "channel", "category", "product_line"
    ] = "all",
    group: str = Query("all", max_length=200),
    span: Window = Depends(window),
    _: Principal = Depends(manager_view),
) -> Drill:
    """Exactly the tickets behind one figure, e.g. `metric=sla.response&dimension=priority&
    group=P1&outcome=breached`: the same window, filters and judgement as the figure."""
    async with unit_of_work(request_sessions(request)) as session:
        found = await service.drill(
            session,
            start=span.start,
            end=span.end,
            now=span.now,
            filters=filters,
            lines=_lines(request),
            metric=metric,
            dimension=dimension,
            group=group,
            outcome=outcome,
        )
    return Drill(
        metric=metric,
        dimension=dimension,
        group=group,
        outcome=outcome,
        tickets=[
            DrillTicket(
                id=format_ticket_id(t.id),
                subject=t.subject,
                status=t.status,
                priority=t.priority,
                tier=t.tier,
                skill_group=t.skill_group,
                assignee=t.assignee,
                created_at=t.created_at,
            )
            for t in found
        ],
    )


# The draft is YAML of a KB document (docs/kb-format.md): a mapping once parsed, as clients read it.
_DRAFT_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/yaml": {"schema": {"type": "object"}}}}
}


@router.get(
    "/knowledge-gaps/draft",
    response_class=YamlResponse,
    responses={**_DRAFT_RESPONSE, **error_responses(404)},
)
async def knowledge_gap_draft(
    request: Request,
    filters: Annotated[KpiFilters, Query()],
    label: str = Query(..., min_length=1, max_length=200),
    span: Window = Depends(window),
    _: Principal = Depends(manager_view),
) -> YamlResponse:
    """One knowledge gap of the window as a KB draft (YAML in the interchange format): an FAQ
    with the customers' questions and a placeholder answer to write."""
    figures = await _figures(request, span, filters)
    gap = next((g for g in figures.knowledge_gaps if g.label == label), None)
    if gap is None:
        raise NotFound(f"no knowledge gap {label!r} in this window", label=label)
    return YamlResponse(
        export.kb_draft(gap),
        headers={"Content-Disposition": f'attachment; filename="{export.draft_id(label)}.yaml"'},
    )
