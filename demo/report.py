"""The demo's report page: ``OUT/index.html``, one self-contained page that shows the whole demo.

:func:`write_report` turns the demo summary into a page a user opens in any browser, from disk:

* a header: what ran (``summary["schedule"]`` and the jobs), the total wall time
  (``summary["seconds"]``) and the machine (``summary["machine"]``, name -> version strings);
* the results table, ``summary["table"]``: one row per (job, metric) with the generated value and the
  reference one (``{"job", "metric", "generated", "reference", "note"}``; the note says what the
  reference is, e.g. "true dance");
* the training table, ``summary["stages"]``: stage, steps run (and the config's when they differ),
  wall time, and whether the checkpoint was reused or trained
  (``{"stage", "steps", "config_steps", "seconds", "reused"}``);
* one section per job (in order of first appearance in the lists), with its previews
  (``summary["videos"]``), plots (``summary["plots"]``) and output files (``summary["files"]``), each
  ``{"title", "path", "job"}``.

Self-contained: the CSS is inline, no font, script or stylesheet is fetched, and plots are embedded as
base64 PNG data URIs. Videos are large, so they are not inlined: ``<video controls>`` points at them by
their path relative to ``OUT`` (the page works wherever ``OUT`` is moved). Paths may be absolute or
relative to ``OUT``; one outside ``OUT``, or a file that is not there, is shown as text, never as a
link that would break. Everything from the summary is HTML-escaped. Missing keys, empty lists and
malformed rows are left out (a section without data is omitted). The page is written through
:func:`data.io.atomic_output`.
"""

from __future__ import annotations

import base64
import html
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

from data.io import atomic_output

PAGE = "index.html"
MAX_INLINE_PLOT_BYTES = 8 << 20
"""A plot larger than this is linked instead of embedded (a beat plot is about 100 kB)."""
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def write_report(out_dir: str | os.PathLike, summary: Mapping) -> Path:
    """Write ``out_dir/index.html`` for the demo ``summary`` (see the module doc); returns its path."""
    out = Path(out_dir)
    page = render_report(out, summary)
    target = out / PAGE
    with atomic_output(target) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return target


def render_report(out_dir: str | os.PathLike, summary: Mapping) -> str:
    """The page :func:`write_report` writes, as a string (paths resolved against ``out_dir``)."""
    if not isinstance(summary, Mapping):
        raise TypeError(f"the demo summary must be a mapping, got {type(summary).__name__}")
    out = Path(out_dir)
    table = _rows(summary.get("table"))
    stages = _rows(summary.get("stages"))
    media = {key: _rows(summary.get(key)) for key in ("videos", "plots", "files")}
    jobs = _job_order(table, *media.values())
    anchors = _anchors(jobs)

    body = [_header(summary, jobs, anchors)]
    if table:
        body.append(_results(table))
    if stages:
        body.append(_stages(stages))
    for job in jobs:
        section = _job_section(out, job, anchors[job], {k: [r for r in v if _job(r) == job] for k, v in media.items()})
        if section:
            body.append(section)
    body.append('<footer>Written by pasdeux. Videos and files are read from the folder next to this page; '
                'plots are embedded.</footer>')
    title = "pasdeux demo" + (f" ({summary['schedule']})" if _text(summary.get("schedule")) else "")
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<main>\n"
            + "\n".join(body) + "\n</main>\n</body>\n</html>\n")


# --------------------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------------------
def _header(summary: Mapping, jobs: list[str], anchors: dict[str, str]) -> str:
    facts = []
    schedule = _text(summary.get("schedule"))
    if schedule:
        facts.append(f"<span><b>schedule</b> {_e(schedule)}</span>")
    seconds = _number(summary.get("seconds"))
    if seconds is not None:
        facts.append(f"<span><b>total wall time</b> {_e(_duration(seconds))}</span>")
    machine = summary.get("machine")
    chips = ""
    if isinstance(machine, Mapping) and machine:
        chips = ('<dl class="machine">' + "".join(
            f"<div><dt>{_e(k)}</dt><dd>{_e(v)}</dd></div>" for k, v in machine.items() if _text(v)) + "</dl>")
    nav = ""
    if jobs:
        nav = ('<nav><span class="muted">jobs</span> ' + " ".join(
            f'<a href="#{_e(anchors[j])}">{_e(j)}</a>' for j in jobs) + "</nav>")
    lead = ("The pipeline end to end on the synthetic corpus: songs to solo dances, leaders to followers, "
            "dances to camera tracks; each job scored against the corpus's ground truth.")
    return ("<header>\n<h1>pasdeux demo</h1>\n"
            f'<p class="lead">{_e(lead)}</p>\n'
            + (f'<p class="facts">{" ".join(facts)}</p>\n' if facts else "") + chips + nav + "\n</header>")


