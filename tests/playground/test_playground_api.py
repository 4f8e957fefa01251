"""The playground's JSON API through Flask's test client: training, the numbers it reports
(checked against chainrule.inspect.trace and PyTorch), independent sessions, and bad input."""

from __future__ import annotations

import copy
import threading

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn
from chainrule.demos import seed_004_xor_no_bias
from chainrule.inspect import trace
from chainrule.playground.config import PRESETS
from chainrule.playground.datasets import parse_csv
from chainrule.playground.server import create_app

pytest.importorskip("flask")

XOR = {"dataset": "xor", "noise": 0, "layers": "4", "activation": "tanh", "loss": "bce"}
XOR |= {"optimizer": "adam", "lr": 0.05, "batch_size": 4}
MOONS = {"dataset": "moons", "noise": 0.1, "layers": "4,3", "activation": "tanh"}
MOONS |= {"loss": "bce", "optimizer": "sgd", "lr": 0.3, "batch_size": 16, "seed": 3}


@pytest.fixture
def app():
    return create_app()


@pytest.fixture
def client(app):
    return app.test_client()


def reset(client, session: str, config: dict) -> dict:
    answer = client.post(f"/api/reset?session={session}", json={"config": config})
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def step(client, session: str, n: int) -> dict:
    answer = client.post(f"/api/step?session={session}&n={n}")
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def session_of(app, session: str):
    return app.extensions["playground_sessions"].get(session)


# ---- training ----------------------------------------------------------------------------------


def test_the_options_name_every_choice_and_preset(client) -> None:
    options = client.get("/api/options").get_json()
    assert set(options["datasets"]) == {"xor", "circles", "spirals", "moons", "blobs", "csv"}
    assert set(options["optimizers"]) == {"sgd", "momentum", "rmsprop", "adam"}
    assert {"relu", "tanh", "sigmoid"} <= set(options["activations"])
    assert set(options["presets"]) == set(PRESETS)
    assert options["presets"]["seed004"]["config"]["bias"] is False


def test_steps_make_the_xor_loss_fall(client) -> None:
    first = reset(client, "tab", XOR)
    assert first["step"] == 0 and len(first["data"]["train"]) == 4
    trained = step(client, "tab", 300)
    assert trained["step"] == 300
    assert trained["loss"]["train"] < first["loss"]["train"] / 10
    assert trained["accuracy"]["train"] == 1.0
    history = trained["history"]
    assert history["step"][0] == 0 and history["step"][-1] == 300
    assert history["train"][-1] == trained["loss"]["train"]
    grid = trained["boundary"]
    assert len(grid["values"]) == grid["size"] ** 2 == 1600
    hidden = trained["network"]["layers"][0]
    assert len(hidden["maps"]) == 4 and len(hidden["maps"][0]) == trained["network"]["grid"] ** 2


def test_the_boundary_is_the_network_on_the_grid(app, client) -> None:
    reset(client, "tab", MOONS)
    view = step(client, "tab", 20)
    model = session_of(app, "tab").model
    x_min, x_max, y_min, y_max = view["bounds"]
    size = view["boundary"]["size"]
    row, column = 7, 30  # a cell: row 0 is the top, y_max
    point = [
        x_min + (column + 0.5) / size * (x_max - x_min),
        y_max - (row + 0.5) / size * (y_max - y_min),
    ]
    expected = float(model(cr.tensor([point])).item())
    assert view["boundary"]["values"][row * size + column] == pytest.approx(expected, abs=6e-4)


def test_the_seed_004_preset_fails_as_the_article_does(client) -> None:
    """The preset is the article's network and initial weights: after 2000 steps it agrees
    with chainrule's demo of the article (float64, its own loop), and it answers (1, 1) wrongly."""
    answer = client.post("/api/reset?session=seed", json={"preset": "seed004"})
    assert answer.status_code == 200
    view = step(client, "seed", 1000)
    view = step(client, "seed", 1000)
    article = seed_004_xor_no_bias.train(bias=False, steps=2000)
    layers = view["network"]["layers"]
    np.testing.assert_allclose(np.array(layers[0]["weight"]).T, article["W1"], atol=2e-4)
    np.testing.assert_allclose(np.array(layers[1]["weight"]).T, article["W2"], atol=2e-4)
    assert layers[0]["bias"] is None
    assert view["loss"]["train"] == pytest.approx(2 * article["loss"], rel=1e-3)  # Σ = 2 · ½Σ
    # Of the four answers, (1, 1) is on the wrong side of 0.5 (the article's failure).
    assert view["accuracy"]["train"] == 0.75


