"""The answer-first decision: answer by default, ask back only when not confident or when a really
different procedure (not a variant of the top's family) has close evidence."""

from __future__ import annotations

from types import SimpleNamespace

from knowledge.answer_first import (
    AnswerPolicy,
    Candidate,
    Decision,
    Evidence,
    combine,
    decide_evidence,
    family_overlap,
    name_idf,
)

NAMES = [
    "Thủ tục đăng ký khai sinh",
    "Thủ tục đăng ký khai sinh có yếu tố nước ngoài",
    "Thủ tục đăng ký lại khai sinh",
    "Thủ tục đăng ký kết hôn",
    "Đăng ký tạm trú (cấp xã)",
    "Đăng ký tạm trú (cấp tỉnh)",
    "Gia hạn tạm trú",
    "Cấp đổi giấy phép lái xe",
    "Cấp lại giấy phép lái xe",
    "Đăng ký thường trú",
]
RECORDS = [SimpleNamespace(name=name) for name in NAMES]
POLICY = AnswerPolicy(min_probability=0.3, min_rival_ratio=0.5, sure_probability=0.8, min_family_overlap=0.67)


def candidates(*names_scores: tuple[str, float]) -> list[Candidate]:
    return [Candidate(f"code{k}", name, score) for k, (name, score) in enumerate(names_scores)]


def found(probability: float, rival_ratio: float, coverage: float = 0.0, typed: bool = False,
          count: int = 6) -> Evidence:
    rows = candidates(*((NAMES[k], 0.9 - 0.1 * k) for k in range(count)))
    return Evidence(rows, probability, coverage, typed, {POLICY.min_family_overlap: rival_ratio})


def test_a_qualifier_or_a_level_keeps_a_family_and_another_object_does_not() -> None:
    idf = name_idf(RECORDS)
    assert family_overlap(NAMES[0], NAMES[1], idf) == 1.0  # "có yếu tố nước ngoài" added
    assert family_overlap(NAMES[4], NAMES[5], idf) == 1.0  # same name, another level
    assert family_overlap(NAMES[0], NAMES[2], idf) == 1.0  # "lại" added
    assert family_overlap(NAMES[0], NAMES[3], idf) < 0.67  # khai sinh / kết hôn: only "đăng ký" shared
    assert family_overlap(NAMES[4], NAMES[9], idf) < 0.67  # tạm trú / thường trú
    assert family_overlap(NAMES[7], NAMES[8], idf) >= 0.67  # đổi / lại: the licence is the object


def test_answered_at_once_unless_unsure_or_a_different_procedure_is_close() -> None:
    sure = decide_evidence(found(0.9, rival_ratio=0.95), POLICY)
    assert (sure.kind, sure.reason, sure.chosen.name) == ("answer", "sure", NAMES[0])
    assert [v.name for v in sure.variants] == NAMES[1:4]  # at most three buttons under the answer
    alone = decide_evidence(found(0.5, rival_ratio=0.2), POLICY)
    assert (alone.kind, alone.reason) == ("answer", "no close rival")
    rival = decide_evidence(found(0.5, rival_ratio=0.6), POLICY)
    assert (rival.kind, rival.reason, rival.chosen) == ("ask", "close rival", None)
    assert [o.name for o in rival.options] == NAMES[:5]
    unsure = decide_evidence(found(0.1, rival_ratio=0.0), POLICY)
    assert (unsure.kind, unsure.reason, len(unsure.options)) == ("ask", "not confident", 5)
    stated = decide_evidence(found(0.1, rival_ratio=0.9, coverage=1.0), POLICY)
    assert (stated.kind, stated.reason) == ("answer", "name stated")
    typed = decide_evidence(found(0.1, rival_ratio=0.9, typed=True), POLICY)
    assert (typed.kind, typed.reason) == ("answer", "name typed")
    no_typed = POLICY.model_copy(update={"answer_typed_name": False})
    assert decide_evidence(found(0.1, rival_ratio=0.9, typed=True), no_typed).kind == "ask"
    assert decide_evidence(Evidence([], 0.0, 0.0, False, {}), POLICY).kind == "none"


def test_a_mention_answered_alone_with_the_same_top_answers_the_question() -> None:
    asked = decide_evidence(found(0.5, rival_ratio=0.6), POLICY)
    same = Decision("answer", Candidate("code0", NAMES[0], 0.9), probability=0.95)
    other = Decision("answer", Candidate("code9", NAMES[9], 0.9), probability=0.95)
    assert combine(asked, [other], POLICY).kind == "ask"
    unsure = Decision("answer", Candidate("code0", NAMES[0], 0.9), probability=0.6)
    assert combine(asked, [unsure], POLICY.model_copy(update={"mention_probability": 0.9})).kind == "ask"
    agreed = combine(asked, [other, same], POLICY)
    assert (agreed.kind, agreed.reason, agreed.chosen.code) == ("answer", "mention agrees", "code0")
    assert [v.code for v in agreed.variants] == ["code1", "code2", "code3"]
