"""The knowledge-base decision: score bar, clarifying questions, and the confidence bar."""

from __future__ import annotations

import pytest

from bot.dialogue.policy import (
    COMPLAINT,
    QUESTION,
    REPAIR,
    Understanding,
    decide,
    decide_by_category,
    decide_by_faq_lead,
    for_some_lines,
    in_suggestion_band,
    phrase_match,
    pick_candidate,
    route_message,
)
from bot.dialogue.ports import Candidate, Mentions
from bot.dialogue.prompts import DialogueTexts

THRESHOLD = 0.37
BAR = 0.67


def hit(item_id: str, score: float, confidence: float | None, products: tuple[str, ...] = ()):
    return Candidate(item_id, "fault", score, products=products, confidence=confidence)


def test_a_confident_top_hit_is_the_answer() -> None:
    decision = decide([hit("F-1", 0.8, 0.9), hit("F-2", 0.4, 0.1)], Mentions(), THRESHOLD, BAR)
    assert decision.kind == "answer" and decision.item is not None and decision.item.id == "F-1"


def test_a_high_score_without_confidence_is_no_answer() -> None:
    """A price question scoring 0.75 on one generic word: the score alone would answer it."""
    decision = decide([hit("FAQ-1", 0.75, 0.3), hit("F-2", 0.2, 0.0)], Mentions(), THRESHOLD, BAR)
    assert decision.kind == "fallback" and decision.item is None


def test_close_candidates_about_different_models_still_get_a_question() -> None:
    """Low confidence from a close call is what the clarifying question is for."""
    hits = [hit("F-A", 0.6, 0.4, ("AC-100",)), hit("F-B", 0.58, 0.35, ("AC-300",))]
    decision = decide(hits, Mentions(), THRESHOLD, BAR)
    assert decision.kind == "clarify" and decision.options == ("AC-100", "AC-300")


def coded(item_id: str, score: float, code: str) -> Candidate:
    return Candidate(item_id, "fault", score, products=("ES-1",), codes=(code,), confidence=0.8)


def test_close_faults_with_different_codes_ask_which_code_is_shown() -> None:
    """Two confident faults of one escalator, a hair apart, each with its own display code: the
    code on the display tells them apart, so the bot asks for it instead of guessing."""
    hits = [coded("F-S11", 0.49, "S11"), coded("F-S20", 0.47, "S20")]
    decision = decide(hits, Mentions(), THRESHOLD, BAR)
    assert decision.kind == "clarify" and decision.facet == "codes"
    assert decision.options == ("S11", "S20")


def test_a_named_code_or_a_clear_lead_still_answers() -> None:
    named = Mentions(codes=frozenset({"S20"}))
    hits = [coded("F-S11", 0.49, "S11"), coded("F-S20", 0.47, "S20")]
    answered = decide(hits, named, THRESHOLD, BAR)
    assert answered.kind == "answer" and answered.item is not None
    assert answered.item.id == "F-S20"
    lead = decide([coded("F-S11", 0.7, "S11"), coded("F-S20", 0.5, "S20")], Mentions(), 0.37, BAR)
    assert lead.kind == "answer" and lead.item is not None and lead.item.id == "F-S11"


def test_the_named_models_item_with_the_named_code_wins_over_another_models() -> None:
    """ "sorry, wrong unit, it is the KW-1400" after "KS-70R F051": the frame's earlier words
    still rank the KS-70R's F051 first; the KW-1400's F051 is the one the customer means."""
    kw = Candidate("F-KW-F051", "fault", 0.73, products=("KW-1400",), codes=("F051",))
    ks = Candidate("F-KS-F051", "fault", 0.83, products=("KS-70R",), codes=("F051",))
    other = Candidate("F-KW-F021", "fault", 0.45, products=("KW-1400",), codes=("F021",))
    named = Mentions(frozenset({"KW-1400"}), frozenset({"F051"}))
    decision = decide([ks, kw, other], named, THRESHOLD)
    assert decision.kind == "answer" and decision.item == kw
    assert decide([ks, other], named, THRESHOLD).item == ks  # no item of theirs has the code


