"""The demo report page: one self-contained, escaped index.html with embedded plots and relative videos."""

import base64
import re
import struct
import zlib
from html.parser import HTMLParser

import pytest

from demo.report import write_report


def _tiny_png() -> bytes:
    """A valid 2x1 RGB PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    raw = b"\x00" + b"\xff\x00\x00" + b"\x00\x00\xff"
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


class _Page(HTMLParser):
    """Collects tags, attributes and text; fails on unbalanced structure tags."""

    VOID = {"meta", "img", "source", "br", "hr", "link", "input"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.attrs: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.attrs.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1] if self.stack else None}>"
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def _parse(page: str) -> _Page:
    p = _Page()
    p.feed(page)
    p.close()
    assert p.stack == []
    return p


@pytest.fixture
def out(tmp_path):
    d = tmp_path / "demo out"
    (d / "dance").mkdir(parents=True)
    (d / "dance" / "beat plot.png").write_bytes(_tiny_png())
    (d / "dance" / "mBR4.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64)
    (d / "dance" / "mBR4.npz").write_bytes(b"PK\x05\x06" + b"\x00" * 18)
    return d


def _full_summary(out, outside):
    return {
        "schedule": "demo", "seconds": 3914.3,
        "machine": {"python": "3.11.7", "torch": "2.5.1+cpu", "cpu": "2 cores <shared>"},
        "table": [
            {"job": "solo dance", "metric": "BAS", "generated": 0.5534, "reference": 0.82, "note": "true dance"},
            {"job": "solo dance", "metric": "FID<k>", "generated": float("nan"), "reference": None},
            {"job": "duet & follower", "metric": "BED", "generated": "0.24 <b>", "reference": "0.31"},
        ],
        "stages": [
            {"stage": "solo_tokenizer", "steps": 300, "config_steps": 300, "seconds": 1648.8, "reused": False},
            {"stage": "solo_gpt", "steps": 120, "config_steps": 400, "seconds": 12.5, "reused": True},
        ],
        "plots": [{"title": "beats <mBR4>", "path": str(out / "dance" / "beat plot.png"), "job": "solo dance"}],
        "videos": [{"title": "dance to mBR4", "path": str(out / "dance" / "mBR4.mp4"), "job": "solo dance"},
                   {"title": "elsewhere", "path": str(outside), "job": "duet & follower"}],
        "files": [{"title": "npz", "path": "dance/mBR4.npz", "job": "solo dance"},
                  {"title": "gone", "path": "dance/missing.bvh", "job": "solo dance"},
                  {"title": "passwd", "path": "../../../etc/passwd", "job": "solo dance"}],
    }


def test_full_summary(out, tmp_path):
    outside = tmp_path / "elsewhere.mp4"
    outside.write_bytes(b"x")
    path = write_report(out, _full_summary(out, outside))
    assert path == out / "index.html"
    assert sorted(p.name for p in out.iterdir()) == ["dance", "index.html"]  # nothing temporary left
    page = path.read_text(encoding="utf-8")
    doc = _parse(page)
    text = " ".join(doc.text)

    # the table, escaped
    for value in ("solo dance", "BAS", "0.553", "0.82", "true dance", "n/a", "duet & follower", "0.24 <b>",
                  "FID<k>", "1 h 05 min", "2.5.1+cpu", "2 cores <shared>", "120 of 400", "reused", "trained"):
        assert value in text, value
    assert "0.24 &lt;b&gt;" in page and "FID&lt;k&gt;" in page and "duet &amp; follower" in page
    assert "<b>\"" not in page and "<shared>" not in page

    # the plot embedded as a data URI, the video linked relatively
    imgs = [a for t, a in doc.attrs if t == "img"]
    assert len(imgs) == 1 and imgs[0]["src"].startswith("data:image/png;base64,")
    assert base64.b64decode(imgs[0]["src"].split(",", 1)[1]) == _tiny_png()
    sources = [a["src"] for t, a in doc.attrs if t == "source"]
    assert [s.split("#")[0] for s in sources] == ["dance/mBR4.mp4"]  # a #t= fragment picks the poster frame
    assert any(t == "video" and "controls" in a for t, a in doc.attrs)
    hrefs = [a["href"] for t, a in doc.attrs if t == "a"]
    assert "dance/mBR4.npz" in hrefs and "dance/mBR4.mp4" in hrefs

    # paths outside out_dir, or not there, are text, never links
    assert str(outside) in text and "outside the demo folder" in text
    assert "dance/missing.bvh" in text and "not found" in text
    assert "../../../etc/passwd" in text
    assert not any("elsewhere" in h or "missing" in h or "passwd" in h for h in hrefs)
    assert all(h.startswith("#") or not re.match(r"^[a-z]+:|/", h) for h in hrefs)  # relative or anchors

    # self-contained: no remote resource, no script
    assert not re.search(r"https?://", page)
    assert not any(t in ("script", "link", "iframe") for t, _ in doc.attrs)


def test_most_keys_missing(out):
    summary = {"table": [{"job": "solo dance", "metric": "BAS", "generated": 0.5}, "not a row"],
               "videos": "not a list", "stages": None}
    page = write_report(out, summary).read_text(encoding="utf-8")
    doc = _parse(page)
    text = " ".join(doc.text)
    assert "Results" in text and "0.5" in text
    assert "Training" not in text and "total wall time" not in text
    assert not any(t in ("video", "img") for t, _ in doc.attrs)
    assert not re.search(r"https?://", page)


def test_empty_summary_still_writes_a_page(out):
    doc = _parse(write_report(out, {}).read_text(encoding="utf-8"))
    assert "pasdeux demo" in " ".join(doc.text)


def test_not_a_mapping(out):
    with pytest.raises(TypeError):
        write_report(out, ["table"])
    assert not (out / "index.html").exists()
