"""Per-student variants: each student's own numbers, drawn from the student's id and a course secret.

Every question group that declares a variation space (``QuestionGroup.vary``,
documented in ``QuestionGroup.variation``) gets new parameters for each
student; what is asked, and its points, stays the base edition's. The draws
are:

* **reproducible**: the same base variant, student id, secret and seed always
  give the identical variant (the same TOML text);
* **private**: all numbers come from key material
  ``HMAC-SHA256(secret, "<base name>\\0<id>\\0<seed>")``, so without the course
  secret nobody can reproduce a student's numbers (or another student's);
* **independent per group**: each group draws from a NumPy generator of its
  own, seeded from the key material and the group's name, so adding or
  changing one group never changes another group's draws;
* **validated**: the drawn variant goes through :func:`derivations.variant.to_toml`
  and :func:`derivations.variant.parse`, so every rule of a hand-written file applies.

The student's id is what is hashed (after :func:`normalize_id`); the printed
name (``[document] student``) is never hashed, so correcting its spelling
never changes the numbers.
"""
from __future__ import annotations

import dataclasses
import hashlib
import hmac
import os
import secrets
import sys
import unicodedata
from pathlib import Path

import numpy as np

from . import params as params_mod
from . import registry as registry_mod
from . import variant as variant_mod
from .errors import MISSING, DerivationError, VariantError
from .registry import Registry
from .variant import Variant

DEFAULT_SECRET = Path("course.secret")  # in the working folder
MIN_SECRET = 16  # characters of a secret file (the one made here has 64)
SEED_LIMIT = 2**32  # a drawn seed is in 0..SEED_LIMIT - 1 (the [variant] seed's range)
MAX_ID = 120  # characters of a student id
# A value quoted in an error message is cut to this many characters.
QUOTE = 60
ARGS = "<arguments>"  # the "file" of an error in an argument rather than in a file


def _quote(value: str) -> str:
    return value if len(value) <= QUOTE else value[: QUOTE - 3] + "..."


def normalize_id(raw: str) -> str:
    """A student id as it is hashed: stripped and in Unicode NFC.

    ``"Ada Lovelace "`` and ``"Ada Lovelace"`` are one student, and so are the
    decomposed (NFD) and composed (NFC) spellings of ``"José"``.

    Raises:
        VariantError: the id is empty, too long or holds control characters.
    """
    if not isinstance(raw, str):
        raise VariantError(ARGS, "--student", type(raw).__name__, "allowed: a student id as text")
    sid = unicodedata.normalize("NFC", raw.strip())
    if not sid:
        raise VariantError(ARGS, "--student", _quote(raw), "allowed: a non-empty student id")
    if len(sid) > MAX_ID:
        raise VariantError(ARGS, "--student", _quote(sid), f"allowed: at most {MAX_ID} characters")
    if any(unicodedata.category(ch).startswith("C") for ch in sid):
        raise VariantError(ARGS, "--student", _quote(sid), "allowed: printable text without control characters")
    return sid


def load_secret(path: Path | str | None = None, *, create: bool = True) -> bytes:
    """The course secret: the bytes of ``path`` (default ``course.secret`` in the working folder), stripped.

    A missing file is created when ``create`` is true: a random value
    (``secrets.token_hex(32)``) written with mode 0600, and one line on stderr
    says where, and to keep it private. Its value is never printed.

    Raises:
        VariantError: the file is missing (and ``create`` is false), unreadable,
            or holds fewer than ``MIN_SECRET`` characters.
    """
    path = DEFAULT_SECRET if path is None else Path(path)
    if not path.exists() and create:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # made meanwhile by another process: read it below
        except OSError as exc:
            raise VariantError(str(path), "--secret", type(exc).__name__,
                               "allowed: a folder where the secret file can be created") from None
        else:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                os.fchmod(handle.fileno(), 0o600)  # whatever the umask
                handle.write(secrets.token_hex(32) + "\n")
            print(f"note: created the course secret {path.resolve()} (mode 0600); keep it private and out of "
                  "version control: it reproduces every student's numbers", file=sys.stderr)
    if not path.exists():
        raise VariantError(str(path), "--secret", MISSING, "allowed: an existing secret file (made on first use "
                           f"when --secret is left out: {DEFAULT_SECRET})")
    try:
        value = path.read_bytes().strip()
    except OSError as exc:
        raise VariantError(str(path), "--secret", type(exc).__name__, "allowed: a readable file") from None
    if len(value) < MIN_SECRET:
        # Never quote the value: only its length.
        raise VariantError(str(path), "--secret", f"<{len(value)} characters>",
                           f"allowed: at least {MIN_SECRET} characters")
    return value


