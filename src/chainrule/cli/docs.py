"""``chainrule docs``: build the documentation site from a checkout and serve it locally.

The site's sources (``mkdocs.yml`` and ``docs/``) live in a checkout of chainrule, not in the
installed package; the command finds them in the current folder or above it, or next to the
package's own source tree (an editable install). Building needs the ``[docs]`` extra (MkDocs,
its Material theme, mkdocstrings and the i18n plugin); serving needs nothing but Python's own
HTTP server, which serves the built files (English at ``/``, Chinese at ``/zh/``) until Ctrl-C.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import subprocess
import sys
import tempfile
from pathlib import Path

import chainrule

CONFIG = "mkdocs.yml"


def add_parser(commands: argparse._SubParsersAction) -> None:
    docs = commands.add_parser(
        "docs",
        help="build the documentation site (English and Chinese) and serve it locally",
        description=(
            "Build the documentation site from a checkout of chainrule with MkDocs, strictly "
            "(a broken reference is an error), and serve it on http://127.0.0.1:PORT/ until "
            "Ctrl-C. Needs the [docs] extra: pip install -e '.[docs]'."
        ),
    )
    docs.add_argument(
        "--source", metavar="DIR", help="the checkout holding mkdocs.yml (default: found)"
    )
    docs.add_argument("--out", metavar="DIR", help="where to build the site (default: a temp dir)")
    docs.add_argument("--port", type=int, default=8000, help="the port to serve on (default 8000)")
    docs.add_argument(
        "--build-only", action="store_true", help="build the site and stop, without serving it"
    )


def run(args: argparse.Namespace) -> int:
    source = find_source(args.source)
    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port must be between 0 and 65535, got {args.port}")
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="chainrule-site-"))
    build(source, out)
    print(f"built the site in {out}")
    if args.build_only:
        return 0
    serve(out, args.port)
    return 0


def find_source(given: str | None) -> Path:
    """The folder holding ``mkdocs.yml``: ``given``, else the current folder or one above it,
    else the checkout that this package was installed from in editable mode."""
    if given is not None:
        folder = Path(given)
        if not (folder / CONFIG).is_file():
            raise FileNotFoundError(f"--source {given}: no {CONFIG} there")
        return folder
    here = Path.cwd().resolve()
    package = Path(chainrule.__file__).resolve().parent
    for folder in [here, *here.parents, package.parent.parent]:
        if (folder / CONFIG).is_file() and (folder / "docs").is_dir():
            return folder
    raise FileNotFoundError(
        f"the documentation sources ({CONFIG} and docs/) were not found here or above: run "
        "chainrule docs inside a checkout of chainrule, or pass --source DIR"
    )


def build(source: Path, out: Path) -> None:
    """``mkdocs build --strict`` of ``source`` into ``out``; an error says what failed."""
    try:
        import mkdocs  # noqa: F401 - only to say which extra is missing
    except ImportError:
        raise ImportError(
            "building the documentation needs MkDocs, which is not installed: "
            "pip install -e '.[docs]' (in the checkout)"
        ) from None
    command = [sys.executable, "-m", "mkdocs", "build", "--strict"]
    done = subprocess.run(
        [*command, "--config-file", str(source / CONFIG), "--site-dir", str(out.resolve())],
        cwd=source,
        capture_output=True,
        text=True,
    )
    # --strict stops at warnings from the pages, but a page missing from the nav is only
    # logged: any warning at all fails the build here.
    lines = done.stderr.splitlines()
    problems = [line for line in lines if line.startswith(("WARNING", "ERROR"))]
    if done.returncode != 0 or problems:
        detail = "; ".join(problems[:3]) or done.stderr.strip()[-500:]
        raise ValueError(f"the site did not build: {detail}")


def serve(site: Path, port: int) -> None:
    """Serve the folder ``site`` on 127.0.0.1:``port`` until interrupted."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    with http.server.ThreadingHTTPServer(("127.0.0.1", port), handler) as server:
        host, bound = server.server_address[:2]
        print(f"serving the documentation on http://{host}:{bound}/ (Chinese: /zh/); Ctrl-C stops")
        sys.stdout.flush()
        server.serve_forever()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base's name
        pass  # one line per request would bury the address printed above
