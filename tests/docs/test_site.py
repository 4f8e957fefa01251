"""The documentation site: it builds strictly in English and Chinese, every page of the nav is
there in both, ``chainrule docs`` serves it, and a headless browser renders the home page and a
tutorial in each language with their text, code and pictures.

The browser check runs Debian's ``chromium`` (CI installs it with apt-get) and is skipped, with
the reason, where no browser is installed.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest
import yaml

from chainrule.cli import docs as docs_command
from chainrule.cli import main

ROOT = Path(__file__).resolve().parents[2]
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
# Appended to a built page: once it has loaded, what the browser saw goes into a <pre>.
VERIFY = """
<script>
window.addEventListener("load", () => {
  const images = Array.from(document.querySelectorAll("article img"));
  const result = {
    images: images.length,
    loaded: images.filter((img) => img.complete && img.naturalWidth > 0).length,
    code: Array.from(document.querySelectorAll("article pre code")).map((c) => c.innerText),
    text: document.querySelector("article")?.innerText ?? "",
    languages: Array.from(document.querySelectorAll("a[hreflang]")).map((a) => a.hreflang),
  };
  const out = document.createElement("pre");
  out.id = "verification";
  out.textContent = JSON.stringify(result);
  document.body.appendChild(out);
});
</script>
"""


def nav_pages() -> list[str]:
    """The markdown files that mkdocs.yml's nav lists."""
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))

    def walk(entry: object) -> list[str]:
        if isinstance(entry, str):
            return [entry]
        if isinstance(entry, list):
            return [page for item in entry for page in walk(item)]
        if isinstance(entry, dict):
            return [page for value in entry.values() for page in walk(value)]
        return []

    return walk(config["nav"])


def built_path(site: Path, page: str, language: str) -> Path:
    stem = page.removesuffix(".md")
    folder = stem.removesuffix("index").rstrip("/")
    prefix = site / "zh" if language == "zh" else site
    return prefix / folder / "index.html"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    docs_command.build(ROOT, out)
    return out


def test_every_page_of_the_nav_is_built_in_both_languages(site: Path) -> None:
    pages = nav_pages()
    assert len([p for p in pages if p.startswith("tutorials/")]) >= 9
    for page in pages:
        for language in ("en", "zh"):
            path = built_path(site, page, language)
            assert path.is_file(), f"{page} ({language}) was not built: {path}"
    for page in pages:
        if page.startswith("tutorials/0"):
            # Each tutorial is written in Chinese too, not only the English page as fallback.
            source = ROOT / "docs" / page.replace(".md", ".zh.md")
            assert source.is_file(), f"{page} has no Chinese page {source.name}"


def test_tutorial_code_is_the_same_in_both_languages(site: Path) -> None:
    """The code blocks taken from a tutorial's script (included, not copied) are the same, in
    the same order, on the English and the Chinese page; commands and printed output may be
    commented in each language."""
    import html as html_module

    scripts = "\n".join(
        path.read_text(encoding="utf-8") for path in (ROOT / "docs/tutorials/code").glob("*.py")
    )

    def script_blocks(path: Path) -> list[str]:
        blocks = re.findall(
            r'<div class="highlight"><pre><span></span><code>(.*?)</code></pre>',
            path.read_text(encoding="utf-8"),
            flags=re.S,
        )
        texts = [html_module.unescape(re.sub(r"<[^>]+>", "", block)).strip() for block in blocks]
        return [text for text in texts if text and text in scripts]

    for page in nav_pages():
        if not page.startswith("tutorials/0"):
            continue
        english = script_blocks(built_path(site, page, "en"))
        chinese = script_blocks(built_path(site, page, "zh"))
        assert english, f"{page}: no code from its script on the English page"
        assert english == chinese, f"{page}: the two languages show different code"


