"""Normalization, tokenization, script detection and code/model matching."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from knowledge_base.text import (
    _LOOKAROUND,
    DIALECT_FILE,
    CodeMatcher,
    _dialect,
    _dialect_alternation,
    _first_chars,
    code_key,
    detect_script,
    has_chinese,
    normalize,
    respelled,
    search_form,
    services_named,
    to_mandarin,
    to_simplified,
    tokenize,
)


@pytest.fixture(scope="module")
def matcher() -> CodeMatcher:
    return CodeMatcher(
        codes=["E01", "E03", "E09", "E09-1", "Err 5", "AL-21"],
        products={
            "AC-300": ["AC300", "AC 300", "空压机三百"],
            "BM-2": ["BM2", "BM-2T", "两头机"],
        },
    )


def test_normalize_folds_width_case_and_script() -> None:
    assert normalize("ＡＣ－３００ 壓力錶") == "ac-300 压力表"


def test_to_simplified_leaves_latin_text_alone() -> None:
    assert to_simplified("Pump E03") == "Pump E03"
    assert to_simplified("沖煮頭漏水") == "冲煮头漏水"


@pytest.mark.parametrize(
    ("text", "script"),
    [
        ("手柄邊緣一直漏水", "zh-Hant"),
        ("手柄边缘一直漏水", "zh-Hans"),
        ("BM-2 漏水", "zh-Hans"),
        ("the pump hums", "en"),
    ],
)
def test_detect_script(text: str, script: str) -> None:
    assert detect_script(text) == script


@pytest.mark.parametrize("typed", ["E03", "e03", "E-03", "e3", "Ｅ０３", "E 03"])
def test_code_key_folds_typing_variants(typed: str) -> None:
    assert code_key(typed) == ("E", "3")


@pytest.mark.parametrize(
    "text", ["AC300 不启动", "ac-300 won't start", "our AC 300", "ＡＣ３００坏了", "空压机三百坏了"]
)
def test_product_found_however_typed(matcher: CodeMatcher, text: str) -> None:
    assert matcher.find(text).products == {"AC-300"}


@pytest.mark.parametrize(
    "text", ["报E03", "shows e3", "E-03 on the display", "屏幕显示ｅ０３了", "code E 03"]
)
def test_code_found_however_typed(matcher: CodeMatcher, text: str) -> None:
    mentions = matcher.find(text)
    assert mentions.codes == {"E03"}
    assert not mentions.unknown_codes


def test_sub_code_names_its_known_parent_and_exact_sub_code(matcher: CodeMatcher) -> None:
    assert matcher.find("第二个头显示E09-2").codes == {"E09"}
    assert matcher.find("E09-1 again").codes == {"E09-1"}


def test_model_number_is_not_taken_for_a_code(matcher: CodeMatcher) -> None:
    mentions = matcher.find("BM-2 shows E01")
    assert mentions.products == {"BM-2"}
    assert mentions.codes == {"E01"}
    assert not mentions.unknown_codes


@pytest.mark.parametrize("text", ["vp100 a-08", "VP100 A08", "VP-100 a08", "VP-100A 报A08"])
def test_a_model_alias_ending_in_a_letter_leaves_the_code_after_it(text: str) -> None:
    """With the alias VP-100A, "VP100 A08" names the VP-100 and A08: the longer alias would be
    glued to A08's digits, and in "vp100 a-08" it would take the code's letter."""
    matcher = CodeMatcher(codes=["A08", "A14"], products={"VP-100": ["VP100", "VP-100A"]})
    mentions = matcher.find(text)
    assert (mentions.products, mentions.codes) == ({"VP-100"}, {"A08"})


def test_a_cantonese_name_of_the_equipment_names_it() -> None:
    """粟米 is Cantonese for 玉米 (corn): "粟米機" is the corn harvester the KB calls 玉米机."""
    matcher = CodeMatcher(codes=["H05"], products={"FH-4C": ["FH4C", "玉米机"]})
    mentions = matcher.find("粟米機出H05，升運器條鏈唔郁")
    assert (mentions.products, mentions.codes) == ({"FH-4C"}, {"H05"})


def test_code_with_space_in_the_kb_matches_glued_and_dashed(matcher: CodeMatcher) -> None:
    assert matcher.find("屏幕显示err5").codes == {"Err 5"}
    assert matcher.find("ERR-5 on the walkie").codes == {"Err 5"}
    assert matcher.find("al21 报警").codes == {"AL-21"}


def test_unknown_code_of_a_known_family_is_reported(matcher: CodeMatcher) -> None:
    mentions = matcher.find("BM-2显示E15是什么意思")
    assert mentions.unknown_codes == {"E15"}
    assert not mentions.codes


def test_code_glued_inside_a_longer_word_is_not_matched(matcher: CodeMatcher) -> None:
    assert not matcher.find("order 3E03 now").codes
    assert not matcher.find("E031").codes


def test_traditional_alias_matches_simplified_alias(matcher: CodeMatcher) -> None:
    assert matcher.find("我們的兩頭機壞了").products == {"BM-2"}


def test_traditional_and_simplified_tokenize_alike() -> None:
    assert tokenize("沖煮壓力不夠") == tokenize("冲煮压力不够")


def test_english_tokens_are_stemmed_without_stopwords() -> None:
    tokens = tokenize("The group heads are leaking and dripping")
    assert "leak" in tokens and "drip" in tokens and "head" in tokens
    assert "the" not in tokens and "are" not in tokens


def test_digit_runs_lose_leading_zeros() -> None:
    assert tokenize("E03") == tokenize("e3")


def test_control_characters_and_garbage_give_no_tokens() -> None:
    assert tokenize("\x00\x01\x02\ufffd") == []


def test_a_code_spelled_two_ways_in_the_kb_is_found_in_both_spellings() -> None:
    """Two product lines write the same display code differently ("AL35", "AL-35"): a customer's
    "al 35" names both, so neither line's item wins by spelling alone."""
    matcher = CodeMatcher(["AL35", "AL-35", "E07"])
    assert matcher.find("加工中心报 al 35").codes == {"AL35", "AL-35"}
    assert matcher.find("E07 again").codes == {"E07"}


