"""The playground: a small network learning 2-D data in the browser, every δ on show.

``chainrule playground`` starts a local web server (:mod:`~chainrule.playground.server`, a
Flask app on 127.0.0.1; the ``[playground]`` extra installs Flask) and opens its page. Each
browser tab trains its own :class:`~chainrule.playground.sessions.Session`: the data
(:mod:`~chainrule.playground.datasets`), a network of ``nn.Linear`` layers, a loss, an
optimiser and a schedule chosen on the page (:mod:`~chainrule.playground.config`). After each
request the page draws a :mod:`~chainrule.playground.snapshot`: the loss curve, the decision
boundary, every neuron's activation map, and the backward pass of the last step — δ per neuron
and ∂C/∂W per connection — computed by :func:`chainrule.inspect.trace`, the library's own
numbers. Nothing runs in the browser but drawing.
"""

from chainrule.playground.config import Config, ConfigError
from chainrule.playground.sessions import DivergedError, Session, SessionStore

__all__ = ["Config", "ConfigError", "DivergedError", "Session", "SessionStore"]
