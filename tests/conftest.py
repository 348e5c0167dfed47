"""Shared fixtures: each preset derived and verified once, and compiled once (key and handout).

The expensive work of the suite happens here, once per session: ``outcomes``
runs derive -> check -> present for both presets in-process and, as soon as a
preset is ready, starts compiling its key and handout in the background
(LaTeX is a subprocess, so threads suffice); ``compiled`` waits for those four
documents. Tests that need a compiled document run last, so the Python tests
use one core while LaTeX uses the other. Tests read what they need from these
fixtures instead of building again.

The spare core. Besides those compiles, work a test only waits for is started
when the session starts, on the other core, and the test then waits for it and
makes its assertions as before. Such work is declared in the test module as a
:class:`Background` job: run by a thread of this process when it is a
subprocess (pip, LaTeX) or calls only what no test monkeypatches (``texrun``,
``glyphs``), else in the worker, a process forked from this one when collection
starts (its own interpreter: no GIL shared, and no patch made here reaches it).
A long Python test that needs no fixture (but ``tmp_path``) runs there whole:
decorated with :func:`on_spare_core`, it is unchanged. A job is queued as soon
as a test that reads it is collected; the spare core (``spare_core``: one
thread per core but one) runs one job at a time, the one the earliest test
needs first, so the Python tests keep their core to themselves.
"""
from __future__ import annotations

import functools
import importlib
import inspect
import itertools
import multiprocessing
import os
import pickle
import queue
import shutil
import sys
import threading
import traceback
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any, Callable

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests import helpers from conftest

from derivations import build, variant  # noqa: E402

HAVE_LATEX = shutil.which("pdflatex") is not None
# The experiment cache the suite shares (warm after the first run of the suite).
os.environ.setdefault("HW2_CACHE", str(ROOT / "build" / ".cache"))
# Tests derive for real: a stored outcome is reused only where a test asks for it (test_texrun.py).
os.environ["HW2_REUSE"] = "0"

SPARE_CORES = max(1, (os.cpu_count() or 2) - 1)  # one core runs the Python tests, the others the rest

_NEEDS_COMPILED = False  # does any collected test read the compiled documents?
NOW = (-1, 0)  # the place in the spare core's queue of work a test waits for right now
_COMPILED_AT = NOW  # the place of the first test reading the compiled documents
_PLACES: dict = {}  # each collected test's place in the queue: (1 if it runs last else 0, order collected)
_CONFIG: pytest.Config | None = None


# --------------------------------------------------------------------------
# The spare core


class SpareCore:
    """Threads running queued work beside the tests, the work the earliest test needs first.

    ``submit(fn, *args, priority=p, **kwargs)`` returns a Future; lower ``p`` runs first (the place
    of the first test that needs it, see ``_PLACES``), equal ones in the order they came.
    """

    def __init__(self, threads: int):
        self._queue: queue.PriorityQueue = queue.PriorityQueue()
        self._order = itertools.count()
        self._threads = [threading.Thread(target=self._run, name=f"spare-core-{i}", daemon=True)
                         for i in range(threads)]
        for thread in self._threads:
            thread.start()

    def submit(self, fn: Callable[..., Any], /, *args: Any, priority: tuple = NOW, **kwargs: Any) -> Future:
        future: Future = Future()
        self._queue.put((priority, next(self._order), future, fn, args, kwargs))
        return future

    def _run(self) -> None:
        while True:
            _, _, future, fn, args, kwargs = self._queue.get()
            if fn is None:
                return
            if not future.set_running_or_notify_cancel():
                continue
            try:
                __tracebackhide__ = True
                result = fn(*args, **kwargs)
            except BaseException as exc:  # noqa: BLE001 - handed to whoever waits for it
                future.set_exception(exc)
            else:
                future.set_result(result)

    def shutdown(self) -> None:
        """Cancel what has not started, wait for what runs."""
        for _ in self._threads:
            self._queue.put(((-2, 0), next(self._order), None, None, (), {}))
        for thread in self._threads:
            thread.join()
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item[2] is not None:
                item[2].cancel()


_SPARE: SpareCore | None = None
_WORKER: ProcessPoolExecutor | None = None  # forked copies of this process, for Python work


def spare_core() -> SpareCore:
    global _SPARE
    if _SPARE is None:
        _SPARE = SpareCore(SPARE_CORES)
    return _SPARE


def worker() -> ProcessPoolExecutor:
    """Processes forked from this one for Python work beside the tests: forked when collection
    starts (derivations, SymPy and NumPy imported, nothing computed; a job imports its test module
    there), before the spare core's threads exist."""
    global _WORKER
    if _WORKER is None:
        assert multiprocessing.parent_process() is None, "a job run by the worker cannot start other jobs"
        log = _CONFIG._tmp_path_factory.getbasetemp() / "worker.log"
        _WORKER = ProcessPoolExecutor(max_workers=SPARE_CORES, mp_context=multiprocessing.get_context("fork"),
                                      initializer=_worker_output, initargs=(str(log),))
        _WORKER.submit(int).result()  # fork now (a forked process has no threads but the forking one)
    return _WORKER


