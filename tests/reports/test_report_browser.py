"""The HTML site report opened in a real headless browser (Debian's chromium), offline.

Checks that the page renders its figures and every chart with a real size, and keeps a
screenshot as a CI artifact: .hatang/artifacts/report-site-vi.png (printed by the test).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

from PIL import Image

from infra.reports import Format, Kind
from infra.reports.output import write_report

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "inventories" / "thainguyen"
ARTIFACTS = REPO / ".hatang" / "artifacts"

# Collects what the browser laid out: the size of every chart and the key figures' text.
PROBE = """<script>
const charts = [...document.querySelectorAll('svg[data-chart]')].map(s => {
  const r = s.getBoundingClientRect();
  return {name: s.dataset.chart, width: Math.round(r.width), height: Math.round(r.height),
          paths: s.querySelectorAll('path, use').length};
});
const pre = document.createElement('pre');
pre.id = 'probe';
pre.textContent = JSON.stringify({charts, title: document.title,
  domestic: document.querySelector('#share-domestic .value').textContent,
  province: document.querySelector('#share-province .value').textContent,
  rows: document.querySelectorAll('#capacity-table tr').length});
document.body.appendChild(pre);
</script>"""


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("chromium")
    assert binary, "chromium is not installed: run scripts/bootstrap (it installs Debian's chromium)"
    profile.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={profile}", "--hide-scrollbars", *args],
        capture_output=True, text=True, timeout=180, check=False,
    )


def test_site_report_renders_in_chromium(tmp_path: Path) -> None:
    page = write_report(SAMPLE, Kind.SITE, Format.HTML, "vi", tmp_path / "site.html").path
    assert page is not None
    html = page.read_text(encoding="utf-8")
    probed = tmp_path / "probed.html"
    probed.write_text(html.replace("</body>", PROBE + "</body>"), encoding="utf-8")

    dom = chromium("--dump-dom", probed.as_uri(), profile=tmp_path / "profile-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom.stdout, re.S)
    assert found, dom.stdout[-2000:]
    probe = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert probe["title"] == "Trung tâm dữ liệu tỉnh Thái Nguyên – Báo cáo tổng quan trung tâm dữ liệu"
    assert (probe["domestic"], probe["province"]) == ("70,6%", "64,7%")
    assert probe["rows"] == 7  # header + six resources
    assert [c["name"] for c in probe["charts"]] == ["progress", "hosting", "capacity", "demand", "zones", "flows"]
    for chart in probe["charts"]:
        assert chart["width"] >= 300 and chart["height"] >= 150 and chart["paths"] > 20, chart

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "report-site-vi.png"
    shot.unlink(missing_ok=True)
    result = chromium("--window-size=1200,6000", f"--screenshot={shot}", page.as_uri(),
                      profile=tmp_path / "profile-shot")
    assert result.returncode == 0 and shot.is_file(), result.stderr[-2000:]
    with Image.open(shot) as image:
        assert image.size == (1200, 6000)
        colours = image.convert("RGB").resize((120, 600)).getcolors(maxcolors=100000)
        assert colours is not None and len(colours) > 50  # text and charts, not a blank page
    shutil.copy(page, ARTIFACTS / "report-site-vi.html")
    print(f"screenshot: {shot}")
