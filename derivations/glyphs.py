"""Which characters the documents can set, and how: the script of every settable character.

A user string (a title, a course, a student's name) is set by pdfLaTeX in
one of four ways, chosen per run of characters by :func:`derivations.latex.escape`:

* **Latin** (and the common punctuation and symbols): the document's own T1
  and TS1 fonts (Latin Modern), as every document always did;
* **Greek**: the LGR encoding (greek-fontenc, CB fonts of Debian's
  ``texlive-lang-greek``);
* **Cyrillic**: the T2A encoding (``texlive-lang-cyrillic``) with CM-Super's
  Type 1 fonts (``cm-super-minimal``: the 10 pt designs, scaled);
* **CJK**: ``CJKutf8`` with one of four Type 1 fonts chosen per run by
  what it covers (:data:`CJK_ORDER`): Arphic ``gbsn`` (GB 2312, simplified
  Chinese, kana), Arphic ``bsmi`` (Big5, traditional Chinese), Wadalab
  ``min`` (JIS X 0208, Japanese) and Nanum ``nanummj`` (every Hangul syllable).

A character in none of them (an emoji, an unsupported script, a lone
combining mark) cannot be typeset: :func:`unsettable` finds it, so the
variant's ``Text`` rule refuses it before any derivation.

The tables at the end of this file are generated from the installed TeX Live
by :func:`measure` (``python -m derivations.glyphs`` rewrites them): the CJK
fonts' coverage is read from their TFM files, and the Latin, Greek and
Cyrillic sets are what a probe document with the real preamble sets without
an error or a missing glyph, upright, bold and typewriter.
``tests/test_unicode.py`` checks that the installed fonts still match them.
"""
from __future__ import annotations

import base64
import re
import struct
import subprocess
import sys
import tempfile
import unicodedata
import zlib
from functools import lru_cache
from pathlib import Path
from typing import Iterator

SCRIPTS = ("latin", "greek", "cyrillic", "cjk")
ALLOWED = "Latin, Greek, Cyrillic, CJK"  # for messages

# The CJKutf8 font families and the TFM subfont prefixes of the faces a document uses
# (a font is listed as covering a character only when every face has it).
CJK_FONTS = {"gbsn": ("gbsnu",), "bsmi": ("bsmiu",), "min": ("udmj",), "nanummj": ("nanummjm", "nanummjb")}
# Fonts whose bold is not a face of its own: the document strokes their outlines instead.
CJK_NO_BOLD = frozenset({"gbsn", "bsmi", "min"})
# The fonts tried for a run, by the language it reads as: with kana Japanese, with Hangul
# Korean, otherwise Chinese. A run takes the first font that has all its characters, else
# each character the first font that has it.
CJK_ORDER = {"ja": ("min", "gbsn", "bsmi", "nanummj"), "ko": ("nanummj", "bsmi", "min", "gbsn"),
             "zh": ("gbsn", "bsmi", "min", "nanummj")}
# Where CJK characters live (a font's coverage outside these blocks is not used).
CJK_BLOCKS = ((0x1100, 0x11FF), (0x2E80, 0x9FFF), (0xAC00, 0xD7AF), (0xF900, 0xFAFF), (0xFE30, 0xFE4F),
              (0xFF00, 0xFFEF))
_KANA = ((0x3040, 0x30FF), (0x31F0, 0x31FF), (0xFF66, 0xFF9F))
_HANGUL = ((0x1100, 0x11FF), (0x3130, 0x318F), (0xAC00, 0xD7AF), (0xFFA0, 0xFFDC))
# Candidates the probe tries for each script (the CJK ones come from the fonts' TFM files).
CANDIDATES = {"latin": ((0x00A0, 0x02FF), (0x1E00, 0x1EFF), (0x2000, 0x2BFF), (0xFB00, 0xFB06)),
              "greek": ((0x0370, 0x03FF), (0x1F00, 0x1FFF)),
              "cyrillic": ((0x0400, 0x052F),)}


def _within(cp: int, blocks: tuple[tuple[int, int], ...]) -> bool:
    return any(lo <= cp <= hi for lo, hi in blocks)


@lru_cache(maxsize=None)
def _ranges(script: str) -> tuple[tuple[int, int], ...]:
    return _TABLES[script]


@lru_cache(maxsize=None)
def _cjk(font: str) -> bytes:
    """The font's coverage as a bitmap over U+0000..U+FFFF."""
    return zlib.decompress(base64.b64decode("".join(_CJK[font].split())))


def cjk_covers(font: str, ch: str) -> bool:
    cp = ord(ch)
    return cp < 0x10000 and bool(_cjk(font)[cp >> 3] >> (cp & 7) & 1)


@lru_cache(maxsize=4096)
def script(ch: str) -> str | None:
    """The script a character is set in (one of :data:`SCRIPTS`), or None when it cannot be set.

    The character is taken as it is: callers normalise text to NFC first.
    """
    cp = ord(ch)
    if 0x20 <= cp < 0x7F:
        return "latin"
    for name in ("latin", "greek", "cyrillic"):
        if any(lo <= cp <= hi for lo, hi in _ranges(name)):
            return name
    if any(cjk_covers(font, ch) for font in CJK_FONTS):
        return "cjk"
    return None


