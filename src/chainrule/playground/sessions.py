"""One training session per browser tab: its own data, model, optimiser and random generator.

A :class:`Session` holds everything one tab trains, and nothing else: the data come from the
session's seed, the weights and the order of the mini-batches from its own
``numpy.random.Generator``, so sessions never share state and several tabs training at once
get exactly what each would get alone. Each session has a lock, since the server answers
requests in threads, and the steps of all sessions take turns on one more (:data:`COMPUTE`);
the :class:`SessionStore` maps the page's id to its session.

A step is the ordinary chainrule loop (``zero_grad``, forward, ``backward``, ``step``). The
last step of each request is also traced with :func:`chainrule.inspect.trace` on its batch,
before its update: the δ and ∂C/∂W the page draws are the library's own numbers for the
backward pass that made that update.
"""

from __future__ import annotations

import itertools
import math
import re
import threading
from collections import OrderedDict
from typing import Any

import numpy

import chainrule as cr
from chainrule import nn, optim
from chainrule.inspect import Trace, trace
from chainrule.playground import datasets, snapshot
from chainrule.playground.config import Config, ConfigError

MAX_STEPS_PER_REQUEST = 1000
SCHEDULE_STEP = 500  # "step": the rate halves every this many steps
SCHEDULE_COSINE = 2000  # "cosine": from lr to lr/100 over this many steps, then constant
ACTIVATIONS = {
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "sigmoid": nn.Sigmoid,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
}
SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# chainrule's engine keeps process-wide state while it runs (the callbacks a backward pass
# queues, the array module of the node being run), so two threads must not compute at once:
# the sessions share nothing, but their steps take turns. The GIL would serialise them anyway.
COMPUTE = threading.Lock()


class DivergedError(ValueError):
    """The loss or a weight became NaN or infinite; the session stops until it is reset."""


class UnknownSessionError(LookupError):
    """No session has the id a request names (the server restarted, or dropped it)."""


