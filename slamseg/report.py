"""Human-readable run reports: one structured list of blocks rendered both as Markdown and as HTML.

Pipelines add headings, paragraphs, tables and figures (PNG files inside the run folder); ``write`` puts
``report.md`` and ``report.html`` into the run folder, the HTML with the figures inline for a browser.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slamseg.runs import RunFolder


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if value != value:  # NaN
            return "n/a"
        return f"{value:.4g}" if abs(value) < 1e4 else f"{value:.0f}"
    return str(value)


@dataclass
class Report:
    """A report under construction. Blocks are (kind, payload) pairs kept in order."""

    title: str
    blocks: list[tuple[str, Any]] = field(default_factory=list)

    def heading(self, text: str) -> Report:
        self.blocks.append(("heading", text))
        return self

    def paragraph(self, text: str) -> Report:
        self.blocks.append(("paragraph", text))
        return self

    def table(self, headers: list[str], rows: list[list[Any]]) -> Report:
        """A table; cells are formatted with 4 significant digits for floats."""
        self.blocks.append(("table", (headers, [[_fmt(c) for c in r] for r in rows])))
        return self

    def key_values(self, items: dict[str, Any]) -> Report:
        """A two-column table of named values."""
        return self.table(["quantity", "value"], [[k, v] for k, v in items.items()])

    def figure(self, relative_path: str, caption: str) -> Report:
        """A figure stored in the run folder at ``relative_path``."""
        self.blocks.append(("figure", (relative_path, caption)))
        return self

    def to_markdown(self) -> str:
        out = [f"# {self.title}", ""]
        for kind, payload in self.blocks:
            if kind == "heading":
                out += [f"## {payload}", ""]
            elif kind == "paragraph":
                out += [payload, ""]
            elif kind == "table":
                headers, rows = payload
                out.append("| " + " | ".join(headers) + " |")
                out.append("|" + "|".join("---" for _ in headers) + "|")
                out += ["| " + " | ".join(r) + " |" for r in rows]
                out.append("")
            elif kind == "figure":
                path, caption = payload
                out += [f"![{caption}]({path})", "", f"*{caption}*", ""]
        return "\n".join(out)

    def to_html(self) -> str:
        e = html.escape
        out = [
            "<!doctype html><html><head><meta charset='utf-8'>",
            f"<title>{e(self.title)}</title>",
            "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
            "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 10px;"
            "text-align:right}th{background:#f3f3f3}td:first-child{text-align:left}img{max-width:100%}"
            "figure{margin:1.5em 0}figcaption{color:#555;font-style:italic}</style></head><body>",
            f"<h1>{e(self.title)}</h1>",
        ]
        for kind, payload in self.blocks:
            if kind == "heading":
                out.append(f"<h2>{e(payload)}</h2>")
            elif kind == "paragraph":
                out.append(f"<p>{e(payload)}</p>")
            elif kind == "table":
                headers, rows = payload
                out.append("<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in headers) + "</tr>")
                out += ["<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in rows]
                out.append("</table>")
            elif kind == "figure":
                path, caption = payload
                out.append(f"<figure><img src='{e(path)}' alt='{e(caption)}'><figcaption>{e(caption)}</figcaption>"
                           "</figure>")
        out.append("</body></html>")
        return "\n".join(out)

    def write(self, run: RunFolder) -> Path:
        """Write report.md and report.html into the run folder; returns the HTML path."""
        run.write_text("report.md", self.to_markdown())
        return run.write_text("report.html", self.to_html())