@pytest.mark.parametrize(
    ("cantonese", "mandarin"),
    [
        ("保用幾耐？", "保修多久？"),
        ("部𨋢點算", "电梯怎么办"),
        ("係咪你哋嘅問題", "是不是你们的问题"),
        ("用純淨水得唔得", "用纯净水可不可以"),
        ("有冇保養合約", "有没有保养合约"),
        ("手推車成日溜落嚟", "手推车经常溜下来"),
        ("對講㩒咗冇人聽", "对讲按了没人接"),
        ("貨𨋢可以載幾重", "货梯可以载多重"),
        ("年檢點安排", "年检怎么安排"),
        ("噴碼機要點收機", "喷码机要怎么收机"),
        ("部機點保養", "设备怎么保养"),
        ("使唔使預約", "需不需要预约"),
        ("你好，想問吓", "你好，想问下"),  # 吓 after a verb is 下; alone it is "scare"
        ("嚇死我", "吓死我"),
        # everyday Cantonese of the fifth pass: determiners, complements, degree, things
        ("部機開唔到，個燈都唔著", "设备开不了，灯都不亮"),
        ("啲杯洗完仲有印", "杯洗完还有印"),
        ("快啲嚟啦", "快点来啦"),
        ("扶手電梯好嘈", "扶梯很吵"),
        ("個掣壞咗，門關唔埋", "按钮坏了，门关不上"),
        ("琴日開始好易跳掣", "昨天开始很容易跳闸"),
        ("唔知點用", "不知道怎么用"),
        ("你哋幾時得閒？", "你们什么时候有空？"),
        # a machine that 行 is running (sixth pass); 磨擦 is Hong Kong's 摩擦
        ("部機行行下停咗", "设备运行时停了"),
        ("扶梯行緊有磨擦聲", "扶梯运行中有摩擦声"),
        ("行嘅時候好震", "运行的时候很震"),
        # seventh pass: 同 as "and", 好 before 犀利 / 厲害, Hong Kong's 保養期 (warranty)
        ("水泵同閥門都漏水", "水泵和阀门都漏水"),
        ("個風扇嘈得好犀利", "风扇吵得很厉害"),
        ("過咗保養期點算", "过了保修期怎么办"),
        ("主機保養幾多年㗎？", "主机保修多少年？"),
        # when the hotline is answered: 聽 (電話) is 接, 開工 / 收工 the hours it opens and closes
        ("你哋熱線幾點開工？星期六有冇人聽？", "你们热线几点上班？星期六有没有人接？"),
        ("有人聽到好大聲", "有人听到很大声"),
        # thirteenth pass: 晒 "all", 好似, 返 "back", 成個鐘 an hour (個鐘 the clock is kept)
        ("哥林柱乾晒，自動打油好似冇出油", "哥林柱干了，自动打油好像没有出油"),
        ("啲硬幣即刻跌返出嚟", "硬币马上掉回出来"),
        ("等咗成個鐘都未到溫度", "等了一个小时都未到温度"),
        ("停完電之後個鐘一直閃", "停完电之后个钟一直闪"),
        ("裝喺天台日曬雨淋嗰度", "装在天台日晒雨淋那里"),
        # filling is adding (入油, 落漂白水); 入水口 the inlet is kept
        ("油溫機可唔可以入普通偈油", "油温机可以加普通机油吗"),
        ("可唔可以落漂白水", "可以加漂白水吗"),
        ("入水口堵塞", "入水口堵塞"),
        ("零食機唔收散紙，啲卡全部碌唔到", "零食机不收零钱，卡全部刷不到"),
        # a Cantonese A唔A question asks with 吗 at the end of the clause, as Mandarin writes it
        ("舊機可唔可以加裝遙控呀？", "旧机可以加装遥控吗？"),
        ("停電會唔會壞，點算", "停电会坏吗，怎么办"),
        ("要唔要換濾芯啫", "要换滤芯吗"),
        ("壞咗囉", "坏了"),
        # Hong Kong and Taiwan words for software
        ("部機個程式點樣更新", "设备个程序怎么更新"),
        ("軟體版本", "软件版本"),
        # 三包, China's consumer warranty; northern 咋; Cantonese 粟米 (corn)
        ("坏了三包管不管", "坏了保修管不管"),
        ("机子趴窝了咋整", "机子趴窝了怎么办"),
        ("係粟米機嚟嘅", "是玉米机来的"),
        ("拉夜簾慳唔慳電", "拉夜帘省不省电"),
    ],
)
def test_cantonese_is_read_as_mandarin(cantonese: str, mandarin: str) -> None:
    assert to_mandarin(cantonese) == mandarin


