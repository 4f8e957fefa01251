"""chainrule.nn.utils.rnn against torch.nn.utils.rnn: padding, packing and unpacking batches of
sequences of different lengths (values, index fields and the gradients that flow back through
them), RNN, LSTM and GRU run on packed batches (outputs, final states at each sequence's own
last step, gradients of inputs, initial states and weights), finite differences, and errors."""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.utils.rnn as trnn

import chainrule as cr
import chainrule.nn.utils.rnn as crnn

TOLERANCE = {"float32": (2e-5, 2e-6), "float64": (1e-10, 1e-12)}


def rng_for(*keys: Any) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32("/".join(map(str, keys)).encode()))


def to_numpy(t: Any) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        return t.detach().numpy()
    return np.asarray(t.detach().array)


def assert_close(actual: Any, expected: Any, dtype: str, what: str) -> None:
    a, e = to_numpy(actual), to_numpy(expected)
    assert a.shape == e.shape, f"{what}: shape {a.shape}, PyTorch gives {e.shape}"
    assert a.dtype == e.dtype, f"{what}: dtype {a.dtype}, PyTorch gives {e.dtype}"
    rtol, atol = TOLERANCE[dtype]
    np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, err_msg=what)


def assert_same_index(ours: Any, theirs: Any, what: str) -> None:
    if theirs is None:
        assert ours is None, f"{what}: PyTorch gives None"
        return
    np.testing.assert_array_equal(to_numpy(ours), to_numpy(theirs), err_msg=what)
    assert to_numpy(ours).dtype == np.int64, what


def twins(array: np.ndarray, dtype: str = "float64") -> tuple[Any, Any]:
    """The same values as a chainrule and a PyTorch leaf requiring grad."""
    ours = cr.tensor(array.astype(dtype), requires_grad=True)
    theirs = torch.tensor(array.astype(dtype), requires_grad=True)
    return ours, theirs


def backward_both(ours: Any, theirs: Any, rng: np.random.Generator) -> None:
    """The same random upstream gradient through both results."""
    upstream = rng.standard_normal(tuple(theirs.shape)).astype(to_numpy(theirs).dtype)
    ours.backward(cr.tensor(upstream))
    theirs.backward(torch.tensor(upstream))


def assert_packed_equal(ours: Any, theirs: Any, dtype: str, what: str) -> None:
    assert isinstance(ours, crnn.PackedSequence) and isinstance(ours, tuple)
    assert_close(ours.data, theirs.data, dtype, f"{what}: data")
    assert_same_index(ours.batch_sizes, theirs.batch_sizes, f"{what}: batch_sizes")
    assert_same_index(ours.sorted_indices, theirs.sorted_indices, f"{what}: sorted_indices")
    assert_same_index(ours.unsorted_indices, theirs.unsorted_indices, f"{what}: unsorted_indices")


# ---- pad_sequence -------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("padding_side", ["right", "left"])
@pytest.mark.parametrize("trailing", [(), (3,), (2, 2)])
def test_pad_sequence_matches_torch(
    dtype: str, batch_first: bool, padding_side: str, trailing: tuple
) -> None:
    rng = rng_for("pad", dtype, batch_first, padding_side, trailing)
    pairs = [twins(rng.standard_normal((n, *trailing)), dtype) for n in (3, 5, 1, 5)]
    options = {"batch_first": batch_first, "padding_value": -1.5, "padding_side": padding_side}
    ours = crnn.pad_sequence([p[0] for p in pairs], **options)
    theirs = trnn.pad_sequence([p[1] for p in pairs], **options)
    assert_close(ours, theirs, dtype, "pad_sequence")
    backward_both(ours, theirs, rng)
    for i, (a, b) in enumerate(pairs):
        assert_close(a.grad, b.grad, dtype, f"pad_sequence: gradient of sequence {i}")


