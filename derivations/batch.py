"""A whole class at once: each student's own variant, key and handout, and the class's tables.

``python -m derivations batch --roster roster.csv --out build/class`` reads a roster
(CSV with the header ``id,name`` and an optional ``seed`` column), draws every
student's variant from the base variant and the course secret
(:func:`derivations.student.draw`), derives and verifies it, and writes

* one folder per student, named by the (filesystem-safe) id: ``variant.toml``,
  ``answers.json``, ``verification.npz``, the key ``hw2_theory.pdf`` and its
  ``hw2_theory.tex``, and the handout ``hw2_theory_handout.pdf``;
* ``answers.csv``: one row per student, the column ``id`` then one column per
  (sub-question id, numeric answer) named ``<question id>:<answer key>`` with
  ``[i]`` per list index (``conv2d_output:conv2d.output_shape[0]``). Only numbers
  are listed: an answer that is a number or a list of numbers; LaTeX strings,
  symbolic shapes (``["m", "m"]``) and records (dicts) are left to answers.json.
  The column order depends on the names only (the catalogue's question order,
  then the answer key, then the indices), so every run, shard and merge agrees;
* ``manifest.json``: per student its id, name, seed, the SHA-256 of its variant
  TOML, the generator version and the SHA-256 of every file; for the class the
  base variant (its TOML, so a student can be rebuilt from the manifest alone),
  the secret's fingerprint (never the secret) and the number of distinct answer
  tuples (distinct rows of answers.csv without the id).

Design: one Python process derives and verifies the students one after another
(SymPy is CPU-bound and not thread-friendly), while their documents are
rendered and compiled on a thread pool (LaTeX is a subprocess, so the threads
run in parallel over the cores). The experiments the class needs and the cache
does not hold yet (1.3's training, one per distinct setting) are run ahead by forked
worker processes (:func:`start_experiments`); a student waits only for its
own, and the others go first. One student's failure is recorded with its
one-line reason and stops no one else. A re-run skips a student whose manifest
entry has the same variant hash and generator (version and source hash) and
whose files still have the recorded SHA-256.

``merge`` joins the slices written with ``--shard i/N``; ``rebuild`` rebuilds one
student from the manifest and the secret and compares the files.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import re
import shutil
import sys
import tempfile
import time
import multiprocessing
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from . import __version__
from . import build as build_mod
from . import registry as registry_mod
from . import student
from . import variant as variant_mod
from .errors import DerivationError, OutputError, ToolError, VariantError, VerificationError
from .variant import Variant

MANIFEST = "manifest.json"
ANSWERS_CSV = "answers.csv"
FORMAT = 1  # of manifest.json
# A student's folder, in this order (the key's files, then the handout's PDF).
KEY_FILES = ("answers.json", "verification.npz", "hw2_theory.pdf", "hw2_theory.tex")
HANDOUT_FILES = ("hw2_theory_handout.pdf",)
STUDENT_FILES = ("variant.toml",) + KEY_FILES + HANDOUT_FILES
# Files whose bytes depend on the inputs only: a rebuild must reproduce them exactly.
DETERMINISTIC = ("variant.toml", "answers.json", "hw2_theory.tex")
REQUIRED_COLUMNS = ("id", "name")
OPTIONAL_COLUMNS = ("seed",)
SEED_MAX = 2**32 - 1
GENERATOR = f"derivations {__version__}"
AHEAD_WORKERS = 2  # worker processes running a class's experiments ahead (derivations.batch.start_experiments)


class RosterError(ValueError):
    """A roster that cannot be used; the message names the file, the line and the value."""

    def __init__(self, file: str | Path, line: int | None, what: str) -> None:
        where = f"{file}: line {line}: " if line else f"{file}: "
        super().__init__(where + what)


class BatchError(RuntimeError):
    """A class folder, manifest or shard that cannot be used (one line, exit status 2)."""


# --------------------------------------------------------------------------- roster


@dataclass(frozen=True)
class Entry:
    """One roster row: its position (0-based, header excluded), its line, the normalized id,
    the name and the seed the roster gives (None: drawn from the secret)."""

    index: int
    line: int
    id: str
    name: str
    seed: int | None


def read_roster(path: str | Path) -> list[Entry]:
    """The students of a roster file, in its order.

    Raises:
        RosterError: unreadable file, a missing or unknown column, a row with the
            wrong number of fields, an empty or invalid id, a duplicate id (after
            :func:`student.normalize_id`), a seed that is not an integer 0..2^32-1,
            or no student at all.
    """
    path = Path(path)
    try:
        text = path.read_text("utf-8-sig")  # a spreadsheet's byte-order mark is not part of the header
    except FileNotFoundError:
        raise RosterError(path, None, "no such roster file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RosterError(path, None, f"cannot read the roster as UTF-8 text ({type(exc).__name__})") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    entries: list[Entry] = []
    seen: dict[str, tuple[int, str]] = {}
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue  # blank lines
        if header is None:
            header = [cell.strip() for cell in row]
            allowed = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
            for col in header:
                if col not in allowed:
                    raise RosterError(path, line, f"unknown column {col!r}; allowed: {', '.join(allowed)}")
                if header.count(col) > 1:
                    raise RosterError(path, line, f"column {col!r} appears twice")
            for col in REQUIRED_COLUMNS:
                if col not in header:
                    raise RosterError(path, line, f"header {','.join(header)!r} lacks the column {col!r}; "
                                      f"required: {', '.join(REQUIRED_COLUMNS)} (optional: seed)")
            continue
        if len(row) > len(header):
            raise RosterError(path, line, f"{len(row)} fields {','.join(row)!r}; the header has {len(header)}")
        cells = dict(zip(header, (c.strip() for c in row)))
        short = [c for c in header if c not in cells and c not in OPTIONAL_COLUMNS]
        if short:
            raise RosterError(path, line, f"{len(row)} field(s) {','.join(row)!r}; missing {', '.join(short)}")
        raw = cells["id"]
        if not raw:
            raise RosterError(path, line, "id = '': every student needs an id")
        try:
            sid = student.normalize_id(raw)
        except (ValueError, TypeError) as exc:
            raise RosterError(path, line, f"id = {raw!r}: {_one_line(exc)}") from None
        if sid in seen:
            first_line, first_raw = seen[sid]
            same = f" ({first_raw!r})" if first_raw != raw else ""
            raise RosterError(path, line, f"id = {raw!r}: duplicate of the id {sid!r} on line {first_line}{same}")
        seen[sid] = (line, raw)
        seed_text = cells.get("seed", "")
        seed: int | None = None
        if seed_text:
            try:
                seed = int(seed_text, 10)
            except ValueError:
                seed = None
            if seed is None or not 0 <= seed <= SEED_MAX:
                raise RosterError(path, line, f"seed = {seed_text!r}: allowed: an integer 0..{SEED_MAX}, "
                                  "or empty (drawn from the secret)")
        entries.append(Entry(len(entries), line, sid, cells["name"], seed))
    if header is None:
        raise RosterError(path, 1, "empty roster; the first line must be the header id,name[,seed]")
    if not entries:
        raise RosterError(path, None, "no students (only the header)")
    return entries


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``"i/N"`` (1 <= i <= N) as ``(i, N)``; None stays None."""
    if text is None:
        return None
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
        raise BatchError(f"--shard = {text!r}: allowed: i/N with 1 <= i <= N, e.g. 2/4")
    return int(m.group(1)), int(m.group(2))