@pytest.mark.parametrize(
    "mandarin",
    [
        "控制系统报警",
        "请联系客服",
        "底盘下面咔咔响",
        "整机保修两年",
        "几点安排",
        "有点加速慢",
        "检查工件坐标系",
        "叉车喇叭按了不响",
        "甩干桶不转",
        "申请劳动仲裁",
        "香味很浓郁",
        "这部机器坏了",
        "部件坏了",
        "银行转账不行",
        "行业标准",
        "部署前要准备什么",
        "客服一点用都没有",
        "每 3 个月保养一次",
        "合同到期了",
        "更换同规格的保险丝",
        "两台同时报警",
        "保养期间不能开机",
        "可不可以上门",
        "提示音太啰嗦",
    ],
)
def test_mandarin_words_sharing_a_cantonese_character_are_kept(mandarin: str) -> None:
    """系 is "is" in 係咪 but "system" in 系统 and 坐标系; 响 is a noise, 整 the whole unit;
    喇 is a particle but half of 喇叭; 部 opens a Cantonese clause as "the" but 部件 is a part."""
    assert to_mandarin(mandarin) == mandarin


def test_a_character_outside_the_basic_plane_is_chinese() -> None:
    assert has_chinese("𨋢")
    assert "电梯" in tokenize("部𨋢壞咗")


def test_cantonese_and_mandarin_share_lexical_tokens() -> None:
    assert {"保修", "多久"} <= set(tokenize("部機保用幾耐"))


def test_a_generic_chinese_alias_names_every_product_it_is_part_of() -> None:
    """Two makers' lines: the chiller's alias 螺杆机 is also the compressor's 37千瓦螺杆机."""
    merged = CodeMatcher([], {"CW-450": ["螺杆机", "冷水机"], "HX-37": ["37千瓦螺杆机"]})
    assert merged.find("螺杆机多久换一次油").products == {"CW-450", "HX-37"}
    assert merged.find("冷水机多久换一次油").products == {"CW-450"}


