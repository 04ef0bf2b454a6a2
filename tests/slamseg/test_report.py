from __future__ import annotations

from pathlib import Path

from slamseg.report import Report
from slamseg.runs import RunFolder


def test_report_renders_tables_figures_and_escapes(tmp_path: Path) -> None:
    run = RunFolder("x", out=tmp_path / "r")
    rep = Report("Run <1>").heading("Depth").table(["metric", "value"], [["rmse", 0.123456], ["n", 3]])
    rep.figure("figures/a.png", "a & b").key_values({"nan": float("nan")})
    rep.write(run)
    md = (run.path / "report.md").read_text()
    assert "| rmse | 0.1235 |" in md and "![a & b](figures/a.png)" in md and "| nan | n/a |" in md
    page = (run.path / "report.html").read_text()
    assert "<h1>Run &lt;1&gt;</h1>" in page and "<img src='figures/a.png'" in page and "a &amp; b" in page
