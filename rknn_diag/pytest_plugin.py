"""pytest plugin (entry point `rknn_diag`): hardware-in-the-loop options, the `target`
fixture, and the results file — one JSON line per finished case, written the
moment it ends, so a crash, a lost board or a killed run loses nothing.

Cases that need the target run it in the `executed`-style fixtures of the suite,
i.e. during *setup*: a target that breaks (board lost, adb timeout, vendor crash)
makes the case an *error* (infrastructure); a wrong answer found in the test body
is a *failure* (product) — the LAVA distinction, kept apart in the report.
"""

from __future__ import annotations

import os
import shlex
import time
import uuid

import pytest

from . import outcome, results
from .errors import TargetError
from .targets import TARGETS

_RECORD = pytest.StashKey[dict]()
_ALREADY_PASSED = pytest.StashKey[bool]()


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("rknn_diag", "rknn_diag hardware-in-the-loop")
    g.addoption("--target", default="simulator", choices=TARGETS,
                help="where conformance cases run (default: simulator)")
    g.addoption("--device-id", action="append", default=[], metavar="SERIAL",
                help="board serial for --target board (repeatable: one xdist group per board)")
    g.addoption("--converter", default="project", choices=("project", "toolkit2"),
                help="board: who builds the .rknn on the host — rknn_diag (default; for boards running "
                     "rknn_diag's runtime) or the vendor's rknn-toolkit2 (real boards, rknn-toolkit-lite2)")
    g.addoption("--adb-server", default=None, metavar="HOST:PORT",
                help="adb server to reach boards through (default 127.0.0.1:5037)")
    g.addoption("--results", default=None, metavar="PATH",
                help="append one JSON line per finished case to PATH (see rknn_diag.results)")
    g.addoption("--skip-passed", action="store_true",
                help="skip cases that already passed on this target in the --results file")
    g.addoption("--run-id", default=None, help="tag written into every result line (default: random)")
    g.addoption("--step-timeout", type=float, default=None, metavar="SECONDS",
                help="board: limit for each adb step (push, pull, shell; default 30)")
    g.addoption("--run-timeout", type=float, default=None, metavar="SECONDS",
                help="board: limit for one on-board run; toolkit2: for one vendor case (default 300)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "rknn_case: a conformance case that writes a result line")
    if not config.getoption("run_id", None):
        config.option.run_id = os.environ.get("RKNN_DIAG_RUN_ID") or uuid.uuid4().hex[:12]
        os.environ["RKNN_DIAG_RUN_ID"] = config.option.run_id  # xdist workers share it


def pytest_sessionstart(session: pytest.Session) -> None:
    """An unusable target ends the run here, with one message and exit code 4 (usage error),
    instead of one traceback per case. Once, in the controller (xdist workers skip it)."""
    config = session.config
    if hasattr(config, "workerinput") or config.getoption("collectonly", False):
        return
    from .errors import RknnDiagError
    from .targets import preflight

    try:
        preflight(config.getoption("target"), config.getoption("device_id"), config.getoption("adb_server"),
                  converter=config.getoption("converter"))
    except RknnDiagError as e:
        raise pytest.UsageError(f"--target {config.getoption('target')} cannot be used: {e}") from None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    path = config.getoption("results")
    if not (config.getoption("skip_passed") and path):
        return
    done = results.passed_cases(path, config.getoption("target"))
    for item in items:
        rec = _case_of(item)
        if rec and rec.get("case") in done:
            item.add_marker(pytest.mark.skip(reason=f"passed in an earlier run ({path})"))
            item.stash[_ALREADY_PASSED] = True  # its line is in the file already


def _case_of(item: pytest.Item) -> dict | None:
    m = item.get_closest_marker("rknn_case")
    return dict(m.kwargs) if m else None


@pytest.fixture(scope="session")
def target(request: pytest.FixtureRequest):
    """The target named by --target, ready to run cases."""
    from .targets import make_target, target_class

    name = request.config.getoption("target")
    cls = target_class(name)
    opts = {}
    if cls.needs_device_id:
        devices = request.config.getoption("device_id")
        if not devices:
            raise pytest.UsageError(f"--target {name} needs --device-id SERIAL (repeatable)")
        mine = _pick_board(request, devices)
        # this worker's board first; the others (same chip) take its cases if it is quarantined
        opts = {"serials": [mine] + [d for d in devices if d != mine],
                "adb_server": request.config.getoption("adb_server")}
        if request.config.getoption("converter") == "toolkit2":
            from .targets.toolkit2 import convert_with_toolkit2
            opts["convert"] = convert_with_toolkit2
    elif cls.board_optional and request.config.getoption("device_id"):
        # the vendor's own board path: init_runtime(target=CHIP, device_id=SERIAL) via rknn_server
        opts = {"device_id": _pick_board(request, request.config.getoption("device_id")),
                "adb_server": request.config.getoption("adb_server")}
    opts.update(cls.timeout_options(request.config.getoption("step_timeout"),
                                    request.config.getoption("run_timeout")))
    t = make_target(name, **opts)
    if cls.checked_before_use:
        # A board must run a known model right before it gets cases; one that cannot is
        # offline, and every case on it then ends as an infrastructure error, not a failure.
        try:
            health = t.health_check()
        except BaseException:
            t.close()   # its work folder goes with it
            raise
        if not health["ok"]:
            t.close()
            raise TargetError(f"{t.name} failed its health check: {health.get('reason')}",
                              fix="check the board's runtime and firmware (rknn-doctor --device-id SERIAL)")
    yield t
    t.close()


def _pick_board(request: pytest.FixtureRequest, devices: list[str]) -> str:
    """One board per xdist worker: worker gwN takes board N mod len(devices)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return devices[int(worker[2:] or 0) % len(devices)]


@pytest.fixture
def record(request: pytest.FixtureRequest) -> dict:
    """A dict a case fills (metrics, versions, latency_ms, category, ...); written when the case ends."""
    rec = _case_of(request.node) or {}
    request.node.stash[_RECORD] = rec
    return rec


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    hook_outcome = yield
    report: pytest.TestReport = hook_outcome.get_result()
    _agree_with_outcome(report, call)
    path = item.config.getoption("results")
    base = _case_of(item)
    if not path or base is None or item.stash.get(_ALREADY_PASSED, False):
        return
    done = report.when == "call" or (report.when == "setup" and not report.passed)
    if not done:
        return
    rec = {**base, **item.stash.get(_RECORD, {})}
    status, category = _status(report, call, rec)
    msg = rec.pop("message", None) or _message(report, call)
    known = set(results.CaseResult.__dataclass_fields__)
    extra = {k: v for k, v in rec.items() if k in known and k not in ("case", "status", "category", "message")}
    extra.setdefault("target", item.config.getoption("target"))
    results.append(path, results.CaseResult(
        case=rec["case"], status=status, category=category, message=msg[:2000],
        duration=round(time.time() - rec.get("_start", time.time()), 4) if "_start" in rec else report.duration,
        repro=_repro(item, rec),
        run_id=item.config.getoption("run_id") or "", **extra))


def _repro(item: pytest.Item, rec: dict) -> str:
    """The command that reruns this one case where it ran, shell-quoted."""
    argv = ["python", "-m", "pytest", item.nodeid, "--target", item.config.getoption("target")]
    if item.config.getoption("target") == "board" and item.config.getoption("converter") != "project":
        argv += ["--converter", item.config.getoption("converter")]
    if item.config.getoption("device_id"):
        board = rec.get("board") or next(iter(item.config.getoption("device_id")), None)
        if board:
            argv += ["--device-id", str(board)]
        if item.config.getoption("adb_server"):
            argv += ["--adb-server", item.config.getoption("adb_server")]
    return shlex.join(argv)


def _agree_with_outcome(report: pytest.TestReport, call: pytest.CallInfo) -> None:
    """pytest's own verdict follows `rknn_diag.outcome`: conformance cases run their target
    during setup, where any exception would be an ERROR; our own crash or refusal there is a
    product FAILURE, and infrastructure trouble met in a test body (a board lost in a drawn
    case) is an ERROR. pytest tells the two apart by the phase, so the phase is set to match."""
    if not report.failed or report.when == "teardown" or "rknn_case" not in report.keywords:
        return
    category = outcome.of_exception(call.excinfo.value if call.excinfo else None)
    report.when = "setup" if category == outcome.INFRASTRUCTURE else "call"


def _status(report: pytest.TestReport, call: pytest.CallInfo, rec: dict) -> tuple[str, str | None]:
    if hasattr(report, "wasxfail"):
        if report.skipped:
            # xfail() calls in the suite name their category, or were made while handling a
            # target's error (whose type names it); a marker is a declared exemption
            category = rec.get("category")
            if not outcome.is_expected(category):   # a declared xfail of our own wrong answer: exempt
                category = None
            cause = call.excinfo.value.__context__ if call.excinfo is not None else None
            if category is None and cause is not None and outcome.is_expected(outcome.of_exception(cause)):
                category = outcome.of_exception(cause)
            return "xfail", category or outcome.EXEMPT
        return "xpass", None
    if report.passed:
        return "passed", None
    if report.skipped:
        return "skipped", None
    category = outcome.of_exception(call.excinfo.value if call.excinfo else None)
    if call.excinfo is not None and call.excinfo.errisinstance(pytest.fail.Exception):
        category = rec.get("category") or outcome.PRODUCT    # judge(): a wrong answer
    return outcome.status(category), category


def _message(report: pytest.TestReport, call: pytest.CallInfo) -> str:
    if hasattr(report, "wasxfail"):
        return str(report.wasxfail)
    if call.excinfo is not None:
        return call.excinfo.exconly()
    return ""
