"""What a case's ending means — decided here, once, from the error's type and the kind of target.

The pytest plugin (pytest's own verdict and the results file), JUnit and the report all read
this decision; nothing else maps exceptions to blame.

    category        who is to blame                                   pytest    results status
    product         ours: a wrong answer, our refusal of a case in    FAILED    failed
                    the suite (even an op of our own registry), our
                    crash, or a bug in our adapter for another target
    infrastructure  a lost or unreachable board, a timeout, a tool    ERROR     error
                    that is not installed
    vendor          the vendor toolkit (or a board's firmware) gave   XFAIL     xfail
                    a wrong answer or crashed: a vendor finding
    unsupported     the vendor refused the case (op, opset, dtype)    XFAIL     xfail
    reference       onnxruntime, the reference, cannot run the case   XFAIL     xfail
    exempt          declared in the suite as not judged, with its     XFAIL     xfail
                    reason (e.g. NaN inputs of a quantized model)

Expected failures (the last four) are counted apart from coverage and limited by the gate.
"""

from __future__ import annotations

from .errors import TargetError, VendorError, VendorUnsupported

PRODUCT = "product"
INFRASTRUCTURE = "infrastructure"
VENDOR = "vendor"
UNSUPPORTED = "unsupported"
REFERENCE = "reference"
EXEMPT = "exempt"

CATEGORIES = (PRODUCT, INFRASTRUCTURE, VENDOR, UNSUPPORTED, REFERENCE, EXEMPT)
# How the report and the terminal name each category.
LABELS = {
    PRODUCT: "product failure (ours)",
    INFRASTRUCTURE: "infrastructure (board, timeout, missing tool)",
    VENDOR: "vendor finding (wrong answer or crash)",
    UNSUPPORTED: "vendor refusal (not supported by the vendor)",
    REFERENCE: "no reference (onnxruntime cannot run it)",
    EXEMPT: "exempt (declared in the suite, with its reason)",
}
EXPECTED = (VENDOR, UNSUPPORTED, REFERENCE, EXEMPT)


def of_exception(exc: BaseException | None) -> str:
    """The category of an exception that ended a case. Vendor errors name themselves; any other
    target trouble is infrastructure; everything else — our typed refusals included — is ours."""
    if isinstance(exc, VendorUnsupported):
        return UNSUPPORTED
    if isinstance(exc, VendorError):
        return VENDOR
    if isinstance(exc, TargetError):
        return INFRASTRUCTURE
    return PRODUCT


def of_wrong_answer(vendor_target: bool) -> str:
    """A case that ran and disagreed with its reference: the vendor's, or ours."""
    return VENDOR if vendor_target else PRODUCT


def status(category: str) -> str:
    """The results-file status of a case that did not pass."""
    if category == PRODUCT:
        return "failed"
    if category == INFRASTRUCTURE:
        return "error"
    return "xfail"


def is_expected(category: str | None) -> bool:
    return category in EXPECTED