def test_the_seed_000_preset_has_a_constant_third_input_and_learns(app, client) -> None:
    answer = client.post("/api/reset?session=seed", json={"preset": "seed000"})
    network = answer.get_json()["network"]
    assert network["inputs"] == ["x₁", "x₂", "1"]
    assert [len(layer["weight"][0]) for layer in network["layers"]] == [3, 4]
    step(client, "seed", 1000)
    view = step(client, "seed", 500)  # the article's 1500 steps
    output = session_of(app, "seed").model(
        cr.tensor([[0.0, 0, 1], [0, 1, 1], [1, 0, 1], [1, 1, 1]])
    )
    np.testing.assert_allclose(output.detach().numpy().ravel(), [0, 1, 1, 0], atol=0.1)
    assert view["accuracy"]["train"] == 1.0


# ---- the numbers are the library's own ----------------------------------------------------------


def test_snapshot_delta_and_gradients_equal_trace_and_pytorch(app, client) -> None:
    reset(client, "tab", MOONS)
    step(client, "tab", 4)
    session = session_of(app, "tab")
    model = copy.deepcopy(session.model)  # the weights the next step starts from
    view = step(client, "tab", 1)
    backward = view["backward"]
    assert backward["step"] == 5 and len(backward["batch"]) == 16
    x = session.data.train_x[backward["batch"]]
    y = session.data.train_y[backward["batch"]]
    expected = trace(model, cr.from_numpy(x), cr.from_numpy(y), nn.BCELoss())
    assert backward["loss"] == pytest.approx(expected.loss, rel=1e-6)
    for record, layer in zip(expected.layers, backward["layers"], strict=True):
        np.testing.assert_allclose(layer["delta"], record.delta[:8], rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(layer["delta_sum"], record.delta.sum(0), rtol=1e-5, atol=1e-8)
        np.testing.assert_allclose(layer["grad_weight"], record.grad_weight, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(layer["grad_bias"], record.grad_bias, rtol=1e-6, atol=1e-9)
        np.testing.assert_array_equal(layer["weight"], record.weight)

    # The same batch through PyTorch, from the same weights: the same ∂C/∂W and δ.
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    weights = [torch.tensor(m.weight.detach().numpy(), requires_grad=True) for m in linears]
    biases = [torch.tensor(m.bias.detach().numpy(), requires_grad=True) for m in linears]
    a, zs = torch.tensor(x), []
    for k, (w, b) in enumerate(zip(weights, biases)):
        z = a @ w.T + b
        z.retain_grad()
        zs.append(z)
        a = torch.sigmoid(z) if k == len(weights) - 1 else torch.tanh(z)
    torch.nn.functional.binary_cross_entropy(a, torch.tensor(y)).backward()
    for layer, w, z in zip(backward["layers"], weights, zs):
        np.testing.assert_allclose(layer["grad_weight"], w.grad.numpy(), rtol=1e-4, atol=1e-7)
        np.testing.assert_allclose(layer["delta"], z.grad.numpy()[:8], rtol=1e-4, atol=1e-7)


def test_the_explained_step_shows_trace_numbers_and_the_sgd_update(app, client) -> None:
    reset(client, "tab", {**XOR, "optimizer": "sgd", "lr": 0.5, "layers": "3,2"})
    step(client, "tab", 10)
    session = session_of(app, "tab")
    model = copy.deepcopy(session.model)
    answer = client.post("/api/explain?session=tab")
    assert answer.status_code == 200
    explained = answer.get_json()
    data = session.data
    expected = trace(model, cr.from_numpy(data.train_x), cr.from_numpy(data.train_y), nn.BCELoss())
    assert explained["step"] == 11 and explained["batch"]["size"] == 4
    # δ from the output layer back: BP1 for the last layer, then BP2; each layer's BP3, BP4.
    assert [layer["number"] for layer in explained["backward"]] == [3, 2, 1]
    labels = [[e["label"] for e in layer["equations"]] for layer in explained["backward"]]
    assert labels == [["BP1", "BP3", "BP4"], ["BP2", "BP3", "BP4"], ["BP2", "BP3", "BP4"]]
    for layer in explained["backward"]:
        record = expected.layers[layer["number"] - 1]
        delta, grad_w, grad_b = (e["result"]["value"] for e in layer["equations"])
        np.testing.assert_allclose(delta, record.delta, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(grad_w, record.grad_weight, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(grad_b, record.grad_bias, rtol=1e-6, atol=1e-9)
        assert all(e["ok"] for e in layer["equations"])
    for layer in explained["update"]["layers"]:
        before, grad = np.array(layer["weight_before"]), np.array(layer["grad_weight"])
        np.testing.assert_allclose(layer["weight_after"], before - 0.5 * grad, atol=1e-6)
    assert explained["update"]["loss_after"] < explained["update"]["loss_before"]
    assert explained["snapshot"]["step"] == 11


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "rmsprop", "adam"])
def test_each_optimiser_matches_pytorch(app, client, optimizer: str) -> None:
    config = {**XOR, "optimizer": optimizer, "lr": 0.1, "l2": 0.01, "activation": "relu"}
    reset(client, "tab", config)
    model = copy.deepcopy(session_of(app, "tab").model)
    view = step(client, "tab", 3)
    params = [torch.tensor(p.detach().numpy(), requires_grad=True) for p in model.parameters()]
    make = {
        "sgd": lambda p: torch.optim.SGD(p, lr=0.1, weight_decay=0.01),
        "momentum": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01),
        "rmsprop": lambda p: torch.optim.RMSprop(p, lr=0.1, weight_decay=0.01),
        "adam": lambda p: torch.optim.Adam(p, lr=0.1, weight_decay=0.01),
    }[optimizer]
    opt = make(params)
    x = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = torch.tensor([[0.0], [1.0], [1.0], [0.0]])
    for _ in range(3):
        opt.zero_grad()
        hidden = torch.relu(x @ params[0].T + params[1])
        out = torch.sigmoid(hidden @ params[2].T + params[3])
        torch.nn.functional.binary_cross_entropy(out, y).backward()
        opt.step()
    layers = view["network"]["layers"]
    np.testing.assert_allclose(layers[0]["weight"], params[0].detach().numpy(), atol=1e-5)
    np.testing.assert_allclose(layers[1]["bias"], params[3].detach().numpy(), atol=1e-5)


@pytest.mark.parametrize(("schedule", "steps"), [("step", 600), ("cosine", 700)])
def test_the_schedules_match_pytorch(client, schedule: str, steps: int) -> None:
    reset(client, "tab", {**XOR, "schedule": schedule, "optimizer": "sgd", "lr": 0.2})
    view = step(client, "tab", steps)
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.2)
    if schedule == "step":
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=500, gamma=0.5)
    else:
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=2000, eta_min=0.002)
    for _ in range(steps):
        opt.step()
        sched.step()
    assert view["lr"] == pytest.approx(opt.param_groups[0]["lr"], rel=1e-9)


