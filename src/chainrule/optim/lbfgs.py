"""L-BFGS: a quasi-Newton method whose curvature estimate comes from the last few steps."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from chainrule import backend, fp_errors
from chainrule.autograd.grad_mode import enable_grad, no_grad
from chainrule.autograd.versions import note_write
from chainrule.optim.line_search import Point, strong_wolfe
from chainrule.optim.optimizer import Optimizer, check_range

# Where PyTorch's L-BFGS has a constant of its own, these are it (the search's tolerance
# stays 1e-9 whatever tolerance_change is), so that the two follow the same iterates.
_CURVATURE_THRESHOLD = 1e-10  # a pair (s, y) with s·y below this is not stored
_LINE_SEARCH_TOLERANCE = 1e-9


class LBFGS(Optimizer):
    """Limited-memory BFGS (Nocedal & Wright, *Numerical Optimization*, chapter 7), after the
    design of Mark Schmidt's minFunc. One :meth:`step` runs up to ``max_iter`` iterations on
    the loss that ``closure()`` evaluates, over x, all parameters flattened into one vector:

        d = −H·g                        (g = ∇f(x); H ≈ (∇²f)⁻¹, from the pairs below)
        x ← x + t·d                     (t = lr, or from the line search)
        s = t·d,  y = g_new − g         (stored if s·y > 1e-10; the last history_size pairs)

    H·g is never formed as a matrix: the two-loop recursion (algorithm 7.4) applies the
    BFGS update of the pairs, newest first then oldest first, to the scaled identity
    H0 = (s·y / y·y)·I of the newest pair. The first iteration is a gradient step of length
    t = lr·min(1, 1/‖g‖₁). ``line_search_fn="strong_wolfe"`` instead looks along d for a t
    satisfying the strong Wolfe conditions (see :mod:`chainrule.optim.line_search`), which
    keeps s·y positive and the steps sure-footed far from a minimum.

    A step stops early when max |g_i| ≤ tolerance_grad, when the loss or the parameters
    change by no more than tolerance_change, when d is not a descent direction, or after
    ``max_eval`` evaluations of the closure. The history lives in ``state`` (under the first
    parameter, as in PyTorch), so the next step goes on where this one stopped.

    Args:
        params: tensors (one group only: L-BFGS has no per-parameter options).
        lr: step length (the first guess of the line search), ≥ 0.
        max_iter: iterations per :meth:`step`.
        max_eval: evaluations of ``closure`` per step (default ``max_iter * 5 // 4``).
        tolerance_grad: stop once every |g_i| is at most this.
        tolerance_change: stop once the loss, or every parameter, changes by less.
        history_size: how many (s, y) pairs to keep, ≥ 1.
        line_search_fn: None (fixed steps of length lr) or ``"strong_wolfe"``.

    Example:
        ```pycon
        >>> import chainrule
        >>> import chainrule.nn.functional as F
        >>> _ = chainrule.manual_seed(0)
        >>> x = chainrule.randn(32, 3)
        >>> y = x @ chainrule.tensor([[1.0], [-2.0], [0.5]]) + 0.3
        >>> model = chainrule.nn.Linear(3, 1)
        >>> optimizer = LBFGS(model.parameters(), line_search_fn="strong_wolfe")
        >>> def closure():
        ...     optimizer.zero_grad()
        ...     loss = F.mse_loss(model(x), y)
        ...     loss.backward()
        ...     return loss
        >>> first_loss = optimizer.step(closure)  # up to 20 iterations; returns the first loss
        >>> F.mse_loss(model(x), y).item() < 1e-6  # the line is found
        True

        ```
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1,
        max_iter: int = 20,
        max_eval: int | None = None,
        tolerance_grad: float = 1e-7,
        tolerance_change: float = 1e-9,
        history_size: int = 100,
        line_search_fn: str | None = None,
    ) -> None:
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = {
            "lr": lr,
            "max_iter": max_iter,
            "max_eval": max_eval,
            "tolerance_grad": tolerance_grad,
            "tolerance_change": tolerance_change,
            "history_size": history_size,
            "line_search_fn": line_search_fn,
        }
        super().__init__(params, defaults)
        self._params = self.param_groups[0]["params"]

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        if self.param_groups:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        super().add_param_group(param_group)

    def _check_options(self, group: dict[str, Any]) -> None:
        super()._check_options(group)
        for option in ("max_iter", "max_eval", "history_size"):
            value = group[option]
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"LBFGS: {option} must be an integer >= 0, got {value!r}")
        if group["history_size"] < 1:
            raise ValueError("LBFGS: history_size must be at least 1, got 0")
        check_range("LBFGS", "tolerance_grad", group["tolerance_grad"], 0.0)
        check_range("LBFGS", "tolerance_change", group["tolerance_change"], 0.0)
        if group["line_search_fn"] not in (None, "strong_wolfe"):
            raise ValueError(
                "LBFGS: line_search_fn must be None or 'strong_wolfe', got "
                f"{group['line_search_fn']!r}"
            )

    # ---- the parameters as one flat vector ---------------------------------------------------

    def _flat_grad(self) -> Any:
        xp = backend.xp
        return xp.concatenate(
            [
                p._grad.array.reshape(-1)
                if p._grad is not None
                else xp.zeros(p.array.size, dtype=p.array.dtype)
                for p in self._params
            ]
        )

    def _move(self, t: Any, d: Any) -> None:
        """x ← x + t·d, in place."""
        offset = 0
        for p in self._params:
            size = p.array.size
            p.array += t * d[offset : offset + size].reshape(p.array.shape)
            offset += size
        self._note_writes()

    def _restore(self, saved: list[Any]) -> None:
        for p, array in zip(self._params, saved):
            p.array[...] = array
        self._note_writes()

    def _note_writes(self) -> None:
        # A graph that saved the old values can no longer be carried back.
        for p in self._params:
            note_write(p.array, self._step_name)

    # ---- the step ----------------------------------------------------------------------------

    # fit() hands step() a closure, as this optimiser evaluates the loss several times a step.
    needs_closure = True

    def step(self, closure: Callable[[], Any] | None = None) -> Any:  # type: ignore[override]
        """Run up to ``max_iter`` iterations; ``closure()`` clears the gradients, computes the
        loss, calls ``backward()`` on it and returns it. Returns the loss of the first call."""
        if closure is None:
            raise TypeError(
                "LBFGS.step needs a closure that clears the gradients, computes the loss, "
                "back-propagates it and returns it"
            )
        with no_grad(), fp_errors.silenced():
            return self._run(closure)

    def _run(self, closure: Callable[[], Any]) -> Any:
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]

        def evaluate() -> Any:
            with enable_grad():
                return closure()

        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)
        first_loss = evaluate()
        loss = float(first_loss)
        evaluations = 1
        state["func_evals"] += 1
        flat_grad = self._flat_grad()
        if abs(flat_grad).max() <= tolerance_grad:  # already at a stationary point
            return first_loss

        d, t = state.get("d"), state.get("t")
        prev_flat_grad, prev_loss = state.get("prev_flat_grad"), state.get("prev_loss")
        converged = False
        for iteration in range(1, max_iter + 1):
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d = -flat_grad
                state.update(old_dirs=[], old_stps=[], ro=[], H_diag=1)
            else:
                self._remember(flat_grad - prev_flat_grad, d * t, group["history_size"])
                d = self._direction(flat_grad, group["history_size"])
            prev_flat_grad, prev_loss = flat_grad.copy(), loss

            t = min(1.0, 1.0 / abs(flat_grad).sum()) * lr if state["n_iter"] == 1 else lr
            slope = flat_grad.dot(d)
            if slope > -tolerance_change:  # d is not (enough of) a descent direction
                break

            spent = 0
            if group["line_search_fn"] is not None:
                best, spent = self._line_search(
                    evaluate, Point(0, loss, flat_grad, slope), t, d, max_eval - evaluations
                )
                loss, flat_grad, t = best.f, best.g, best.t
                self._move(t, d)
                converged = abs(flat_grad).max() <= tolerance_grad
            else:
                self._move(t, d)
                # The loss after the last iteration is not needed: spare the evaluation.
                if iteration != max_iter:
                    loss = float(evaluate())
                    flat_grad = self._flat_grad()
                    converged = abs(flat_grad).max() <= tolerance_grad
                    spent = 1
            evaluations += spent
            state["func_evals"] += spent

            if (
                iteration == max_iter
                or evaluations >= max_eval
                or converged
                or abs(d * t).max() <= tolerance_change
                or abs(loss - prev_loss) < tolerance_change
            ):
                break

        state.update(d=d, t=t, prev_flat_grad=prev_flat_grad, prev_loss=prev_loss)
        return first_loss

    def _remember(self, y: Any, s: Any, history_size: int) -> None:
        """Store the pair (s, y) of the last move, if it shows positive curvature."""
        state = self.state[self._params[0]]
        ys = y.dot(s)
        if not ys > _CURVATURE_THRESHOLD:
            return
        if len(state["old_dirs"]) == history_size:
            for name in ("old_dirs", "old_stps", "ro"):
                state[name].pop(0)
        state["old_dirs"].append(y)  # PyTorch's names: old_dirs holds y, old_stps holds s
        state["old_stps"].append(s)
        state["ro"].append(1.0 / ys)
        state["H_diag"] = ys / y.dot(y)

    def _direction(self, flat_grad: Any, history_size: int) -> Any:
        """d = −H·g by the two-loop recursion (Nocedal & Wright, algorithm 7.4)."""
        state = self.state[self._params[0]]
        ys, ss, rho = state["old_dirs"], state["old_stps"], state["ro"]
        alpha = state.setdefault("al", [None] * history_size)
        q = -flat_grad
        for i in reversed(range(len(ys))):  # newest pair first
            alpha[i] = ss[i].dot(q) * rho[i]
            q -= alpha[i] * ys[i]
        r = q * state["H_diag"]
        for i in range(len(ys)):  # oldest pair first
            beta = ys[i].dot(r) * rho[i]
            r += (alpha[i] - beta) * ss[i]
        return r

    def _line_search(
        self, evaluate: Callable[[], Any], start: Point, t: Any, d: Any, max_ls: int
    ) -> tuple[Point, int]:
        saved = [p.array.copy() for p in self._params]

        def phi(step_length: Any) -> Point:
            self._move(step_length, d)
            loss = float(evaluate())
            flat_grad = self._flat_grad()
            self._restore(saved)
            return Point(step_length, loss, flat_grad, flat_grad.dot(d))

        return strong_wolfe(
            phi, start, t, abs(d).max(), tolerance_change=_LINE_SEARCH_TOLERANCE, max_ls=max_ls
        )
