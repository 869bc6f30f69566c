"""Personal data is masked before a line is logged."""

from __future__ import annotations

from core.logs import mask_personal_data


def test_emails_and_phone_numbers_are_masked() -> None:
    masked = mask_personal_data("mail john.doe@example.com or call 13812345678, cc x@y.cn")
    assert masked == "mail j***@example.com or call ***5678, cc x***@y.cn"


def test_a_long_run_without_an_address_is_left_as_it_is() -> None:
    text = "a" * 20_000 + " b@c.com"
    assert mask_personal_data(text) == "a" * 20_000 + " b***@c.com"
