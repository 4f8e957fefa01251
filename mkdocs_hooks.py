"""MkDocs hooks of the documentation site (mkdocs.yml lists this file).

The docstrings name other objects with Sphinx's roles (``:func:`grad```); mkdocstrings renders
docstrings as Markdown, where a role would show as the text ``:func:`` before the code. The
hook drops the role and keeps the name, as code.
"""

from __future__ import annotations

import re
from typing import Any

_ROLE = re.compile(r":(?:py:)?(?:mod|func|class|meth|attr|data|exc|obj):(<code>)")


def on_page_content(html: str, **_: Any) -> str:
    """The page's HTML with Sphinx roles before inline code removed."""
    return _ROLE.sub(r"\1", html)
