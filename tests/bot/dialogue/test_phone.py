"""Phone numbers in the repair form are checked by the numbering plans (`phonenumbers`): a CN
mobile or landline, a number of the other regions customers write from (Hong Kong, Singapore,
Australia, ...) and an international one (+…) are taken; "1381234" is refused and asked again."""

from __future__ import annotations

import pytest

from bot.dialogue.prompts import DialogueTexts
from bot.dialogue.slots import SlotReader, read_address, read_phone
from tests.bot.dialogue.conftest import Say


@pytest.mark.parametrize(
    ("text", "phone"),
    [
        ("13812345678", "13812345678"),
        ("电话 138 1234 5678", "13812345678"),
        ("021-64381234", "02164381234"),
        ("+44 20 7946 0958", "+442079460958"),
        ("call +1 650 253 0000 please", "+16502530000"),
        ("61234567", "61234567"),  # Hong Kong
        ("02 9555 0123", "0295550123"),  # Sydney
        ("1381234", None),
        ("12345678901", None),  # 11 digits, not a CN mobile prefix
        ("+86 1381234", None),
    ],
)
def test_phone_numbers_by_the_numbering_plans(text: str, phone: str | None) -> None:
    assert read_phone(text) == phone


async def test_a_short_number_is_refused_and_asked_again(say: Say) -> None:
    assert (await say("AC-300 排气温度过高，停机了")).action == "answer"
    await say("没有，还是不行")
    asks_phone = await say("上海市浦东新区张江路88号")
    assert "手机号码" in asks_phone.texts[-1]
    refused = await say("1381234")
    assert refused.action == "collect"
    assert "电话号码格式不对" in refused.texts[0] and "手机号码" in refused.texts[-1]
    taken = await say("13812345678")
    assert taken.action == "ticket" and "13812345678" in taken.texts[-1]


async def test_an_international_number_is_taken(say: Say) -> None:
    assert (await say("My AC-300 overheats and stops")).action in {"answer", "clarify"}
    await say("not solved")
    await say("Unit 5, 42 Harbour Road, Wan Chai, Hong Kong")
    taken = await say("+852 6123 4567")
    assert taken.action == "ticket" and "+85261234567" in taken.texts[-1]


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("地址观塘开源道55号，电话 9876 5432", "观塘开源道55号"),
        ("地址觀塘開源道55號，電話 9876 5432", "观塘开源道55号"),  # written in Traditional
        ("上海市浦东新区张江路88号", "上海市浦东新区张江路88号"),
        ("机器报E05", None),
        # a site with no street number
        ("都係搵師傅嚟睇吓，惠州大亞灣石化區西區工地，電話13502701234", "惠州大亚湾石化区西区工地"),
        ("机器在宁波北仑区大榭码头", "宁波北仑区大榭码头"),
        ("挖机在工地上趴窝了", None),
    ],
)
def test_an_address_in_a_longer_message_is_read_in_either_script(
    text: str, address: str | None
) -> None:
    assert read_address(text) == address


@pytest.mark.parametrize("ask", [True, False])
def test_a_whole_site_read_in_the_text_beats_the_city_the_nlu_took(ask: bool) -> None:
    """The NLU's address entity may be the city alone; the site the text names is kept, both
    in a reply to "what is the address?" and in a message that fills the form by itself."""
    reader = SlotReader(DialogueTexts.load(), lambda _text: [], {})
    text = "派個師傅嚟啦，深圳大鏟灣碼頭後面個堆場，電話13823001234"
    entities = {"address": "深圳"}
    if ask:
        assert reader.answer("address", text, entities).value == "深圳大铲湾码头"
    else:
        assert reader.from_message(text, entities)["address"] == "深圳大铲湾码头"