def test_a_broken_reference_fails_the_build(tmp_path: Path) -> None:
    copy = tmp_path / "source"
    shutil.copytree(ROOT / "docs", copy / "docs")
    shutil.copy(ROOT / "mkdocs.yml", copy / "mkdocs.yml")
    text = (ROOT / "src").resolve()
    config = (copy / "mkdocs.yml").read_text(encoding="utf-8")
    config = config.replace("paths: [src]", f"paths: [{text}]")
    (copy / "mkdocs.yml").write_text(config, encoding="utf-8")
    (copy / "docs" / "index.md").write_text("# x\n\n[broken](no-such-page.md)\n", encoding="utf-8")
    with pytest.raises(ValueError, match="did not build"):
        docs_command.build(copy, tmp_path / "out")


def test_chainrule_docs_says_where_the_sources_are_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["docs", "--source", str(tmp_path), "--build-only"]) == 2
    assert "no mkdocs.yml there" in capsys.readouterr().err


def test_chainrule_docs_serves_the_site(site: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "chainrule.cli", "docs", "--port", "0", "--out", str(site)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        address = None
        for line in process.stdout:
            found = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
            if found:
                address = found.group(0)
                break
        assert address is not None, process.stderr.read()
        english = urllib.request.urlopen(address, timeout=10).read().decode()
        chinese = urllib.request.urlopen(address + "zh/", timeout=10).read().decode()
        assert "reverse-mode automatic" in english
        assert "反向传播" in chinese
    finally:
        process.terminate()
        process.wait(timeout=10)


# ---- in a browser ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> str:
    found = next((path for name in BROWSERS if (path := shutil.which(name))), None)
    if found is None:
        pytest.skip(f"no headless browser found on PATH (looked for {', '.join(BROWSERS)})")
    return found


@pytest.fixture(scope="module")
def server(site: Path) -> str:
    handler = docs_command._QuietHandler
    import functools
    import http.server

    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(site))
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


def seen_by_browser(browser: str, site: Path, server: str, page: str, tmp: Path) -> dict:
    path = site / page
    html = path.read_text(encoding="utf-8")
    if "verification" not in html:
        path.write_text(html.replace("</body>", VERIFY + "</body>"), encoding="utf-8")
    command = [
        browser,
        *FLAGS,
        f"--user-data-dir={tmp}",
        "--virtual-time-budget=10000",
        "--dump-dom",
        server + page.removesuffix("index.html"),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stderr[-2000:]
    found = re.search(r'<pre id="verification">(.*?)</pre>', done.stdout, flags=re.S)
    assert found, f"{page}: the page did not finish loading in the browser"
    import html as html_module

    return json.loads(html_module.unescape(found.group(1)))


@pytest.mark.parametrize(
    ("page", "phrase"),
    [
        ("index.html", "reverse-mode automatic differentiation"),
        ("zh/index.html", "反向传播"),
        ("tutorials/01-xor-by-hand/index.html", "δ"),
        ("zh/tutorials/01-xor-by-hand/index.html", "反向传播"),
    ],
)
def test_pages_render_in_a_browser(
    browser: str, site: Path, server: str, page: str, phrase: str, tmp_path: Path
) -> None:
    seen = seen_by_browser(browser, site, server, page, tmp_path)
    assert phrase in seen["text"], f"{page}: {phrase!r} not in the rendered text"
    assert seen["code"], f"{page}: no code block rendered"
    assert seen["loaded"] == seen["images"], f"{page}: {seen['images'] - seen['loaded']} broken"
    assert {"en", "zh"} <= set(seen["languages"]), f"{page}: no language switch"
    if page.startswith(("tutorials", "zh/tutorials")):
        assert seen["images"] >= 1, f"{page}: a tutorial without its pictures"


def test_api_pages_show_docstrings_without_sphinx_roles(site: Path) -> None:
    """Docstrings write :func:`name`; the pages show the name as code, not the role."""
    pages = sorted((site / "api").glob("*/index.html"))
    assert len(pages) >= 8
    text = "".join(page.read_text(encoding="utf-8") for page in pages)
    assert "<code>chainrule.ops</code>" in text  # a name that a role introduced
    assert not re.search(r":(mod|func|class|meth|attr):<code>", text)