def in_shard(entries: Sequence[Entry], shard: tuple[int, int] | None) -> list[Entry]:
    """The students of shard ``i/N``: those whose roster index is ``i - 1`` modulo ``N``."""
    if shard is None:
        return list(entries)
    i, n = shard
    return [e for e in entries if e.index % n == i - 1]


def shard_suffix(shard: tuple[int, int] | None) -> str:
    return "" if shard is None else f".shard-{shard[0]}-of-{shard[1]}"


_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def folder_name(sid: str) -> str:
    """A folder name for an id: the id itself where it is plain (letters, digits, ``_``, ``-``),
    else the id made safe plus 8 hex digits of its SHA-256, so two ids never share a folder
    and no id can name a class file (``manifest.json``) or a hidden folder."""
    safe = _UNSAFE.sub("_", sid)[:64]
    if safe == sid and safe:
        return safe
    return f"{safe}-{hashlib.sha256(sid.encode('utf-8')).hexdigest()[:8]}"


# --------------------------------------------------------------------------- hashes


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@lru_cache(maxsize=1)
def source_hash() -> str:
    """SHA-256 of the generator's code and templates (the package and the document templates).

    The version number alone does not change with every edit; a re-run rebuilds
    students whose files came from other code.
    """
    roots = sorted({Path(__file__).resolve().parent, Path(str(_document_templates())).resolve()})
    h = hashlib.sha256()
    for root in roots:
        for p in sorted(root.rglob("*")):
            if p.is_file() and p.suffix in (".py", ".j2", ".toml") and "__pycache__" not in p.parts:
                h.update(str(p.relative_to(root.parent)).encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def _document_templates() -> Path:
    from .render import document_templates

    return document_templates()


# --------------------------------------------------------------------------- answers.csv


def _numbers(value: Any) -> list[tuple[str, int | float]] | None:
    """``[(suffix, number)]`` for a number or a (nested) list of numbers, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return [("", value)]
    if isinstance(value, list) and value:
        out = []
        for i, item in enumerate(value):
            inner = _numbers(item)
            if inner is None:
                return None
            out += [(f"[{i}]{suffix}", x) for suffix, x in inner]
        return out
    return None


def numeric_answers(answers: Mapping[str, Any]) -> dict[str, int | float]:
    """A student's answers.csv row (without the id): ``{column: number}`` from answers.json's
    ``questions`` table."""
    row: dict[str, int | float] = {}
    for qid, q in answers.get("questions", {}).items():
        for key, value in q["answers"].items():
            for suffix, x in _numbers(value) or ():
                row[f"{qid}:{key}{suffix}"] = x
    return row


def column_key(name: str, registry: registry_mod.Registry | None = None) -> tuple:
    """The sort key of a column: question in catalogue order, answer key, then indices as numbers."""
    order = {qid: i for i, qid in enumerate((registry or registry_mod.default()).question_ids)}
    qid, _, rest = name.partition(":")
    key, _, indices = rest.partition("[")
    idx = tuple(int(i) for i in re.findall(r"\d+", indices))
    return (order.get(qid, len(order)), qid, key, idx)


def columns(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    names = {name for row in rows for name in row}
    return sorted(names, key=column_key)


def _cell(x: Any) -> str:
    if x is None or x == "":
        return ""
    if isinstance(x, float):
        return repr(x) if math.isfinite(x) else str(x)
    return str(x)


def csv_text(rows: Sequence[tuple[str, Mapping[str, Any]]]) -> str:
    """answers.csv: ``id`` then the numeric columns; an empty cell where a student lacks one."""
    cols = columns(r for _, r in rows)
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["id", *cols])
    for sid, row in rows:
        w.writerow([sid, *(_cell(row.get(c)) for c in cols)])
    return buf.getvalue()


def read_csv(path: Path) -> list[tuple[str, dict[str, str]]]:
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        return [(r["id"], {k: v for k, v in r.items() if k != "id" and v != ""}) for r in reader]


def distinct_tuples(rows: Sequence[tuple[str, Mapping[str, Any]]]) -> int:
    """How many different answer tuples (rows of answers.csv without the id) the students have."""
    cols = columns(r for _, r in rows)
    return len({tuple(_cell(r.get(c)) for c in cols) for _, r in rows})


# --------------------------------------------------------------------------- one student


def one_line(exc: BaseException) -> str:
    """An exception as the one line a failure report shows."""
    known = (VariantError, DerivationError, VerificationError, ToolError, OutputError, RosterError, BatchError)
    text = _one_line(exc)
    return text if isinstance(exc, known) and text else f"{type(exc).__name__}" + (f": {text}" if text else "")


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else ""


def draw(base: Variant, entry: Entry, secret: bytes) -> tuple[Variant, int, str]:
    """A student's variant, the seed it was drawn with, and where that seed came from."""
    if entry.seed is not None:
        seed, origin = entry.seed, "roster"
    else:
        seed, origin = student.student_seed(base, entry.id, secret), "secret"
    return student.draw(base, entry.id, secret=secret, name=entry.name, seed=seed), seed, origin


def _experiment(job: tuple[str, Any, int, Path | None]) -> None:
    """Run one group's experiment, storing its results in the cache (in a worker process)."""
    name, params, seed, cache_dir = job
    group = next(g for g in registry_mod.default() if g.name == name)
    group.experiment(params, seed, cache_dir)


def start_experiments(variants: Iterable[Variant], cache_dir: Path | None) -> tuple[Any, dict[tuple, Future]]:
    """Run ahead, in forked worker processes (as many as cores, at most :data:`AHEAD_WORKERS`), each
    cached experiment (``experiment_cached``) that the variants ask for, once per distinct
    (group, params): ``(pool or None, {key: future})``. Meanwhile this process fills its caches per
    structure (:func:`warm`) and builds the students whose experiments are done. (Two workers: at
    the start of a class every student waits for an experiment; measured, two finish the class
    sooner than one.)

    The worker only fills the cache; the student's own derivation then reads it.
    A failed experiment is not reported here: the student's derivation runs it
    again and reports the failure. Where fork is not available nothing runs ahead.
    """
    cache_dir = build_mod.CACHE_DIR if cache_dir is None else cache_dir
    jobs: dict[tuple, tuple] = {}
    for v in variants:
        for g in build_mod.asked_groups(v, registry_mod.default()):
            if g.experiment is not None and g.experiment_cached:
                jobs.setdefault((g.name, v.params[g.name]), (g.name, v.params[g.name], v.seed, cache_dir))
    if not jobs or "fork" not in multiprocessing.get_all_start_methods():
        return None, {}
    workers = max(1, min(AHEAD_WORKERS, os.cpu_count() or 1, len(jobs)))
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"))
    return pool, {key: pool.submit(_experiment, job) for key, job in jobs.items()}


def warm(v: Variant, done: set[tuple[str, Any]]) -> None:
    """Derive, check and present ``v``'s groups that need no experiment run ahead, the results
    dropped: while a class waits for its experiments, this fills the process's caches per structure
    (symbolic derivations, exact checks, printed formulas), which the students' builds then reuse.
    Each (group, params) once (``done``); a failure is left to the student's own build to report."""
    for g in build_mod.asked_groups(v, registry_mod.default()):
        prm = v.params[g.name]
        if (g.experiment is not None and g.experiment_cached) or (g.name, prm) in done:
            continue
        done.add((g.name, prm))
        try:
            evidence = g.experiment(prm, v.seed, None) if g.experiment else None
            derivation = g.derive(prm)
            g.present(derivation, evidence, g.check(derivation, evidence, v.seed))
        except Exception:  # noqa: BLE001, S112 - reported by the student's build, with its id
            continue


def experiments_of(v: Variant, futures: Mapping[tuple, Future]) -> list[Future]:
    """The futures of the experiments ``v`` needs (empty when nothing runs ahead)."""
    return [f for (name, params), f in futures.items() if v.params.get(name) == params]


@dataclass
class Pending:
    """A student whose documents are being compiled."""

    entry: Entry
    record: dict[str, Any]
    staging: Path
    futures: tuple[Future, Future]

    def done(self) -> bool:
        return all(f.done() for f in self.futures)


def start_documents(outcome: build_mod.Outcome, toml: str, staging: Path,
                    pool: ThreadPoolExecutor, cache_dir: Path | None = None) -> tuple[Future, Future]:
    """Write variant.toml into ``staging`` and start the key and the handout compiling there.

    The handout gets a folder of its own (a handout is never written beside answers).
    """
    staging.mkdir(parents=True, exist_ok=True)
    (staging / "variant.toml").write_text(toml, "utf-8")
    return (pool.submit(build_mod.write, outcome, staging / "key", key="staff", cache_dir=cache_dir),
            pool.submit(build_mod.write, outcome, staging / "handout", key="handout", cache_dir=cache_dir))


def place_documents(staging: Path, dest: Path) -> dict[str, str]:
    """Move a student's finished files from ``staging`` into ``dest``; their SHA-256."""
    dest.mkdir(parents=True, exist_ok=True)
    sources = {"variant.toml": staging / "variant.toml",
               **{n: staging / "key" / n for n in KEY_FILES}, **{n: staging / "handout" / n for n in HANDOUT_FILES}}
    for name, src in sources.items():
        os.replace(src, dest / name)
    shutil.rmtree(staging, ignore_errors=True)
    return {name: sha256_file(dest / name) for name in STUDENT_FILES}


def unchanged(entry: Mapping[str, Any] | None, record: Mapping[str, Any], folder: Path) -> bool:
    """A previous manifest entry still describes this student's files exactly."""
    if not entry:
        return False
    same = all(entry.get(k) == record[k] for k in ("variant_sha256", "generator", "source", "name", "seed"))
    files = entry.get("files") or {}
    if not same or sorted(files) != sorted(STUDENT_FILES):
        return False
    try:
        return all(sha256_file(folder / name) == digest for name, digest in files.items())
    except OSError:
        return False


# --------------------------------------------------------------------------- progress


class Progress:
    """A progress bar on a terminal (tqdm if installed, else a one-line counter); silent otherwise."""

    def __init__(self, total: int, enabled: bool | None = None, stream: Any = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.total, self.count, self._bar = total, 0, None
        if self.enabled:
            try:
                from tqdm import tqdm  # type: ignore[import-not-found]

                self._bar = tqdm(total=total, unit="student", file=self.stream, dynamic_ncols=True)
            except ImportError:
                self._bar = None

    def update(self, label: str) -> None:
        self.count += 1
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.set_postfix_str(label, refresh=False)
            self._bar.update(1)
        else:
            self.stream.write(f"\r{self.count}/{self.total} students ({label})\033[K")
            self.stream.flush()

    def close(self) -> None:
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.close()
        else:
            self.stream.write("\n")
            self.stream.flush()


# --------------------------------------------------------------------------- the class


@dataclass
class ClassReport:
    """What a batch did: who was built, skipped or failed, and the class tables it wrote."""

    out_dir: Path
    built: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (id, one-line reason)
    distinct: int = 0
    manifest: Path | None = None
    csv: Path | None = None
    seconds: float = 0.0


def base_record(base: Variant) -> dict[str, Any]:
    toml = variant_mod.to_toml(base)
    # The file's name only: where it lies (an absolute path, another machine) must not change the manifest's
    # bytes; the text and its SHA-256 identify it.
    return {"name": base.name, "source": Path(base.source).name, "sha256": sha256_bytes(toml.encode("utf-8")),
            "toml": toml}


def previous_entries(out_dir: Path) -> dict[str, dict[str, Any]]:
    """Every student entry of the manifests already in ``out_dir`` (the class's and the shards')."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(out_dir.glob("manifest*.json")):
        try:
            data = json.loads(path.read_text("utf-8"))
            for e in data.get("students", []):
                found.setdefault(e["id"], e)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue  # an unreadable manifest only means a rebuild
    return found


def _write_atomic(path: Path, text: str) -> None:
    part = path.with_name(path.name + ".part")
    part.write_text(text, "utf-8")
    part.replace(path)


def build_class(entries: Sequence[Entry], out_dir: Path, base: Variant, secret: bytes, *,
                roster: Path | None = None, shard: tuple[int, int] | None = None, jobs: int | None = None,
                cache_dir: Path | None = None, progress: bool | None = None) -> ClassReport:
    """Build every student of ``entries`` (the shard's slice of the roster) into ``out_dir``.

    Students are derived and verified here, one after another; their key and
    handout compile on a pool of ``jobs`` threads (default: the number of
    cores). ``progress``: show a progress bar (default: when stderr is a terminal).
    """
    t0 = time.perf_counter()
    jobs = max(1, jobs or os.cpu_count() or 1)
    out_dir.mkdir(parents=True, exist_ok=True)
    chosen = in_shard(entries, shard)
    before = previous_entries(out_dir)
    report = ClassReport(out_dir)
    records: dict[str, dict[str, Any]] = {}
    rows: dict[str, dict[str, Any]] = {}
    bar = Progress(len(chosen), progress)
    pending: list[Pending] = []

    def fail(entry: Entry, exc: BaseException) -> None:
        report.failed.append((entry.id, one_line(exc)))
        bar.update(f"{entry.id} failed")

    def finish(p: Pending) -> None:
        try:
            for f in p.futures:
                f.result()
            p.record["files"] = place_documents(p.staging, out_dir / p.record["folder"])
            answers = json.loads((out_dir / p.record["folder"] / "answers.json").read_text("utf-8"))
        except Exception as exc:  # noqa: BLE001 - one student's failure stops no one else
            shutil.rmtree(p.staging, ignore_errors=True)
            fail(p.entry, exc)
            return
        records[p.entry.id] = p.record
        rows[p.entry.id] = numeric_answers(answers)
        report.built.append(p.entry.id)
        bar.update(p.entry.id)

    def finish_ready(block_over: int) -> None:
        for p in [p for p in pending if p.done()]:
            pending.remove(p)
            finish(p)
        while len(pending) > block_over:  # bounded: outcomes wait in memory only so long
            finish(pending.pop(0))

    # Every student's draw first: who is unchanged since the last run, and which experiments the
    # others need (run ahead, so that a student waits only for its own).
    todo: dict[str, tuple[Variant, str, dict[str, Any]]] = {}
    for entry in chosen:
        folder = folder_name(entry.id)
        try:
            v, seed, origin = draw(base, entry, secret)
            toml = variant_mod.to_toml(v)
            record = {"index": entry.index, "id": entry.id, "name": entry.name, "seed": seed,
                      "seed_from": origin, "folder": folder, "variant": v.name,
                      "variant_sha256": sha256_bytes(toml.encode("utf-8")),
                      "generator": GENERATOR, "source": source_hash()}
            if unchanged(before.get(entry.id), record, out_dir / folder):
                record["files"] = before[entry.id]["files"]
                answers = json.loads((out_dir / folder / "answers.json").read_text("utf-8"))
                records[entry.id], rows[entry.id] = record, numeric_answers(answers)
                report.skipped.append(entry.id)
                bar.update(f"{entry.id} unchanged")
                continue
            todo[entry.id] = (v, toml, record)
        except Exception as exc:  # noqa: BLE001 - reported at the end with the id
            fail(entry, exc)
    workers, ahead = start_experiments([v for v, _, _ in todo.values()], cache_dir)
    needs = {sid: experiments_of(v, ahead) for sid, (v, _, _) in todo.items()}
    warmed: set[str] = set()
    warmed_params: set[tuple[str, Any]] = set()
    pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="latex")
    try:
        waiting = [e for e in chosen if e.id in todo]
        while waiting:
            entry = next((e for e in waiting if all(f.done() for f in needs[e.id])), None)
            if entry is None:  # every remaining student waits for an experiment running ahead
                cold = next((e for e in waiting if e.id not in warmed), None)
                if cold is not None:  # meanwhile, this process's caches per structure (its own core)
                    warmed.add(cold.id)
                    warm(todo[cold.id][0], warmed_params)
                else:
                    wait({f for e in waiting for f in needs[e.id] if not f.done()}, return_when=FIRST_COMPLETED)
                finish_ready(block_over=max(2, jobs))
                continue
            waiting.remove(entry)
            v, toml, record = todo.pop(entry.id)
            try:
                outcome = build_mod.run(v, cache_dir=cache_dir)
                staging = Path(tempfile.mkdtemp(prefix=f".{record['folder']}-", dir=out_dir))
                pending.append(Pending(entry, record, staging, start_documents(outcome, toml, staging, pool, cache_dir)))
                del outcome
            except Exception as exc:  # noqa: BLE001 - reported at the end with the id
                fail(entry, exc)
            finish_ready(block_over=max(2, jobs))
        finish_ready(block_over=0)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        if workers is not None:
            workers.shutdown(wait=True, cancel_futures=True)
        for p in pending:
            shutil.rmtree(p.staging, ignore_errors=True)
        bar.close()

    order = [e.id for e in chosen if e.id in records]
    position = {e.id: i for i, e in enumerate(chosen)}
    report.failed.sort(key=lambda f: position.get(f[0], len(position)))  # roster order, however built
    report.built.sort(key=position.__getitem__)
    table = [(sid, rows[sid]) for sid in order]
    report.distinct = distinct_tuples(table)
    suffix = shard_suffix(shard)
    report.csv = out_dir / f"answers{suffix}.csv"
    report.manifest = out_dir / f"manifest{suffix}.json"
    manifest = {
        "format": FORMAT,
        "generator": GENERATOR,
        "source": source_hash(),
        "class": {
            "base_variant": base_record(base),
            "secret_fingerprint": student.fingerprint(secret),
            "roster": None if roster is None else {"file": Path(roster).name, "sha256": sha256_file(roster),
                                                   "students": len(entries)},
            "shard": None if shard is None else f"{shard[0]}/{shard[1]}",
            "students": len(chosen),
            "built": len(order),
            "distinct_answer_tuples": report.distinct,
        },
        "students": [records[sid] for sid in order],
        "failed": [{"id": sid, "reason": why} for sid, why in report.failed],
    }
    _write_atomic(report.csv, csv_text(table))
    _write_atomic(report.manifest, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    report.seconds = time.perf_counter() - t0
    return report


# --------------------------------------------------------------------------- merge


def merge(out_dir: Path) -> ClassReport:
    """Join the shards' ``answers.shard-i-of-N.csv`` and ``manifest.shard-i-of-N.json`` into
    ``answers.csv`` and ``manifest.json`` (rows in roster order).

    Raises:
        BatchError: no shards, shards of different splits, a missing shard, or
            shards of a different base variant, secret, roster or generator.
    """
    found: dict[tuple[int, int], Path] = {}
    for path in out_dir.glob("manifest.shard-*-of-*.json"):
        m = re.fullmatch(r"manifest\.shard-(\d+)-of-(\d+)\.json", path.name)
        if m:
            found[(int(m.group(1)), int(m.group(2)))] = path
    if not found:
        raise BatchError(f"{out_dir}: no manifest.shard-i-of-N.json to merge (build with --shard i/N first)")
    splits = sorted({n for _, n in found})
    if len(splits) > 1:
        raise BatchError(f"{out_dir}: shards of different splits ({', '.join(f'of {n}' for n in splits)}); "
                         "remove the stale ones")
    n = splits[0]
    missing = [str(i) for i in range(1, n + 1) if (i, n) not in found]
    if missing:
        raise BatchError(f"{out_dir}: shard(s) {', '.join(missing)} of {n} missing; build them with --shard i/{n}")
    manifests = []
    for i in range(1, n + 1):
        path = found[(i, n)]
        try:
            manifests.append(json.loads(path.read_text("utf-8")))
        except (OSError, ValueError) as exc:
            raise BatchError(f"{path}: unreadable manifest ({type(exc).__name__})") from None
    first = manifests[0]

    def fingerprint(m: Mapping[str, Any]) -> tuple:
        c = m["class"]
        return (c["base_variant"]["sha256"], c["secret_fingerprint"], (c.get("roster") or {}).get("sha256"),
                m["generator"], m["source"])

    for i, m in enumerate(manifests[1:], start=2):
        if fingerprint(m) != fingerprint(first):
            what = ("base variant", "secret", "roster", "generator", "generator source")
            diff = [w for w, a, b in zip(what, fingerprint(m), fingerprint(first)) if a != b]
            raise BatchError(f"{found[(i, n)]}: another {', '.join(diff)} than shard 1 of {n}; "
                             "rebuild the shards with the same inputs")
    students = sorted((e for m in manifests for e in m["students"]), key=lambda e: e["index"])
    ids = [e["id"] for e in students]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise BatchError(f"{out_dir}: id(s) {', '.join(twice)} in more than one shard")
    rows: dict[str, dict[str, str]] = {}
    for i in range(1, n + 1):
        path = out_dir / f"answers{shard_suffix((i, n))}.csv"
        try:
            rows.update(dict(read_csv(path)))
        except (OSError, KeyError, csv.Error) as exc:
            raise BatchError(f"{path}: unreadable shard table ({type(exc).__name__})") from None
    lost = [sid for sid in ids if sid not in rows]
    if lost:
        raise BatchError(f"{out_dir}: the shards' tables lack the row(s) of {', '.join(lost)}")
    table = [(sid, rows[sid]) for sid in ids]
    report = ClassReport(out_dir, built=ids, failed=[(f["id"], f["reason"]) for m in manifests for f in m["failed"]])
    report.distinct = distinct_tuples(table)
    cls = dict(first["class"])
    cls.update(shard=None, students=sum(m["class"]["students"] for m in manifests), built=len(ids),
               distinct_answer_tuples=report.distinct, merged=[found[(i, n)].name for i in range(1, n + 1)])
    manifest = {"format": FORMAT, "generator": first["generator"], "source": first["source"], "class": cls,
                "students": students, "failed": [{"id": s, "reason": r} for s, r in report.failed]}
    report.csv, report.manifest = out_dir / ANSWERS_CSV, out_dir / MANIFEST
    _write_atomic(report.csv, csv_text(table))
    _write_atomic(report.manifest, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return report


# --------------------------------------------------------------------------- rebuild


@dataclass
class RebuildReport:
    """A student rebuilt from the manifest: each file's comparison with the manifest's SHA-256."""

    id: str
    out_dir: Path
    same: list[str] = field(default_factory=list)  # deterministic files identical to the manifest's
    differ: list[str] = field(default_factory=list)  # deterministic files that are not: a real difference
    other: dict[str, str] = field(default_factory=dict)  # PDFs and verification.npz: how they compare
    notes: list[str] = field(default_factory=list)


def load_manifest(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text("utf-8"))
        if not isinstance(data["class"]["base_variant"]["toml"], str) or not isinstance(data["students"], list):
            raise TypeError("base variant or students of the wrong type")
        return data
    except FileNotFoundError:
        raise BatchError(f"{path}: no such manifest") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BatchError(f"{path}: not a class manifest ({type(exc).__name__}: {exc})") from None


def rebuild(manifest_path: Path, raw_id: str, out_dir: Path, secret: bytes, *,
            cache_dir: Path | None = None, jobs: int = 2) -> RebuildReport:
    """Rebuild one student's files into ``out_dir`` from the manifest entry, the base variant
    the manifest holds and the secret; compare them with the manifest's SHA-256.

    variant.toml, answers.json and hw2_theory.tex must be identical; the PDFs
    are compared and reported separately (their bytes may carry dates), and
    verification.npz is compared by its arrays (a zip records times).

    Raises:
        BatchError: the manifest is unreadable, has no such student, or was
            made with another secret.
    """
    data = load_manifest(manifest_path)
    try:
        sid = student.normalize_id(raw_id)
    except (ValueError, TypeError) as exc:
        raise BatchError(f"--id = {raw_id!r}: {_one_line(exc)}") from None
    entry = next((e for e in data["students"] if e["id"] == sid), None)
    if entry is None:
        raise BatchError(f"{manifest_path}: no student with id {sid!r}"
                         + (" (it failed to build)" if any(f["id"] == sid for f in data.get("failed", [])) else ""))
    cls = data["class"]
    if student.fingerprint(secret) != cls["secret_fingerprint"]:
        raise BatchError(f"the secret's fingerprint {student.fingerprint(secret)} is not the manifest's "
                         f"{cls['secret_fingerprint']}; pass the course's secret with --secret")
    base_info = cls["base_variant"]
    base = variant_mod.parse(base_info["toml"], base_info.get("source") or f"{base_info['name']}.toml")
    report = RebuildReport(sid, out_dir)
    if entry.get("generator") != GENERATOR or entry.get("source") != source_hash():
        report.notes.append(f"built by {entry.get('generator')} (source {str(entry.get('source'))[:12]}), "
                            f"rebuilt by {GENERATOR} (source {source_hash()[:12]}): differences may come from "
                            "the code")
    v = student.draw(base, sid, secret=secret, name=entry["name"], seed=entry["seed"])
    toml = variant_mod.to_toml(v)
    outcome = build_mod.run(v, cache_dir=cache_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".rebuild-", dir=out_dir))
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = start_documents(outcome, toml, staging, pool, cache_dir)
        try:
            for f in futures:
                f.result()
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    files = place_documents(staging, out_dir)
    recorded = entry.get("files", {})
    old_folder = manifest_path.parent / entry.get("folder", "")
    for name in STUDENT_FILES:
        same = files[name] == recorded.get(name)
        if name in DETERMINISTIC:
            (report.same if same else report.differ).append(name)
        elif same:
            report.other[name] = "identical"
        elif name.endswith(".npz"):
            report.other[name] = _compare_npz(out_dir / name, old_folder / name, recorded.get(name))
        else:
            report.other[name] = "bytes differ (PDF bytes carry dates); not compared"
    return report


def _compare_npz(new: Path, old: Path, digest: str | None) -> str:
    """verification.npz compared by its arrays, when the class's copy is still there and unchanged."""
    if not old.is_file() or sha256_file(old) != digest:
        return "bytes differ (a zip records times); the class's copy is gone or changed, arrays not compared"
    a, b = np.load(new), np.load(old)
    if sorted(a.files) == sorted(b.files) and all(np.array_equal(a[k], b[k]) for k in a.files):
        return "same arrays (the zip's bytes differ by their times)"
    return "ARRAYS DIFFER"


# --------------------------------------------------------------------------- command line


def add_commands(sub: Any) -> None:
    """The ``batch``, ``merge`` and ``rebuild`` subcommands of ``python -m derivations``."""
    b = sub.add_parser("batch", help="build every student of a roster: per-student keys and handouts, "
                                     "answers.csv, manifest.json")
    b.add_argument("--roster", required=True, type=Path, help="CSV with the header id,name[,seed]")
    b.add_argument("--out", default=Path("build/class"), type=Path, help="class folder (default: build/class)")
    b.add_argument("--variant", default=variant_mod.DEFAULT_PRESET,
                   help="the base variant: a preset name or a .toml file (default: %(default)s)")
    b.add_argument("--secret", type=Path, help="the course secret (default: ./course.secret, created if missing)")
    b.add_argument("--shard", help="build only slice i of N (students with index %% N == i-1), e.g. 2/4")
    b.add_argument("--jobs", type=int, default=None, help="parallel LaTeX compiles (default: the number of cores)")
    m = sub.add_parser("merge", help="join the shards' answers and manifests into answers.csv and manifest.json")
    m.add_argument("folder", type=Path, help="the class folder (e.g. build/class)")
    r = sub.add_parser("rebuild", help="rebuild one student from a class manifest and compare the files")
    r.add_argument("manifest", type=Path, help="the class's manifest.json")
    r.add_argument("--id", required=True, help="the student's id")
    r.add_argument("--out", required=True, type=Path, help="folder for the rebuilt files")
    r.add_argument("--secret", type=Path, help="the course secret (default: ./course.secret; never created here)")


def main(args: Any) -> int:
    """Run ``batch``, ``merge`` or ``rebuild``: 0 done, 1 a student failed or a file differs, 2 bad input."""
    try:
        if args.command == "batch":
            return _batch(args)
        if args.command == "merge":
            return _merge(args)
        return _rebuild(args)
    except (RosterError, BatchError, VariantError, OutputError, ToolError, DerivationError,
            VerificationError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _load_secret(path: Path | None, create: bool) -> bytes:
    """The course secret (a VariantError names the file when it is missing or too short)."""
    return student.load_secret(path, create=create)


def _summary(report: ClassReport, what: str) -> None:
    parts = [f"{len(report.built)} built"] + ([f"{len(report.skipped)} unchanged"] if report.skipped else []) \
        + ([f"{len(report.failed)} failed"] if report.failed else [])
    print(f"{what}: {', '.join(parts)}; {report.distinct} distinct answer tuple(s) among "
          f"{len(report.built) + len(report.skipped)} student(s); wrote {report.csv} and {report.manifest}"
          + (f" in {report.seconds:.1f} s" if report.seconds else ""))
    for sid, why in report.failed:
        print(f"failed: {sid}: {why}", file=sys.stderr)


def _batch(args: Any) -> int:
    # Everything is validated before anything is written (the secret file included).
    entries = read_roster(args.roster)
    shard = parse_shard(args.shard)
    if args.jobs is not None and args.jobs < 1:
        raise BatchError(f"--jobs = {args.jobs}: allowed: 1 or more")
    base = variant_mod.load(args.variant)
    secret = _load_secret(args.secret, create=True)
    report = build_class(entries, args.out, base, secret, roster=args.roster, shard=shard, jobs=args.jobs)
    _summary(report, f"class {base.name}" + (f" shard {shard[0]}/{shard[1]}" if shard else ""))
    return 1 if report.failed else 0


def _merge(args: Any) -> int:
    report = merge(args.folder)
    _summary(report, "merged")
    return 1 if report.failed else 0


def _rebuild(args: Any) -> int:
    secret = _load_secret(args.secret, create=False)
    report = rebuild(args.manifest, args.id, args.out, secret)
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    for name in report.same:
        print(f"{name}: identical to the manifest")
    for name in report.differ:
        print(f"{name}: DIFFERS from the manifest")
    for name, how in report.other.items():
        print(f"{name}: {how}")
    print(f"rebuilt {report.id} into {report.out_dir}: "
          + ("the deterministic files are identical" if not report.differ
             else f"{len(report.differ)} deterministic file(s) differ"))
    return 1 if report.differ else 0