def test_the_named_models_best_item_wins_over_another_models_top() -> None:
    """ "是HX-75那台" after the HX-37's motor overload was answered: the frame's words still rank
    the HX-37's item first; of the close items the HX-75 allows, the best one is answered."""
    hx37 = Candidate("F-HX37-A141", "fault", 0.45, products=("HX-37",), codes=("A-141",))
    both = Candidate("F-HX-low-pressure", "fault", 0.41, products=("HX-37", "HX-75"))
    cycling = Candidate("F-HX-short-cycling", "fault", 0.38, products=("HX-37", "HX-75"))
    decision = decide([hx37, both, cycling], Mentions(frozenset({"HX-75"})), THRESHOLD)
    assert decision.kind == "answer" and decision.item == both


def test_the_score_bar_still_applies() -> None:
    close = [hit("F-1", 0.3, 0.99), hit("F-2", 0.25, 0.5)]
    assert decide(close, Mentions(), THRESHOLD, BAR).kind == "fallback"
    unsure = [hit("F-1", 0.3, 0.6), hit("F-2", 0.1, 0.01)]
    assert decide(unsure, Mentions(), THRESHOLD, BAR).kind == "fallback"


def test_a_confident_clear_lead_under_the_score_bar_is_the_answer() -> None:
    """A colloquial report scores under the bar; its confidence and lead say it is the one."""
    hits = [hit("F-1", 0.34, 0.9), hit("F-2", 0.17, 0.2)]
    decision = decide(hits, Mentions(), THRESHOLD, BAR)
    assert decision.kind == "answer" and decision.item is not None and decision.item.id == "F-1"


def test_a_confident_fault_needs_a_smaller_lead_under_the_score_bar() -> None:
    """A symptom report on a newer knowledge base ("油箱摸上去烫手，冷却水管进出都差不多温度"):
    score 0.365, confidence 0.90, 0.098 ahead of the next fault. An FAQ that close is not."""
    fault = decide([hit("F-1", 0.365, 0.9), hit("F-2", 0.267, 0.7)], Mentions(), THRESHOLD, BAR)
    assert fault.kind == "answer" and fault.item is not None and fault.item.id == "F-1"
    # A long Cantonese report ("kv-737s及骨車啱啱穿完彎針線，點踩都唔郁…"): 0.355, 0.89, 0.071 ahead
    cantonese = decide(
        [hit("F-1", 0.355, 0.89), hit("F-2", 0.284, 0.76)], Mentions(), THRESHOLD, BAR
    )
    assert cantonese.kind == "answer"
    too_close = [hit("F-1", 0.34, 0.9), hit("F-2", 0.30, 0.7)]
    assert decide(too_close, Mentions(), THRESHOLD, BAR).kind == "fallback"
    faqs = [faq("FAQ-1", 0.9, "other", score=0.34), faq("FAQ-2", 0.1, "other", score=0.25)]
    assert decide(faqs, Mentions(), THRESHOLD, BAR).kind == "fallback"


def test_a_clear_lead_under_the_score_bar_is_offered() -> None:
    """ "及骨車成日漏油，啲白衫沾晒油跡，客人要退貨": 0.28 (under the bar), 0.57, 0.12 ahead of the
    next: offered as "did you mean", not asked for the code or what the customer sees."""
    clear = [hit("F-oil", 0.28, 0.57), hit("F-E21", 0.16, 0.21)]
    assert in_suggestion_band(clear, THRESHOLD, BAR, 0.4)
    close = [hit("F-oil", 0.28, 0.57), hit("F-E21", 0.26, 0.5)]
    assert not in_suggestion_band(close, THRESHOLD, BAR, 0.4)
    assert not in_suggestion_band([hit("F-oil", 0.5, 0.3)], THRESHOLD, BAR, 0.4)  # under the band


def test_hits_without_a_confidence_are_judged_by_the_score() -> None:
    """Methods other than the calibrated hybrid search carry no confidence."""
    assert decide([hit("F-1", 0.5, None)], Mentions(), THRESHOLD, BAR).kind == "answer"


