"""The playground's web server: a Flask app serving the page and a small JSON API.

Every request names the tab's session (``?session=ID``, an id the page makes) and does its
work at once; no thread trains in the background. The page's play loop asks for k steps at a
time and draws each answer.

    GET  /                               the page (static/index.html)
    GET  /api/options                    the choices, the presets and the defaults
    POST /api/reset?session=ID           body {"config": {...}} or {"preset": NAME}: a new
                                         session; answers a snapshot with the data points
    POST /api/step?session=ID&n=K        K steps (1 to 1000); answers a snapshot
    POST /api/explain?session=ID         one step taken apart (forward, each δ, the update)
    GET  /api/state?session=ID           the snapshot, without stepping

A request the playground cannot serve (a bad setting, a malformed CSV, a loss that became NaN)
is answered with status 400 and ``{"error": message, "field": name}``; an unknown session with
404. The server goes on serving either way.
"""

from __future__ import annotations

import socket
import webbrowser
from pathlib import Path
from typing import Any

from flask import Flask, jsonify, request, send_from_directory
from werkzeug.exceptions import HTTPException
from werkzeug.serving import WSGIRequestHandler, make_server

from chainrule.playground import config as settings
from chainrule.playground.config import ConfigError
from chainrule.playground.sessions import DivergedError, SessionStore, UnknownSessionError

STATIC = Path(__file__).resolve().parent / "static"
MAX_REQUEST_BYTES = 2 * 1024 * 1024  # a CSV of a few thousand rows, with room to spare


def create_app(store: SessionStore | None = None) -> Flask:
    """The Flask app; ``store`` holds the sessions (a new one by default).

    ```pycon
    >>> client = create_app().test_client()
    >>> answer = client.post("/api/reset?session=tab1", json={"preset": "xor"})
    >>> answer.status_code, answer.get_json()["step"]
    (200, 0)
    >>> client.post("/api/step?session=tab1&n=5").get_json()["step"]
    5

    ```
    """
    app = Flask("chainrule.playground", static_folder=str(STATIC), static_url_path="/static")
    app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    app.json.ensure_ascii = False  # δ, ∂, ⊙ travel as themselves
    sessions = store if store is not None else SessionStore()
    app.extensions["playground_sessions"] = sessions

    @app.get("/")
    def page() -> Any:
        return send_from_directory(STATIC, "index.html")

    @app.get("/api/options")
    def options() -> Any:
        return jsonify(_options())

    @app.post("/api/reset")
    def reset() -> Any:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise ConfigError("", "reset: the request body must be a JSON object")
        if "preset" in body:
            config = settings.preset(body["preset"])
        else:
            config = settings.parse(body.get("config", {}))
        session = sessions.reset(_session_id(), config)
        return jsonify(session.view(with_data=True))

    @app.post("/api/step")
    def step() -> Any:
        steps = request.args.get("n", "1")
        if not steps.isdigit():
            raise ConfigError("n", f"n: steps per request must be a whole number, got {steps!r}")
        return jsonify(sessions.get(_session_id()).train(int(steps)))

    @app.post("/api/explain")
    def explain() -> Any:
        return jsonify(sessions.get(_session_id()).explain_step())

    @app.get("/api/state")
    def state() -> Any:
        return jsonify(sessions.get(_session_id()).view(with_data=True))

    @app.errorhandler(ConfigError)
    def bad_setting(error: ConfigError) -> Any:
        return jsonify(error=str(error), field=error.field), 400

    @app.errorhandler(DivergedError)
    def diverged(error: DivergedError) -> Any:
        return jsonify(error=str(error), field="lr", diverged=True), 400

    @app.errorhandler(UnknownSessionError)
    def unknown_session(error: UnknownSessionError) -> Any:
        return jsonify(error=str(error), field="session"), 404

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Any:
        if error.code == 413:
            message = f"the request is over {MAX_REQUEST_BYTES // 2**20} MiB; use a smaller CSV"
            return jsonify(error=message, field="csv"), 413
        return jsonify(error=f"{error.code} {error.name}: {error.description}"), error.code

    @app.errorhandler(Exception)
    def bug(error: Exception) -> Any:
        # A bug, not the user's input: the traceback goes to the terminal, and the page says so.
        app.logger.exception("the playground failed on %s", request.path)
        message = (
            f"internal error in the playground ({type(error).__name__}: {error}); the server "
            "goes on, press Reset; please report it"
        )
        return jsonify(error=message), 500

    return app


def serve(port: int, open_browser: bool = True) -> None:
    """Serve the playground on 127.0.0.1:``port`` (0: a free port) until interrupted."""
    _check_free(port)
    server = make_server(
        "127.0.0.1", port, create_app(), threaded=True, request_handler=QuietRequestHandler
    )
    url = f"http://127.0.0.1:{server.server_port}/"
    print(f"the chainrule playground is on {url} (Ctrl-C stops it)", flush=True)
    if open_browser:
        webbrowser.open(url)
    server.serve_forever()  # Werkzeug's loop ends quietly on Ctrl-C and closes the socket


def _check_free(port: int) -> None:
    """Raise OSError naming the port if it cannot be bound (Werkzeug would print several
    lines and exit instead)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            raise OSError(
                f"cannot serve on 127.0.0.1:{port} ({error.strerror or error}); another program "
                "may be using the port: pass another --port, or --port 0 for a free one"
            ) from None


class QuietRequestHandler(WSGIRequestHandler):
    """Werkzeug's handler without its line per request: playing sends dozens a second."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


def _session_id() -> str:
    value = request.args.get("session")
    if value is None:
        raise ConfigError("session", "session: the request names no session (?session=ID)")
    return value


def _options() -> dict[str, Any]:
    presets = {
        name: {"title": values["title"], "config": settings.preset(name).to_json()}
        for name, values in settings.PRESETS.items()
    }
    return {
        "datasets": settings.DATASETS,
        "dataset_notes": settings.DATASET_NOTES,
        "activations": settings.ACTIVATIONS,
        "losses": settings.LOSSES,
        "optimizers": settings.OPTIMIZERS,
        "schedules": settings.SCHEDULES,
        "inits": settings.INITS,
        "presets": presets,
        "defaults": settings.Config().to_json(),
        "limits": {"layers": settings.MAX_LAYERS, "width": settings.MAX_WIDTH},
    }
