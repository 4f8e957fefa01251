"""``chainrule playground``: it serves the page on the port asked for (0: a free one), opens
the browser unless told not to, stops cleanly on Ctrl-C, and says what is wrong with bad
arguments, a busy port, or a missing Flask."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import urllib.request

import pytest
import werkzeug.serving

from chainrule.cli import main

COMMAND = [sys.executable, "-m", "chainrule.cli", "playground"]


def post(url: str, body: dict) -> dict:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.load(answer)


def test_no_browser_and_port_0_serves_on_a_free_port_until_ctrl_c() -> None:
    process = subprocess.Popen(
        [*COMMAND, "--no-browser", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Ctrl-C must reach the server even where this test runs with SIGINT ignored.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        line = process.stdout.readline()
        assert line.startswith("the chainrule playground is on http://127.0.0.1:"), line
        url = line.split(" is on ")[1].split()[0]
        assert not url.endswith(":0/")
        with urllib.request.urlopen(url, timeout=30) as page:
            html = page.read().decode()
        assert "<title>chainrule playground</title>" in html
        assert 'src="/static/playground.js"' in html and "http" not in html.split("<body>")[1]
        with urllib.request.urlopen(url + "static/playground.css", timeout=30) as style:
            assert style.status == 200
        view = post(url + "api/reset?session=cli", {"preset": "xor"})
        assert view["step"] == 0
        assert post(url + "api/step?session=cli&n=3", {})["step"] == 3
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "the playground stopped" in out
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("port", "message"),
    [
        ("70000", "a port is a number from 0 to 65535, got 70000"),
        ("-1", "a port is a number from 0 to 65535, got -1"),
        ("http", "expected a port number, got 'http'"),
    ],
)
def test_a_bad_port_is_refused(capsys, port: str, message: str) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["playground", "--no-browser", "--port", port])
    assert stopped.value.code == 2
    assert message in capsys.readouterr().err


def test_a_busy_port_says_so_and_suggests_port_0(capsys) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["playground", "--no-browser", "--port", str(port)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"chainrule playground: cannot serve on 127.0.0.1:{port}")
    assert "--port 0" in err and len(err.splitlines()) == 1


def test_the_browser_opens_on_the_address_printed(monkeypatch, capsys) -> None:
    opened = []
    monkeypatch.setattr("webbrowser.open", opened.append)

    def interrupted(self, poll_interval: float = 0.5) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(werkzeug.serving.BaseWSGIServer, "serve_forever", interrupted)
    assert main(["playground", "--port", "0"]) == 0
    out = capsys.readouterr().out
    assert len(opened) == 1 and opened[0].startswith("http://127.0.0.1:")
    assert f"the chainrule playground is on {opened[0]}" in out


def test_without_flask_it_says_which_extra_to_install(monkeypatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "flask", None)  # makes `import flask` fail
    assert main(["playground", "--no-browser"]) == 2
    err = capsys.readouterr().err
    assert "needs the optional package 'flask'" in err
    assert 'pip install "chainrule[playground]"' in err