def faq(item_id: str, confidence: float, category: str, score: float = 0.5) -> Candidate:
    return Candidate(item_id, "faq", score, confidence=confidence, category=category)


def test_an_faq_of_the_asked_category_answers_under_the_bar() -> None:
    """The NLU reads a parts question and the best hit is the parts FAQ: the readings agree."""
    hits = [faq("FAQ-parts", 0.5, "parts"), faq("FAQ-warranty", 0.3, "warranty")]
    decision = decide_by_category(hits, Mentions(), "parts", 0.4)
    assert decision is not None and decision.item is not None and decision.item.id == "FAQ-parts"


def test_an_faq_of_another_category_is_not_answered_by_agreement() -> None:
    hits = [faq("FAQ-warranty", 0.6, "warranty"), faq("FAQ-parts", 0.5, "parts")]
    assert decide_by_category(hits, Mentions(), "parts", 0.4) is None


def test_agreement_does_not_lift_a_very_unsure_hit() -> None:
    assert decide_by_category([faq("FAQ-parts", 0.2, "parts")], Mentions(), "parts", 0.4) is None


def test_an_faq_well_ahead_answers_a_service_question_of_another_category() -> None:
    """A spare-parts reading ("轮胎可以只换一边吗") and a maintenance FAQ 0.14 ahead."""
    hits = [
        Candidate("FAQ-tyres", "faq", 0.43, confidence=0.38, category="maintenance"),
        Candidate("FAQ-charging", "faq", 0.29, confidence=0.09, category="maintenance"),
    ]
    decision = decide_by_faq_lead(hits, Mentions(), THRESHOLD, 0.1, 0.3)
    assert decision is not None and decision.item is not None and decision.item.id == "FAQ-tyres"


@pytest.mark.parametrize(
    "top, second",
    [
        (Candidate("FAQ-a", "faq", 0.43, confidence=0.38), 0.38),  # barely ahead
        (Candidate("FAQ-a", "faq", 0.43, confidence=0.2), 0.2),  # too unsure
        (Candidate("FAQ-a", "faq", 0.33, confidence=0.38), 0.1),  # under the score bar
        (Candidate("F-a", "fault", 0.6, confidence=0.38), 0.2),  # a fault, not an FAQ
    ],
)
def test_the_faq_lead_needs_a_clear_confident_faq(top: Candidate, second: float) -> None:
    hits = [top, Candidate("FAQ-b", "faq", second, confidence=0.05)]
    assert decide_by_faq_lead(hits, Mentions(), THRESHOLD, 0.1, 0.3) is None


def test_agreement_needs_an_faq_not_a_fault() -> None:
    hits = [Candidate("F-1", "fault", 0.5, confidence=0.6, category="parts")]
    assert decide_by_category(hits, Mentions(), "parts", 0.4) is None


@pytest.mark.parametrize(
    "text",
    [
        "We would like to book an operator training session for our new drivers",
        "帮我们约个时间做控制器固件升级，下周六晚上",
        "Please log a warranty claim, the charger died after a month",
        "想预约一次操作培训",
        "I need your team to install a new KX-9 ice maker at our bar",
        "we want you to come and set it up next week",
        "能不能派老师来给我们做一次安装培训？",
        "need commissioning for a new unit next Tuesday, 45 Lakeview Ave",
        "need installation and commissioning for 2 new units at our plant",
        "can someone come and train our kitchen staff on the softener",
        "想约个时间，来我们厂里讲一下操作",
        "新買咗部機，幾時可以上嚟安裝？",
        "可唔可以星期六上嚟保養",
        "需要你们的人来一趟",
        "our new unit needs commissioning, when can you come?",
        "could your team come and do the annual maintenance",
        "we need handover and commissioning for a GC-365 and a GP-47",
        "部泵車要做年度保養，幾時有師傅得閒？",
        "两台挖机要做年度保养，地址在工地上",
    ],
)
def test_bookings_of_training_upgrades_and_claims_are_visit_requests(text: str) -> None:
    """Without the NLU (phrases alone) these are requests to collect, not FAQ questions."""
    assert route_message(DialogueTexts.load(), Understanding(text, "nlu_fallback", 0.0)) == REPAIR


