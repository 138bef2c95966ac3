"""The coordinators' analytics: ``/console/api/stats`` (JSON), its tables as CSV, the unanswered questions
(JSON, and YAML in the eval-set format of eval/questions.yaml), and the page ``/console/analytics``.

Chart.js is served from the app (``make web-deps`` copies it from the npm package pinned in web/).
"""

from __future__ import annotations

import csv
import io
import logging
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import yaml
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from connectors.console import analytics
from connectors.console.analytics import Window, WindowError
from connectors.console.api import Authed, current_volunteer

logger = logging.getLogger(__name__)

NOT_COORDINATOR = "Chỉ điều phối viên xem được thống kê."
CHART_JS = "chart.umd.js"
STATIC = "connectors.console.static"
MAX_PARAM_CHARS = 40

CHANNEL_LABELS = {"web": "Web", "zalo": "Zalo"}
KIND_LABELS = {
    "not_found": "Không tìm thấy thủ tục",
    "not_understood": "Không hiểu câu hỏi",
    "out_of_scope": "Ngoài phạm vi",
    "low_confidence": "Độ tin cậy thấp",
    "feedback_down": "Bị đánh giá “Chưa đúng”",
}
REASON_LABELS = {
    "wrong_procedure": "Sai thủ tục",
    "missing_info": "Thiếu thông tin",
    "outdated": "Thông tin cũ",
    "other": "Khác",
    "none": "Chưa nói lý do",
}
SATISFACTION_LABELS = {
    "5": "Rất hài lòng",
    "4": "Hài lòng",
    "3": "Bình thường",
    "2": "Không hài lòng",
    "1": "Rất không hài lòng",
}
STATUS_LABELS = {
    "waiting": "Đang chờ",
    "assigned": "Đang được hỗ trợ",
    "released": "Trả lại cho trợ lý",
    "closed": "Đã đóng",
}
ENDED_LABELS = {
    "taken_over": "Người khác tiếp quản",
    "released": "Trả lại cho trợ lý",
    "closed": "Đóng yêu cầu",
    "open": "Chưa kết thúc",
}
TABLES = (
    "daily",
    "procedures",
    "feedback",
    "reasons",
    "satisfaction",
    "handoffs",
    "reports-by-place",
    "reports-by-procedure",
)
# Cells a spreadsheet would read as a formula get a leading apostrophe.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


async def coordinator(authed: Authed = Depends(current_volunteer)) -> Authed:
    if not authed.volunteer.is_coordinator:
        raise HTTPException(403, NOT_COORDINATOR)
    return authed


def _window(request: Request) -> Window:
    params = request.query_params
    for name in params:
        if name not in {"since", "until", "low_confidence", "limit"}:
            raise HTTPException(
                422, f"Tham số {name!r} không được hỗ trợ; dùng since, until, low_confidence."
            )
        if len(params[name]) > MAX_PARAM_CHARS:
            raise HTTPException(422, f"Tham số {name} quá dài.")
    try:
        return analytics.parse_window(params.get("since"), params.get("until"), params.get("low_confidence"))
    except WindowError as error:
        raise HTTPException(422, str(error)) from error


def _limit(request: Request) -> int:
    raw = request.query_params.get("limit")
    if raw is None:
        return analytics.UNANSWERED_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= analytics.MAX_UNANSWERED_LIMIT:
        raise HTTPException(
            422, f"Tham số limit phải là số nguyên từ 1 đến {analytics.MAX_UNANSWERED_LIMIT}."
        )
    return int(raw)


def _percent(rate: float | None) -> float | None:
    return None if rate is None else round(rate * 100, 1)


