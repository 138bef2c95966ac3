"""Actions that answer questions about procedures from the catalogue and the search."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.places import resolve_place

logger = logging.getLogger(__name__)

MAX_OPTIONS = 5
PORTAL_URL = "https://dichvucong.gov.vn"
FEEDBACK_URL = "https://dichvucong.gov.vn/p/phananhkiennghi/pakn-gui-pakn.html"

ASPECT_BY_INTENT: dict[str, str] = {
    "ask_documents": "documents",
    "ask_fee": "fee",
    "ask_time": "time",
    "ask_place": "place",
    "ask_steps": "steps",
    "ask_online": "online",
    "ask_forms": "forms",
    "ask_result": "result",
    "ask_conditions": "conditions",
    "ask_procedure": "documents",
}
ASPECT_QUESTIONS: dict[str, str] = {
    "documents": "cần giấy tờ gì",
    "fee": "lệ phí bao nhiêu",
    "time": "mất bao lâu",
    "place": "nộp ở đâu",
    "steps": "các bước thực hiện",
    "online": "làm online được không",
    "forms": "mẫu tờ khai",
    "result": "nhận được kết quả gì",
    "conditions": "cần điều kiện gì",
}

# Linked groups of Decree 63/2024/NĐ-CP (liên thông), used when a record lists no `linked` codes.
DECREE_63_LINKS: dict[str, list[str]] = {
    "1.001193": ["2.000986", "2.001023"],
    "2.000986": ["1.001193", "1.004222"],
    "2.001023": ["1.001193"],
    "1.000656": ["1.003197"],
    "1.003197": ["1.000656"],
}
BIRTH_PROCEDURES = {"1.001193", "2.000986", "2.001023"}
DEATH_PROCEDURES = {"1.000656", "1.003197"}

_HOUSEHOLD_BOOK = re.compile(r"\b(ho khau|tam tru giay|so tam tru|kt3)\b")
HOUSEHOLD_BOOK_ABOLISHED = (
    "Sổ hộ khẩu, sổ tạm trú giấy không còn giá trị: Nghị định 104/2022/NĐ-CP đã bỏ yêu cầu nộp, xuất "
    "trình các sổ này khi làm thủ tục hành chính. Nơi cư trú được tra trong Cơ sở dữ liệu quốc gia về "
    "dân cư (thẻ căn cước gắn chip, ứng dụng VNeID)."
)

EXAMPLES = (
    "Tôi có thể giúp về thủ tục hành chính, ví dụ:\n"
    "• “Làm giấy khai sinh cho con cần gì?”\n"
    "• “Đổi bằng lái xe hết hạn mất bao lâu?”\n"
    "• “Đăng ký thường trú nộp ở đâu?”\n"
    "• “Lệ phí cấp lại căn cước bao nhiêu?”"
)

# Words that make up follow-up questions; what remains after removing them may name a new topic.
_FOLLOW_UP_TEXT = """
    thu tuc nay do cai viec lam can giay to gi nhung ho so le phi phi tien bao nhieu mat lau thoi gian
    may ngay nop o dau cho nao tai noi online truc tuyen qua mang duoc khong co the cac buoc buoc thuc hien
    trinh tu nhu the nao sao the mau don to khai ket qua nhan dieu kien ai toi minh em anh chi vay a a
    roi con va thi la cua voi cho di nhe a ha u uh vang da ok oke het gom nhan duoc ve ra sao phai gui
    tren qua mang dien thoai app ung dung vneid dvc cong dich vu buu
"""
# Words a yes or a no is made of; a message with none of them is not one (NLU calls gibberish "yes").
_YES_NO_TEXT = """
    co vang dung u uh um uhm ukm uk o ok oke oki okela duoc dc chinh xac phai dong y yes da chuan ro
    roi luon khong ko k hong hok khum sai nham chua no nope thoi can khac dau muon vay nhe a