@pytest.mark.parametrize(
    "text",
    [
        "配件大约多久能到",
        "培训怎么收费",
        "保修期多久",
        "how long does your team take to install a new unit?",
        "新来的设备员想学空压机保养，有培训课吗",  # wants to learn, asks about a course
        "你哋幾耐嚟保養一次",  # how often, not when
        "how often do your engineers come to service the unit",
        "日日要做啲咩，幾耐要搵人嚟睇一次",  # how often someone should come, not a booking
        "how often should someone come out to check it",
        "多久要做一次保养",
        "新机要做保养吗",
        "激光機每個禮拜要做啲咩保養",
        "鉤機行幾多個鐘要做一次保養？",
    ],
)
def test_questions_about_visits_are_not_bookings(text: str) -> None:
    assert route_message(DialogueTexts.load(), Understanding(text, "nlu_fallback", 0.0)) != REPAIR


@pytest.mark.parametrize(
    ("text", "route"),
    [
        ("员工培训想约个时间，电话0769-88123456", REPAIR),
        ("KB-20R 要做年度保养，北京朝阳区建国路77号中央厨房", REPAIR),  # an address
        ("the landing door on level 5 doesnt shut all the way", QUESTION),  # no address
        ("SF-30D 出水变硬了 my mobile 13812345678", REPAIR),
        ("whats the warranty? call me back on 9988 7766", "handoff"),  # a person asked for
        # digits that are not left as a contact: a serial, a date
        ("SN 20231108 显示E04", QUESTION),
        ("2024-03-15装的机器E04", QUESTION),
    ],
)
def test_a_message_leaving_a_contact_or_an_address_asks_for_a_visit(text: str, route: str) -> None:
    """Whoever leaves a number to be reached on or an address wants someone to call or come,
    whatever else the words ask; a number that is not introduced as a contact (a serial, a
    date) is none, nor is a number before "way" in English."""
    assert route_message(DialogueTexts.load(), Understanding(text, "nlu_fallback", 0.0)) == route


def test_a_training_visit_is_a_training_ticket() -> None:
    texts = DialogueTexts.load()
    assert texts.visit_category("nlu_fallback", "can someone come train our staff") == "training"
    assert texts.visit_category("nlu_fallback", "派人来给我们做培训") == "training"
    assert texts.visit_category("nlu_fallback", "send an engineer, E04 again") == "repair"


@pytest.mark.parametrize(
    ("text", "route"),
    [
        ("唔好再覆我啲罐頭回覆，我要搵人", "handoff"),
        ("帮我找人！", "handoff"),
        ("找人来修一下注塑机", REPAIR),
        ("need someone on site asap, the two-platen won't lock, A230", REPAIR),
        ("what do we have to get ready on site before it arrives?", QUESTION),
        ("我上周报修过", "status"),
        ("講極都唔明，搵個人同我傾啦", "handoff"),
        # Cantonese matched by the Mandarin patterns in its Mandarin form: asking the channel
        # to complain through is a question, not a complaint; 約你哋嚟裝 books an installation.
        ("想問下有咩渠道可以投訴你哋服務？", QUESTION),
        ("新診所下個月開，想約你哋嚟裝部機", REPAIR),
        ("need an annual service for our two autoclaves", REPAIR),
        # the bot not wanted, a person asked for in other words
        ("唔好再用機械人覆我", "handoff"),
        ("叫你们客服出来", "handoff"),
        ("可唔可以搵你哋同事跟進", "handoff"),
        ("有冇人可以打俾我", "handoff"),
        ("不要自动回复", "handoff"),
        ("no more bot answers", "handoff"),
        # a call back from a person, a transfer, "anyone human there?"
        ("唔該叫個師傅打返俾我", "handoff"),
        ("麻烦让技术人员给我回个电话", "handoff"),
        ("转接售后", "handoff"),
        ("please ask a technician to phone me", "handoff"),
        ("any humans there?", "handoff"),
        ("找你们客服电话多少", QUESTION),  # the number asked for, not a person
        # a ticket number in a format of the customer's own; an installation wanted or asked about
        ("工单号 NB-240611-0087", "status"),
        ("what's the status, case number 4471?", "status"),
        ("新店要安装一台岛柜和两台风幕柜", REPAIR),
        ("外机要安装在哪里", QUESTION),
        ("打电话给我们的客户没人接", QUESTION),
    ],
)
def test_a_person_a_visit_and_an_earlier_request_by_phrase(text: str, route: str) -> None:
    """Without the NLU: asking for a person (搵人 alone), someone needed on site, a repair
    reported earlier; getting ready on site is a question."""
    assert route_message(DialogueTexts.load(), Understanding(text, "nlu_fallback", 0.0)) == route


