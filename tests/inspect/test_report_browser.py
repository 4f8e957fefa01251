"""The ``chainrule explain --html`` page in a real headless browser: its text renders, its
pictures load, and a screenshot of it is not blank.

Runs Debian's ``chromium`` (CI installs it with apt-get); skipped, with the reason, where no
browser is installed. Where Graphviz's ``dot`` is missing, the page shows the graph's DOT source
instead of an SVG drawing, and the check of the drawing becomes a check of that text.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import matplotlib.image
import pytest

from chainrule.cli import main

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
# Run once the page and its images have loaded; leave what the browser saw in a <pre>.
VERIFY = """
<script>
window.addEventListener("load", () => {
  const images = Array.from(document.images);
  const result = {
    images: images.length,
    loaded: images.filter((img) => img.complete && img.naturalWidth > 0).length,
    svgNodes: document.querySelectorAll("svg g.node").length,
    svgWidth: Math.round(document.querySelector("svg")?.getBoundingClientRect().width ?? 0),
    pageWidth: document.documentElement.scrollWidth,
    windowWidth: window.innerWidth,
    text: document.body.innerText,
  };
  const out = document.createElement("pre");
  out.id = "verification";
  out.textContent = JSON.stringify(result);
  document.body.appendChild(out);
});
</script>
"""


@pytest.fixture(scope="module")
def browser() -> str:
    found = next((path for name in BROWSERS if (path := shutil.which(name))), None)
    if found is None:
        pytest.skip(f"no headless browser found on PATH (looked for {', '.join(BROWSERS)})")
    return found


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("explain") / "explain.html"
    assert main(["explain", "--html", str(path)]) == 0
    return path


def run_browser(browser: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    command = [browser, *FLAGS, f"--user-data-dir={profile}", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def test_the_page_renders_with_its_text_and_pictures(
    browser: str, page: Path, tmp_path: Path
) -> None:
    checked = tmp_path / "checked.html"
    checked.write_text(
        page.read_text(encoding="utf-8").replace("</body>", VERIFY + "</body>"), encoding="utf-8"
    )
    done = run_browser(
        browser, tmp_path / "profile", "--virtual-time-budget=5000", "--dump-dom", checked.as_uri()
    )
    found = re.search(r'<pre id="verification">(.*?)</pre>', done.stdout, re.S)
    assert found, "the verification script did not run; DOM starts: " + done.stdout[:500]
    seen = json.loads(html.unescape(found.group(1)))

    assert seen["images"] == 1 and seen["loaded"] == 1  # the gradient-norm chart decoded
    if shutil.which("dot") is not None:
        assert seen["svgNodes"] >= 5  # the computational graph: inputs, weights, operations
        assert 0 < seen["svgWidth"] <= seen["windowWidth"]
    else:  # without Graphviz the page shows the graph's DOT source in its place
        assert seen["svgNodes"] == 0 and "dot is not installed" in seen["text"]
        assert "digraph computational_graph {" in seen["text"]
    assert seen["pageWidth"] <= seen["windowWidth"]  # nothing sticks out sideways
    text = seen["text"]
    assert "One backprop step of a 2-2-1 sigmoid network on XOR (seed 0)" in text
    assert "all 6 checked equations match autodiff ✓" in text
    assert text.count("✓ matches autodiff") == 6 and "✗" not in text
    assert "(BP1) δᴸ = ∇ₐC ⊙ σ'(zᴸ)" in text and "δ¹ = ((W²)ᵀ δ²) ⊙ σ'(z¹)" in text
    assert "‖∂C/∂W‖" in text and "Summary statistics of this layer's arrays" in text


def test_a_screenshot_of_the_page_is_not_blank(browser: str, page: Path, tmp_path: Path) -> None:
    shot = tmp_path / "explain.png"
    run_browser(
        browser,
        tmp_path / "profile",
        f"--screenshot={shot}",
        "--window-size=1200,2000",
        "--hide-scrollbars",
        page.as_uri(),
    )
    image = matplotlib.image.imread(shot)
    assert image.shape[:2] == (2000, 1200)
    # A rendered page has text, lines and pictures: many distinct shades, not one colour.
    grey = image[..., :3].mean(axis=2)
    assert grey.std() > 0.05 and len(set(grey[::7, ::7].ravel().round(2))) > 20