def _results(rows: list[dict]) -> str:
    lines = []
    previous = None
    for r in rows:
        job = _text(r.get("job")) or "other"
        reference = _fmt(r.get("reference"))
        note = _text(r.get("note"))
        ref_cell = _e(reference) + (f' <span class="note">({_e(note)})</span>' if note else "")
        row_class = ' class="first"' if job != previous and previous is not None else ""
        lines.append(f'<tr{row_class}><td class="job">{_e(job) if job != previous else ""}</td>'
                     f"<td>{_e(_fmt(r.get('metric')))}</td>"
                     f'<td class="num gen">{_e(_fmt(r.get("generated")))}</td>'
                     f'<td class="num">{ref_cell}</td></tr>')
        previous = job
    return ('<section>\n<h2>Results</h2>\n<table class="results">\n<thead><tr><th>job</th><th>metric</th>'
            '<th class="num">generated</th><th class="num">reference</th></tr></thead>\n<tbody>\n'
            + "\n".join(lines) + "\n</tbody>\n</table>\n</section>")


def _stages(rows: list[dict]) -> str:
    lines = []
    total = 0.0
    for r in rows:
        steps, config = _number(r.get("steps")), _number(r.get("config_steps"))
        step_text = "—" if steps is None else _fmt(int(steps))
        if config is not None and steps is not None and int(config) != int(steps):
            step_text += f" of {_fmt(int(config))}"
        seconds = _number(r.get("seconds"))
        total += seconds or 0.0
        reused = r.get("reused")
        badge = ('<span class="badge reused">reused</span>' if reused is True else
                 '<span class="badge trained">trained</span>' if reused is False else "")
        lines.append(f"<tr><td>{_e(_fmt(r.get('stage')))}</td><td class=\"num\">{_e(step_text)}</td>"
                     f'<td class="num">{_e("—" if seconds is None else _duration(seconds))}</td><td>{badge}</td></tr>')
    foot = (f'<tfoot><tr><td>all stages</td><td></td><td class="num">{_e(_duration(total))}</td><td></td></tr></tfoot>'
            if len(rows) > 1 else "")
    return ('<section>\n<h2>Training</h2>\n<table class="stages">\n<thead><tr><th>stage</th><th class="num">steps</th>'
            '<th class="num">wall time</th><th>checkpoint</th></tr></thead>\n<tbody>\n'
            + "\n".join(lines) + f"\n</tbody>\n{foot}\n</table>\n</section>")


def _job_section(out: Path, job: str, anchor: str, media: dict[str, list[dict]]) -> str:
    parts = []
    videos = [_video(out, r) for r in media["videos"]]
    if videos:
        parts.append('<div class="grid videos">' + "".join(videos) + "</div>")
    plots = [_plot(out, r) for r in media["plots"]]
    if plots:
        parts.append('<div class="plots">' + "".join(plots) + "</div>")
    files = [_file(out, r) for r in media["files"]]
    if files:
        parts.append('<h3>Files</h3>\n<ul class="files">' + "".join(files) + "</ul>")
    if not parts:
        return ""
    return f'<section class="job" id="{_e(anchor)}">\n<h2>{_e(job)}</h2>\n' + "\n".join(parts) + "\n</section>"


def _video(out: Path, row: dict) -> str:
    title = _text(row.get("title")) or Path(str(row.get("path", ""))).name
    rel, shown, why = _locate(out, row.get("path"))
    if rel is None:
        inner = _unlinked(shown, why)
    else:
        href = _e(_href(rel))
        inner = (f'<video controls preload="metadata"><source src="{href}#t=0.1" type="{_e(_video_type(rel))}">'
                 f"</video>\n<a class=\"path\" href=\"{href}\">{_e(rel)}</a>")
    return f'<figure class="card"><figcaption>{_e(title)}</figcaption>\n{inner}</figure>'