def tables(stats: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The tables the page shows beside its charts, exactly as their CSV exports have them."""
    handoffs = stats["handoff_detail"]
    waits = handoffs["wait_seconds"]
    handoff_rows: list[list[Any]] = [
        ["Số yêu cầu gặp tình nguyện viên", handoffs["count"]],
        ["Đã có tình nguyện viên nhận", handoffs["taken"]],
        ["Chưa ai nhận", handoffs["not_taken"]],
        ["Thời gian chờ nhận, trung vị (giây)", waits["median"]],
        ["Thời gian chờ nhận, 90% yêu cầu trong vòng (giây)", waits["p90"]],
    ]
    handoff_rows += [
        [f"Trạng thái: {STATUS_LABELS.get(status, status)}", n] for status, n in handoffs["statuses"].items()
    ]
    handoff_rows += [
        [f"Lượt hỗ trợ kết thúc: {ENDED_LABELS.get(how, how)}", n] for how, n in handoffs["ended_by"].items()
    ]
    levels = ["5", "4", "3", "2", "1"]
    return {
        "daily": {
            "title": "Cuộc trò chuyện và câu hỏi theo ngày, theo kênh",
            "columns": ["Ngày", "Kênh", "Cuộc trò chuyện", "Tin nhắn", "Câu hỏi"],
            "rows": [
                [
                    row["date"],
                    CHANNEL_LABELS.get(row["channel"], row["channel"]),
                    row["conversations"],
                    row["messages"],
                    row["questions"],
                ]
                for row in stats["daily"]
            ],
        },
        "procedures": {
            "title": "Thủ tục được hỏi nhiều nhất",
            "columns": ["Mã thủ tục", "Tên thủ tục", "Số câu hỏi"],
            "rows": [[row["code"], row["name"] or "", row["questions"]] for row in stats["top_procedures"]],
        },
        "feedback": {
            "title": "Đánh giá câu trả lời theo ngày",
            "columns": ["Ngày", "Hữu ích", "Chưa đúng", "Tỉ lệ hữu ích (%)"],
            "rows": [
                [row["date"], row["up"], row["down"], _percent(row["helpful_rate"])]
                for row in stats["feedback_detail"]["daily"]
            ],
        },
        "reasons": {
            "title": "Lý do đánh giá “Chưa đúng”",
            "columns": ["Lý do", "Số lượt"],
            "rows": [
                [REASON_LABELS.get(reason, reason), n]
                for reason, n in stats["feedback_detail"]["reasons"].items()
            ],
        },
        "satisfaction": {
            "title": "Mức độ hài lòng (SIPAS) theo ngày",
            "columns": [
                "Ngày",
                *(SATISFACTION_LABELS[level] for level in levels),
                "Tổng",
                "Tỉ lệ hài lòng (%)",
            ],
            "rows": [
                [row["date"], *(row[level] for level in levels), row["total"], _percent(row["rate"])]
                for row in stats["satisfaction_detail"]["daily"]
            ],
        },
        "handoffs": {
            "title": "Chuyển cho tình nguyện viên",
            "columns": ["Chỉ số", "Giá trị"],
            "rows": handoff_rows,
        },
        "reports-by-place": {
            "title": "Phản ánh yêu cầu thêm giấy tờ, theo nơi",
            "columns": ["Tỉnh/thành phố", "Xã/phường", "Số phản ánh"],
            "rows": [
                [row["province"] or "", row["commune"] or "", row["reports"]]
                for row in stats["reports_by_place"]
            ],
        },
        "reports-by-procedure": {
            "title": "Phản ánh yêu cầu thêm giấy tờ, theo thủ tục",
            "columns": ["Mã thủ tục", "Tên thủ tục", "Số phản ánh"],
            "rows": [
                [row["code"] or "", row["name"] or "", row["reports"]]
                for row in stats["reports_by_procedure"]
            ],
        },
    }


def _local_time(moment: str) -> str:
    return datetime.fromisoformat(moment).astimezone(analytics.VIETNAM).strftime("%Y-%m-%d %H:%M")


def unanswered_table(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "title": "Câu hỏi trợ lý chưa trả lời được",
        "columns": [
            "Lúc (giờ Việt Nam)",
            "Kênh",
            "Loại",
            "Câu hỏi (đã che thông tin cá nhân)",
            "Thủ tục",
            "Độ tin cậy",
            "Lý do",
            "Góp ý",
        ],
        "rows": [
            [
                _local_time(item["at"]),
                CHANNEL_LABELS.get(item["channel"], item["channel"]),
                KIND_LABELS[item["kind"]],
                item["text"] or "",
                item["procedure"] or "",
                "" if item["confidence"] is None else round(item["confidence"], 3),
                REASON_LABELS.get(item["reason"], item["reason"]) if item["reason"] else "",
                item["comment"] or "",
            ]
            for item in items
        ],
    }


def _safe_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_text(table: dict[str, Any]) -> str:
    """UTF-8 with a BOM (spreadsheets then read Vietnamese right), every text cell formula-safe."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(table["columns"])
    for row in table["rows"]:
        writer.writerow([_safe_cell(cell) for cell in row])
    return "\ufeff" + out.getvalue()


def _download(body: str, media: str, filename: str) -> Response:
    return Response(
        body.encode("utf-8"),
        media_type=f"{media}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


def _span(window: Window) -> str:
    since = window.since.astimezone(analytics.VIETNAM).strftime("%Y%m%d")
    until = window.until.astimezone(analytics.VIETNAM).strftime("%Y%m%d")
    return f"{since}-{until}"


def eval_yaml(items: list[dict[str, Any]], window: Window) -> str:
    """The unanswered questions as an eval set (eval/questions.yaml's format), codes left to fill."""
    lines = [
        "# Questions the assistant could not answer, from real conversations (texts masked), exported",
        f"# from the console on {datetime.now(UTC).date().isoformat()} for the window "
        f"[{window.since.isoformat()}, {window.until.isoformat()}).",
        "# TO FILL BY THE TEAM: `codes` is left empty on purpose. For each question, put the national",
        "# procedure code(s) that answer it; keep `codes: []` only for a question that is really out of",
        "# scope. Then move checked lines into eval/questions.yaml (validate with eval/check_questions.py)",
        "# or into the training data. Each `# ...` line above an entry says why it was exported.",
        "questions:",
    ]
    seen: set[str] = set()
    for item in items:
        text = " ".join((item["text"] or "").split())
        if not text or text.casefold() in seen:
            continue
        seen.add(text.casefold())
        why = [KIND_LABELS[item["kind"]], item["channel"]]
        if item["procedure"]:
            why.append(f"thủ tục trợ lý chọn: {item['procedure']}")
        if item["reason"]:
            why.append(REASON_LABELS.get(item["reason"], item["reason"]))
        lines.append("  # " + " · ".join(why))
        entry = yaml.safe_dump(
            {"q": text, "codes": []},
            default_flow_style=True,
            allow_unicode=True,
            sort_keys=False,
            width=10**6,
        ).strip()
        lines.append(f"  - {entry}")
    if not seen:
        lines[-1] = "questions: []"
    return "\n".join(lines) + "\n"


def _static_path(name: str) -> Any:
    return resources.files(STATIC).joinpath(name)


def build_router() -> APIRouter:
    router = APIRouter(prefix="/console", tags=["analytics"])

    async def compute(request: Request, window: Window) -> dict[str, Any]:
        return await request.app.state.desk.run(lambda session: analytics.stats(session, window))

    @router.get("/api/stats")
    async def stats(request: Request, authed: Authed = Depends(coordinator)) -> JSONResponse:
        window = _window(request)
        figures = await compute(request, window)
        figures["tables"] = tables(figures)
        return JSONResponse(figures, headers={"Cache-Control": "no-store"})

    @router.get("/api/stats/{table}.csv")
    async def stats_csv(request: Request, table: str, authed: Authed = Depends(coordinator)) -> Response:
        window = _window(request)
        if table == "unanswered":
            limit = _limit(request)
            items = await request.app.state.desk.run(
                lambda session: analytics.unanswered(session, window, limit)
            )
            found = unanswered_table(items)
        elif table in TABLES:
            found = tables(await compute(request, window))[table]
        else:
            raise HTTPException(404, "Không có bảng này.")
        return _download(csv_text(found), "text/csv", f"thong-ke-{table}-{_span(window)}.csv")

    @router.get("/api/unanswered")
    async def unanswered(request: Request, authed: Authed = Depends(coordinator)) -> JSONResponse:
        window, limit = _window(request), _limit(request)

        def work(session: Any) -> dict[str, Any]:
            return {
                "window": window.json(),
                "count": analytics.unanswered_count(session, window),
                "items": analytics.unanswered(session, window, limit),
            }

        found = await request.app.state.desk.run(work)
        found["table"] = unanswered_table(found["items"])
        return JSONResponse(found, headers={"Cache-Control": "no-store"})

    @router.get("/api/unanswered.yaml")
    async def unanswered_yaml(request: Request, authed: Authed = Depends(coordinator)) -> Response:
        window, limit = _window(request), _limit(request)
        items = await request.app.state.desk.run(lambda session: analytics.unanswered(session, window, limit))
        return _download(
            eval_yaml(items, window), "application/yaml", f"cau-hoi-chua-tra-loi-{_span(window)}.yaml"
        )

    @router.get("/analytics", include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse(
            _static_path("analytics.html").read_text(encoding="utf-8"), headers={"Cache-Control": "no-store"}
        )

    @router.get("/analytics/static/{name}", include_in_schema=False)
    async def static(name: str) -> Response:
        if name not in {"analytics.js", CHART_JS}:
            raise HTTPException(404, "Không có tệp này.")
        path = _static_path(f"vendor/{CHART_JS}" if name == CHART_JS else name)
        if not path.is_file():
            logger.warning("%s is missing: run `make web-deps` (the charts are not drawn without it)", name)
            raise HTTPException(404, f"Thiếu tệp {name}; chạy `make web-deps`.")
        cache = "public, max-age=86400" if name == CHART_JS else "no-cache"
        return Response(
            path.read_bytes(),
            media_type="application/javascript; charset=utf-8",
            headers={"Cache-Control": cache},
        )

    return router
