"""Reading and validating KB files: every rule of kb-format.md, with errors naming file/item/key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from knowledge_base.errors import KBError, KBValidationError
from knowledge_base.loader import parse_documents, read_knowledge_base, validate_knowledge_base

PRODUCT = """
version: 1
products:
  - id: AC-300
    name: {zh: AC-300 螺杆空压机, en: AC-300 screw air compressor}
"""

VALID_FAULT = """
version: 1
causes:
  - id: C-filter
    text: {zh: 空气滤芯堵塞, en: Clogged air filter}
faults:
  - id: F-E03
    title: Low discharge pressure (E03)
    symptoms: [pressure will not build up]
    products: [AC-300]
    causes: [C-filter]
"""


def write(folder: Path, name: str, text: str | bytes) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def errors_of(path: Path, **kwargs: object) -> list[KBError]:
    with pytest.raises(KBValidationError) as caught:
        read_knowledge_base(path, **kwargs)  # type: ignore[arg-type]
    return caught.value.errors


def only_error(path: Path, **kwargs: object) -> KBError:
    errors = errors_of(path, **kwargs)
    assert len(errors) == 1, [str(error) for error in errors]
    return errors[0]


def test_reads_the_sample(sample_kb: Path) -> None:
    kb = read_knowledge_base(sample_kb)
    assert len(kb.products) == 2 and len(kb.faults) == 12 and len(kb.faqs) == 6
    assert all(fault.symptoms for fault in kb.faults)


def test_folder_merges_all_kb_files_in_sorted_order(tmp_path: Path) -> None:
    write(tmp_path, "b/faults.yml", VALID_FAULT)
    write(tmp_path, "a-products.yaml", PRODUCT)
    write(
        tmp_path,
        "z.json",
        json.dumps({"version": 1, "products": [{"id": "AC-400", "name": "AC-400"}]}),
    )
    write(tmp_path, "notes.txt", "not a KB file")
    kb = read_knowledge_base(tmp_path)
    assert [p.id for p in kb.products] == ["AC-300", "AC-400"]
    assert [f.id for f in kb.faults] == ["F-E03"]


def test_numbers_in_codes_aliases_and_sku_become_strings_as_written(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "kb.yaml",
        """
version: 1
products:
  - id: P1
    name: pump
    aliases: [300, 03, 1.10]
parts:
  - id: PT1
    name: seal
    sku: 0042
faults:
  - id: F1
    title: t
    symptoms: [s]
    codes: [3, E03, 0x1F]