def unsettable(text: str) -> str | None:
    """The first character of ``text`` (after NFC) that no font of the setup has, or None."""
    for ch in unicodedata.normalize("NFC", text):
        if script(ch) is None:
            return ch
    return None


def runs(text: str) -> Iterator[tuple[str | None, str]]:
    """``text`` (already NFC) cut into runs of one script each: ``(script, run)``.

    A space between two runs of the same non-Latin script belongs to the run
    (``Σωκράτης Παπαδόπουλος`` is one Greek run); a character that cannot be
    set is a run of its own with script None.
    """
    parts: list[list] = []
    for ch in text:
        kind = script(ch)
        if kind is not None and parts and parts[-1][0] == kind:
            parts[-1][1] += ch
        elif (kind not in (None, "latin") and len(parts) >= 2 and parts[-2][0] == kind
              and parts[-1][0] == "latin" and parts[-1][1].strip(" ") == ""):
            spaces = parts.pop()[1]
            parts[-1][1] += spaces + ch
        else:
            parts.append([kind, ch])
    for kind, run in parts:
        yield kind, run


def cjk_parts(run: str) -> list[tuple[str, str]]:
    """A CJK run as ``(font, text)`` parts: one part when one font has every character."""
    chars = [ch for ch in run if ch != " "]
    cps = [ord(ch) for ch in chars]
    language = ("ja" if any(_within(cp, _KANA) for cp in cps)
                else "ko" if any(_within(cp, _HANGUL) for cp in cps) else "zh")
    order = CJK_ORDER[language]
    for font in order:
        if all(cjk_covers(font, ch) for ch in chars):
            return [(font, run)]
    parts: list[list[str]] = []
    for ch in run:
        if ch == " ":
            parts[-1][1] += ch  # a run never starts with a space
            continue
        font = next((f for f in order if cjk_covers(f, ch)), order[0])
        if parts and parts[-1][0] == font:
            parts[-1][1] += ch
        else:
            parts.append([font, ch])
    return [(font, text) for font, text in parts]


# ----------------------------------------------------------------------------------------------
# Measuring the installed TeX Live (development: ``python -m derivations.glyphs``; the test checks).


def _tfm_chars(path: str) -> list[int]:
    """The character codes a TFM file defines (a zero width index means: no such character)."""
    data = Path(path).read_bytes()
    _, lh, bc, ec = struct.unpack(">4H", data[:8])
    base = 24 + 4 * lh
    return [c for c in range(bc, ec + 1) if ec >= bc and data[base + 4 * (c - bc)] != 0]


def tfm_coverage(prefix: str) -> set[int]:
    """The code points of a CJKutf8 font: its subfonts ``<prefix><plane in hex>.tfm``."""
    names = [f"{prefix}{plane:02x}.tfm" for plane in range(256)]
    found = subprocess.run(["kpsewhich", *names], capture_output=True, text=True).stdout.split()
    out: set[int] = set()
    for path in found:
        plane = int(Path(path).stem[len(prefix):], 16)
        out.update(plane * 256 + c for c in _tfm_chars(path))
    return out


def _candidates(script_name: str) -> list[int]:
    out = []
    for lo, hi in CANDIDATES[script_name]:
        for cp in range(lo, hi + 1):
            ch = chr(cp)
            category = unicodedata.category(ch)
            if category in ("Cn", "Cc", "Co", "Cs") or category.startswith("M"):
                continue
            if unicodedata.normalize("NFC", ch) != ch:
                continue  # escape and the Text rule see text in NFC only
            out.append(cp)
    return out


def probe(candidates: dict[str, list[int]]) -> dict[str, set[int]]:
    """Which candidates the real preamble sets: upright, bold and typewriter, without an error
    or a missing glyph. One pdflatex run (nonstop) of a document rendered from the templates."""
    from . import latex, render

    env = render.environment()
    body = [r"\tracinglostchars=1 \tracingonline=1"]
    for name, cps in candidates.items():
        for cp in cps:
            text = latex.wrap(name, chr(cp))
            body.append(rf"\typeout{{hw-probe:{name}:{cp:04X}}}{text} {{\bfseries {text}}} \texttt{{{text}}}\par")
    body.append(r"\typeout{hw-probe:end:0000}")
    context = {"title": "probe", "course": "probe", "term": "probe", "scripts": ("greek", "cyrillic", "cjk")}
    source = env.get_template("base.tex.j2").render(**context)
    source = source.replace(r"\end{document}", "\n".join(body) + "\n\\end{document}")
    with tempfile.TemporaryDirectory(prefix="hw2-glyphs-") as tmp:
        (Path(tmp) / "probe.tex").write_text(source, "utf-8")
        subprocess.run(["pdflatex", "-interaction=nonstopmode", "-no-shell-escape", "probe.tex"], cwd=tmp,
                       capture_output=True)
        log = (Path(tmp) / "probe.log").read_text("utf-8", errors="replace")
    good = {name: set(cps) for name, cps in candidates.items()}
    current: tuple[str, int] | None = None
    for line in log.splitlines():
        marker = re.match(r"hw-probe:(\w+):([0-9A-F]{4})", line)
        if marker:
            current = (marker.group(1), int(marker.group(2), 16))
            if current[0] == "end":
                current = None
        elif current and (line.startswith("!") or line.startswith("Missing character")):
            good[current[0]].discard(current[1])
    return good