class Session:
    """A model training on 2-D data, stepped on request.

    ```pycon
    >>> from chainrule.playground.config import Config
    >>> session = Session(Config(dataset="xor", noise=0.0, layers=(4,), lr=0.1))
    >>> before = session.history[-1][1]
    >>> view = session.train(50)
    >>> view["step"], view["loss"]["train"] < before
    (50, True)

    ```
    """

    def __init__(self, config: Config) -> None:
        self.config = config
        self.lock = threading.Lock()
        self.data = datasets.make(config)
        self.rng = numpy.random.default_rng(config.seed)
        self.stages = build_layers(config, self.in_features, self.rng)
        self.model = nn.Sequential(*[m for stage in self.stages for m in stage if m is not None])
        self.loss_fn = make_loss(config.loss)
        self.optimizer = make_optimizer(config, self.model.parameters())
        self.scheduler = make_scheduler(config, self.optimizer)
        self.step = 0
        self.diverged: str | None = None
        self.last_trace: Trace | None = None
        self.last_batch: numpy.ndarray | None = None
        self._order = numpy.arange(0)
        self.history: list[tuple[int, float, float | None]] = [(0, *self.losses())]

    @property
    def in_features(self) -> int:
        return 3 if self.config.constant_input else 2

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def inputs(self, x: numpy.ndarray) -> cr.Tensor:
        """Points (N, 2) as the network's input: (N, 3) with a column of ones if asked for."""
        if self.config.constant_input:
            x = numpy.concatenate([x, numpy.ones((len(x), 1), x.dtype)], axis=1)
        return cr.from_numpy(numpy.ascontiguousarray(x, dtype=numpy.float32))

    def train(self, steps: int) -> dict[str, Any]:
        """Take ``steps`` steps (1 to 1000) and return the snapshot the page draws."""
        if not 1 <= steps <= MAX_STEPS_PER_REQUEST:
            raise ConfigError("n", f"n: steps per request must be 1 to 1000, got {steps}")
        with self.lock, COMPUTE:
            self._check_not_diverged()
            for k in range(steps):
                self._step(record=k == steps - 1)
            return snapshot.snapshot(self)

    def explain_step(self) -> dict[str, Any]:
        """One step, taken apart for the step-by-step mode: forward, each δ, the update."""
        with self.lock, COMPUTE:
            self._check_not_diverged()
            before = [p.detach().numpy().copy() for p in self.model.parameters()]
            lr = self.lr
            self._step(record=True)
            return snapshot.explain(self, before, lr)

    def view(self, with_data: bool = False) -> dict[str, Any]:
        """The snapshot of the session as it is, without stepping."""
        with self.lock, COMPUTE:
            return snapshot.snapshot(self, with_data=with_data)

    def losses(self) -> tuple[float, float | None]:
        """The loss on the whole training set, and on the test set if there is one."""
        with cr.no_grad():
            train = self.loss_on(self.data.train_x, self.data.train_y)
            if self.data.test_x is None:
                return train, None
            return train, self.loss_on(self.data.test_x, self.data.test_y)

    def loss_on(self, x: numpy.ndarray, y: numpy.ndarray) -> float:
        """The loss on the points ``x`` (N, 2), labels ``y`` (N, 1); NaN when the network's
        output is not finite (BCE refuses such an input)."""
        output = self.model(self.inputs(x))
        if not numpy.isfinite(output.numpy()).all():
            return math.nan
        return float(self.loss_fn(output, cr.from_numpy(y)).item())

    # ---- one step ------------------------------------------------------------------------------

    def _step(self, record: bool) -> None:
        batch = self._next_batch()
        x, y = self.inputs(self.data.train_x[batch]), cr.from_numpy(self.data.train_y[batch])
        with cr.no_grad():
            if not numpy.isfinite(self.model(x).numpy()).all():
                # Finite weights so large that z overflows: BCE would refuse the output.
                self._diverge("the network's output became NaN or infinite")
        if record:
            # Traced before the update: the δ and ∂C/∂W of the backward pass below.
            self.last_trace, self.last_batch = trace(self.model, x, y, self.loss_fn), batch
        self.optimizer.zero_grad()
        loss = self.loss_fn(self.model(x), y)
        loss.backward()
        self.optimizer.step()
        cosine_done = self.config.schedule == "cosine" and self.step >= SCHEDULE_COSINE
        if self.scheduler is not None and not cosine_done:
            self.scheduler.step()
        self.step += 1
        if not all(numpy.isfinite(p.detach().numpy()).all() for p in self.model.parameters()):
            self._diverge("a weight became NaN or infinite")
        train, test = self.losses()
        self.history.append((self.step, train, test))
        for value in (float(loss.item()), train):
            if not math.isfinite(value):
                self._diverge(f"the loss became {value}")

    def _next_batch(self) -> numpy.ndarray:
        """The indices of the next mini-batch: the whole set in order when the batch size
        reaches it, else slices of a fresh random permutation each epoch."""
        n, size = len(self.data.train_x), self.config.batch_size
        if size >= n:
            return numpy.arange(n)
        if len(self._order) < size:
            self._order = self.rng.permutation(n)
        batch, self._order = self._order[:size], self._order[size:]
        return batch

    def _diverge(self, what: str) -> None:
        self.diverged = (
            f"Training stopped at step {self.step}: {what} with learning rate "
            f"{self.config.lr:g}. The updates overshoot and grow without bound; press Reset and "
            f"try a smaller learning rate, e.g. {_smaller(self.config.lr)}."
        )
        raise DivergedError(self.diverged)

    def _check_not_diverged(self) -> None:
        if self.diverged is not None:
            raise DivergedError(self.diverged)


