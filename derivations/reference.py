"""The variant reference (``docs/variant-reference.md``), generated from the registry.

Every table of a variant file, every key with its type, default, allowed
range and what it changes, and every question id, in the homework's order.
``python -m derivations reference`` prints it; a test keeps the published
copy in sync.
"""
from __future__ import annotations

from . import params as params_mod
from . import registry as registry_mod
from .registry import Registry
from .variant import Document, Meta, presets


def _table(params_type: type) -> list[str]:
    lines = ["| key | type | default | allowed | what it changes |", "|---|---|---|---|---|"]
    for row in params_mod.reference_rows(params_type):
        cells = [f"`{row['key']}`", row["type"], f"`{row['default']}`" if row["default"] != "required" else "required",
                 row["allowed"], row["doc"]]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return lines


def markdown(registry: Registry | None = None) -> str:
    registry = registry or registry_mod.default()
    out = [
        "# Variant reference",
        "",
        "Generated from the question groups' parameter declarations by `python -m derivations reference`;",
        "a test fails when this file is out of date. A variant is a TOML file with the tables below.",
        "A missing required key, an unknown key or table, a value of the wrong type or out of its",
        "allowed range is reported in one line naming the file, the key, the value and what is allowed,",
        "with exit status 2. A key left out takes the default shown; a group's table may be left out",
        "entirely when every key of it has a default.",
        "",
        f"Shipped presets: {', '.join(f'`{p}`' for p in presets())} (the first is the default). "
        "`python -m derivations variant --variant NAME` prints one, comments included.",
        "",
        "## `[variant]`",
        "",
        *_table(Meta),
        "",
        "## `[document]` (required)",
        "",
        *_table(Document),
    ]
    for g in registry:
        out += ["", f"## `[{g.name}]`" + ("" if g.optional else " (required)") + f": {g.title}", ""]
        if g.about:
            out += [g.about, ""]
        if g.variation:
            out += [f"Per student (`--student`): {g.variation}", ""]
        out += _table(g.params)
    out += ["", "## `[questions]` (required)", "",
            "Which sub-questions the edition asks, as `id = points`, in this order (a subset is fine).",
            "", "| id | group | question |", "|---|---|---|"]
    for g in registry:
        for q in g.questions:
            note = f" (not together with `{q.alternative_to}`)" if q.alternative_to else ""
            out.append(f"| `{q.id}` | `{g.name}` | {q.title}{note} |")
    return "\n".join(out) + "\n"