""",
    )
    kb = read_knowledge_base(path)
    assert kb.products[0].aliases == ["300", "03", "1.10"]
    assert kb.parts[0].sku == "0042"
    assert kb.faults[0].codes == ["3", "E03", "0x1F"]


def test_unquoted_yaml_numbers_are_accepted_as_ids_and_references(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "kb.yaml",
        "version: 1\nproducts:\n  - {id: 1001, name: x}\n"
        "faults:\n  - {id: 042, title: t, symptoms: [s], products: [1001]}\n",
    )
    kb = read_knowledge_base(path)
    assert (kb.products[0].id, kb.faults[0].id, kb.faults[0].products) == ("1001", "042", ["1001"])


def test_numbers_where_json_gives_them_are_wrong_types_for_ids() -> None:
    with pytest.raises(KBValidationError) as caught:
        parse_documents([("kb.json", {"version": 1, "products": [{"id": 5, "name": "x"}]})])
    assert "key 'id': input should be a valid string" in str(caught.value.errors[0])


def test_extra_keys_are_kept(tmp_path: Path) -> None:
    path = write(tmp_path, "kb.yaml", PRODUCT + "    warranty_months: 24\n")
    product = read_knowledge_base(path).products[0]
    assert product.model_dump()["warranty_months"] == 24


@pytest.mark.parametrize(
    ("body", "item", "key", "words"),
    [
        (
            "products:\n  - {id: 'bad id', name: x}\n",
            "products[0] (id bad id)",
            "id",
            "invalid id",
        ),
        ("faults:\n  - {id: F1, title: t}\n", "faults[0] (id F1)", "symptoms", "field required"),
        ("products:\n  - {name: x}\n", "products[0]", "id", "field required"),
        (
            "solutions:\n  - {id: S1, title: t, steps: do it}\n",
            "solutions[0] (id S1)",
            "steps",
            "list of texts",
        ),
        (
            "solutions:\n  - {id: S1, title: t, steps: [a], requires_engineer: 'yes'}\n",
            "solutions[0] (id S1)",
            "requires_engineer",
            "boolean",
        ),
        (
            "solutions:\n  - {id: S1, title: t, steps: [a], est_minutes: soon}\n",
            "solutions[0] (id S1)",
            "est_minutes",
            "integer",
        ),
        (
            "causes:\n  - {id: C1, text: t, likelihood: 2}\n",
            "causes[0] (id C1)",
            "likelihood",
            "less than or equal to 1",
        ),
        (
            "faults:\n  - {id: F1, title: t, symptoms: [s], severity: huge}\n",
            "faults[0] (id F1)",
            "severity",
            "'huge'",
        ),
        (
            "faqs:\n  - {id: Q1, questions: [q], answer: a, category: gossip}\n",
            "faqs[0] (id Q1)",
            "category",
            "'gossip'",
        ),
        (
            "faults:\n  - {id: F1, title: {zh: 1}, symptoms: [s]}\n",
            "faults[0] (id F1)",
            "title",
            "title.zh",
        ),
        (
            "faults:\n  - {id: F1, title: t, symptoms: [s], products: [NOPE]}\n",
            "faults[0] (id F1)",
            "products",
            "unknown products id(s): 'NOPE'",
        ),
        (
            "faults:\n  - {id: F1, title: t, symptoms: [s], related: [F9]}\n",
            "faults[0] (id F1)",
            "related",
            "unknown faults id(s): 'F9'",
        ),
    ],
)
def test_item_errors_name_file_item_and_key(
    tmp_path: Path, body: str, item: str, key: str, words: str
) -> None:
    path = write(tmp_path, "kb/faults.yaml", "version: 1\n" + body)
    error = only_error(path)
    assert error.key == key
    assert words in error.message
    assert str(error).startswith(f"{path}: {item}: key '{key}': ")


def test_every_error_is_reported_not_just_the_first(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "kb.yaml",
        """
version: 1
faults:
  - {id: F1, title: t}
  - {id: F2, symptoms: [s], severity: huge}
  - {id: F3, title: t, symptoms: [s], causes: [C-missing]}