def _worker_output(log: str) -> None:
    """A worker's output goes to a file of its own, never into the output captured for a test here."""
    global _WORKER
    _WORKER = None  # the forking process's pool, not the worker's: a worker job starts no other job
    stream = open(log, "a", buffering=1, encoding="utf-8")  # noqa: SIM115 - open for the worker's life
    os.dup2(stream.fileno(), 1)
    os.dup2(stream.fileno(), 2)
    sys.stdout = sys.stderr = stream


class Background:
    """Work that a test only waits for, run on the spare core: ``fn(folder)`` with a fresh folder.

    Declared at module level; a test that reads it is decorated with the job (``@JOB``) or uses
    ``fixture``. It is queued when the first such test is collected (``after``: jobs that must be
    done first, queued before it) and taken off the queue if no selected test reads it;
    ``result()`` waits for it (and queues it first if nobody did). ``process=True``: ``fn`` runs in
    the worker process (``fn`` a module-level function; it and its result are pickled), for Python
    work; without it, in a thread here, for what only waits for subprocesses.
    """

    def __init__(self, fn: Callable[[Path], Any], *, after: tuple[Background, ...] = (),
                 fixture: str | None = None, process: bool = False, name: str | None = None):
        self.fn, self.after, self.fixture, self.process = fn, after, fixture, process
        self.name = (name or fn.__name__).strip("_")
        self.future: Future | None = None

    def __call__(self, test):
        return pytest.mark.background(self)(test)

    def wanted_by(self, item: pytest.Item) -> bool:
        if item.get_closest_marker("skip"):  # e.g. a test marked latex without TeX Live
            return False
        return self.fixture in getattr(item, "fixturenames", ()) or self in _marked_jobs(item)

    def start(self, priority: tuple = NOW) -> Future:
        if self.future is None or self.future.cancelled():
            for job in self.after:  # queued before this one, never after it
                job.start(priority)
            folder = _CONFIG._tmp_path_factory.mktemp(self.name[:30])
            if self.process:
                self.future = spare_core().submit(in_worker, self.fn, folder, priority=priority)
            else:
                self.future = spare_core().submit(self.fn, folder, priority=priority)
        return self.future

    def result(self) -> Any:
        __tracebackhide__ = True
        try:
            return self.start().result()
        except BaseException as exc:
            if self.process:  # the worker's traceback is the cause; the frames here are the futures' only
                raise exc.with_traceback(None)  # noqa: B904 - the cause is kept
            raise


