"""``chainrule export MODEL --onnx FILE.onnx``: a saved model as an ONNX graph for other runtimes.

The model file of ``chainrule train`` is rebuilt (see :mod:`chainrule.cli.model_file`) and
handed to :func:`chainrule.onnx.export` with one float32 input named ``input`` of shape
(batch, features) and one output named ``output`` of shape (batch, outputs), the batch size
left free. The output is what the network computes, as ``chainrule predict`` reads it: class
scores (logits, before softmax), one logit for a binary classifier, or the predicted values.
"""

from __future__ import annotations

import argparse

from chainrule.cli.arguments import positive_int
from chainrule.cli.model_file import open_model
from chainrule.cli.paths import output_file

MEANING = {
    "classification": "class scores (logits; softmax gives the probabilities)",
    "binary": "the logit of class 1 (sigmoid gives its probability)",
    "regression": "the predicted values",
}


def add_parser(commands: argparse._SubParsersAction) -> None:
    export = commands.add_parser(
        "export",
        help="write a model saved by chainrule train as an ONNX file",
        description=(
            "Rebuild the model of a file written by chainrule train and write it as ONNX: input "
            "'input' (batch, features) float32, output 'output' (batch, outputs)."
        ),
    )
    export.add_argument("model", metavar="MODEL.safetensors", help="the model file")
    export.add_argument("--onnx", required=True, metavar="FILE.onnx", help="the ONNX file to write")
    export.add_argument(
        "--opset", type=positive_int, help="the ONNX opset version (default: the exporter's)"
    )


def run(args: argparse.Namespace) -> int:
    import chainrule

    path = output_file(args.onnx, "ONNX file (--onnx)")
    model, card = open_model(args.model)
    from chainrule.onnx import export

    example = chainrule.zeros(1, card.features)
    export(
        model,
        example,
        path,
        input_names=["input"],
        output_names=["output"],
        dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
        opset_version=args.opset,
    )
    print(
        f"wrote {path}: input 'input' (batch, {card.features}) float32, output 'output' "
        f"(batch, {card.outputs}): {MEANING[card.task]}"
    )
    return 0
