"""Build the report: run every section notebook with papermill, one line of
progress per section, and render the HTML report.

A section is written atomically: it runs into a temporary file that replaces
``build/executed/<section>.ipynb`` only when the run succeeds. A failed section
keeps its previous executed copy (if any), is reported with its error (the
failed run is kept in ``build/executed/failed/``), and is marked as failed on
the contents page; the other sections still render. Each section's stderr
(TensorFlow's log) goes to ``build/executed/logs/<section>.log``.

Usage: ``python -m report_lib.publish.build [--profile full] [--model auto] [NOTEBOOK ...]``
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from report_lib.config import PROFILE_ENV, build_dir, repo_root, section_notebooks

STATUS_FILE = "status.json"


@dataclass
class SectionStatus:
    """How one section's run went."""

    section: str
    ok: bool
    seconds: float
    error: str = ""


@contextlib.contextmanager
def _stderr_to(path: Path):
    """Send this process's stderr, and so the kernel's (TensorFlow's start-up
    log), to a file, so the console shows one line per section."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stderr.flush()
    saved = os.dup(2)
    with open(path, "w") as log:
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def run_section(notebook: Path, executed_dir: Path, parameters: dict, kernel: str = "python3") -> SectionStatus:
    """Execute one notebook with papermill into ``executed_dir``, atomically.

    Args:
        notebook: Source notebook.
        executed_dir: Where the executed copy goes.
        parameters: Papermill parameters.
        kernel: Jupyter kernel name.

    Returns:
        The section's status; the error's last line when it failed.
    """
    import papermill

    executed_dir.mkdir(parents=True, exist_ok=True)
    target = executed_dir / notebook.name
    partial = executed_dir / f".{notebook.stem}.running.ipynb"
    started = time.time()
    try:
        with _stderr_to(executed_dir / "logs" / f"{notebook.stem}.log"):
            papermill.execute_notebook(
                str(notebook), str(partial), parameters=parameters, kernel_name=kernel,
                cwd=str(notebook.parent), progress_bar=False,
            )
    except Exception as error:  # papermill raises PapermillExecutionError, or anything on kernel death
        message = str(error).strip().splitlines()
        summary = next((line for line in reversed(message) if line.strip()), type(error).__name__)
        if partial.exists():
            # Keep the failed run for inspection, away from the executed sections.
            failed = executed_dir / "failed" / notebook.name
            failed.parent.mkdir(exist_ok=True)
            os.replace(partial, failed)
            summary += f" (run kept in {failed})"
        return SectionStatus(notebook.stem, False, round(time.time() - started, 1), summary[:500])
    os.replace(partial, target)
    return SectionStatus(notebook.stem, True, round(time.time() - started, 1))


def build(notebooks: list[Path], profile: str, model: str, executed_dir: Path, report_dir: Path) -> list[SectionStatus]:
    """Run the notebooks and render the report, printing one line per section.

    Returns:
        The status of every section run.
    """
    os.environ[PROFILE_ENV] = profile
    statuses = []
    for index, notebook in enumerate(notebooks, start=1):
        print(f"[{index}/{len(notebooks)}] {notebook.stem} ...", end=" ", flush=True)
        status = run_section(notebook, executed_dir, {"model_name": model})
        statuses.append(status)
        print(f"{'ok' if status.ok else 'FAILED'} in {status.seconds:.0f} s" + ("" if status.ok else f": {status.error}"), flush=True)
    previous = {}
    status_path = executed_dir / STATUS_FILE
    if status_path.exists():
        previous = json.loads(status_path.read_text())
    previous.update({s.section: asdict(s) for s in statuses})
    status_path.write_text(json.dumps(previous, indent=2))
    from report_lib.publish.report import build_report

    index_path = build_report(executed_dir, report_dir, status=previous)
    failed = [s.section for s in statuses if not s.ok]
    print(f"report written to {index_path}" + (f"; failed sections: {', '.join(failed)}" if failed else ""))
    return statuses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks to run (default: all in notebooks/)")
    parser.add_argument("--profile", default=os.environ.get(PROFILE_ENV, "full"))
    parser.add_argument("--model", default="auto")
    parser.add_argument("--executed", type=Path, default=build_dir() / "executed")
    parser.add_argument("--out", type=Path, default=build_dir() / "report")
    args = parser.parse_args()
    notebooks = args.notebooks or section_notebooks((repo_root() or Path.cwd()) / "notebooks")
    statuses = build([n.resolve() for n in notebooks], args.profile, args.model, args.executed, args.out)
    sys.exit(0 if all(s.ok for s in statuses) else 1)


if __name__ == "__main__":
    main()
