"""Step 1 of `rknn-diag model`: the doctor's model and dataset checks, before any build.
An error stops the run with the finding's own fix and guide section."""

from __future__ import annotations

from pathlib import Path

from ..errors import DatasetError, ModelInvalidError


def run(model: Path, platform: str, dataset: Path | None, toolkit_version: str | None = None) -> list[dict]:
    """The findings (as JSON dicts); raises the first error as a typed error. `toolkit_version`
    (the vendor's, when its target is asked for) adds the checks against that toolkit."""
    from ..doctor.core import Context, all_checks, run_checks

    ids = [i for i, c in all_checks().items() if c.category in ("models", "dataset")]
    findings = run_checks(Context(models=[model], dataset=dataset, target_platforms=[platform],
                                  toolkit_version=toolkit_version), ids)
    for f in findings:
        if f.status in ("error", "crash"):
            kind = DatasetError if f.category == "dataset" else ModelInvalidError
            raise kind(f"{f.id}: {f.message}", fix=f.fix or None, ref=f.ref or None)
    return [f.to_json() for f in findings]