def test_a_word_naming_several_products_gives_way_to_a_model_named_alone() -> None:
    """The words 发电机 and genset name both generator sets; "gs30" names one of them."""
    aliases = {"GS-30": ["GS30", "发电机", "genset"], "GS-250": ["GS250", "发电机", "genset"]}
    matcher = CodeMatcher(["P11"], aliases)
    assert matcher.find("gs30发电机跳P11").products == {"GS-30"}
    assert matcher.find("genset GS-250 shows P11").products == {"GS-250"}
    assert matcher.find("发电机跳P11").products == {"GS-30", "GS-250"}
    assert matcher.find("my genset shows P11").products == {"GS-30", "GS-250"}


def test_the_dialect_pattern_skips_positions_no_word_starts_at() -> None:
    """The lookahead of the words' first characters is what keeps reading a text cheap."""
    pattern, _ = _dialect()
    assert pattern.pattern.startswith("(?=[")


def test_the_dialect_lookahead_finds_what_the_plain_alternation_finds() -> None:
    """Every readable query and conversation turn, and every word of the table (and its
    Mandarin) in a sentence, reads the same with and without the first-character lookahead."""
    alternation, standard = _dialect_alternation()
    plain, fast = re.compile(alternation), _dialect()[0]
    table = yaml.safe_load(DIALECT_FILE.read_text(encoding="utf-8"))["words"]
    words = [f"好{_LOOKAROUND.sub('', str(k))}啲，{v}嘅" for k, v in table.items()]
    texts = words + _bench_texts()
    assert len(texts) > 1000

    def mandarin(match: re.Match[str]) -> str:
        return standard[(match.lastindex or 1) - 1]

    for text in texts:
        simplified = to_simplified(text)
        assert fast.sub(mandarin, simplified) == plain.sub(mandarin, simplified), text


def _bench_texts() -> list[str]:
    data = Path(__file__).resolve().parents[2] / "bench" / "data"
    files = [data / "demo-queries.jsonl"]
    files += [data / name / "queries.jsonl" for name in ("dev2", "holdout", "holdout2")]
    files += [data / "conversations" / f"{name}.jsonl" for name in ("demo", "dev2")]
    texts = []
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            item = json.loads(line)
            texts += [turn["text"] for turn in item.get("turns", [])] or [item["text"]]
    return texts


@pytest.mark.parametrize(
    ("pattern", "first"),
    [
        ("(甲乙)|((?<!x)丙(?=丁))", "甲丙"),
        ("(?:^|(?<=[,]))[部架]机", "部架"),
        ("(a?b)|(c+)", "abc"),
        ("(a*)", None),  # may match nothing
        ("(.)", None),  # any character
        ("([^a])", None),
        ("(?i)(a)", None),
    ],
)
def test_first_characters_of_a_pattern(pattern: str, first: str | None) -> None:
    ranges = _first_chars(pattern)
    if first is None:
        assert ranges is None
    else:
        assert ranges is not None
        assert {chr(c) for low, high in ranges for c in range(low, high + 1)} == set(first)


@pytest.mark.parametrize(
    ("text", "searched"),
    [
        ("what does the warrenty cover", "what does the warranty cover"),  # a letter changed
        ("site prep for instalation", "site prep for installation"),  # one left out
        ("Calibartion failed", "calibration failed"),  # two swapped
        ("the service interval", "the service interval"),  # an English word, not "internal"
        ("the seel leaks", "the seel leaks"),  # too short to tell which word was meant
        ("nozle blocked", "nozle blocked"),  # no word of the knowledge base one typo away
        ("shart broken", "shart broken"),  # two words one typo away: the typo says not which
    ],
)
def test_an_english_typo_is_searched_as_the_one_word_it_is_one_typo_from(
    text: str, searched: str
) -> None:
    words = {"warranty", "installation", "calibration", "internal", "seal", "shaft", "start"}
    assert respelled(text, {tokenize(w)[0] for w in words}.__contains__).lower() == searched