class SessionStore:
    """The sessions by the page's id, at most ``limit`` of them (the least recently used go)."""

    def __init__(self, limit: int = 32) -> None:
        self.limit = limit
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()

    def reset(self, session_id: str, config: Config) -> Session:
        """A new session for ``session_id`` (replacing its old one) with ``config``."""
        check_id(session_id)
        with COMPUTE:
            session = Session(config)  # outside the store's lock: other tabs' lookups go on
        with self._lock:
            self._sessions[session_id] = session
            self._sessions.move_to_end(session_id)
            while len(self._sessions) > self.limit:
                self._sessions.popitem(last=False)
        return session

    def get(self, session_id: str) -> Session:
        check_id(session_id)
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                raise UnknownSessionError(
                    f"no session {session_id!r} (the server may have restarted): press Reset"
                )
            self._sessions.move_to_end(session_id)
        return session

    def __len__(self) -> int:
        return len(self._sessions)


def check_id(session_id: Any) -> str:
    if not isinstance(session_id, str) or not SESSION_ID.match(session_id):
        raise ConfigError(
            "session",
            f"session: expected an id of 1 to 64 letters, digits, - or _, got {session_id!r}",
        )
    return session_id


# ---- the model and its training ----------------------------------------------------------------


def build_layers(
    config: Config, in_features: int, rng: numpy.random.Generator
) -> list[tuple[nn.Linear, nn.Module | None]]:
    """(Linear, activation) per layer, hidden layers then the sigmoid output neuron, with
    weights drawn as ``config.init`` says from ``rng`` (or from the seed, for the seeds' draws).
    """
    widths = [in_features, *config.layers, 1]
    legacy = numpy.random.RandomState(config.seed)  # np.random.seed(s); np.random.random(...)
    stages = []
    for number, (fan_in, fan_out) in enumerate(itertools.pairwise(widths), start=1):
        linear = nn.Linear(fan_in, fan_out, bias=config.bias)
        if config.init == "default":
            bound = 1.0 / math.sqrt(fan_in)
            weight = rng.uniform(-bound, bound, (fan_out, fan_in))
            bias = rng.uniform(-bound, bound, fan_out)
        else:
            # The seeds draw W as (in, out) and multiply x @ W: Linear keeps its transpose.
            weight = legacy.random((fan_in, fan_out)).T
            weight = 2 * weight - 1 if config.init == "uniform11" else weight
            bias = numpy.zeros(fan_out)
        _assign(linear.weight, weight)
        if linear.bias is not None:
            _assign(linear.bias, bias)
        last = number == len(widths) - 1
        activation = nn.Sigmoid() if last else _activation(config.activation)
        stages.append((linear, activation))
    return stages


def make_loss(name: str) -> nn.Module:
    if name == "bce":
        return nn.BCELoss()
    return nn.MSELoss(reduction="sum" if name == "sse" else "mean")


def make_optimizer(config: Config, parameters: Any) -> optim.Optimizer:
    lr, decay = config.lr, config.l2
    if config.optimizer == "sgd":
        return optim.SGD(parameters, lr=lr, weight_decay=decay)
    if config.optimizer == "momentum":
        return optim.SGD(parameters, lr=lr, momentum=0.9, weight_decay=decay)
    if config.optimizer == "rmsprop":
        return optim.RMSprop(parameters, lr=lr, weight_decay=decay)
    return optim.Adam(parameters, lr=lr, weight_decay=decay)


def make_scheduler(config: Config, optimizer: optim.Optimizer) -> Any:
    if config.schedule == "step":
        return optim.lr_scheduler.StepLR(optimizer, step_size=SCHEDULE_STEP, gamma=0.5)
    if config.schedule == "cosine":
        return optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=SCHEDULE_COSINE, eta_min=config.lr / 100
        )
    return None


def _activation(name: str) -> nn.Module | None:
    return None if name == "linear" else ACTIVATIONS[name]()


def _assign(parameter: nn.Parameter, values: numpy.ndarray) -> None:
    with cr.no_grad():
        parameter.copy_(cr.from_numpy(numpy.asarray(values, dtype=numpy.float32)))


def _smaller(lr: float) -> str:
    """A rate well below ``lr``: a tenth, rounded down to 1, 2 or 5 times a power of ten."""
    target = min(lr / 10, 1.0)
    power = 10 ** math.floor(math.log10(target))
    return f"{max(m for m in (1, 2, 5) if m * power <= target) * power:g}"