def test_a_contacts_title_in_a_repair_request_is_not_a_complaint() -> None:
    """联系人张经理 names who to call; it does not ask for a manager."""
    text = "COM-10报E-41不加热，请派工程师上门，地址南京西路1266号，联系人张经理 13916668888"
    assert route_message(DialogueTexts.load(), Understanding(text, "nlu_fallback", 0.0)) == REPAIR


@pytest.mark.parametrize(
    "text",
    [
        "叫你们经理来",
        "工程师说好上周来，结果没来，电话也不接",
        "你哋啲嘢爛到痺，日日跳掣，仲要我等成個禮拜，激死人！",
        "this is the worst service I have ever had",
        "机器三个月坏了四回，叫你们领导出来说话！",
    ],
)
def test_asking_for_a_manager_or_a_missed_visit_is_a_complaint(text: str) -> None:
    route = route_message(DialogueTexts.load(), Understanding(text, "nlu_fallback", 0.0))
    assert route == COMPLAINT


def test_a_reply_naming_a_code_no_candidate_has_picks_none() -> None:
    """ "Which model?" about an E52 fault; "E41, WX60" names the model, and another code."""
    e52 = Candidate("F-E52", "fault", 0.45, products=("WX-25", "WX-60"), codes=("E52",))
    reply = Mentions(products=frozenset({"WX-60"}), codes=frozenset({"E41"}))
    assert pick_candidate([e52], "products", reply) is None
    same_code = Mentions(products=frozenset({"WX-60"}), codes=frozenset({"E52"}))
    assert pick_candidate([e52], "products", same_code) == e52
    assert pick_candidate([e52], "products", Mentions(products=frozenset({"WX-60"}))) == e52


@pytest.mark.parametrize(
    "text",
    [
        "请问你们的投诉渠道是什么",
        "如果對維修唔滿意，可以點樣投訴",
        "what's the procedure if I want to file a complaint about a service visit",
        "想投訴你哋個師傅，有咩渠道？",
        "who do I contact to file a formal complaint about the service?",
        "how do I lodge a complaint about a late service visit",
        "not angry, just want to know the proper channel for feedback on your engineer",
    ],
)
def test_asking_how_to_complain_is_a_question(text: str) -> None:
    """Even when the NLU reads a complaint: the customer asks about the procedure."""
    understanding = Understanding(text, "complaint", 0.9)
    assert route_message(DialogueTexts.load(), understanding) == QUESTION


@pytest.mark.parametrize(
    ("text", "persists"),
    [
        ("按你说的弄了，还是报", True),
        ("换咗都係咁", True),
        ("did all that, still shows the code", True),
        ("moved it indoors, still doesnt work", True),
        ("same error again", True),
        ("did all that, still pulsing", True),
        ("power cycled it, still offline", True),
        ("电磁阀插头看过了，齿轮油也加了，还是转不动", True),
        ("仲係唔郁", True),
        ("it is still working fine", False),
        ("还有一个问题", False),
        ("弄好了，谢谢", False),
        ("is it still on warranty?", False),
    ],
)
def test_done_and_still_there_is_not_solved(text: str, persists: bool) -> None:
    """After an answer: the customer did the steps and the fault persists (or asks on)."""
    assert phrase_match(DialogueTexts.load(), "not_solved", text) is persists