def test_pad_sequence_of_a_tensor_and_of_integers_match_torch() -> None:
    stacked = np.arange(24.0).reshape(2, 3, 4)
    ours = crnn.pad_sequence(cr.tensor(stacked))
    assert_close(ours, trnn.pad_sequence(torch.tensor(stacked)), "float64", "of a tensor")
    ints = [[1, 2], [3, 4, 5]]
    ours = crnn.pad_sequence([cr.tensor(s) for s in ints], padding_value=1.5)
    theirs = trnn.pad_sequence([torch.tensor(s) for s in ints], padding_value=1.5)
    np.testing.assert_array_equal(to_numpy(ours), to_numpy(theirs))
    assert to_numpy(ours).dtype == np.int64


def test_pad_sequence_gradcheck() -> None:
    rng = rng_for("pad gradcheck")
    a, b = (cr.tensor(rng.standard_normal((n, 2)), requires_grad=True) for n in (2, 4))
    assert cr.gradcheck(lambda x, y: crnn.pad_sequence([x, y], padding_side="left") * 1.5, (a, b))


# ---- pack_padded_sequence and pad_packed_sequence -----------------------------------------------


LENGTHS = {
    "sorted": [5, 4, 4, 2, 1],
    "unsorted": [2, 5, 1, 4, 4],
    "ties": [3, 3, 3, 3, 3],
    "one": [4],
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("lengths_name", list(LENGTHS))
@pytest.mark.parametrize("as_tensor", [False, True])
def test_pack_and_pad_match_torch(
    dtype: str, batch_first: bool, lengths_name: str, as_tensor: bool
) -> None:
    lengths = LENGTHS[lengths_name]
    enforce_sorted = lengths == sorted(lengths, reverse=True) and lengths_name != "ties"
    rng = rng_for("pack", dtype, batch_first, lengths_name, as_tensor)
    steps, batch = max(lengths) + 1, len(lengths)  # one step of padding everywhere
    shape = (batch, steps, 3) if batch_first else (steps, batch, 3)
    ours_x, theirs_x = twins(rng.standard_normal(shape), dtype)
    ours_lengths = cr.tensor(lengths) if as_tensor else lengths
    theirs_lengths = torch.tensor(lengths) if as_tensor else lengths
    options = {"batch_first": batch_first, "enforce_sorted": enforce_sorted}
    ours = crnn.pack_padded_sequence(ours_x, ours_lengths, **options)
    theirs = trnn.pack_padded_sequence(theirs_x, theirs_lengths, **options)
    assert_packed_equal(ours, theirs, dtype, "pack_padded_sequence")

    unpack = {"batch_first": batch_first, "padding_value": 7.0, "total_length": steps + 1}
    ours_padded, ours_lengths_out = crnn.pad_packed_sequence(ours, **unpack)
    theirs_padded, theirs_lengths_out = trnn.pad_packed_sequence(theirs, **unpack)
    assert_close(ours_padded, theirs_padded, dtype, "pad_packed_sequence")
    assert_same_index(ours_lengths_out, theirs_lengths_out, "pad_packed_sequence: lengths")
    backward_both(ours_padded, theirs_padded, rng)
    assert_close(ours_x.grad, theirs_x.grad, dtype, "gradient through pack and pad")


def test_pack_sequence_and_unpack_sequence_match_torch() -> None:
    rng = rng_for("pack_sequence")
    pairs = [twins(rng.standard_normal((n, 2))) for n in (2, 4, 1, 3)]
    ours = crnn.pack_sequence([p[0] for p in pairs], enforce_sorted=False)
    theirs = trnn.pack_sequence([p[1] for p in pairs], enforce_sorted=False)
    assert_packed_equal(ours, theirs, "float64", "pack_sequence")
    ours_list = crnn.unpack_sequence(ours)
    theirs_list = trnn.unpack_sequence(theirs)
    assert len(ours_list) == len(theirs_list)
    for i, (a, b) in enumerate(zip(ours_list, theirs_list)):
        assert_close(a, b, "float64", f"unpack_sequence: sequence {i}")
    weights = [rng.standard_normal(tuple(b.shape)) for b in theirs_list]
    sum((a * cr.tensor(w)).sum() for a, w in zip(ours_list, weights)).backward()
    sum((b * torch.tensor(w)).sum() for b, w in zip(theirs_list, weights)).backward()
    for i, (a, b) in enumerate(pairs):
        assert_close(a.grad, b.grad, "float64", f"gradient of sequence {i}")


def test_unpad_sequence_matches_torch() -> None:
    for batch_first, shape in ((False, (5, 3, 2)), (True, (3, 5, 2))):
        padded = np.arange(30.0).reshape(shape)
        ours = crnn.unpad_sequence(cr.tensor(padded), cr.tensor([5, 2, 3]), batch_first)
        theirs = trnn.unpad_sequence(torch.tensor(padded), torch.tensor([5, 2, 3]), batch_first)
        for a, b in zip(ours, theirs, strict=True):
            assert_close(a, b, "float64", f"unpad_sequence(batch_first={batch_first})")
    with pytest.raises(ValueError, match="3 sequences but 2 lengths"):
        crnn.unpad_sequence(cr.zeros(5, 3), [5, 2])


def test_packed_sequence_fields_and_constructor_match_torch() -> None:
    data = np.arange(6.0)
    ours = crnn.PackedSequence(cr.tensor(data), cr.tensor([3, 2, 1]), cr.tensor([2, 0, 1]))
    theirs = trnn.PackedSequence(
        torch.tensor(data), torch.tensor([3, 2, 1]), torch.tensor([2, 0, 1])
    )
    assert ours._fields == theirs._fields
    assert_packed_equal(ours, theirs, "float64", "PackedSequence(...)")
    _, batch_sizes, sorted_indices, _ = ours  # a plain named tuple
    assert sorted_indices is ours.sorted_indices
    assert_same_index(crnn.invert_permutation(cr.tensor([2, 0, 1])), torch.tensor([1, 2, 0]), "")
    assert crnn.invert_permutation(None) is None
    assert ours.float().data.dtype == np.float32 and ours.to(cr.float32).batch_sizes is batch_sizes


def test_pack_pad_round_trip_gradcheck() -> None:
    rng = rng_for("round trip")
    x = cr.tensor(rng.standard_normal((4, 3, 2)), requires_grad=True)

    def round_trip(x: Any) -> Any:
        packed = crnn.pack_padded_sequence(x, [2, 4, 3], enforce_sorted=False)
        return crnn.pad_packed_sequence(packed, padding_value=0.5)[0] * 2.0

    assert cr.gradcheck(round_trip, (x,))


def test_packing_errors() -> None:
    x = cr.randn(4, 3, 2)
    with pytest.raises(RuntimeError, match="sorted in decreasing order"):
        crnn.pack_padded_sequence(x, [2, 4, 3])
    with pytest.raises(RuntimeError, match="greater than 0"):
        crnn.pack_padded_sequence(x, [4, 3, 0])
    with pytest.raises(RuntimeError, match="batch_size"):
        crnn.pack_padded_sequence(x, [4, 3])
    with pytest.raises(RuntimeError, match="1-D"):
        crnn.pack_padded_sequence(x, cr.tensor([[4, 3, 2]]))
    # PyTorch reads past the end of the input here; chainrule refuses.
    with pytest.raises(RuntimeError, match="exceeds the 4 time steps"):
        crnn.pack_padded_sequence(x, [5, 3, 2])
    packed = crnn.pack_padded_sequence(x, [4, 3, 2])
    with pytest.raises(ValueError, match="total_length=3 and max sequence length being 4"):
        crnn.pad_packed_sequence(packed, total_length=3)
    with pytest.raises(RuntimeError, match="empty list"):
        crnn.pad_sequence([])
    with pytest.raises(ValueError, match="padding_side"):
        crnn.pad_sequence([cr.randn(2)], padding_side="up")
    with pytest.raises(ValueError, match=r"sequence 1 has shape \(4, 2\)"):
        crnn.pad_sequence([cr.randn(2, 3), cr.randn(4, 2)])


def test_utils_package_keeps_its_names() -> None:
    from chainrule.nn.utils import (  # noqa: F401
        clip_grad_norm_,
        clip_grad_value_,
        parameters_to_vector,
        rnn,
        vector_to_parameters,
    )
    from chainrule.nn.utils.rnn import pad_sequence

    assert cr.nn.utils.rnn.pad_sequence is pad_sequence is crnn.pad_sequence
    assert set(crnn.__all__) == set(trnn.__all__)


# ---- recurrent layers on packed batches ---------------------------------------------------------

KINDS: dict[str, tuple[Any, Any, dict]] = {
    "rnn_tanh": (cr.nn.RNN, torch.nn.RNN, {"nonlinearity": "tanh"}),
    "rnn_relu": (cr.nn.RNN, torch.nn.RNN, {"nonlinearity": "relu"}),
    "gru": (cr.nn.GRU, torch.nn.GRU, {}),
    "lstm": (cr.nn.LSTM, torch.nn.LSTM, {}),
}


def make_pair(kind: str, dtype: str, **options: Any) -> tuple[Any, Any]:
    """A chainrule and a PyTorch recurrent module with the same weights (through state_dict)."""
    ours_class, theirs_class, extra = KINDS[kind]
    torch.manual_seed(zlib.crc32(f"{kind}{dtype}{options}".encode()))
    theirs = theirs_class(3, 4, **extra, **options, dtype=getattr(torch, dtype))
    ours = ours_class(3, 4, **extra, **options, dtype=dtype)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def flat(result: Any) -> list:
    if isinstance(result, (tuple, list)) and not isinstance(result, crnn.PackedSequence):
        return [t for part in result for t in flat(part)]
    return [result]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"num_layers": 2},
        {"bidirectional": True},
        {"num_layers": 2, "bidirectional": True},
        {"batch_first": True},  # ignored for packed input, as in PyTorch
    ],
    ids=["one", "two_layers", "bidirectional", "two_bidirectional", "batch_first"],
)
@pytest.mark.parametrize("lengths_name", ["sorted", "unsorted", "ties"])
@pytest.mark.parametrize("with_state", [False, True])
def test_recurrent_layer_on_packed_input_matches_torch(
    dtype: str, kind: str, options: dict, lengths_name: str, with_state: bool
) -> None:
    lengths = LENGTHS[lengths_name]
    what = f"{kind} {options} {lengths_name} state={with_state} {dtype}"
    rng = rng_for(what)
    ours, theirs = make_pair(kind, dtype, **options)
    ours_x, theirs_x = twins(rng.standard_normal((max(lengths), len(lengths), 3)), dtype)
    enforce_sorted = lengths_name == "sorted"
    ours_in = crnn.pack_padded_sequence(ours_x, lengths, enforce_sorted=enforce_sorted)
    theirs_in = trnn.pack_padded_sequence(theirs_x, lengths, enforce_sorted=enforce_sorted)

    layers = options.get("num_layers", 1) * (2 if options.get("bidirectional") else 1)
    state_shape = (layers, len(lengths), 4)
    ours_states, theirs_states = [], []
    if with_state:
        for _ in range(2 if kind == "lstm" else 1):
            a, b = twins(rng.standard_normal(state_shape), dtype)
            ours_states.append(a)
            theirs_states.append(b)
    hx_ours = hx_theirs = None
    if with_state:
        hx_ours = tuple(ours_states) if kind == "lstm" else ours_states[0]
        hx_theirs = tuple(theirs_states) if kind == "lstm" else theirs_states[0]

    ours_out, ours_final = ours(ours_in, hx_ours)
    theirs_out, theirs_final = theirs(theirs_in, hx_theirs)
    assert_packed_equal(ours_out, theirs_out, dtype, f"{what}: output")
    ours_finals, theirs_finals = flat(ours_final), flat(theirs_final)
    assert len(ours_finals) == len(theirs_finals)
    for i, (a, b) in enumerate(zip(ours_finals, theirs_finals)):
        assert_close(a, b, dtype, f"{what}: final state {i}")

    # The same random upstream gradient on the padded output and on every final state.
    ours_padded = crnn.pad_packed_sequence(ours_out, batch_first=True)[0]
    theirs_padded = trnn.pad_packed_sequence(theirs_out, batch_first=True)[0]
    ours_loss, theirs_loss = 0, 0
    for a, b in zip([ours_padded, *ours_finals], [theirs_padded, *theirs_finals]):
        g = rng.standard_normal(tuple(b.shape)).astype(dtype)
        ours_loss = ours_loss + (a * cr.tensor(g)).sum()
        theirs_loss = theirs_loss + (b * torch.tensor(g)).sum()
    ours_loss.backward()
    theirs_loss.backward()
    assert_close(ours_x.grad, theirs_x.grad, dtype, f"{what}: input gradient")
    for i, (a, b) in enumerate(zip(ours_states, theirs_states)):
        assert_close(a.grad, b.grad, dtype, f"{what}: initial state {i} gradient")
    ours_params = dict(ours.named_parameters())
    for name, p in theirs.named_parameters():
        assert_close(ours_params[name].grad, p.grad, dtype, f"{what}: gradient of {name}")


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn_tanh"])
def test_recurrent_layer_on_packed_input_gradcheck(kind: str) -> None:
    rng = rng_for("packed gradcheck", kind)
    ours_class, _, extra = KINDS[kind]
    cr.manual_seed(0)
    layer = ours_class(2, 2, bidirectional=True, dtype="float64", **extra)
    x = cr.tensor(rng.standard_normal((3, 3, 2)), requires_grad=True)

    def run(x: Any) -> Any:
        packed = crnn.pack_padded_sequence(x, [2, 3, 1], enforce_sorted=False)
        output, final = layer(packed)
        padded = crnn.pad_packed_sequence(output)[0]
        h_n = final[0] if kind == "lstm" else final
        return cr.cat([padded.reshape(-1), h_n.reshape(-1)])

    assert cr.gradcheck(run, (x,))


