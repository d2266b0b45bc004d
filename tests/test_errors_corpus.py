"""A corpus of broken specs: each must report exactly its errors, at the right line and column.

Every case is ``(spec lines, [(line, col, code, message fragment), ...])``; ``col`` is None
where the exact column is not meaningful (YAML syntax errors). The code (specc/codes.py) says
which error it is; the fragment keeps the wording that matters (did you mean, the numbers). The
list is the whole report: a case with three independent mistakes must produce exactly three
errors.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from specc.errors import SpecErrors
from specc.spec.validate import check_text, load_spec

ROOT = Path(__file__).resolve().parents[1]


def spec(*lines: str) -> str:
    """Join lines; item i is spec line i + 1."""
    return "\n".join(lines) + "\n"


def layers(shape: str, *lines: str) -> str:
    """A spec whose model input has ``shape``; ``lines`` start at line 6."""
    return spec(
        "version: 1", "name: t", "model:", f"  input: {{shape: [{shape}]}}", "  layers:", *lines
    )


OK = "    - relu"  # a valid layer for cases about other sections (line 6)
CSV = "  source: {type: csv, path: a.csv, target: y}"
BLOCKS = (
    "version: 1",
    "name: t",
    "model:",
    "  input: {shape: [4]}",
    "  blocks:",
    "    mlp:",
    "      params: {width: null}",
    "      layers: [{type: linear, out_features: $width}, relu]",
    "  layers:",
)

HEAD_BLOCKS = ("version: 1", "name: t", "model:", "  input: {shape: [4]}", "  blocks:")

CASES: dict[str, tuple[str, list[tuple[int, int | None, str, str]]]] = {
    # --- loading ------------------------------------------------------------------------
    "yaml_syntax_flow": (
        spec("version: 1", "name: t", "model:", "  input: {shape: [1, 2]", "  layers: [relu]"),
        [(5, None, "E002", "invalid YAML")],
    ),
    "yaml_syntax_indent": (
        spec("version: 1", "name: t", "model:", "  input:", "    shape: [1]", "   layers: [relu]"),
        [(6, None, "E002", "invalid YAML")],
    ),
    "yaml_tab": (
        spec("version: 1", "name: t", "model:", "\tinput: {shape: [4]}"),
        [(4, None, "E002", "invalid YAML")],
    ),
    "duplicate_top_key": (
        spec("version: 1", "name: t", "model: {input: {shape: [4]}, layers: [relu]}", "name: u"),
        [(4, 1, "E004", "duplicate key 'name' (first written at line 2)")],
    ),
    "duplicate_layer_argument": (
        layers("4", "    - {type: linear, out_features: 2, out_features: 3}"),
        [(6, 39, "E004", "duplicate key 'out_features'")],
    ),
    "python_tag": (
        spec(
            "version: 1",
            "name: t",
            "seed: !!python/object/apply:os.system ['echo hi']",
            "model: {input: {shape: [4]}, layers: [relu]}",
        ),
        [(3, 7, "E005", "YAML tag '!!python/object/apply:os.system' is not allowed")],
    ),
    "empty_file": ("", [(1, 1, "E007", "the spec is empty")]),
    "comments_only": ("# nothing here\n", [(1, 1, "E007", "the spec is empty")]),
    "top_level_list": (
        spec("- version: 1", "- name: t"),
        [(1, 1, "E008", "top level of a spec must be a mapping")],
    ),
    "top_level_scalar": ("hello\n", [(1, 1, "E008", "must be a mapping of sections, not a str")]),
    "yaml_merge_key": (
        spec(
            "base: &b {type: relu}",
            "version: 1",
            "name: t",
            "model:",
            "  input: {shape: [4]}",
            "  layers:",
            "    - {<<: *b}",
        ),
        [(7, 8, "E005", "merge keys")],
    ),
    # --- top-level keys -----------------------------------------------------------------
    "unknown_top_level_key": (
        layers("4", OK, "losss: mse"),
        [(7, 1, "E101", "unknown key 'losss' (did you mean 'loss'?)")],
    ),
    "missing_model": (
        spec("version: 1", "name: t"),
        [(1, 1, "E102", "missing required key 'model'")],
    ),
    "missing_version": (
        spec("name: t", "model: {input: {shape: [4]}, layers: [relu]}"),
        [(1, 1, "E102", "missing required key 'version'")],
    ),
    "bad_spec_name": (
        spec("version: 1", "name: my model", "model: {input: {shape: [4]}, layers: [relu]}"),
        [(2, 7, "E107", "may only use letters, digits")],
    ),
    "model_not_a_mapping": (
        spec("version: 1", "name: t", "model: [1, 2]"),
        [(3, 8, "E103", "model: expected a mapping")],
    ),
    "input_dtype": (
        spec(
            "version: 1",
            "name: t",
            "model:",
            "  input: {shape: [4], dtype: float16}",
            "  layers: [relu]",
        ),
        [(4, 23, "E104", "unknown value 'float16' (did you mean 'float32'?)")],
    ),
    "empty_layers": (
        spec("version: 1", "name: t", "model:", "  input: {shape: [4]}", "  layers: []"),
        [(5, 11, "E106", "at least 1 item")],
    ),
    # --- layer types and arguments ------------------------------------------------------
    "unknown_layer_type": (
        layers("1, 28, 28", "    - {type: conv2D, out_channels: 6, kernel_size: 5}"),
        [(6, 14, "E201", "unknown layer type 'conv2D' (did you mean 'conv2d'?)")],
    ),
    "layer_without_type": (
        layers("4", "    - {out_features: 3}"),
        [(6, 7, "E202", "this layer has no 'type'; expected one of: linear, conv1d")],
    ),
    "layer_not_a_mapping": (layers("4", "    - 3"), [(6, 7, "E103", "expected a mapping")]),
    "unknown_argument": (
        layers("4", "    - {type: linear, out_feature: 10}"),
        [
            (
                6,
                22,
                "E101",
                "linear 'linear_1': unknown argument 'out_feature' (did you mean 'out_features'?)",
            )
        ],
    ),
    "unknown_argument_conv": (
        layers("1, 8, 8", "    - {type: conv2d, out_channels: 6, kernel_size: 3, strid: 2}"),
        [(6, 55, "E101", "conv2d 'conv2d_1': unknown argument 'strid' (did you mean 'stride'?)")],
    ),
    "missing_argument_flow": (
        layers("4", OK, "    - {type: linear, bias: false}"),
        [(7, 7, "E102", "linear 'linear_1': missing required argument 'out_features'")],
    ),
    "missing_argument_block_style": (
        layers("4", OK, "    - type: linear", "      bias: false"),
        [(7, 7, "E102", "linear 'linear_1': missing required argument 'out_features'")],
    ),
    "recurrent_output_required": (
        layers("28, 28", "    - {type: lstm, hidden_size: 8}"),
        [(6, 7, "E102", "lstm 'lstm_1': missing required argument 'output'")],
    ),
    "recurrent_output_value": (
        layers("28, 28", "    - {type: lstm, hidden_size: 4, output: final}"),
        [(6, 36, "E104", "output: unknown value 'final'; expected 'sequence' or 'last'")],
    ),
    "string_for_int": (
        layers("4", "    - {type: linear, out_features: '3'}"),
        [(6, 36, "E105", "out_features: input should be a valid integer, got '3'")],
    ),
    "bool_for_int": (
        layers("4", "    - {type: linear, out_features: true}"),
        [(6, 36, "E105", "valid integer, got True")],
    ),
    # --- ranges -------------------------------------------------------------------------
    "size_zero": (
        layers("4", "    - {type: linear, out_features: 0}"),
        [(6, 36, "E106", "out_features: input should be greater than or equal to 1, got 0")],
    ),
    "zero_size_input_dimension": (
        layers("0, 4", OK),
        [(4, 19, "E106", "shape[0]: input should be greater than or equal to 1")],
    ),
    "probability_one": (
        layers("4", "    - {type: dropout, p: 1.0}"),
        [(6, 26, "E106", "dropout 'dropout_1': p: input should be less than 1")],
    ),
    "probability_negative": (
        layers("4", "    - {type: dropout, p: -0.1}"),
        [(6, 26, "E106", "p: input should be greater than or equal to 0")],
    ),
    "learning_rate_zero": (
        layers("4", OK, "optimizer: {type: adam, lr: 0}"),
        [(7, 29, "E106", "lr: input should be greater than 0, got 0")],
    ),
    "split_fraction_one": (
        layers("4", OK, "data:", CSV, "  split: {val: 1.0}"),
        [(9, 16, "E106", "val: input should be less than 1")],
    ),
    "split_fraction_zero": (
        layers("4", OK, "data:", CSV, "  split: {test: 0}"),
        [(9, 17, "E106", "test: input should be greater than 0")],
    ),
    "epochs_zero": (
        layers("4", OK, "train: {epochs: 0}"),
        [(7, 17, "E106", "epochs: input should be greater than or equal to 1, got 0")],
    ),
    "batch_size_zero": (
        layers("4", OK, "data:", CSV, "  batch_size: 0"),
        [(9, 15, "E106", "batch_size: input should be greater than or equal to 1")],
    ),
    "onnx_opset_too_old": (
        layers("4", OK, "export: {onnx: {opset: 9}}"),
        [(7, 24, "E106", "opset: input should be greater than or equal to 17")],
    ),
    # --- other sections' names ----------------------------------------------------------
    "unknown_loss": (
        layers("4", "    - {type: linear, out_features: 3}", "loss: crossentropy"),
        [(7, 7, "E201", "unknown loss 'crossentropy' (did you mean 'cross_entropy'?)")],
    ),
    "unknown_optimizer": (
        layers("4", OK, "optimizer: {type: adamm, lr: 0.1}"),
        [(7, 19, "E201", "unknown optimizer 'adamm' (did you mean 'adam'?)")],
    ),
    "optimizer_wrong_case": (
        layers("4", OK, "optimizer: Adam"),
        [(7, 12, "E201", "unknown optimizer 'Adam' (did you mean 'adam'?)")],
    ),
    "one_cycle_without_momentum": (
        layers(
            "4",
            OK,
            "optimizer: {type: adagrad, lr: 0.1}",
            "scheduler: {type: one_cycle, max_lr: 0.1}",
        ),
        [(8, 19, "E406", "one_cycle cycles the optimizer's momentum, but adagrad has no momentum")],
    ),
    "unknown_scheduler": (
        layers("4", OK, "scheduler: {type: steplr, step_size: 2}"),
        [(7, 19, "E201", "unknown scheduler 'steplr' (did you mean 'step_lr'?)")],
    ),
    "unknown_data_source": (
        layers("4", OK, "data:", "  source: {type: cvs, path: a.csv, target: y}"),
        [(8, 18, "E201", "unknown data source 'cvs' (did you mean 'csv'?)")],
    ),
    "data_source_without_type": (
        layers("4", OK, "data: {source: {path: x}}"),
        [(7, 16, "E202", "this data source has no 'type'")],
    ),
    "unknown_sklearn_dataset": (
        layers("4", OK, "data:", "  source: {type: sklearn, name: digit}"),
        [(8, 27, "E104", "unknown value 'digit' (did you mean 'digits'?)")],
    ),
    "unknown_preprocessing_step": (
        layers("4", OK, "data:", CSV, "  preprocess:", "    - {type: standard_scalar}"),
        [
            (
                10,
                14,
                "E201",
                "unknown preprocessing step 'standard_scalar' (did you mean 'standard_scaler'?)",
            )
        ],
    ),
    "unknown_imputer_strategy": (
        layers("4", OK, "data:", CSV, "  preprocess: [{type: simple_imputer, strategy: medain}]"),
        [(9, 39, "E104", "unknown value 'medain' (did you mean 'median'?)")],
    ),
    "unknown_transform": (
        layers("4", OK, "data:", CSV, "  transforms: [{type: normalise, mean: [0], std: [1]}]"),
        [(9, 23, "E201", "unknown transform 'normalise' (did you mean 'normalize'?)")],
    ),
    "unknown_device": (
        layers("4", OK, "train: {device: gpu}"),
        [(7, 17, "E104", "unknown device 'gpu'")],
    ),
    "unknown_metric": (
        layers("4", OK, "train: {metrics: [accuracy, acuracy]}"),
        [(7, 29, "E104", "unknown value 'acuracy' (did you mean 'accuracy'?)")],
    ),
    # --- layer names and graph ----------------------------------------------------------
    "name_keyword": (
        layers("4", "    - {type: relu, name: class}"),
        [(6, 26, "E207", "layer name 'class' is a Python keyword")],
    ),
    "name_reserved_forward": (
        layers("4", "    - {type: relu, name: forward}"),
        [(6, 26, "E207", "layer name 'forward' is reserved")],
    ),
    "name_reserved_x": (
        layers("4", "    - {type: relu, name: x}"),
        [(6, 26, "E207", "layer name 'x' is reserved")],
    ),
    "name_reserved_input": (
        layers("4", "    - {type: relu, name: input}"),
        [(6, 26, "E207", "layer name 'input' is reserved")],
    ),
    "name_non_ascii": (
        layers("4", "    - {type: relu, name: café}"),
        [(6, 26, "E207", "layer name 'café' is not a valid name")],
    ),
    "name_duplicate": (
        layers("4", "    - {type: relu, name: a}", "    - {type: relu, name: a}"),
        [(7, 26, "E205", "duplicate layer name 'a'")],
    ),
    "name_clashes_with_automatic_name": (
        layers("4", "    - {type: relu, name: relu_2}", "    - relu"),
        [(7, 7, "E205", "relu 'relu_2': duplicate layer name 'relu_2'")],
    ),
    "input_is_a_later_layer": (
        layers("4", "    - {type: relu, name: a, inputs: b}", "    - {type: relu, name: b}"),
        [(6, 37, "E203", "unknown input 'b': 'b' is a later layer")],
    ),
    "input_misspelled": (
        layers("4", "    - {type: relu, inputs: inptu}"),
        [(6, 28, "E203", "there is no layer 'inptu'")],
    ),
    "unknown_output": (
        spec(
            "version: 1",
            "name: t",
            "model:",
            "  input: {shape: [4]}",
            "  layers: [relu]",
            "  outputs: relu_9",
        ),
        [(6, 12, "E204", "model.outputs names unknown layer 'relu_9' (did you mean 'relu_1'?)")],
    ),
    # --- shapes -------------------------------------------------------------------------
    "kernel_larger_than_input": (
        layers("1, 4, 4", "    - {type: conv2d, out_channels: 2, kernel_size: 5}"),
        [(6, 7, "E401", "conv2d 'conv2d_1': kernel_size 5 is larger than the input (4)")],
    ),
    "pool_kernel_larger_than_input": (
        layers("1, 3, 3", "    - {type: maxpool2d, kernel_size: 4}"),
        [(6, 7, "E401", "maxpool2d 'maxpool2d_1': kernel_size 4 is larger than the input")],
    ),
    "conv2d_on_a_vector": (
        layers("16", "    - {type: conv2d, out_channels: 2, kernel_size: 3}"),
        [(6, 7, "E401", "needs a 3-D input per sample, got [16]")],
    ),
    "recurrent_on_3d_sample": (
        layers("1, 28, 28", "    - {type: lstm, hidden_size: 8, output: last}"),
        [(6, 7, "E401", "lstm 'lstm_1': a recurrent layer needs a [seq, features] input")],
    ),
    "add_of_different_shapes": (
        layers(
            "4",
            "    - {type: linear, out_features: 3, name: a}",
            "    - {type: linear, out_features: 5, name: b, inputs: input}",
            "    - {type: add, inputs: [a, b]}",
        ),
        [
            (
                8,
                7,
                "E401",
                "add 'add_1': add cannot broadcast [3], [5]: dimension 1 (counting the batch) "
                "has sizes [3, 5]",
            )
        ],
    ),
    "concat_on_missing_dim": (
        layers(
            "4",
            "    - {type: linear, out_features: 3, name: a}",
            "    - {type: linear, out_features: 5, name: b, inputs: input}",
            "    - {type: concat, inputs: [a, b], dim: 3}",
        ),
        [(8, 7, "E401", "concat 'concat_1': dim 3 does not exist")],
    ),
    "flatten_missing_dim": (
        layers("4", "    - {type: flatten, start_dim: 3}"),
        [(6, 7, "E401", "start_dim 3 does not exist")],
    ),
    "softmax_on_batch_dim_range": (
        layers("4", "    - {type: softmax, dim: 2}"),
        [(6, 7, "E401", "softmax 'softmax_1': dim 2 does not exist")],
    ),
    "conv_groups": (
        layers("3, 8, 8", "    - {type: conv2d, out_channels: 4, kernel_size: 3, groups: 2}"),
        [(6, 7, "E401", "groups=2 must divide in_channels (3)")],
    ),
    "batchnorm2d_on_a_vector": (
        layers("4", "    - batchnorm2d"),
        [(6, 7, "E401", "batchnorm2d needs a [channels, height, width] input")],
    ),
    "embedding_on_floats": (
        layers("4", "    - {type: embedding, num_embeddings: 10, embedding_dim: 3}"),
        [(6, 7, "E401", "embedding needs integer token ids")],
    ),
    "written_in_features_differs": (
        layers(
            "1, 28, 28", "    - flatten", "    - {type: linear, in_features: 728, out_features: 10}"
        ),
        [
            (
                7,
                7,
                "E401",
                "linear 'linear_1': in_features is 728 but the input gives 784 (the size of "
                "the last dimension of the input)",
            )
        ],
    ),
    "written_in_channels_differs": (
        layers("3, 8, 8", "    - {type: conv2d, in_channels: 1, out_channels: 4, kernel_size: 3}"),
        [(6, 7, "E401", "in_channels is 1 but the input gives 3 (the number of channels")],
    ),
    "written_input_size_differs": (
        layers("28, 28", "    - {type: lstm, input_size: 20, hidden_size: 4, output: last}"),
        [(6, 7, "E401", "input_size is 20 but the input gives 28")],
    ),
    # --- loss checks --------------------------------------------------------------------
    "softmax_before_cross_entropy": (
        layers(
            "4", "    - {type: linear, out_features: 3}", "    - softmax", "loss: cross_entropy"
        ),
        [
            (
                7,
                7,
                "E405",
                "layer 'linear_1' feeds cross_entropy through softmax; cross_entropy applies "
                "log-softmax itself",
            )
        ],
    ),
    "sigmoid_before_bce_with_logits": (
        layers(
            "4", "    - {type: linear, out_features: 1}", "    - sigmoid", "loss: bce_with_logits"
        ),
        [
            (
                7,
                7,
                "E405",
                "feeds bce_with_logits through sigmoid; bce_with_logits applies the sigmoid",
            )
        ],
    ),
    "nll_without_logsoftmax": (
        layers("4", "    - {type: linear, out_features: 3}", "loss: nll"),
        [(6, 7, "E405", "nll expects log-probabilities: end the model with a logsoftmax layer")],
    ),
    # --- blocks -------------------------------------------------------------------------
    "unknown_block": (
        spec(*BLOCKS, "    - {type: block, block: mpl, args: {width: 3}}"),
        [(10, 21, "E206", "unknown block 'mpl' (did you mean 'mlp'?)")],
    ),
    "missing_block_argument": (
        spec(*BLOCKS, "    - {type: block, block: mlp}"),
        [(10, 7, "E303", "block 'mlp' needs a value for 'width'")],
    ),
    "unknown_block_argument": (
        spec(*BLOCKS, "    - {type: block, block: mlp, args: {width: 3, depth: 2}}"),
        [(10, 50, "E302", "block 'mlp' has no parameter 'depth'")],
    ),
    "block_repeat_zero": (
        spec(*BLOCKS, "    - {type: block, block: mlp, args: {width: 3}, repeat: 0}"),
        [(10, 59, "E106", "repeat: input should be greater than or equal to 1")],
    ),
    "error_inside_repeated_block_reported_once": (
        spec(
            "version: 1",
            "name: t",
            "model:",
            "  input: {shape: [4]}",
            "  blocks:",
            "    mlp:",
            "      layers:",
            "        - {type: linear, out_features: 4}",
            "        - {type: relu, bad: 1}",
            "  layers:",
            "    - {type: block, block: mlp, repeat: 3}",
        ),
        [(9, 24, "E101", "unknown argument 'bad'")],
    ),
    # --- the block language: expressions, nesting, sequential, when, first ----------------
    "block_param_typo_names_the_parameters": (
        spec(
            *HEAD_BLOCKS,
            "    mlp:",
            "      params: {width: null}",
            "      layers: [{type: linear, out_features: $widht}]",
            "  layers:",
            "    - {type: block, block: mlp, args: {width: 3}}",
        ),
        [
            (
                8,
                31,
                "E301",
                "'$widht' names no parameter of block 'mlp' (did you mean 'width'?) "
                "(its parameters: width)",
            )
        ],
    ),
    "block_expression_bad_token": (
        spec(
            *HEAD_BLOCKS,
            "    mlp:",
            "      params: {width: null}",
            "      layers: [{type: linear, out_features: $width * * 2}]",
            "  layers:",
            "    - {type: block, block: mlp, args: {width: 3}}",
        ),
        [(8, 31, "E301", "unexpected '*' in '$width * * 2'")],
    ),
    "blocks_using_each_other": (
        spec(
            *HEAD_BLOCKS,
            "    a:",
            "      layers: [{type: block, block: b}]",
            "    b:",
            "      layers: [{type: block, block: a}]",
            "  layers:",
            "    - {type: block, block: a}",
        ),
        [(9, 30, "E304", "block 'a' uses itself: a -> b -> a")],
    ),
    "uses_with_one_name_clash_at_the_use": (
        spec(
            *HEAD_BLOCKS,
            "    mlp:",
            "      layers: [{type: linear, out_features: 3}]",
            "  layers:",
            "    - {type: block, block: mlp, name: m}",
            "    - {type: block, block: mlp, name: m}",
        ),
        [(10, 33, "E205", "duplicate layer name 'm': the layer or use on line 9 has it too")],
    ),
    "first_names_no_parameter": (
        spec(
            *HEAD_BLOCKS,
            "    mlp:",
            "      params: {width: null}",
            "      layers: [{type: linear, out_features: $width}]",
            "  layers:",
            "    - {type: block, block: mlp, args: {width: 3}, repeat: 2, first: {widht: 2}}",
        ),
        [(10, 70, "E302", "block 'mlp' has no parameter 'widht' (did you mean 'width'?)")],
    ),
    "when_outside_a_block": (
        layers("4", "    - {type: relu, when: true}"),
        [(6, 20, "E306", "'when' is allowed only on layers inside a block")],
    ),
    "when_not_a_condition": (
        spec(
            *HEAD_BLOCKS,
            "    mlp:",
            "      params: {width: null}",
            "      layers: [{type: linear, out_features: 3, when: $width + 1}]",
            "  layers:",
            "    - {type: block, block: mlp, args: {width: 3}}",
        ),
        [(8, 48, "E301", "the condition '$width + 1' gives 4, not true or false")],
    ),
    "inputs_inside_a_sequential": (
        layers(
            "4", "    - {type: sequential, name: s, layers: [relu, {type: relu, inputs: input}]}"
        ),
        [(6, 63, "E305", "'inputs' is not allowed inside a sequential")],
    ),
    "sequential_reading_two_inputs": (
        layers(
            "4",
            "    - {type: relu, name: a}",
            "    - {type: sequential, name: s, inputs: [input, a], layers: [relu]}",
        ),
        [(7, 35, "E305", "a sequential reads one input, a layer name")],
    ),
    "sequential_reading_no_input": (
        layers("4", "    - {type: sequential, name: s, inputs: [], layers: [relu]}"),
        [(6, 35, "E305", "a sequential reads one input, a layer name")],
    ),
    "error_in_nested_block_names_the_chain": (
        spec(
            *HEAD_BLOCKS,
            "    inner:",
            "      layers: [{type: conv2d, out_channels: 3, kernel_size: 3}]",
            "    outer:",
            "      layers: [{type: block, block: inner, name: a}]",
            "  layers:",
            "    - {type: block, block: outer, name: o}",
        ),
        [
            (
                7,
                16,
                "E401",
                "conv2d 'o.a.conv2d_1': conv2d ([channels, height, width]) needs a 3-D input "
                "per sample, got [4] (in block 'inner' at o.a (line 9), in block 'outer' at o "
                "(line 11))",
            )
        ],
    ),
    "copy_names_without_a_number": (
        spec(
            *HEAD_BLOCKS,
            "    mlp:",
            "      layers: [{type: linear, out_features: 3}]",
            "  layers:",
            "    - {type: block, block: mlp, repeat: 2, copy_names: layer}",
        ),
        [(9, 44, "E305", "copy_names must be a name with {n}")],
    ),
    "block_layer_reads_outside_the_block": (
        spec(
            *HEAD_BLOCKS,
            "    mlp:",
            "      layers: [{type: linear, out_features: 3, inputs: nothere}]",
            "  layers:",
            "    - {type: block, block: mlp}",
        ),
        [(7, 48, "E203", "unknown input 'nothere': a layer in block 'mlp' reads only 'input'")],
    ),
    # --- fuzz finds (bench/probe_fuzz.py): each raised instead of reporting ---------------
    "expression_too_long_for_the_parser": (  # RecursionError in parse/evaluate
        spec(
            *HEAD_BLOCKS,
            "    mlp:",
            "      params: {width: 3}",
            "      layers: [{type: linear, out_features: '" + " * ".join(["$width"] * 3000) + "'}]",
            "  layers:",
            "    - {type: block, block: mlp}",
        ),
        [(8, 31, "E301", "is longer than 64 tokens")],
    ),
    "expression_parentheses_nested_deep": (  # RecursionError
        spec(
            *HEAD_BLOCKS,
            "    mlp:",
            "      params: {width: 3}",
            "      layers: [{type: linear, out_features: '"
            + "(" * 900
            + "$width"
            + ")" * 900
            + "'}]",
            "  layers:",
            "    - {type: block, block: mlp}",
        ),
        [(8, 31, "E301", "is longer than 64 tokens")],
    ),
    "expression_number_with_thousands_of_digits": (  # ValueError from int()
        spec(
            *HEAD_BLOCKS,
            "    mlp:",
            "      params: {width: 3}",
            "      layers: [{type: linear, out_features: '$width * " + "9" * 5000 + "'}]",
            "  layers:",
            "    - {type: block, block: mlp}",
        ),
        [(8, 31, "E301", "has more than 18 digits")],
    ),
    "repeat_expression_outside_a_block": (  # AttributeError: BlockUse reached lowering
        spec(*BLOCKS, "    - {type: block, block: mlp, args: {width: 3}, repeat: $width}"),
        [(10, 51, "E105", "repeat must be a whole number, got '$width' (a $parameter")],
    ),
    "repeat_text_inside_a_block": (
        spec(
            *HEAD_BLOCKS,
            "    inner:",
            "      layers: [relu]",
            "    outer:",
            "      layers: [{type: block, block: inner, repeat: two}]",
            "  layers:",
            "    - {type: block, block: outer}",
        ),
        [(9, 44, "E105", "repeat must be a whole number, got 'two'")],
    ),
    "stacked_encoder_layers_over_the_budget": (  # built for minutes before (a hang)
        layers("5, 6", "    - {type: transformerencoder, num_layers: 100000, nhead: 2}"),
        [(6, 34, "E903", "more than 10,000 layers (at least 100,000 by layer 1)")],
    ),
    "stacked_lstm_layers_over_the_budget": (
        layers("5, 6", "    - {type: lstm, hidden_size: 4, num_layers: 20000, output: last}"),
        [(6, 36, "E903", "(at least 20,000 by layer 1)")],
    ),
    "yaml_alias_inside_its_own_anchor": (  # RecursionError in the loader
        spec(
            "version: 1",
            "name: t",
            "seed: &a [*a]",
            "model: {input: {shape: [4]}, layers: [relu]}",
        ),
        [(3, 7, "E901", "nested more than 64 levels deep (a YAML alias used inside its own")],
    ),
    "yaml_mapping_alias_inside_itself": (
        spec("version: 1", "name: t", "model: &m {input: {shape: [4]}, layers: [relu], x: *m}"),
        [(3, 8, "E901", "nested more than 64 levels deep")],
    ),
    "pad_with_five_numbers": (  # image_folder: ValueError when the decode size was worked out
        spec(
            "version: 1",
            "name: t",
            "model: {input: {shape: [1, 8, 8]}, layers: [flatten,{type: linear, out_features: 2}]}",
            "data:",
            "  source: {type: image_folder, path: imgs}",
            "  transforms: [{type: pad, padding: [1, 2, 3, 4, 5]}]",
        ),
        [(6, 37, "E107", "pad takes 1, 2 or 4 numbers (all sides; left/right and top/bottom")],
    ),
    # --- several errors at once ---------------------------------------------------------
    "three_independent_errors": (
        layers(
            "4",
            "    - {type: linear, out_feature: 3}",
            "    - {type: dropout, p: 2}",
            "loss: crossentropy",
        ),
        [
            (6, 22, "E101", "unknown argument 'out_feature'"),
            (7, 26, "E106", "p: input should be less than 1"),
            (8, 7, "E201", "unknown loss 'crossentropy'"),
        ],
    ),
    "errors_in_three_sections": (
        layers("4", OK, "optimizer: {type: sgd, lr: -1}", "train: {epochs: 0, device: tpu}"),
        [
            (7, 28, "E106", "lr: input should be greater than 0"),
            (8, 17, "E106", "epochs"),
            (8, 28, "E104", "unknown device 'tpu'"),
        ],
    ),
    "line_break_in_spec_text_stays_escaped": (
        layers("4", OK, 'loss: "cross\\nentropy"'),
        [(7, 7, "E201", "unknown loss 'cross\\nentropy'")],
    ),
    "shape_error_alongside_section_error": (
        layers(
            "1, 4, 4", "    - {type: conv2d, out_channels: 2, kernel_size: 5}", "train: {epochs: 0}"
        ),
        [(6, 7, "E401", "kernel_size 5 is larger than the input"), (7, 17, "E106", "epochs")],
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_broken_spec_reports_exactly_its_errors(name: str):
    text, expected = CASES[name]
    spec_obj, errors = check_text(text, "broken.yaml")
    assert spec_obj is None
    got = [(e.line, e.col, e.code, e.message) for e in errors]
    assert len(errors) == len(expected), got
    for error, (line, col, code, fragment) in zip(errors, expected, strict=True):
        assert error.path == "broken.yaml"
        assert error.line == line, got
        if col is not None:
            assert error.col == col, got
        assert error.code == code, got
        assert fragment in error.message, got


def test_corpus_is_large_enough():
    assert len(CASES) >= 40


def test_report_format_has_source_line_and_caret(tmp_path: Path):
    path = tmp_path / "bad.yaml"
    path.write_text(layers("4", "    - {type: linear, out_feature: 10}"), encoding="utf-8")
    with pytest.raises(SpecErrors) as info:
        load_spec(path)
    lines = str(info.value).splitlines()
    assert lines[0] == (
        f"{path}:6:22: error[E101]: linear 'linear_1': unknown argument "
        "'out_feature' (did you mean 'out_features'?)"
    )
    assert lines[1] == "    6 |     - {type: linear, out_feature: 10}"
    assert lines[2].index("^") == lines[1].index("out_feature")
    assert info.value.exit_code == 2


# --- the command line ---------------------------------------------------------------------


def _validate(*paths: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "20", "TERM": "xterm-256color", "FORCE_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "specc", "validate", *map(str, paths)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )


def test_cli_prints_plain_unwrapped_report_and_exits_2(tmp_path: Path):
    bad = tmp_path / "a_rather_long_file_name_for_a_narrow_terminal.yaml"
    bad.write_text(
        spec(
            "version: 1",
            "name: t",
            "model:",
            "  input: {shape: [4]}",
            "  layers: [{type: relu, name: a}, {type: relu, name: b}]",
            "  outputs: [a, c]",
            "loss: crossentropy",
        ),
        encoding="utf-8",
    )
    result = _validate(bad)
    assert result.returncode == 2
    err = result.stderr
    assert "Traceback" not in err and "\x1b[" not in err
    header = f"{bad}:6:16: error[E204]: model.outputs names unknown layer 'c'"
    assert header in err.splitlines()  # one line, however narrow the terminal
    assert "    6 |   outputs: [a, c]" in err.splitlines()  # spec text verbatim, no markup
    assert f"{bad}:7:7: error[E201]: unknown loss 'crossentropy'" in err
    assert err.rstrip().endswith("2 errors")


def test_cli_reports_every_spec_and_passes_good_ones(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nname: t\n", encoding="utf-8")
    result = _validate(ROOT / "specs" / "lenet.yaml", bad)
    assert result.returncode == 2
    assert "lenet5: 12 layers, 61,706 parameters" in result.stdout
    assert f"{bad}:1:1: error[E102]: missing required key 'model'" in result.stderr


def test_unknown_name_in_an_inputs_list_points_at_that_name(tmp_path):
    text = (
        "version: 1\nname: t\nmodel:\n  input: {shape: [4]}\n  layers:\n"
        "    - {type: linear, out_features: 4, name: a}\n"
        "    - {type: add, inputs: [a, bb]}\n"
    )
    spec, errors = check_text(text, "t.yaml")
    assert spec is None
    assert [(e.line, e.col) for e in errors] == [(7, 31)]
    assert "unknown input 'bb'" in errors[0].message