def fingerprint(secret: bytes) -> str:
    """First 16 hex characters of SHA-256 of the secret: tells secrets apart, never shows one."""
    return hashlib.sha256(secret).hexdigest()[:16]


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


def _check_secret(secret: bytes) -> None:
    if not isinstance(secret, (bytes, bytearray)) or not secret:
        raise VariantError(ARGS, "--secret", "<empty>" if not secret else type(secret).__name__,
                           "allowed: the course secret as non-empty bytes (see load_secret)")


def student_seed(base: Variant, student_id: str, secret: bytes) -> int:
    """The student's stable seed when the roster gives none: ``HMAC-SHA256(secret, name\\0id)`` in 0..2**32-1."""
    _check_secret(secret)
    digest = _hmac(bytes(secret), f"{base.name}\0{normalize_id(student_id)}")
    return int.from_bytes(digest[:4], "big")  # 32 bits: 0..SEED_LIMIT - 1


def key_material(base: Variant, student_id: str, secret: bytes, seed: int) -> bytes:
    """``HMAC-SHA256(secret, "<base name>\\0<id>\\0<seed>")``: what every draw of the student comes from."""
    _check_secret(secret)
    return _hmac(bytes(secret), f"{base.name}\0{normalize_id(student_id)}\0{seed}")


def group_rng(material: bytes, group: str) -> np.random.Generator:
    """The generator private to one group: seeded from the key material and the group's name only."""
    digest = _hmac(material, f"group\0{group}")
    return np.random.default_rng(np.random.SeedSequence(int.from_bytes(digest, "big")))


def slug(student_id: str) -> str:
    """The id in a variant name: lower case, runs of other characters as one ``-``."""
    out = "".join(ch if ch.isalnum() else "-" for ch in student_id.lower())
    while "--" in out:
        out = out.replace("--", "-")
    return out.strip("-") or hashlib.sha256(student_id.encode("utf-8")).hexdigest()[:8]


def draw(base: Variant, student_id: str, *, secret: bytes, name: str = "", seed: int | None = None,
         registry: Registry | None = None) -> Variant:
    """``base`` with each varying group's parameters drawn for one student.

    Args:
        base: the edition (what is asked and its points stay as they are).
        student_id: the roster's id; normalised (:func:`normalize_id`) and hashed.
        secret: the course secret (:func:`load_secret`).
        name: the printed name (``[document] student``); never hashed, may be empty.
        seed: the student's seed from the roster, else :func:`student_seed`; it is
            also the drawn variant's ``[variant] seed`` (its numeric checks' seed).
        registry: the groups (default: the homework's).

    Returns:
        The validated variant named ``<base name>-<slug of id>``.

    Raises:
        VariantError: a bad id, secret, seed or name, or a drawn value outside its rules.
        DerivationError: a group's ``vary`` failed.
    """
    registry = registry or registry_mod.default()
    sid = normalize_id(student_id)
    _check_secret(secret)
    if seed is None:
        seed = student_seed(base, sid, secret)
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < SEED_LIMIT:
        raise VariantError(base.source, "seed", _quote(repr(seed)), f"allowed: an integer 0..{SEED_LIMIT - 1}")
    material = key_material(base, sid, secret, seed)
    drawn: dict[str, object] = {}
    for group in registry:
        if group.vary is None or group.name not in base.params:
            continue
        try:
            drawn[group.name] = group.vary(group_rng(material, group.name), base.params[group.name])
        except (VariantError, DerivationError):
            raise
        except Exception as exc:  # noqa: BLE001 - reported on one line, naming the group
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise DerivationError(f"{group.name}: vary failed: {type(exc).__name__}"
                                  + (f": {first[:QUOTE]}" if first else "")) from exc
        if not isinstance(drawn[group.name], group.params):
            raise DerivationError(f"{group.name}: vary failed: returned {type(drawn[group.name]).__name__}, "
                                  f"not {group.params.__name__}")
    printed = unicodedata.normalize("NFC", name.strip())
    problem = params_mod.Text().problem(printed)
    if problem:
        raise VariantError(ARGS, "--name", _quote(printed), problem)
    variant_name = f"{base.name}-{slug(sid)}"[: variant_mod.MAX_TEXT]
    result = variant_mod.replace(base, name=variant_name, seed=seed,
                                 document=dataclasses.replace(base.document, student=printed), **drawn)
    # Through the text, so the drawn variant passes every validation rule of a file.
    return variant_mod.parse(variant_mod.to_toml(result, registry), f"{variant_name}.toml", registry)
