"""docs/variant-reference.md is generated from the registry and kept in sync."""
from __future__ import annotations

from derivations import reference, registry
from conftest import ROOT


def test_published_reference_is_up_to_date():
    published = (ROOT / "docs" / "variant-reference.md").read_text("utf-8")
    assert published == reference.markdown(), \
        "regenerate: .venv/bin/python -m derivations reference > docs/variant-reference.md"


def test_reference_lists_every_key_and_question():
    text = reference.markdown()
    for group in registry.default():
        assert f"## `[{group.name}]`" in text
        for q in group.questions:
            assert f"| `{q.id}` | `{group.name}` |" in text
    assert "only sizes" in text or "only size" in text  # the RNN sizes say they size the numeric check only
