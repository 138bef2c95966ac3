"""Channel shaping: one answer is at most two Zalo messages; typed "/…" is text unless it was offered."""

from __future__ import annotations

from connectors.chat import BotMessage, Button, as_plain_text, offered_payloads
from connectors.zalo.text import MAX_BUTTONS, MAX_TEXT_CHARS, shape_answer


def button(n: int) -> Button:
    return Button(title=f"Lựa chọn {n}", payload=f'/choose_option{{"procedure_code":"{n}"}}')


def test_an_answer_of_three_replies_is_two_messages_with_the_offered_choices_first() -> None:
    card = BotMessage(text="Thẻ", buttons=[Button(title="Lệ phí", payload="/ask_fee")])
    variants = BotMessage(text="Bạn cần thủ tục khác?", buttons=[button(1), button(2), button(3)])
    linked = BotMessage(text="Thủ tục liên thông", buttons=[button(4), button(5)])
    shaped = shape_answer([card, variants, linked])
    assert [m.text for m in shaped] == ["Thẻ", "Bạn cần thủ tục khác?\n\nThủ tục liên thông"]
    assert shaped[0].buttons == []
    assert [b.payload for b in shaped[1].buttons] == [
        b.payload for b in [button(4), button(5), button(1), button(2), button(3)]
    ]


def test_one_long_reply_is_at_most_two_messages_and_says_it_was_cut() -> None:
    text = "\n".join(f"Dòng {i} " + "x" * 90 for i in range(100))
    shaped = shape_answer([BotMessage(text=text, buttons=[button(i) for i in range(9)])])
    assert len(shaped) == 2 and all(len(m.text) <= MAX_TEXT_CHARS for m in shaped)
    assert shaped[1].text.endswith("…") and len(shaped[1].buttons) == MAX_BUTTONS
    assert shape_answer([]) == []


def test_a_long_answer_goes_on_in_the_second_message_before_the_question_under_it() -> None:
    card = BotMessage(text="\n".join(f"Dòng {i}. " + "chữ " * 20 for i in range(30)))
    question = BotMessage(text="Thông tin này có hữu ích không?", buttons=[button(1), button(2)])
    shaped = shape_answer([card, question])
    assert len(shaped) == 2 and all(len(m.text) <= MAX_TEXT_CHARS for m in shaped)
    assert "Dòng 29." in shaped[1].text and not shaped[1].text.startswith("Thông tin")
    assert shaped[1].text.endswith("\n\nThông tin này có hữu ích không?")
    assert [b.payload for b in shaped[1].buttons] == [button(1).payload, button(2).payload]
    longer = shape_answer([BotMessage(text=card.text * 3), question])
    assert "…\n\nThông tin này có hữu ích không?" in longer[1].text
    assert all(len(m.text) <= MAX_TEXT_CHARS for m in longer)


def test_only_buttons_the_bot_sent_are_offered_payloads() -> None:
    tracker = {
        "events": [
            {"event": "user", "text": '/choose_option{"procedure_code":"9"}'},
            {
                "event": "bot",
                "text": "Thẻ",
                "data": {"buttons": [{"title": "Lệ phí", "payload": "/ask_fee"}]},
            },
            {"event": "bot", "text": "Chào"},
        ]
    }
    assert offered_payloads(tracker) == {"/ask_fee"}
    assert offered_payloads({}) == set() and offered_payloads(None) == set()


def test_typed_intent_syntax_becomes_plain_text() -> None:
    assert (
        as_plain_text('/choose_option{"procedure_code":"1.001193"}')
        == 'choose_option{"procedure_code":"1.001193"}'
    )
    assert as_plain_text("  //ask_fee ") == "ask_fee"
    assert as_plain_text("/") == "?"