""",
    )
    errors = errors_of(path)
    assert {(e.item, e.key) for e in errors} == {
        ("F1", "symptoms"),
        ("F2", "title"),
        ("F2", "severity"),
        ("F3", "causes"),
    }


def test_duplicate_ids_across_files_name_both_places(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", PRODUCT)
    second = write(tmp_path, "b.yaml", PRODUCT)
    error = only_error(tmp_path)
    assert (error.file, error.list, error.item, error.key) == (
        str(second),
        "products",
        "AC-300",
        "id",
    )
    assert "duplicate id 'AC-300'" in error.message and "a.yaml" in error.message


def test_same_id_in_different_lists_is_allowed(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "kb.yaml",
        "version: 1\nproducts:\n  - {id: X1, name: x}\ncomponents:\n  - {id: X1, name: y}\n",
    )
    kb = read_knowledge_base(path)
    assert kb.products[0].id == kb.components[0].id == "X1"


def test_references_to_known_ids_pass_in_upsert_mode(tmp_path: Path) -> None:
    path = write(tmp_path, "kb.yaml", VALID_FAULT)
    assert {e.key for e in errors_of(path)} == {"products"}
    kb = read_knowledge_base(path, known_ids={"products": {"AC-300"}})
    assert kb.faults[0].products == ["AC-300"]


def test_references_inside_invalid_items_are_still_checked(tmp_path: Path) -> None:
    path = write(tmp_path, "kb.yaml", "version: 1\nfaults:\n  - {id: F1, causes: [C9]}\n")
    keys = {e.key for e in errors_of(path)}
    assert keys == {"title", "symptoms", "causes"}


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("version: 1\nproducts:\n  - id: a\n    name: [x\n", "YAML syntax error at line 5"),
        (b"\x00\x01\x02binary\xff\x00", "binary data"),
        (b"version: 1\nproducts: []\n# caf\xe9\n", "not UTF-8 text"),
        ("", "empty file"),
        ("# only a comment\n\n", "empty file"),
        ("- just\n- a list\n", "top level must be a mapping"),
        ("just a string\n", "top level must be a mapping"),
        ("products: []\n", "every file needs `version: 1`"),
        ("version: 2\n", "unsupported version 2"),
        ("version: 1\nfaults: []\nfaults: []\n", "duplicate key 'faults' (first at line 2)"),
        ("version: 1\nproducts:\n  - {id: a, name: x, name: y}\n", "duplicate key 'name'"),
        ("version: 1\nfaults: {id: F1}\n", "must be a list of items"),
        ("version: 1\nfaults:\n  - F1\n", "an item must be a mapping"),
    ],
)
def test_file_level_errors(tmp_path: Path, content: str | bytes, words: str) -> None:
    path = write(tmp_path, "kb.yaml", content)
    error = only_error(path)
    assert error.file == str(path)
    assert words in str(error)


def test_json_syntax_error_has_line(tmp_path: Path) -> None:
    path = write(tmp_path, "kb.json", '{"version": 1,\n "faqs": [\n')
    assert "JSON syntax error at line 3" in only_error(path).message


def test_errors_from_several_files_are_all_reported(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "")
    write(tmp_path, "b.yaml", "version: 1\nproducts:\n  - {id: P1}\n")
    write(tmp_path, "c.yaml", "version: 1\nfaults: [\n")
    files = [Path(e.file).name for e in errors_of(tmp_path)]
    assert files == ["a.yaml", "b.yaml", "c.yaml"]


def test_missing_path_and_empty_folder(tmp_path: Path) -> None:
    assert "no such file" in only_error(tmp_path / "nope.yaml").message
    (tmp_path / "empty").mkdir()
    assert "no .yaml" in only_error(tmp_path / "empty").message


def test_parse_documents_validates_in_memory_data() -> None:
    kb = parse_documents([("upload", {"version": 1, "products": [{"id": "P1", "name": "n"}]})])
    assert kb.products[0].id == "P1"
    with pytest.raises(KBValidationError) as caught:
        parse_documents([("upload", {"version": 1, "products": [{"id": "P1"}]})])
    assert str(caught.value.errors[0]) == "upload: products[0] (id P1): key 'name': field required"


def test_validate_knowledge_base_checks_models_built_in_code(tmp_path: Path) -> None:
    kb = read_knowledge_base(
        write(tmp_path, "kb.yaml", VALID_FAULT), known_ids={"products": {"AC-300"}}
    )
    with pytest.raises(KBValidationError) as caught:
        validate_knowledge_base(kb)
    assert [(e.item, e.key) for e in caught.value.errors] == [("F-E03", "products")]
    validate_knowledge_base(kb, known_ids={"products": {"AC-300"}})


def test_yaml_errors_carry_the_line_of_the_key(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "kb.yaml",
        "version: 1\nfaults:\n  - id: F1\n    title: t\n    symptoms: [s]\n    severity: huge\n",
    )
    error = only_error(path)
    assert error.line == 6
    assert str(error).endswith("(line 6)")


def test_extra_mappings_from_yaml_stay_plain_data(tmp_path: Path) -> None:
    path = write(tmp_path, "kb.yaml", PRODUCT + "    specs: {power_kw: 22, phases: [3]}\n")
    dumped = read_knowledge_base(path).products[0].model_dump(mode="json")
    assert json.loads(json.dumps(dumped["specs"])) == {"power_kw": 22, "phases": [3]}