def test_packed_input_errors_name_the_layer() -> None:
    lstm = cr.nn.LSTM(3, 4)
    packed = crnn.pack_sequence([cr.randn(3, 2), cr.randn(2, 2)])
    with pytest.raises(ValueError, match=r"LSTM\(3, 4\): expected packed data of shape"):
        lstm(packed)
    packed = crnn.pack_sequence([cr.randn(3, 3), cr.randn(2, 3)])
    with pytest.raises(ValueError, match=r"expected h0 of shape \(1, 2, 4\)"):
        lstm(packed, (cr.zeros(1, 3, 4), cr.zeros(1, 3, 4)))
    with pytest.raises(TypeError, match="tuple"):
        lstm(packed, cr.zeros(1, 2, 4))


def test_lstm_learns_on_packed_batches_like_torch() -> None:
    """Five SGD steps of an LSTM classifier on packed variable-length sequences, started from
    the same weights, give the same losses in both libraries."""
    rng = rng_for("training")
    ours, theirs = make_pair("lstm", "float64")
    ours_head, theirs_head = cr.nn.Linear(4, 2, dtype="float64"), torch.nn.Linear(4, 2)
    theirs_head = theirs_head.double()
    ours_head.load_state_dict({k: v.detach().numpy() for k, v in theirs_head.state_dict().items()})
    sequences = [rng.standard_normal((n, 3)) for n in (4, 2, 5, 3, 1)]
    targets = np.array([0, 1, 1, 0, 1])
    ours_opt = cr.optim.SGD([*ours.parameters(), *ours_head.parameters()], lr=0.5)
    theirs_opt = torch.optim.SGD([*theirs.parameters(), *theirs_head.parameters()], lr=0.5)
    for _ in range(5):
        losses = []
        for lib, model, head, opt in (
            (cr, ours, ours_head, ours_opt),
            (torch, theirs, theirs_head, theirs_opt),
        ):
            utils = crnn if lib is cr else trnn
            packed = utils.pack_sequence([lib.tensor(s) for s in sequences], enforce_sorted=False)
            _, (h_n, _) = model(packed)
            loss = lib.nn.functional.cross_entropy(head(h_n[0]), lib.tensor(targets))
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.item()))
        assert abs(losses[0] - losses[1]) < 1e-10, losses
