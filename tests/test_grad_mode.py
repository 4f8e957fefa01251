"""Gradient modes are per thread, as in PyTorch: no_grad, enable_grad, set_grad_enabled,
inference_mode and anomaly detection in one thread leave the others alone."""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import set_detect_anomaly
from chainrule.inspect.anomaly import is_anomaly_enabled


def in_thread(fn: Callable[[], object]) -> object:
    """``fn()`` run in a new thread; its result (or its exception, raised here)."""
    box: dict[str, object] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as error:  # handed to the caller
            box["error"] = error

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]


def test_a_new_thread_records_even_when_the_caller_is_in_no_grad() -> None:
    with cr.no_grad():
        assert not cr.is_grad_enabled()
        assert in_thread(cr.is_grad_enabled) is True
        w = cr.tensor([2.0], requires_grad=True)
        assert in_thread(lambda: (w * w).requires_grad) is True
    assert cr.is_grad_enabled()


def test_no_grad_in_another_thread_leaves_this_one_recording() -> None:
    inside, release = threading.Event(), threading.Event()

    def evaluator() -> None:
        with cr.no_grad():
            inside.set()
            release.wait(5)

    thread = threading.Thread(target=evaluator)
    thread.start()
    inside.wait(5)
    try:
        assert cr.is_grad_enabled()
        w = cr.tensor([1.0, 2.0], requires_grad=True)
        (w * w).sum().backward()
        np.testing.assert_array_equal(w.grad.numpy(), [2.0, 4.0])
    finally:
        release.set()
        thread.join()


def test_trainer_beside_a_no_grad_evaluator_loses_no_step() -> None:
    """The issue's reproduction: a training thread next to an evaluating one."""
    steps, recorded = 300, []
    model = cr.nn.Linear(4, 1)
    x = cr.randn(16, 4)
    stop = threading.Event()

    def trainer() -> None:
        for _ in range(steps):
            loss = model(x).pow(2).mean()
            recorded.append(loss.requires_grad)
            loss.backward()
            model.zero_grad()

    def evaluator() -> None:
        while not stop.is_set():
            with cr.no_grad():
                model(x)

    threads = [threading.Thread(target=evaluator) for _ in range(2)]
    for thread in threads:
        thread.start()
    try:
        trainer()
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert recorded == [True] * steps
    assert cr.is_grad_enabled()


def test_racing_trainers_leave_grad_mode_on() -> None:
    def trainer() -> None:
        w = cr.tensor([1.0], requires_grad=True)
        optimizer = cr.optim.SGD([w], lr=0.01)
        for _ in range(200):
            optimizer.zero_grad()
            (w * w).sum().backward()
            optimizer.step()  # turns recording off and on again around its update

    threads = [threading.Thread(target=trainer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert cr.is_grad_enabled()


def test_set_grad_enabled_works_now_in_a_block_and_as_a_decorator() -> None:
    cr.set_grad_enabled(False)
    try:
        assert not cr.is_grad_enabled()
    finally:
        cr.set_grad_enabled(True)
    assert cr.is_grad_enabled()
    with cr.set_grad_enabled(False):
        assert not cr.is_grad_enabled()
        with cr.enable_grad():
            assert cr.is_grad_enabled()
        assert not cr.is_grad_enabled()
    assert cr.is_grad_enabled()

    @cr.set_grad_enabled(False)
    def evaluate() -> bool:
        return cr.is_grad_enabled()

    assert cr.is_grad_enabled()  # decorating does not switch anything by itself
    assert evaluate() is False and cr.is_grad_enabled()


def test_inference_mode_records_nothing_and_restores() -> None:
    w = cr.tensor([1.0], requires_grad=True)
    with cr.inference_mode():
        assert cr.is_inference_mode_enabled() and not cr.is_grad_enabled()
        assert not (w * 2).requires_grad
    with cr.inference_mode(False):
        assert (w * 2).requires_grad
    assert not cr.is_inference_mode_enabled() and cr.is_grad_enabled()

    @cr.inference_mode()
    def predict() -> bool:
        return (w * 2).requires_grad

    assert predict() is False


def test_a_decorated_function_keeps_each_thread_separate() -> None:
    @cr.no_grad()
    def evaluate(start: threading.Event, finish: threading.Event) -> bool:
        start.set()
        finish.wait(5)
        return cr.is_grad_enabled()

    start, finish = threading.Event(), threading.Event()
    results: list[bool] = []
    thread = threading.Thread(target=lambda: results.append(evaluate(start, finish)))
    thread.start()
    start.wait(5)
    assert cr.is_grad_enabled()  # the other thread is inside the decorated function
    finish.set()
    thread.join()
    assert results == [False] and cr.is_grad_enabled()


def test_anomaly_detection_is_per_thread() -> None:
    with set_detect_anomaly(True):
        assert is_anomaly_enabled()
        assert in_thread(is_anomaly_enabled) is False
    assert not is_anomaly_enabled()


def test_modes_are_restored_when_the_block_raises() -> None:
    with pytest.raises(ZeroDivisionError), cr.no_grad():
        raise ZeroDivisionError
    assert cr.is_grad_enabled()