def _plot(out: Path, row: dict) -> str:
    title = _text(row.get("title")) or Path(str(row.get("path", ""))).name
    uri = _png_data_uri(out, row.get("path"))
    if uri is not None:
        inner = f'<img src="{uri}" alt="{_e(title)}">'
    else:
        rel, shown, why = _locate(out, row.get("path"))
        inner = (f'<a class="path" href="{_e(_href(rel))}">{_e(rel)}</a> <span class="muted">(not a PNG that can '
                 'be embedded)</span>' if rel is not None else _unlinked(shown, why))
    return f'<figure class="card plot"><figcaption>{_e(title)}</figcaption>\n{inner}</figure>'


def _file(out: Path, row: dict) -> str:
    title = _text(row.get("title"))
    rel, shown, why = _locate(out, row.get("path"))
    if rel is None:
        target = _unlinked(shown, why)
    else:
        size = (out / rel).stat().st_size
        target = f'<a class="path" href="{_e(_href(rel))}">{_e(rel)}</a> <span class="muted">{_e(_bytes(size))}</span>'
    label = f'<span class="title">{_e(title)}</span> ' if title else ""
    return f"<li>{label}{target}</li>"


def _unlinked(shown: str | None, why: str) -> str:
    if not shown:
        return '<span class="muted">(no path given)</span>'
    return f'<code class="path">{_e(shown)}</code> <span class="muted">({_e(why)})</span>'


# --------------------------------------------------------------------------------------------------
# Paths
# --------------------------------------------------------------------------------------------------
def _locate(out: Path, path) -> tuple[str | None, str | None, str]:
    """``(path relative to out, as posix; the path as given; why not linked)``: the first is ``None``
    for a path outside ``out`` or a file that is not there. Inside means lexically (a link inside
    ``out`` counts, the browser follows it) or once symbolic links are resolved."""
    if path is None or not isinstance(path, (str, os.PathLike)) or not str(path):
        return None, None, "no path given"
    given = Path(path)
    full = given if given.is_absolute() else out / given
    rel = None
    for base, target in ((os.path.abspath(out), os.path.abspath(full)),
                         (os.path.realpath(out), os.path.realpath(full))):
        r = os.path.relpath(target, base)
        if r != os.pardir and not r.startswith(os.pardir + os.sep) and not os.path.isabs(r):
            rel = r
            break
    if rel is None:
        return None, str(path), "outside the demo folder, not linked"
    if not (out / rel).is_file():
        return None, str(path), "not found"
    return Path(rel).as_posix(), str(path), ""


def _href(rel: str) -> str:
    return quote(rel, safe="/")


def _png_data_uri(out: Path, path) -> str | None:
    """The PNG at ``path`` (absolute or relative to ``out``) as a data URI; ``None`` when it is not a
    readable PNG of at most :data:`MAX_INLINE_PLOT_BYTES`."""
    if path is None or not isinstance(path, (str, os.PathLike)) or not str(path):
        return None
    p = Path(path)
    full = p if p.is_absolute() else out / p
    try:
        if not full.is_file() or full.stat().st_size > MAX_INLINE_PLOT_BYTES:
            return None
        data = full.read_bytes()
    except OSError:
        return None
    if not data.startswith(_PNG_MAGIC):
        return None
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _video_type(rel: str) -> str:
    return {".webm": "video/webm", ".ogv": "video/ogg", ".mov": "video/quicktime"}.get(Path(rel).suffix.lower(),
                                                                                        "video/mp4")


# --------------------------------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------------------------------
def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _text(value) -> str:
    return "" if value is None else str(value).strip()