@pytest.mark.parametrize(
    ("text", "searched"),
    [
        (
            "what time does your service desk open",
            "what time does your service desk open hotline 热线",
        ),
        ("is it still covered?", "is it still covered? warranty 保修"),
        ("售後電話週日有人接嗎", "售后电话周日有人接吗 hotline 热线"),
        ("what is the hotline number?", "what is the hotline number? 热线"),
        ("保修期多久", "保修期多久 warranty"),
        ("whats the service interval?", "whats the service interval? maintenance 保养"),
        ("can I check it from my phone?", "can I check it from my phone? app 手机"),
        ("有冇維修課程？", "有没有维修课程？ training 培训"),
        ("支持远程升级吗", "支持远程升级吗"),  # a remote upgrade is no app
        ("the apple is bruised", "the apple is bruised"),
        ("part number for the descaler?", "part number for the descaler? parts 配件"),
        ("所需配件：主过滤器", "所需配件：主过滤器"),  # a fault's parts list asks for none
        ("设备到货前现场要准备什么", "设备到货前现场要准备什么 installation 安装"),
        ("how do I get the latest firmware", "how do I get the latest firmware"),
        ("how do I flash new firmware?", "how do I flash new firmware? upgrade 升级"),
        ("说明书丢了", "说明书丢了 manual"),
        ("你们客服几点下班", "你们客服几点下班 hotline 热线"),
        ("坏了还免费修吗", "坏了还免费修吗 warranty 保修"),
        ("门封条怎么下单", "门封条怎么下单 parts 配件"),
        ("what power do we need for it", "what power do we need for it installation 安装"),
        ("what water hardness does it need", "what water hardness does it need"),
        ("对服务有意见应该向哪个部门反映", "对服务有意见应该向哪个部门反映 complaint 投诉"),
        ("旧机回收吗", "旧机回收吗 recycling"),
        ("E05 on the AC-300", "E05 on the AC-300"),
        # moving a unit and saving energy (not 搬运车, a pallet truck; not a fan "not moving")
        ("岛柜要搬到另一家店", "岛柜要搬到另一家店 relocation 移机"),
        ("moving a display case", "moving a display case relocation 移机"),
        ("搬运车走一下就刹一下", "搬运车走一下就刹一下"),
        ("the fan is not moving", "the fan is not moving"),
        ("拉夜帘能省多少电", "拉夜帘能省多少电 energy 节能"),
        ("tips to cut the electricity bill", "tips to cut the electricity bill energy 节能"),
    ],
)
def test_a_service_named_in_other_words_is_searched_with_its_usual_words(
    text: str, searched: str
) -> None:
    assert search_form(text) == searched


def test_the_nlus_mandarin_form_has_no_added_words() -> None:
    assert to_mandarin("售後電話週日有人接嗎") == "售后电话周日有人接吗"
    assert to_mandarin("what time does your service desk open") == (
        "what time does your service desk open"
    )


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("你们客服周末有人吗", {"hotline 热线"}),
        ("你哋星期日有冇人", {"hotline 热线"}),
        ("你们周末上门吗", set()),  # a visit, not the hotline's hours
        ("周末的时候跑步机会自己停", set()),
    ],
)
def test_who_answers_at_the_weekend_asks_the_hotline(text: str, named: set[str]) -> None:
    assert services_named(text) == named


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("24 hour emergency number?", {"hotline 热线"}),
        ("loader broke down at midnight, is there an emergency number", {"hotline 热线"}),
        ("半夜叉车坏了打哪个电话", {"hotline 热线"}),
        ("有没有紧急电话", {"hotline 热线"}),
        ("the emergency stop button is stuck", set()),
        ("半夜老是自己停机", set()),
    ],
)
def test_a_number_for_the_night_or_an_emergency_asks_the_hotline(
    text: str, named: set[str]
) -> None:
    assert services_named(text) == named


def test_guaranteed_repair_and_a_move_name_their_services() -> None:
    """包修 is the customer's word for the warranty; "a move of" books a relocation."""
    assert services_named("跑步机电机坏了，还在包修期内吗") == {"warranty 保修"}
    assert services_named("how far ahead do we book a move of the leg press") == {"relocation 移机"}
