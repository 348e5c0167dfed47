"""Variant validation: one test per rule, asserting the one-line message."""
from __future__ import annotations

from importlib import resources

from pathlib import Path

import pytest

from derivations import variant
from derivations.errors import VariantError

BASE = resources.files("derivations.presets").joinpath("fall2025.toml").read_text("utf-8")


def edit(old: str, new: str) -> str:
    assert old in BASE, old
    return BASE.replace(old, new, 1)


def error_of(text: str) -> str:
    with pytest.raises(VariantError) as info:
        variant.parse(text, "v.toml")
    message = str(info.value)
    assert "\n" not in message and message.startswith("v.toml: ")
    return message


def test_presets_load():
    v = variant.load()
    assert v.name == "fall2025" and v.conv2d.input == (21, 12) and v.conv2d.stride == (4, 4)
    assert variant.load("fall2024").conv_general.kernel_notation == "rect"


def test_missing_key():
    assert error_of(edit("stride = 4\n", "")) == "v.toml: conv2d.stride = <missing>: required key: add it to the file"


def test_missing_section():
    text = BASE[: BASE.index("[conv1d]")] + BASE[BASE.index("[gated_rnn]"):]
    assert error_of(text) == "v.toml: [conv1d] = <missing>: required section: add it to the file"


def test_unknown_key():
    msg = error_of(edit("stride = 4\n", "stride = 4\nstrides = 3\n"))
    assert msg.startswith("v.toml: conv2d.strides = 3: unknown key; allowed keys: input, kernel, stride")


def test_unknown_section():
    msg = error_of(BASE + "\n[conv3d]\nx = 1\n")
    assert msg.startswith("v.toml: [conv3d] = {'x': 1}: unknown section; allowed: ")


def test_wrong_type():
    assert error_of(edit("channels = 5", 'channels = "5"')) == "v.toml: conv1d.channels = '5': allowed: an integer"
    assert error_of(edit("channels = 5", "channels = true")) == "v.toml: conv1d.channels = True: allowed: an integer"
    assert error_of(edit("input = [21, 12]", "input = [21]")) == (
        "v.toml: conv2d.input = [21]: allowed: a list of two integers [height, width]")


def test_size_not_positive():
    assert error_of(edit("length = 7", "length = 0")) == "v.toml: conv1d.length = 0: allowed: 1..8192"
    assert error_of(edit("stride = 4", "stride = [4, -1]")) == "v.toml: conv2d.stride = [4, -1]: allowed: 1..4096"


def test_negative_padding():
    assert error_of(edit("padding = 0\ndilation", "padding = -1\ndilation")) == (
        "v.toml: conv2d.padding = -1: allowed: 0..4096")


def test_kernel_larger_than_input():
    msg = error_of(edit("kernel = [4, 5]", "kernel = [4, 13]"))
    assert msg == ("v.toml: conv2d.kernel = [4, 13]: dilated kernel width 13 exceeds padded input width 12; "
                   "allowed: dilation*(kernel-1)+1 in 1..12")


def test_dilated_kernel_larger_than_padded_input():
    msg = error_of(edit("kernel = 3\nstride = 2\ndilation = 1", "kernel = 3\nstride = 2\ndilation = 4"))
    assert msg == ("v.toml: conv1d.kernel = 3: dilated kernel length 9 exceeds padded input length 7; "
                   "allowed: dilation*(kernel-1)+1 in 1..7")


def test_padding_makes_room_for_the_kernel():
    v = variant.parse(edit("kernel = 3\nstride = 2\ndilation = 1\npadding = 0",
                           "kernel = 3\nstride = 2\ndilation = 4\npadding = 1"), "v.toml")
    assert v.conv1d.padding == 1


def test_rnn_bounds():
    assert error_of(edit("steps = 6", "steps = 1")) == "v.toml: gated_rnn.steps = 1: allowed: 2..32"
    assert error_of(edit("k = 2", "k = 0")) == "v.toml: attention_rnn.k = 0: allowed: 1..8"
    assert error_of(edit("[attention_rnn]     # 1.2.2\nk = 2\nn = 4", "[attention_rnn]\nk = 2\nn = 99")) == (
        "v.toml: attention_rnn.n = 99: allowed: 1..16")


def test_hostile_title_is_text_but_control_characters_are_refused():
    v = variant.parse(edit('title = "Homework 2, Theory: Answer Key"', r'title = "\\input{/etc/passwd} 100% $x$"'),
                      "v.toml")
    assert v.document.title == r"\input{/etc/passwd} 100% $x$"
    assert error_of(edit('term = "Fall 2025"', r'term = "a\u0007b"')) == (
        "v.toml: document.term = 'a\\x07b': allowed: printable text without control characters")


def test_unknown_question_and_points():
    msg = error_of(edit("conv2d_output = 1", "conv3d_output = 1"))
    assert msg.startswith("v.toml: questions.conv3d_output = 1: unknown sub-question; allowed: conv2d_output")
    assert error_of(edit("conv2d_output = 1", "conv2d_output = -1")) == (
        "v.toml: questions.conv2d_output = -1: allowed: points as an integer 0..100")


def test_questions_out_of_order():
    msg = error_of(edit("conv2d_output = 1\nconv_general = 2", "conv_general = 2\nconv2d_output = 1"))
    assert msg.startswith("v.toml: [questions] = ['conv_general', 'conv2d_output'")


def test_toml_syntax_error():
    assert error_of("[conv2d\n").startswith("v.toml: <syntax> = ")


def test_load_rejects_unknown_preset_and_missing_file(tmp_path):
    with pytest.raises(VariantError, match=r"nope: --variant = 'nope': allowed: a preset \(fall2025, fall2024\)"):
        variant.load("nope")
    with pytest.raises(VariantError, match="allowed: a preset"):
        variant.load(tmp_path / "missing.toml")


def test_load_from_a_path(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(edit("input = [21, 12]", "input = [28, 28]"), "utf-8")
    v = variant.load(path)
    assert v.conv2d.input == (28, 28) and v.source == str(path)


def test_a_long_bad_value_is_quoted_in_about_sixty_characters():
    long_title = "x" * 10_000
    with pytest.raises(VariantError) as err:
        variant.parse(BASE.replace('title = "Homework 2, Theory: Answer Key"', f'title = "{long_title}"'), "v.toml")
    message = str(err.value)
    assert "\n" not in message and len(message) < 160
    assert "document.title" in message and "10000 characters" in message and "at most" in message


def test_defaults_used_lists_every_key_the_file_leaves_out():
    """A missing optional key takes the default the variant reference documents, and `check` lists it."""
    text = BASE.replace("dilation = 1\npadding = 0\n", "", 1)
    start = text.index("[loss_curves]")
    end = text.find("\n[", start + 1)
    text = text[:start] + text[end + 1:]
    used = variant.defaults_used(variant.parse(text, "v.toml"))
    assert "conv1d.dilation = 1" in used and "conv1d.padding = 0" in used
    assert "[loss_curves] (every key)" in used
    assert not any(u.startswith("conv2d.") for u in used)
    reference = (Path(__file__).resolve().parent.parent / "docs" / "variant-reference.md").read_text("utf-8")
    assert "| `dilation` | integer | `1` |" in reference or "| `dilation` | int | `1` |" in reference