def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _fmt(value) -> str:
    """A table value: numbers to a readable precision, NaN as n/a, None as a dash, text as given."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}".replace(",", " ") if abs(value) >= 10000 else str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return "n/a"
        a = abs(value)
        if a == 0:
            return "0"
        if a >= 1000:
            return f"{value:.0f}"
        if a >= 100:
            return f"{value:.1f}"
        return f"{value:.3g}"
    return str(value)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    s = int(round(seconds))
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"


def _bytes(n: int) -> str:
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


# --------------------------------------------------------------------------------------------------
# Summary rows
# --------------------------------------------------------------------------------------------------
def _rows(value) -> list[dict]:
    """The mapping rows of a summary list (anything else is dropped)."""
    if not isinstance(value, (list, tuple)):
        return []
    return [dict(r) for r in value if isinstance(r, Mapping)]


def _job(row: dict) -> str:
    return _text(row.get("job")) or "other"


def _job_order(*lists: list[dict]) -> list[str]:
    jobs: list[str] = []
    for rows in lists:
        for r in rows:
            if _job(r) not in jobs:
                jobs.append(_job(r))
    return jobs


def _anchors(jobs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for job in jobs:
        base = "job-" + (re.sub(r"[^a-z0-9]+", "-", job.lower()).strip("-") or "x")
        name, n = base, 2
        while name in out.values():
            name, n = f"{base}-{n}", n + 1
        out[job] = name
    return out


_CSS = """
:root{--fg:#1d1d1f;--muted:#6b6b72;--line:#e2e2e6;--bg:#f6f5f1;--card:#fff;--accent:#1f5fa8;--gen:#123d6e}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);
 font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1120px;margin:0 auto;padding:32px 28px 56px}
h1{font-size:30px;margin:0 0 6px;letter-spacing:-.01em}
h2{font-size:20px;margin:36px 0 12px;padding-bottom:6px;border-bottom:2px solid var(--line)}
h3{font-size:15px;margin:20px 0 8px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
a{color:var(--accent)}
.lead{margin:0 0 12px;color:var(--muted);max-width:780px}
.facts{margin:0 0 12px;display:flex;flex-wrap:wrap;gap:8px 24px}
.facts b{font-weight:600;color:var(--muted);margin-right:6px}
dl.machine{display:flex;flex-wrap:wrap;gap:6px;margin:0 0 12px}
dl.machine div{background:var(--card);border:1px solid var(--line);border-radius:999px;padding:2px 12px;font-size:13px}
dl.machine dt{display:inline;color:var(--muted);margin-right:6px}
dl.machine dd{display:inline;margin:0;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
nav{font-size:14px}
nav a{display:inline-block;margin:0 6px 4px 0;padding:2px 10px;border-radius:6px;background:#e8eef7;text-decoration:none}
.muted{color:var(--muted);font-size:13px}
table{border-collapse:separate;border-spacing:0;width:100%;background:var(--card);border:1px solid var(--line);
 border-radius:8px;overflow:hidden}
th,td{padding:7px 14px;text-align:left;vertical-align:top}
th{font-size:13px;font-weight:600;color:var(--muted);background:#fbfbfa;border-bottom:1px solid var(--line)}
tbody tr+tr td{border-top:1px solid #f0f0f2}
tbody tr.first td{border-top:1px solid var(--line)}
tfoot td{border-top:1px solid var(--line);font-weight:600}
.num{text-align:right;font-variant-numeric:tabular-nums}
td.job{font-weight:600;white-space:nowrap}
td.gen{font-weight:600;color:var(--gen)}
.note{color:var(--muted);font-size:13px}
.badge{display:inline-block;font-size:12px;padding:1px 8px;border-radius:999px}
.badge.trained{background:#e3f1e7;color:#245c38}
.badge.reused{background:#f4ecd6;color:#6e5512}
.grid{display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:16px}
@media (max-width:760px){.grid{grid-template-columns:minmax(0,1fr)}}
figure.card{margin:0;background:var(--card);border:1px solid var(--line);border-radius:8px;padding:12px}
figure.plot{margin-top:16px}
figcaption{font-weight:600;margin-bottom:8px}
video{display:block;width:100%;border-radius:4px;background:#222}
img{display:block;width:100%;height:auto}
a.path,code.path{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px;word-break:break-all}
figure.card a.path{display:inline-block;margin-top:6px}
ul.files{list-style:none;margin:0;padding:0;background:var(--card);border:1px solid var(--line);border-radius:8px}
ul.files li{padding:7px 14px}
ul.files li+li{border-top:1px solid #f0f0f2}
ul.files .title{display:inline-block;min-width:220px}
footer{margin-top:48px;color:var(--muted);font-size:13px}
"""