def test_a_code_two_models_of_one_line_share_asks_which_but_not_across_lines() -> None:
    """F01 on two inverters of one line means two faults: ask which model. F01 on a laser
    cutter and on a chiller: the kind of equipment the customer names already ranks them."""

    def coded(item_id: str, score: float, *products: str) -> Candidate:
        return Candidate(
            item_id, "fault", score, products=products, codes=("F01",), confidence=0.95
        )

    laser, chiller = coded("F-LF-F01", 0.87, "LF-1", "LF-2"), coded("F-CD-F01", 0.39, "CD-1")
    small, large = coded("F-AX6-F01", 0.9, "AX-6"), coded("F-AX50-F01", 0.7, "AX-50")
    lines = {"LF-1": "lasers", "LF-2": "lasers", "CD-1": "chillers", "AX-6": "pv", "AX-50": "pv"}
    code = Mentions(codes=frozenset({"F01"}))
    across = decide([laser, chiller], code, THRESHOLD, BAR, lines)
    assert across.kind == "answer" and across.item == laser
    within = decide([small, large, laser], code, THRESHOLD, BAR, lines)
    assert within.kind == "clarify" and set(within.options) == {"AX-6", "AX-50"}
    assert decide([laser, chiller], code, THRESHOLD, BAR).kind == "clarify"  # lines unknown


@pytest.mark.parametrize(
    ("text", "route"),
    [
        ("hi, got an issue", QUESTION),
        ("你好，我的机器报E07", QUESTION),
        ("你好，在吗", "greet"),
        ("hi there", "greet"),
    ],
)
def test_a_greeting_with_a_problem_is_about_the_problem(text: str, route: str) -> None:
    """Read as a greeting by the NLU, a message that goes on past the greeting is answered for
    what it goes on to say."""
    assert route_message(DialogueTexts.load(), Understanding(text, "greet", 0.9)) == route


@pytest.mark.parametrize(
    ("text", "route"),
    [
        ("咖啡售貨機冇杯跌落嚟，客人投訴到爆", QUESTION),  # their customers complain: a fault
        ("顾客投诉我们的咖啡太淡，我要投诉你们", COMPLAINT),
        ("请问对你们工程师的服务不满意，要在哪里投诉", QUESTION),  # where: the complaint FAQ
        ("what's the proper way to raise a complaint about your service?", QUESTION),
    ],
)
def test_whose_complaint_and_where_to_take_it(text: str, route: str) -> None:
    assert route_message(DialogueTexts.load(), Understanding(text, "nlu_fallback", 0.0)) == route


def test_each_lines_faq_of_the_same_category_asks_which_equipment() -> None:
    """Two makers' parts FAQs over the bar, close, and nothing named: which equipment decides.
    Not another line's FAQ of another category or clearly behind, nor once the equipment is
    named."""
    ours = Candidate("FAQ-A-parts", "faq", 0.6, products=("A-1",), category="parts")
    theirs = Candidate("FAQ-B-parts", "faq", 0.5, products=("B-1",), category="parts")
    training = Candidate("FAQ-B-training", "faq", 0.5, products=("B-1",), category="training")
    assert for_some_lines(ours, [ours, theirs], Mentions(), 0.37)
    assert not for_some_lines(ours, [ours, training], Mentions(), 0.37)
    far = Candidate("FAQ-B-parts", "faq", 0.45, products=("B-1",), category="parts")
    assert not for_some_lines(ours, [ours, far], Mentions(), 0.37)  # the ranking says which
    assert not for_some_lines(ours, [ours, theirs], Mentions(kinds=frozenset({"A-1"})), 0.37)
    assert not for_some_lines(ours, [ours, theirs], Mentions(codes=frozenset({"E05"})), 0.37)