def in_worker(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` run by the worker (``fn`` and the result picklable), for a job on the spare core:
    its thread waits for it."""
    __tracebackhide__ = True
    return worker().submit(fn, *args).result()


def _marked_jobs(item: pytest.Item) -> list[Background]:
    return [job for m in item.iter_markers("background") for job in m.args]


_BODIES: dict[str, Callable[..., None]] = {}  # "module.test": the tests run by on_spare_core


def _run_body(key: str, folder: Path) -> tuple[str, str] | None:
    """In the worker: the test itself (``tmp_path``: a fresh folder). Its failure goes back to the
    test as it is; a skip or an xfail as ("skip" or "xfail", reason)."""
    if key not in _BODIES:
        importlib.import_module(key.rsplit(".", 1)[0])  # its module registers it (on_spare_core)
    test = _BODIES[key]
    try:
        test(**({"tmp_path": folder} if "tmp_path" in inspect.signature(test).parameters else {}))
    except pytest.skip.Exception as exc:
        return "skip", exc.msg
    except pytest.xfail.Exception as exc:
        return "xfail", exc.msg
    except BaseException as exc:
        try:
            pickle.dumps(exc)
        except Exception:  # noqa: BLE001 - sent back as text instead
            raise AssertionError("".join(traceback.format_exception(exc))) from None
        raise
    return None


def on_spare_core(test: Callable[..., None]) -> Callable[[], None]:
    """Run a long Python test in a forked worker process, from the start of the session, not here.

    The test is unchanged: the same body, assertions and Hypothesis examples, in another process
    (forked from this one when collection started); it may take ``tmp_path`` and no other
    fixture. The test collected here waits for it and fails, skips or passes as it did there (the
    worker's traceback is the failure's cause).
    """
    params = set(inspect.signature(test).parameters)
    assert params <= {"tmp_path"}, f"{test.__qualname__}: a worker is given tmp_path only, not {params}"
    key = f"{test.__module__}.{test.__name__}"  # (a Hypothesis test's __qualname__ is its wrapper's)
    _BODIES[key] = test
    job = Background(functools.partial(_run_body, key), process=True, name=test.__name__)

    @functools.wraps(test, updated=())
    def waits_for_the_worker() -> None:
        __tracebackhide__ = True
        outcome = job.result()
        if outcome is not None:
            getattr(pytest, outcome[0])(outcome[1])

    waits_for_the_worker.__signature__ = inspect.Signature()  # its tmp_path is the worker's
    waits_for_the_worker.pytestmark = [*getattr(test, "pytestmark", []), pytest.mark.background(job).mark]
    return waits_for_the_worker


# --------------------------------------------------------------------------
# Hooks


def pytest_configure(config):
    global _CONFIG
    _CONFIG = config
    config.addinivalue_line("markers", "background(job): the test waits for a conftest.Background job")


def _runs_last(item: pytest.Item) -> bool:
    return "latex" in item.keywords or "compiled" in getattr(item, "fixturenames", ())


def _jobs_of(item: pytest.Item) -> list[Background]:
    """The jobs the test reads: those it is marked with, and those of the fixtures it uses."""
    module = getattr(item, "module", None)
    declared = [v for v in vars(module).values() if isinstance(v, Background) and v.fixture] if module else []
    return [job for job in declared + _marked_jobs(item) if job.wanted_by(item)]


def pytest_collection(session):
    """Fork the worker before anything else runs here (no thread exists yet), then start the spare core."""
    if not session.config.option.collectonly:
        worker()
        spare_core()


def pytest_itemcollected(item):
    """Queue the work the test reads as soon as it is collected (the spare core starts on it while
    the rest of the suite is collected)."""
    _PLACES[item] = (int(_runs_last(item)), len(_PLACES))
    if item.config.option.collectonly or ("latex" in item.keywords and not HAVE_LATEX):
        return
    for job in _jobs_of(item):
        if job.future is None:
            job.start(priority=_PLACES[item])


def pytest_collection_modifyitems(config, items):
    """Tests that compile run last; tests marked ``latex`` are skipped (loudly) without TeX Live."""
    items.sort(key=_runs_last)
    if HAVE_LATEX:
        return
    skip = pytest.mark.skip(reason="TeX Live (pdflatex) is not installed")
    for item in items:
        if "latex" in item.keywords:
            item.add_marker(skip)


def pytest_collection_finish(session):
    """The work no selected test reads (deselected by -k or -m) is taken off the queue."""
    global _NEEDS_COMPILED, _COMPILED_AT
    readers = [item for item in session.items if "compiled" in getattr(item, "fixturenames", ())]
    _NEEDS_COMPILED = bool(readers)
    _COMPILED_AT = _PLACES.get(readers[0], NOW) if readers else NOW
    wanted = {job for item in session.items for job in _jobs_of(item)}
    wanted |= {dep for job in wanted for dep in job.after}
    for job in {job for item in _PLACES for job in _jobs_of(item)} - wanted:
        if job.future is not None:
            job.future.cancel()  # if it has not started, it never will


def pytest_sessionfinish(session):
    if _SPARE is not None:
        _SPARE.shutdown()
    if _WORKER is not None:
        _WORKER.shutdown(wait=True, cancel_futures=True)


# --------------------------------------------------------------------------
# The shared builds


@pytest.fixture(scope="session")
def fall2025():
    return variant.load("fall2025")


@pytest.fixture(scope="session")
def fall2024():
    return variant.load("fall2024")


_COMPILES: dict = {}  # (preset, "key"|"handout") -> (folder, future of the BuildReport)


@pytest.fixture(scope="session")
def latex_pool():
    # One core compiles while the other runs the Python tests.
    return spare_core()


@pytest.fixture(scope="session")
def outcomes(latex_pool, tmp_path_factory):
    """Both presets through derive -> check -> present: {preset: Outcome}.

    Each preset's key and handout start compiling as soon as its outcome is ready.
    """
    out = {}
    for name in variant.presets():
        out[name] = build.run(variant.load(name), cache_dir=Path(os.environ["HW2_CACHE"]))
        if HAVE_LATEX and _NEEDS_COMPILED:
            # Both presets' key and handout; the students' solutions of the default edition.
            kinds = ("key", "handout") + (("students",) if name == variant.DEFAULT_PRESET else ())
            for kind in kinds:
                folder = tmp_path_factory.mktemp(f"{name}-{kind}")
                audience = {"key": "staff"}.get(kind, kind)
                _COMPILES[(name, kind)] = (folder, latex_pool.submit(build.write, out[name], folder, key=audience,
                                                                     priority=_COMPILED_AT))
    return out


@pytest.fixture(scope="session")
def compiled(outcomes):
    """Each preset's key and handout (and the default's students' solutions), compiled once:
    {(preset, "key"|"handout"|"students"): (folder, report)}."""
    if not HAVE_LATEX:
        pytest.skip("TeX Live (pdflatex) is not installed")
    return {job: (folder, future.result()) for job, (folder, future) in _COMPILES.items()}