def _as_ranges(cps: set[int]) -> tuple[tuple[int, int], ...]:
    out: list[list[int]] = []
    for cp in sorted(cps):
        if out and out[-1][1] == cp - 1:
            out[-1][1] = cp
        else:
            out.append([cp, cp])
    return tuple((lo, hi) for lo, hi in out)


def measure() -> tuple[dict[str, tuple[tuple[int, int], ...]], dict[str, bytes]]:
    """The tables as the installed TeX Live gives them: (Latin/Greek/Cyrillic ranges, CJK bitmaps)."""
    cjk = {}
    for font, prefixes in CJK_FONTS.items():
        cover = set.intersection(*(tfm_coverage(p) for p in prefixes))
        bits = bytearray(0x10000 // 8)
        for cp in cover:
            if _within(cp, CJK_BLOCKS):
                bits[cp >> 3] |= 1 << (cp & 7)
        cjk[font] = bytes(bits)
    good = probe({name: _candidates(name) for name in CANDIDATES})
    return {name: _as_ranges(cps) for name, cps in good.items()}, cjk


def _table_source(tables: dict[str, tuple[tuple[int, int], ...]], cjk: dict[str, bytes]) -> str:
    lines = ["_TABLES = {"]
    for name, ranges in tables.items():
        lines.append(f'    "{name}": (')
        cells = [f"(0x{lo:04X}, 0x{hi:04X})," for lo, hi in ranges]
        for i in range(0, len(cells), 5):
            lines.append("        " + " ".join(cells[i:i + 5]))
        lines.append("    ),")
    lines.append("}")
    lines.append("# zlib-compressed bitmaps over U+0000..U+FFFF, base64, one per CJK font")
    lines.append("_CJK = {")
    for font, bits in cjk.items():
        text = base64.b64encode(zlib.compress(bits, 9)).decode("ascii")
        lines.append(f'    "{font}": """')
        lines += [text[i:i + 100] for i in range(0, len(text), 100)]
        lines.append('""",')
    lines.append("}")
    return "\n".join(lines) + "\n"


BEGIN, END = "# BEGIN GENERATED TABLES (python -m derivations.glyphs)\n", "# END GENERATED TABLES\n"


def main() -> int:
    """Rewrite this file's tables from the installed TeX Live."""
    tables, cjk = measure()
    path = Path(__file__)
    text = path.read_text("utf-8")
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    path.write_text(head + BEGIN + _table_source(tables, cjk) + END + tail, "utf-8")
    counts = {name: sum(hi - lo + 1 for lo, hi in r) for name, r in tables.items()}
    counts.update({font: sum(bin(b).count("1") for b in bits) for font, bits in cjk.items()})
    print(", ".join(f"{k}: {v}" for k, v in counts.items()), file=sys.stderr)
    return 0

# BEGIN GENERATED TABLES (python -m derivations.glyphs)
_TABLES = {
    "latin": (
        (0x00A0, 0x0125), (0x0128, 0x0131), (0x0134, 0x0137), (0x0139, 0x013E), (0x0141, 0x0148),
        (0x014A, 0x0165), (0x0168, 0x017E), (0x0192, 0x0192), (0x01C4, 0x01D4), (0x01E2, 0x01E3),
        (0x01E6, 0x01EB), (0x01F0, 0x01F0), (0x01F4, 0x01F5), (0x0218, 0x021B), (0x0232, 0x0233),
        (0x0237, 0x0237), (0x02C6, 0x02C7), (0x02D8, 0x02D9), (0x02DB, 0x02DD), (0x1E02, 0x1E03),
        (0x1E0D, 0x1E0D), (0x1E1E, 0x1E21), (0x1E25, 0x1E25), (0x1E30, 0x1E31), (0x1E37, 0x1E37),
        (0x1E43, 0x1E43), (0x1E45, 0x1E45), (0x1E47, 0x1E47), (0x1E5B, 0x1E5B), (0x1E63, 0x1E63),
        (0x1E6D, 0x1E6D), (0x1E8E, 0x1E91), (0x1EF2, 0x1EF3), (0x200C, 0x200C), (0x2010, 0x2016),
        (0x2018, 0x201A), (0x201C, 0x201E), (0x2020, 0x2022), (0x2026, 0x2026), (0x2030, 0x2030),
        (0x2039, 0x203B), (0x203D, 0x203D), (0x2044, 0x2044), (0x204E, 0x204E), (0x2052, 0x2052),
        (0x20A1, 0x20A1), (0x20A4, 0x20A4), (0x20A6, 0x20A6), (0x20A9, 0x20A9), (0x20AB, 0x20AC),
        (0x20B1, 0x20B1), (0x2103, 0x2103), (0x2116, 0x2117), (0x211E, 0x211E), (0x2127, 0x2127),
        (0x212E, 0x212E), (0x2190, 0x2193), (0x2422, 0x2423), (0x25E6, 0x25E6), (0x25EF, 0x25EF),
        (0x266A, 0x266A), (0x27E8, 0x27E9), (0xFB00, 0xFB06),
    ),
    "greek": (
        (0x0375, 0x0375), (0x037A, 0x037A), (0x0384, 0x0386), (0x0388, 0x038A), (0x038C, 0x038C),
        (0x038E, 0x03A1), (0x03A3, 0x03CE), (0x03D8, 0x03DD), (0x03DF, 0x03E1), (0x1F00, 0x1F15),
        (0x1F18, 0x1F1D), (0x1F20, 0x1F45), (0x1F48, 0x1F4D), (0x1F50, 0x1F57), (0x1F59, 0x1F59),
        (0x1F5B, 0x1F5B), (0x1F5D, 0x1F5D), (0x1F5F, 0x1F70), (0x1F72, 0x1F72), (0x1F74, 0x1F74),
        (0x1F76, 0x1F76), (0x1F78, 0x1F78), (0x1F7A, 0x1F7A), (0x1F7C, 0x1F7C), (0x1F80, 0x1FB4),
        (0x1FB6, 0x1FBA), (0x1FBC, 0x1FBD), (0x1FBF, 0x1FC4), (0x1FC6, 0x1FC8), (0x1FCA, 0x1FCA),
        (0x1FCC, 0x1FD2), (0x1FD6, 0x1FDA), (0x1FDD, 0x1FE2), (0x1FE4, 0x1FEA), (0x1FEC, 0x1FED),
        (0x1FF2, 0x1FF4), (0x1FF6, 0x1FF8), (0x1FFA, 0x1FFA), (0x1FFC, 0x1FFC), (0x1FFE, 0x1FFE),
    ),
    "cyrillic": (
        (0x0400, 0x045F), (0x0490, 0x0493), (0x0496, 0x049D), (0x04A0, 0x04A5), (0x04AA, 0x04AB),
        (0x04AE, 0x04B3), (0x04B6, 0x04BB), (0x04C0, 0x04C2), (0x04D0, 0x04DF), (0x04E2, 0x04E9),
        (0x04EC, 0x04F5), (0x04F8, 0x04F9),
    ),
}
# zlib-compressed bitmaps over U+0000..U+FFFF, base64, one per CJK font
_CJK = {
    "gbsn": """
eNrtmXtUE1cex39zMwlDGPHmIUZaZQivUF0NFBShlSHENuCjaQGLWmugtgu2x7pIj1W6zeURGkFqTF1l7bomtipSbX31YV1LpBZp
7VaoFnHbLbEo2q6KFRU1wuygeLrW093+s3/s2XzOmXPvOb+buff3/f5m8ssJgB8/fvz4+X9knOC7OfYLtxn6L3MreAcGyb+/x3+K
+/Hj579DtbXEuvvBnO4635yedBTE875JNb0lY5YLC653Jo88V4e6yg9fXp6TaPK+JexxzmzXvOXUfX+MI0kHyi9nnpZPhu3qNfmL
Idveyqk57GkODweoU9EsEJ72LNQxHoYGBEBKRhepI5f4UmLuPxmaWNud1LoW6VR1hQ2Hn24ap3j203eGJmSZN1TSLhkVeGZoarDH
Lp9cioFqynOfiJ5ihC/qD54/2vHZXltxMrfxuXTeLkv9snqJ0J0yq7f7zCHf+NkZQ/ruyabOT8xpf2Fse0PolmM9DVe8v2V3N5ap
mHVHq1tmyfLwxWLvzPUrlLsI1M/Xxz+5fem6rRbJEfi0Vj+jChY6VOowg8biYYAhBAPtODtcd39XbgA4mN7A6bZL5Tey3mnWvKRh
mY75aoptTtiscOGYT3Rag4oOB6xXpnEa4EcjtgkkgLWgBZybgVa5Fq7eft45fPWhi9IoyI34NupzQ9JhOpNn1yfqFFB1XSVfGYtm
4DQZR1fQFyoARO3oMWkyZbZiilxUDnlEl1YBBXsbXgoZHbn39TqrlV3SeQkP8canUesfqyxK3I2VQszhCMOzHlQpizsSxibXu5UM
jYqiKOZz3mxqyccWci/EwloxLRAPBgQ4Dgq6Dv3ZsmDlolSPpWxiAtabZPDEvtblvrYT3Jl0kE1nQNpyIKymftmJTSiEgnPhM8ZX
h74ftlGFnnbpX9x5MOK157TfW08WJ3eu4GqDdVHRf2rIaNDEZ2/N2BMywsJq393vmylL7+QqjjPihjlaroJyA5gwR1RicQwJAR44
wvedrhmfXeutLhkV2Nyf8aVCdr5mwgjth5cW/3392Z6/XahMN5xNraGjn7se7nk1v5G1HZtMbVv8xxzzd5P5oOhsd0ztiNz0BPzm
Rak6jWghYDc8Y8BF7mFRFltatqgchWiKa154iHstf/5UzR+AaKrX7qyn4pe2H4BTPR/T044mbXC7i8zy2hsVj+1vNa7CjRxJwwbx
o8k8WvclNW5HHb8vPnLakSktEZu3tTjl7he2bvueCiVhi6Oc97jcHZ9xSLZ8kfXxFBCCWmA+scMBdyxI74uUBvIRIdoCKVFwig00
OOZlmMpUX0XoR5BYJ4OyFXaKo11Ak1Jk01ocQAVpASkVfDlQoXc+o+uh4qFmJaAbNIR+O3Yqi+gPSHTdDTlartN6XSUr2g4mhh+U
7biqCsjJX/DaiKrrC4J9+pBrpnF//cfvnbkV011Txy794dyoGRlNDkVkVvKZrw9Hlv6oMTyVlVsVyhUfiUypV0s1ltxlYAJPQRm1
8s2KtjGV9g8PLJZgZCxLAsXbmbxHB48aLepheBHgMjAhKZLxkoHSBMQywCFwiHZ+kNca/lBxPFytShkqheqWvaIjssIAnqQDlw3m
ljQ2ClfgckqhQwyvBzcPiAfgYFjnWyTOWN/UGNmk2koT2N4qGZVnM0h61o+UG8+8GP2k82PgbEBtB96RabDTn9Ww0s0Sg1tLQ0El
xc7LWYIRuL4Fbj9fbaLMRDJQ5rR5jqeFYJd8Dbf3nWnhx/EoC60uN9nbNqW0py76S0xxxjdDVM7Ranf1C2MntgbqzWbGDoVHMzIR
5kPIvFPHlnGekCznaKic/IZ3WDVI2AUj4Lu4hTKyMSS2TixdzdalphMB8W3vnolfOddtPsXBSwSToqp19RBm0AbHIVCsorXA8Bjw
E+mS5hsb3UR6f4XoODALptwXXdpeT8VOK3AYA8H+IQ9lopatr8wO79qRF8eIS/jGQhdsyq2Jz/zdHHmOa+3jv5HymzLDuR36plQl
1Yjl0fnGMjOp5YmHhlIJN+CFJgnQph8TjMFFGxK9TqoUAgeUsNkHC4kntwb+rq8BpmxwIi63Cw3dpwWhQejuFvoEX3+D2MdJE2CX
TfZwiAFl45NOIt2lzdaXPmUI0pQkXVadCvhhy9QH1FKQIXI81LRvwvnVl+Yu9Ly8s2FuorFr7mRwPJTGj0yRufNV/VIbmmiSMuwj
anGjBE3uYv2w9uB9vimOKrDB/pFd6nOVu4qE159y9n10vMTulPcf2Xkv2bN0+Kdlw7/xCWSixcDOpIZ2THhjlXlHhCwgYtZVFHeB
QnGifqPkyfOlFbOJEhH1ZmX0FFchphyAqyqQhqQyAbwBU+rp2wlo8CelCJXFYrFo7BwYgIhOgVdlpHNRf8ADOn3tmkV06xeqQzg/
LL0mZmvOWIOzmWTZ0UT+0RfHxNoJ7NFFprHBTLgRDAxdwMiAVsbpHWjSbJt3fKwRq3Vl+BlDQvkD1D1ZND0kWMs+CkoAjyi7PXNQ
5ysdD2cX2BkoHXRGfMHffJhAxtxhDLkZHFyEB/vl7r5eqyB22T6xt+4TjRIEaFRytIxlAiJDMPUzb723+vEl1g7dNYhnlYSB5K9y
2xvPatbVjeNWYy/bpo1eM1SG+J05jg1EYYZamoa7awQ84n793b4OJig9/720FF/x88sirG8fO/uw1zJztWtF4Jg8vWtIYP1904+W
PLLzQHVS0xacJ9psYAlCpn7bvEltvZ2u5ACWPamnyRWE794B30p24LozC/52cQK5Xaj83XFROq+w72a6VutpnyhMrzjtflno7ei9
0iFW8iPkjrt2i8uE3vdkxpc/uJwSZ189/BJYtqxUEcgo6rkYCdQrzYYjnSYzRErTAaZmxqBczOlCqMA69S09JhX8XGpBeP/rvt6b
Jxp7kAzkwFGDp9NDndC7u2ebIOGoX2jGLviE3nWH+xqoj4fFaOSlhjqQM6UMYQit+egN5a9p5xxdhRO+EZ4VHrx641oP/etaQPJ8
w/nT/R0b5rSnBnkqAlkXD7gQf6fcs7ESZkHBMiR1kPkYbv5II9fC4FXK3zb78ePHjx8/fvz48fM/zHUh7BciP/2XI1h/HhstXv8E
fMV2FA==
""",
    "bsmi": """
eNrt139wU0UeAPCXllLOWgOHHIe1hlNPzsOhaMF6lPJ6Jwx4oqh4VKQ0RWaoim2ASmObJgsWLepJYTxAaWmYK8qV0galbbBp8soU
rVBKirUNbZq8QpFQ02SbpslLsnn7vTj+uLnzzpm7++dmLp+Z997M++7u7H7fvtldhomKioqK+n8khbRcGvuv40MQEfvvtTnlx4Jt
zJaYyGNq5j3R5EdF/ZfegsL2zOelSSdGVnqZmClt2cVLzhcVr5jMp4wJi2LhL2mYvWvSybXieS+A1h4EqBPUTNvoHs5thdju0LIr
Icpjrm6qE46HWSzeXf9KEbp5DFx+c+i+oLDZKcq4/cpNHEfSG2mD6uq0nR+Yfrvw1vZtW9T7tsYym+d0Zpm3PLAcJw5oXg5Ppo1G
LXv+rUc0zDMVd446s9802HKxo1l69J1xQ1r104926ypvPfuFcHL+rTdNSenerYGUWQMQTzzIqcKfTGXgPRAtxXlxDugUoT0zU1Ds
MYb4g5PaJmCdyuXo1kwaCmhhiZ6q5+0WAZlo2Vl/llc8vaNPjfOydi9XA98OY7VpQ+rwFgV7aPTUyp2vV7PZtkRh1ooaGs+s0cFD
ie+exhmZufqLlxfu5bYBK6BpJQYB6hgwKRbXbqPYnOTZbL0pfL1dg6sqp/pXjE38rIm++uSHHYYZ5QU8Ya91bYQzGo1TlKtVShpO
OPCV9d7nbqzm07Doe3Cn8eeDxvC1zwEs7BAoUEDXUNlfQHwzPLXFxLj4WV19i/WELLy1uEwolbcDnxd3CPJ2LZjxFu8NFqYahdty
Mjn2CIBT0sbbzMz2nrr2QJ9bfBj0upw5vztR+brfMqfVXy7oF3YdL7rieER7NfvpcR079/KG9PBpgxnUqv3c0O2iGh72yyngnotn
m99urR/c6Jy2lu++q9Fk9TpkHdaNcC009yNhY7qrpV5CQSNAaww8kIHDELeDKH2tiRIBCCzishjgVVht3G394jMvlLrc62FNokZ+
4gCgXjebeSaocEClUrmHK1h/zayQydEQT60WKmFARb4AXsYEACqIimG4bATgjT/idGRwgoVwEJsrgoszYBSTSUUbiMGrCc/LyDAR
dUe1LkFdIg2Y3L3S9QataB0PpiN6wflieagwvD+s1U4VQnpbl0ET6Brd5GUXi8CeFEY0kxsOTKZFvRb5JdZbE2/WKy5pl6K1KltP
us5Ya1YvgiHi9EsaAUIlnJ5pE6UIZBCmsJ9hBps24iUsIkkMc8NPcDV/Wgss060Cn5UHdkzkmNm7jIY03g754JWuzCU5BEgoh86K
mSi2B4VjIadTsgB6nIXYostsM2yDQeS5nDJ6OoHW2BJkyRXm5XM/tIMbFQ7A3Wc71wvjneKoqzHI2R6zvfc2QQaVjtjWnlsVbgoN
6+T5AGqWecUK0AwaHUmJqYQO/H5kCY5nmA4QPCAiTsIMtoo+DiCS1CX3MowJgghIgUaEzupYZthG4ALvj0SnMYHIeByLLZhiPqGN
c/G0S/SpxEwAuZ6H+UGeHBz00nGOr+B4NPO6C0lXLyxdqin/aciwbMhVrZy5o5/7g+YNu+LM8kn2kvUCZMXdK7y+n546mOIF83at
sHUmcS+Y5b6QtgH3aVfiij4bKVThfGq5/yjKsRxcJ70MZYcvqkbvhMGMonLs4F0irAofUaaHra6MQVSr2OIjbOZ9CNCurFG9vep6
yrhT2tTr1DlcKX8cA7R67Mbhj6FpE1Q4dvZPNZVWnRm+VJU6p/XmfNCH9ZiP/CkJnIpCDbvwwvSug2lFc0if+SXNE6P3u0rzbg+H
/Jy8RZrSUF9D0Vj4ZTsGZpwjf6a6DGj9k/9jeb23gn1pXHYEAyf5lTJuy0KIHSCfhzo4Njl7EaSO6vRV9MGntCUh7k6HoIWwISW5
ebJLTLaoeXyXc5OnX9OWmJHB8cvOlbVcUncfLlcVmr1aX3siTz85dXNMWfGNtobCDqlCLbI/8UCWhDwHkkbRmz795EcP9+TMB5Bq
nZjGjmP2DVKb9l510H7fsdQ0/5mGnUvo7MhEea3X8sLX2694qwLgLOq/iKUmlSdnzOzXg5CzC3da+FumAIRZd6TQdLBIdSLqMIZk
P1wlMh0PGVODTuSiN1BRqXAKg47qLyuAIyQgWJ+aGbz62WvLt+/di4cnqvPZee4H41oFL1IdYVFeXK7T1CLZdDnMPiOc58u7uCPQ
tY6jYvMxjJVVvJ5VBuYcDuubzmP+WdLs+c2oDEdaRYkMHSBG9Diktj3r46iWA3mkHwHxPIgK0Sw5Avw4icw6GKDSKVNagBNLLG4n
CeYtHXoHDvJZWoHyU3bwkUQCFQjEPk/yQpsBXZUDFAJfThyi85ig4Tqw945XeSjS8OeK1QMmXHnHUClRmsoJQJIVstmhVYBukYOS
s60a+zqTAamphhdvD4ugllUTMA7aFSxpQTwmSerReXt0wrhU5TYfSP5UGU998Go/j67nQIeb4uI1h8wgpzn2gjduBHMmzl6XMKUm
lM7bDvfikRMLVtsLfcKjq1RQTU8XLCeJy0Cso8QyAjbBBUi0OTUOM+hHjPvw9vWllh9+nx0hN3gaizicomzmlJxWBG5/gx+2pyPf
seBN35XqJra5qX50qE4M910POjmel02IH0SG9XuVV4+CFJqzk/0IvlTJJt0dZ6oODlvHeawAsbgv3Ck6AX87Md5dcWXmjpdfpAzK
94jotJfKhoo8B9ys6m2nCFB/qhPvQleOPzbGsRxLwWkBHpCZgOs11tIaDw1SqhO5IhwypA2ilhpoFtYEcnnHBuBXkpPLwKUOsSAL
3wagG+7pKOOziBoDfmV6GxXkhgXDOYmCH1MLxxz2CYL9ySE4R1GsRI45j/ZYbjIGj/RHdzs7Fj9GZP2LVMN0hEWD7Dcvn5D54k3J
4aTgHa2wNagwrTuQlVQJKAzzyh06n3OVV+R/6RhMWLp+eZZNZF17lUj92ZuhUND769mPYvCZi3vq3k8oESqIcc+3GfI+Lmbdxuw+
0fB0Uf1M6PoIUiaOrwNrzDcHmMKvguy8PSEwtBb1AHVv0xg1ggMJ4kXfd52vrbR2HEX7zgcuakrUjg5jZ8OgRiyq6NnnLf1SkrJS
6cqtscYHcoTknb8Y2lw1f1G6PbQa+dq7NrTE/93Z6x5qCsY2OfOHO0dSquxcmZarE2S9wOsp3yBi0JDI7ThX8Lcas5u7ULXp1HOe
ZxI9KtEzIpraP82XZwC8YIYJQgaFVczstGkzotvmqKioqKioqKioqP/M/P+FThCQ0X8eofA99I+xuZHrrzASatc=
""",
    "min": """
eNrt2XlQU3ceAPAoIFoVPKrWUohgW61U6ArFg4V4Vq1SpCpYFYL1QEU5RIgQkkeLUo8i1lbQIsSKgnKYyq0xeSgiKkLcIgQIyeOO
COQBOV6Sl/e+67bb6c52Zv/e2c1n5jfvN7/jO7/jj9935jEYFhYWFhb/j3BgTfnHl4bf2R/7o44cs5yQhcV/LxQhqrcPhWWiL7uI
SVbLHuxF9CTHuH4cNjiCszrxl/ag8mJUkUg9CTCheQD4gOFWL3tMCGSIWVWHdRoaAxo5/AYuw9OHPDnO3B42Zlsq3ifWc3Xm7n2f
YVwdnC6TCADEF44iXQE8Gp+LsEB3VBQRr9oHYeBHO5euxZmVkmEF9xGaU7SYzjJKNAhZoidhFtRGigegAHUHnJXNDh9F6y6v2JYX
g1MLF4JZDYDbOMHEwmo4wlWoxla9iCQruWTYOT2cBVkYY0wYsVqr0UQzGM8iuJryOt4OBqMFk2YTF5E1Sabt2Yp3xlZ1hapkExnn
QcQ2TV3HRr1sRrI+6uvltm1yhzNAHpDmCtAIMUVc6u/V2jL0uEhp51CpF8ya4PykNXFY7jJC8FhzXjVeW5xrJamoTZ/4XmNBRevP
azfYsctjgfBqS/Pdk81jSQC/31KN4kJI9HZKHMyvHEkN2e7O1Bvqm086HLFrupO3a4pmuvPqQc+kZ4zxfsoTU9yowMz7b4Z/Evqh
lUPVgvc9t65wfYugjtW56kgg0UQNZECxAifquL16ePowmBsGu4dcA1FNjG/ShVlX/Jl08JU3jrtYqYI+fLBfn9b+xrSrG4PnnZ9V
vv5RtqNP/oltFxafTPALJzdIwuuXxAmd+4d23dmuaXXi8SDzWcebOp9XnZ9hiNndQa5QAimiSY2xJFbujUlQAkWlMRng4FHpjcXM
gkhxUg+FaoQLrKUsIhdFc6pCEHqIsoV4rXQZCMcAS0qAMsVRM6pH5quKWqFVcAiruI2sDpKC87C6+IUuk4OYpQ2OBRgXCZ7d+ane
sQ++WD77Fa0lgGWlpYezWRuSk4Sh+hBaPLuDqxdnyWKlAJ77udXIO66BibbLcxUBsRXRPdaPncRnrm5beOMrdzyBO9lUzq+wgXJi
0OObbeRO5SjcyCG6698qe+9WUJ6INGQV8+VNZ1QeixsUBH8YgDyPKFNIGWbEMrm16Nb9XnJB4ybJih1iuDlgMNXw2nq7GrmjiBZa
itsGWGu/Bm+kVsBp/gWevsNo6UpBmSIkFhWdfEwo+T+1iHFVpFMUChUFVJhvDEidImy4Be9+UslHAAXbPXGzu/vTFfm8ut3X+t1e
uV+WqJn+OnzYP+xMs7XdffnBZMPCdof+z6Zzzedm2P7VnFL7MvNSD/44LrgAa1g6wHPreOL4Ok58ws7Upy2nv/bsFpxuCTDU2w6W
0SeKgiPVHpRg3DomxJWDrxBjMs61n23okEaQixhJzabm76ZfC6AdGD+Ulowo9g1wMNLptv18NZhWs5fgSuO3Tza+tPl5fcn1noZC
FJaFMgw/DARWJEz2k/i3uiRlQ+DI1FgsHjtO1oRPw20+qp8uD4/rzr869OTchc/fYi/ataRlV/SXn2gnTjFk2jJSE0qmMMa+b/hx
SuCqG6umdoX0Buo2M1xuX/A8a/Od/SOHHVR6Z9Qc+f25pwqniGMBbz0MaXXpZMaXG8efGAlcqfy898y8RReR0g+fkaWYfnBJR03n
EyyPSX7a/7e9boV398LGLwf2FePkuLGTjgKSIp+fSytw/+UDp21lUum8fEbGbIVCKss6FqVuIgVSaIUMmrglh74Gltdfx/sSoC2V
C35hNgvQQyZw8WECc8/35UQQj4w/IKH2fpcXgbxoI7cG7Whklypju4c5vT0P28HRsW/qsSMPr2vDTSddcpWU3mH2niNec/DQsuOV
AdZRDoo3tzzQ3u39scLd3MVGvm280F5Yvcm2udN3kVmTRlLXXY8rPcwJSx9IHfCMtLhe8LWanYoUY8kvK4DSdBYL3aJVyGS4P6H5
QLYB3CSR6Gb8Req0un7gXu0mOXNG9Kj181cEzC3l+BCC527R88xBmCn79IBjm2p9KQKiIwuPNOSXPSEOSOkylZmoOX3UjxIC4m92
14Oxjq9eEymMED2ln5kBN5tzORw0zs7DPs8gNarVpkOxqj71BLKBQHh/fiWWU5XDrDtkZF73ENV4NES1pSS8yfNkuHwyTVKg2Rxg
pAOsV9cE/QRdozvW8fokM223jWgjPTrYnEH7quBL510DO3aiSd0D33+D1B/gOa7yGTqM5+MiHwSEhALGsc22xscrKxRDzf2ZEYFC
EgQQykCVUNQWAf5VRjsjLBb3wRgG4+Yd3b5EqGG5dOQ077g9Jk3m3WZeMNYm3cWjQ/WICTS52Gu8zy8r82aCDN0wM+lFxr36TaIm
+l7ilQ1SnGAKk9QaQaZIB8+JFLVzWfS8x0rdIal/ytUVZWtDKULwY5cdw+fgjDYhmUweLFfeGWUgFM6ULahOpz9IuJHDrQk8Zfa+
WZ1qWDDY6L833bGwQXpQjWBnd4U5IYgamBPzXtl+8BCb4VfSwzL7kl9/hcY0aw9zOieH+SPFD9vZg2LzU6ExqzudKh3D0H78csH2
HHET9PPumRIHdkM8noArqbt4Lampb2tHabPsGNlE7GykVy099TlfsxNbVymL8Tbzmv98P0mqLkzkHsLaz+7hO3IzQIECfpDPLrtO
3RUqxv8+ajghM8nrvbkP1l8qDOlVjN66m8X6+Uja5g6pNTk3A/5iYhYHOUncWBEptOtGUjzz4qQDyUhRBkUOEAYpjEpGfH8LYyA7
VQrOIZY1D9dEIkYSTyPoRgmNcHGNrgLFciZGnkB23d16TeR1c6Qj1rkpqKhL5nUS2u0lXvfs1RFoQCCFiHFSDiZ9911NHBJ9rNEo
o/Dk15lIN/lBmFpw++ZDFDcWlYg4kwVrfvIgADNPOudKBN/Wc7W2Yq1fGzd6nIlVp9GPSXLP7jZ+M/Yxv2jZDDel/VDe8Nv/MdtJ
WpUF27vBewv9mIUQnN8ao+KazqKzKpuM/C0UxcdHUWMtxtTw98GktFo7SvUpP9vGfndI7evEJrINjcnvlPnF82UmJJM7vYNOVeuw
IK5BHP/cTPsPXnb4LeJQY2riVMZFtXpnVOEsoGRf+PJV3Ar5mF87qwpCo1nlCVYsOJ64eMC3xX9l1oH+FWjiaKGn3T+XqYuV77gP
rRQtuYVw1wiGcImvr3HU7yBVmWxUYz33kQx5da3spiRVmLcVRdi0ShVhqlVQp/x7J/zrbjveVox9tiHXuC7L0UzbOIyysmt2tvQN
2kxTegmUKYZHna8cw46vDuP/MWMOiraq+6OIpdgm48fk7RFC9G01nF17OZ02PTP3Sgn8XcYVIsrdkjZbWFhYWFhYWFhY/E9KwH79
kYO/Lqx/75v/uvwdoSEUQQ==
""",
    "nanummj": """
eNrt2TEKgDAMheFnF8fi5lav4dbV03iEHsFDeS0xFqSog44u/T8ohJA2kCVDJQBAjbzZ2ihqt8Lf4tSfVVfG0vN+zgTJuVzT5njR
1sXho18o7yzTyPQBAAAAALUwAMBvPGsHQAXef26kOZ8DUuawIw==
""",
}
# END GENERATED TABLES


if __name__ == "__main__":
    raise SystemExit(main())