# ---- sessions are independent -------------------------------------------------------------------

OTHER = {"dataset": "circles", "noise": 0.2, "layers": "5,3", "activation": "relu"}
OTHER |= {"optimizer": "momentum", "lr": 0.05, "batch_size": 8, "l2": 0.001, "schedule": "step"}


def run_alone(config: dict, chunks: list[int]) -> list[dict]:
    client = create_app().test_client()
    reset(client, "only", config)
    return [step(client, "only", n) for n in chunks]


def test_two_sessions_interleaved_give_what_each_gives_alone(client) -> None:
    chunks = [3, 7, 1, 9]
    alone_a, alone_b = run_alone(MOONS, chunks), run_alone(OTHER, chunks)
    reset(client, "a", MOONS)
    reset(client, "b", OTHER)
    together_a, together_b = [], []
    for n in chunks:
        together_a.append(step(client, "a", n))
        together_b.append(step(client, "b", n))
    assert together_a == alone_a
    assert together_b == alone_b


def test_two_sessions_in_two_threads_at_once_give_what_each_gives_alone(app) -> None:
    chunks = [20] * 6
    expected = {"a": run_alone(MOONS, chunks), "b": run_alone(OTHER, chunks)}
    results: dict[str, list] = {}

    def tab(name: str, config: dict) -> None:
        own = app.test_client()
        reset(own, name, config)
        results[name] = [step(own, name, n) for n in chunks]

    threads = [threading.Thread(target=tab, args=item) for item in [("a", MOONS), ("b", OTHER)]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert results == expected


# ---- bad input: 400 and a message, and the server goes on ----------------------------------------

BAD_CSV = "x1,x2,label\n0,0,0\n1,abc,1\n"
BAD_SETTINGS = [
    ("zero learning rate", {"lr": 0}, "lr", "learning rate: must be above 0"),
    ("negative learning rate", {"lr": "-1"}, "lr", "must be above 0"),
    ("learning rate not a number", {"lr": "fast"}, "lr", "learning rate: expected a finite"),
    ("infinite learning rate", {"lr": "inf"}, "lr", "expected a finite number"),
    ("empty layer list", {"layers": ""}, "layers", "the list of hidden layers is empty"),
    ("layer of width 0", {"layers": "4,0"}, "layers", "layer 2 has width 0"),
    ("width not a number", {"layers": "4,x"}, "layers", "layer 2's width 'x' is not a whole"),
    ("too wide", {"layers": "400"}, "layers", "at most 16 neurons"),
    ("too deep", {"layers": "2,2,2,2,2,2,2"}, "layers", "at most 6 hidden layers"),
    ("unknown data set", {"dataset": "mnist"}, "dataset", "unknown data set 'mnist'"),
    ("unknown activation", {"activation": "swish"}, "activation", "unknown activation 'swish'"),
    ("unknown optimiser", {"optimizer": "lbfgs"}, "optimizer", "unknown optimizer 'lbfgs'"),
    ("batch size 0", {"batch_size": 0}, "batch_size", "batch_size: expected a whole number"),
    ("negative noise", {"noise": -1}, "noise", "noise: expected a number from 0"),
    ("negative L2", {"l2": -0.1}, "l2", "l2: expected a number from 0"),
    ("unknown setting", {"momentum": 0.5}, "momentum", "unknown setting 'momentum'"),
    ("csv with no file", {"dataset": "csv"}, "csv", "choose a CSV file"),
    ("csv cell", {"dataset": "csv", "csv": BAD_CSV}, "csv", "row 3, column 2: 'abc' is not"),
    ("csv cells", {"dataset": "csv", "csv": "0,0,0\n1,1\n"}, "csv", "row 2: 2 cells; expected 3"),
    ("csv label", {"dataset": "csv", "csv": "0,0,0\n1,1,2\n"}, "csv", "row 2: the label is 2"),
    ("csv only header", {"dataset": "csv", "csv": "a,b,label\n"}, "csv", "no data rows"),
]


@pytest.mark.parametrize(
    ("settings", "field", "message"),
    [case[1:] for case in BAD_SETTINGS],
    ids=[case[0] for case in BAD_SETTINGS],
)
def test_a_bad_setting_is_400_naming_it_and_the_next_request_works(
    client, settings: dict, field: str, message: str
) -> None:
    reset(client, "tab", XOR)
    step(client, "tab", 5)
    answer = client.post("/api/reset?session=tab", json={"config": {**XOR, **settings}})
    assert answer.status_code == 400
    body = answer.get_json()
    assert message in body["error"] and body["field"] == field
    # The tab's old session is untouched, and a good reset works.
    assert step(client, "tab", 1)["step"] == 6
    assert reset(client, "tab", XOR)["step"] == 0


@pytest.mark.parametrize(
    ("request_line", "status", "message"),
    [
        ("/api/step?session=tab&n=0", 400, "steps per request must be 1 to 1000, got 0"),
        ("/api/step?session=tab&n=5000", 400, "must be 1 to 1000, got 5000"),
        ("/api/step?session=tab&n=many", 400, "must be a whole number, got 'many'"),
        ("/api/step?n=5", 400, "names no session"),
        ("/api/step?session=nobody&n=1", 404, "no session 'nobody'"),
        ("/api/step?session=bad%20id&n=1", 400, "session: expected an id"),
        ("/api/explain?session=nobody", 404, "press Reset"),
        ("/api/nothing", 404, "404 Not Found"),
    ],
)
def test_bad_requests_say_what_is_wrong(client, request_line: str, status: int, message: str):
    reset(client, "tab", XOR)
    answer = client.post(request_line)
    assert answer.status_code == status
    assert message in answer.get_json()["error"]
    assert step(client, "tab", 2)["step"] == 2


def test_a_body_that_is_not_json_is_400(client) -> None:
    answer = client.post("/api/reset?session=tab", data="layers=4", content_type="text/plain")
    assert answer.status_code == 400 and "JSON object" in answer.get_json()["error"]
    answer = client.post("/api/reset?session=tab", json={"preset": "best"})
    assert answer.status_code == 400 and "unknown preset 'best'" in answer.get_json()["error"]


def test_a_huge_learning_rate_stops_training_with_advice(client) -> None:
    reset(client, "tab", {**XOR, "optimizer": "sgd", "lr": 1e39})
    answer = client.post("/api/step?session=tab&n=10")
    assert answer.status_code == 400
    body = answer.get_json()
    assert body["diverged"] is True and body["field"] == "lr"
    assert "Training stopped at step 1" in body["error"]
    assert "NaN or infinite" in body["error"] and "smaller learning rate" in body["error"]
    # It stays stopped until a reset; then training works again.
    again = client.post("/api/step?session=tab&n=1")
    assert again.status_code == 400 and again.get_json()["error"] == body["error"]
    reset(client, "tab", XOR)
    assert step(client, "tab", 3)["step"] == 3


def test_a_large_but_finite_rate_warns_that_the_neurons_saturate(client) -> None:
    reset(client, "tab", {**XOR, "optimizer": "sgd", "lr": 1e6})
    view = step(client, "tab", 20)
    assert view["diverged"] is None
    assert "The weights have grown huge" in view["warning"] and "σ'(z) ≈ 0" in view["warning"]
    assert reset(client, "tab", XOR)["warning"] is None


# ---- data sets ----------------------------------------------------------------------------------


@pytest.mark.parametrize("dataset", ["xor", "circles", "spirals", "moons", "blobs"])
def test_each_data_set_has_two_labels_and_a_seed(client, dataset: str) -> None:
    view = reset(client, "tab", {**MOONS, "dataset": dataset})
    points = np.array(view["data"]["train"])
    assert points.shape[1] == 3 and set(points[:, 2]) == {0.0, 1.0}
    assert view["data"]["test"] is not None
    x_min, x_max, y_min, y_max = view["bounds"]
    assert x_min < points[:, 0].min() and points[:, 0].max() < x_max
    assert y_min < points[:, 1].min() and points[:, 1].max() < y_max
    same = reset(client, "other", {**MOONS, "dataset": dataset})
    assert same["data"] == view["data"]
    changed = reset(client, "other", {**MOONS, "dataset": dataset, "seed": 4})
    assert changed["data"] != view["data"]


def test_a_csv_trains_on_its_own_points(client) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 2))
    rows = "\n".join(f"{a:.4f},{b:.4f},{int(a + b > 0)}" for a, b in x)
    view = reset(client, "tab", {**XOR, "dataset": "csv", "csv": "u,v,label\n" + rows + "\n\n"})
    assert len(view["data"]["train"]) == 60 and view["data"]["test"] is None
    np.testing.assert_allclose(np.array(view["data"]["train"])[:, :2], x, atol=6e-5)
    assert step(client, "tab", 200)["accuracy"]["train"] > 0.9


def test_csv_without_a_header_and_with_spaces() -> None:
    x, y = parse_csv(" 1.5, -2 ,1\r\n0,0, 0\r\n")
    assert x.tolist() == [[1.5, -2.0], [0.0, 0.0]] and y.ravel().tolist() == [1.0, 0.0]