"""
_YES_NO_WORDS = frozenset(_YES_NO_TEXT.split())
_FOLLOW_UP_WORDS = frozenset(_FOLLOW_UP_TEXT.split())


def strip_accents(text: str) -> str:
    text = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(ch for ch in text if unicodedata.category(ch) != "Mn")


def plain_words(text: str) -> list[str]:
    """Lower-case unaccented words of a message."""
    return re.findall(r"\w+", strip_accents(text).lower())


def topic_words(text: str) -> list[str]:
    """Words of a message beyond those every follow-up question uses."""
    return [word for word in plain_words(text) if word not in _FOLLOW_UP_WORDS and not word.isdigit()]


_SAME_QUESTION = re.compile(
    r"^\s*(còn|thế còn|vậy còn|the con|vay con)\s|(thì sao|thi sao)\W*$", re.IGNORECASE
)


def asks_the_same(text: str) -> bool:
    """ "Còn X thì sao?": the previous question, about another procedure."""
    return bool(_SAME_QUESTION.search(text))


def latest_entities(tracker: Tracker, name: str) -> list[str]:
    entities = tracker.latest_message.get("entities") or []
    return [str(e.get("value")) for e in entities if e.get("entity") == name and e.get("value")]


_UNIT_BEFORE_PLACE = re.compile(
    r"(?:quận|quan|huyện|huyen|thị xã|thi xa|xã|xa|phường|phuong|thị trấn|thi tran|tỉnh|tinh"
    r"|thành phố|thanh pho|tp\.?)\s*$",
    re.IGNORECASE,
)


def _names_a_place(entity: dict[str, Any], text: str) -> bool:
    """A place entity, or a procedure mention that is really a place name ("ở Hoàn Kiếm")."""
    if entity.get("entity") == "place":
        return True
    if entity.get("entity") != "procedure":
        return False
    start, end = entity.get("start"), entity.get("end")
    mention = text[start:end] if isinstance(start, int) and isinstance(end, int) else ""
    return bool(mention) and resolve_place(mention) is not None


def procedure_mentions(tracker: Tracker) -> list[str]:
    """Procedure mentions of the latest message, without place names tagged as procedures."""
    text = tracker.latest_message.get("text") or ""
    entities = tracker.latest_message.get("entities") or []
    return [
        str(e.get("value"))
        for e in entities
        if e.get("entity") == "procedure" and e.get("value") and not _names_a_place(e, text)
    ]


def search_text(tracker: Tracker) -> str:
    """The message without the places it names: a place says where, not which procedure."""
    text = tracker.latest_message.get("text") or ""
    spans = [
        (e["start"], e["end"])
        for e in tracker.latest_message.get("entities") or []
        if isinstance(e.get("start"), int) and isinstance(e.get("end"), int) and _names_a_place(e, text)
    ]
    for start, end in sorted(spans, reverse=True):
        unit = _UNIT_BEFORE_PLACE.search(text[:start])  # "quận" of "quận Hoàn Kiếm"
        text = text[: unit.start() if unit else start] + " " + text[end:]
    return " ".join(text.split())


# ---- the knowledge layer -------------------------------------------------------------------------


@dataclass
class Candidate:
    code: str
    name: str
    score: float


@dataclass
class SearchOutcome:
    confident: bool
    candidates: list[Candidate]


def search_procedures(text: str) -> SearchOutcome:
    from knowledge.search import search

    response = search(text)
    candidates = [Candidate(code=r.code, name=r.name, score=float(r.score)) for r in response.results]
    return SearchOutcome(confident=bool(response.confident), candidates=candidates)


def get_procedure(code: str) -> Any | None:
    from knowledge.catalogue import get_catalogue

    return get_catalogue().get(code)


def _as_text(card: Any) -> str:
    if isinstance(card, str):
        return card
    for attribute in ("text", "markdown"):
        value = getattr(card, attribute, None)
        if isinstance(value, str):
            return value
    return str(card)


def render_aspect(procedure: Any, aspect: str, *, first_answer: bool = False) -> str:
    """The card for one aspect. A first answer about documents also gives time and fee per channel."""
    from knowledge.cards import render_card

    aspects = ["documents", "time", "fee"] if first_answer and aspect == "documents" else [aspect]
    text = _as_text(render_card(procedure, aspects=aspects))
    if aspect == "conditions" and not getattr(procedure, "conditions", None):
        text += "\n\nNguồn không nêu điều kiện riêng cho thủ tục này."
    return text


def linked_procedures(procedure: Any) -> list[Any]:
    codes = list(getattr(procedure, "linked", None) or []) or DECREE_63_LINKS.get(procedure.code, [])
    found = []
    for code in codes:
        if code == procedure.code:
            continue
        linked = get_procedure(code)
        if linked is not None:
            found.append(linked)
    return found


def option_button(code: str, title: str) -> dict[str, str]:
    payload = "/choose_option" + json.dumps({"procedure_code": code}, separators=(",", ":"))
    return {"title": title if len(title) <= 90 else title[:87].rstrip() + "…", "payload": payload}


def answer_procedure(
    dispatcher: CollectingDispatcher, procedure: Any, aspect: str, *, new_topic: bool
) -> list[EventType]:
    dispatcher.utter_message(text=render_aspect(procedure, aspect, first_answer=new_topic))
    offered: list[str] = []
    if new_topic:
        linked = linked_procedures(procedure)
        if procedure.code in BIRTH_PROCEDURES:
            dispatcher.utter_message(
                text=(
                    "Theo Nghị định 63/2024/NĐ-CP, khai sinh có thể làm liên thông với đăng ký thường trú "
                    "và cấp thẻ BHYT cho trẻ dưới 6 tuổi: nộp một bộ hồ sơ tại một nơi (hoặc trên "
                    "Cổng Dịch vụ công/VNeID)."
                )
            )
        if procedure.code in DEATH_PROCEDURES:
            dispatcher.utter_message(
                text=(
                    "Theo Nghị định 63/2024/NĐ-CP, đăng ký khai tử, xóa đăng ký thường trú và hưởng "
                    "mai táng phí/tử tuất được giải quyết liên thông: nộp một bộ hồ sơ tại một nơi (hoặc "
                    "trên Cổng Dịch vụ công/VNeID)."
                )
            )
        if linked:
            linked = linked[:MAX_OPTIONS]
            dispatcher.utter_message(
                text="Thủ tục liên thông hoặc liên quan, bấm để xem:",
                buttons=[option_button(p.code, p.name) for p in linked],
            )
            offered = [p.code for p in linked]  # "cái đầu tiên" picks the first of these
        dispatcher.utter_message(
            text="Bạn có thể hỏi tiếp: lệ phí bao nhiêu, nộp ở đâu, mất bao lâu, làm online được không…"
        )
    return [
        SlotSet("current_procedure", procedure.code),
        SlotSet("pending_aspect", None),
        SlotSet("last_aspect", aspect),
        SlotSet("offered_options", offered or None),
    ]


def offer_options(
    dispatcher: CollectingDispatcher, candidates: list[Candidate], aspect: str
) -> list[EventType]:
    options = candidates[:MAX_OPTIONS]
    dispatcher.utter_message(
        text="Có vài thủ tục gần giống nhau. Bạn đang hỏi thủ tục nào?",
        buttons=[option_button(c.code, c.name) for c in options],
    )
    return [SlotSet("pending_aspect", aspect), SlotSet("offered_options", [c.code for c in options])]


_ORDINALS = {
    "1": 0,
    "mot": 0,
    "nhat": 0,
    "dau": 0,
    "dau tien": 0,
    "2": 1,
    "hai": 1,
    "3": 2,
    "ba": 2,
    "4": 3,
    "bon": 3,
    "tu": 3,
    "5": 4,
    "nam": 4,
}


def chosen_index(text: str, count: int) -> int | None:
    """Which offered option a typed answer means ("cái thứ hai", "số 3", "cái cuối")."""
    words = plain_words(text)
    if "cuoi" in words:
        return count - 1 if count else None
    for word in words:
        index = _ORDINALS.get(word)
        if index is not None and index < count:
            return index
    return None


def say_not_found(dispatcher: CollectingDispatcher) -> list[EventType]:
    dispatcher.utter_message(
        text=(
            "Xin lỗi, tôi chưa tìm được thủ tục phù hợp với câu hỏi này. Bạn thử nói rõ tên thủ tục, "
            "hoặc tra cứu tại Cổng Dịch vụ công quốc gia: " + PORTAL_URL + "\n\n" + EXAMPLES
        )
    )
    return []


class ActionAnswerProcedure(Action):
    """Answers the aspect asked about the procedure named, or about the current one."""

    def name(self) -> str:
        return "action_answer_procedure"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        intent = (tracker.latest_message.get("intent") or {}).get("name") or "ask_procedure"
        aspect = ASPECT_BY_INTENT.get(intent, "documents")
        text = tracker.latest_message.get("text") or ""
        last_aspect = tracker.get_slot("last_aspect")
        if intent == "ask_procedure" and last_aspect in ASPECT_QUESTIONS and asks_the_same(text):
            aspect = last_aspect  # "còn hộ chiếu thì sao?" asks the same thing about another procedure
        current_code = tracker.get_slot("current_procedure")
        mentions = procedure_mentions(tracker)
        query = search_text(tracker)
        topics = topic_words(query)

        wants_search = bool(mentions) or not current_code or intent == "ask_procedure"
        if not wants_search and len(topics) >= 2:
            wants_search = True  # maybe a new topic the entity extractor missed
        outcome: SearchOutcome | None = None
        if wants_search and topics:
            outcome = await asyncio.to_thread(search_procedures, query)

        if outcome and outcome.confident and outcome.candidates:
            top = outcome.candidates[0]
            if top.code != current_code or mentions or intent == "ask_procedure":
                procedure = await asyncio.to_thread(get_procedure, top.code)
                if procedure is not None:
                    return answer_procedure(dispatcher, procedure, aspect, new_topic=top.code != current_code)
        if current_code and not mentions:
            procedure = await asyncio.to_thread(get_procedure, current_code)
            if procedure is not None:
                return answer_procedure(dispatcher, procedure, aspect, new_topic=False)
        if outcome and outcome.candidates:
            return offer_options(dispatcher, outcome.candidates, aspect)
        if not current_code and not mentions:
            dispatcher.utter_message(
                text=f"Bạn hỏi {ASPECT_QUESTIONS[aspect]} cho thủ tục nào? Ví dụ: khai sinh, "
                "đăng ký thường trú, cấp lại căn cước, đổi giấy phép lái xe…"
            )
            return [SlotSet("pending_aspect", aspect)]
        return say_not_found(dispatcher)


class ActionChooseOption(Action):
    """A button was pressed: switch to that procedure and answer the aspect that was pending."""

    def name(self) -> str:
        return "action_choose_option"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        codes = latest_entities(tracker, "procedure_code")
        offered = tracker.get_slot("offered_options") or []
        if not codes and offered:
            index = chosen_index(tracker.latest_message.get("text") or "", len(offered))
            if index is not None:
                codes = [offered[index]]
        aspect = tracker.get_slot("pending_aspect") or "documents"
        if aspect not in ASPECT_QUESTIONS:
            aspect = "documents"
        procedure = await asyncio.to_thread(get_procedure, codes[0]) if codes else None
        if procedure is None and not codes and len(topic_words(search_text(tracker))) >= 2:
            # "làm cccd cho con 14 tuổi" is not a choice among buttons but a question.
            return await ActionAnswerProcedure().run(dispatcher, tracker, domain)
        if procedure is None:
            dispatcher.utter_message(
                text="Tôi không tìm thấy thủ tục bạn chọn. Bạn hãy gõ lại tên thủ tục cần hỏi nhé."
            )
            return [SlotSet("pending_aspect", None)]
        current_code = tracker.get_slot("current_procedure")
        return answer_procedure(dispatcher, procedure, aspect, new_topic=procedure.code != current_code)


class ActionExtraPapers(Action):
    """An office asked for papers beyond the list: show the legal list and how to send feedback."""

    def name(self) -> str:
        return "action_extra_papers"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        code = tracker.get_slot("current_procedure")
        text = tracker.latest_message.get("text") or ""
        mentions = procedure_mentions(tracker)
        if mentions:
            # Search the procedure named, not the whole message, which is mostly about the extra paper.
            outcome = await asyncio.to_thread(search_procedures, " ".join(mentions))
            if outcome.confident and outcome.candidates:
                code = outcome.candidates[0].code
        procedure = await asyncio.to_thread(get_procedure, code) if code else None
        events: list[EventType] = []
        if procedure is not None:
            dispatcher.utter_message(
                text="Đây là thành phần hồ sơ theo quy định đã công bố:\n\n"
                + render_aspect(procedure, "documents")
            )
            events.append(SlotSet("current_procedure", procedure.code))
        rule = (
            "Cơ quan chỉ được yêu cầu những giấy tờ có trong thủ tục đã công bố. Nếu bị yêu cầu thêm, "
            "bạn có thể hỏi cán bộ căn cứ pháp lý của yêu cầu đó, và gửi phản ánh, kiến nghị trên Cổng "
            f"Dịch vụ công quốc gia (mục Phản ánh kiến nghị): {FEEDBACK_URL}"
        )
        if _HOUSEHOLD_BOOK.search(strip_accents(text).lower()):
            rule = HOUSEHOLD_BOOK_ABOLISHED + "\n\n" + rule
        if procedure is None:
            rule += "\n\nBạn đang làm thủ tục nào? Gõ tên thủ tục để xem danh sách giấy tờ theo quy định."
        dispatcher.utter_message(text=rule)
        return events


class ActionOutOfScope(Action):
    """Out of scope or not understood: say so politely and show what the assistant can do."""

    def name(self) -> str:
        return "action_out_of_scope"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        dispatcher.utter_message(
            text="Xin lỗi, câu này nằm ngoài phạm vi của tôi: tôi chỉ hỗ trợ thủ tục hành chính.\n\n"
            + EXAMPLES
        )
        return []


def say_not_understood(dispatcher: CollectingDispatcher) -> list[EventType]:
    dispatcher.utter_message(
        text="Xin lỗi, tôi chưa hiểu rõ câu hỏi. Bạn có thể nói tên thủ tục và điều bạn cần biết.\n\n"
        + EXAMPLES
    )
    return []


async def answer_if_confident(
    dispatcher: CollectingDispatcher, tracker: Tracker, text: str
) -> list[EventType] | None:
    """Answer the documents of the procedure the search is confident about, or None."""
    if not text or text.startswith("/"):
        return None
    outcome = await asyncio.to_thread(search_procedures, text)
    if not (outcome.confident and outcome.candidates):
        return None
    procedure = await asyncio.to_thread(get_procedure, outcome.candidates[0].code)
    if procedure is None:
        return None
    current_code = tracker.get_slot("current_procedure")
    return answer_procedure(dispatcher, procedure, "documents", new_topic=procedure.code != current_code)


class ActionShortReply(Action):
    """Yes or no. A message naming a procedure is a question NLU took for yes/no ("xác nhận …")."""

    def name(self) -> str:
        return "action_short_reply"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        query = search_text(tracker)
        if len(topic_words(query)) >= 2:
            events = await answer_if_confident(dispatcher, tracker, query)
            if events is not None:
                return events
        if not _YES_NO_WORDS.intersection(plain_words(query)):
            return say_not_understood(dispatcher)
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        dispatcher.utter_message(response="utter_deny" if intent == "deny" else "utter_affirm")
        return []


class ActionFallback(Action):
    """NLU was unsure: try the search on the whole message before giving up politely."""

    def name(self) -> str:
        return "action_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        events = await answer_if_confident(dispatcher, tracker, search_text(tracker))
        if events is not None:
            return events
        return say_not_understood(dispatcher)
