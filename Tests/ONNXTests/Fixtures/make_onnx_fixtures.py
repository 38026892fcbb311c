"""Makes the small ONNX fixtures of Tests/ONNXTests (committed; `swift test` never runs this).

    python3 -m venv .venv-onnx && .venv-onnx/bin/pip install torch onnx numpy
    .venv-onnx/bin/python Tests/ONNXTests/Fixtures/make_onnx_fixtures.py

Each model is exported with torch.onnx.export (TorchScript exporter, dynamic batch) next to
its reference data laid out as the ONNX backend tests lay theirs: test_data_set_0/input_0.pb
and output_0.pb, TensorProtos of a seeded input and of PyTorch's output for it.
It also writes the small hand-made seeds of the ONNX fuzz corpus (Fuzz/corpus/onnx/).
"""
import os
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))


class TinyClassifier(nn.Module):
    """A Fashion-MNIST-shaped classifier: image [B, 1, 28, 28] -> log-probabilities [B, 10]."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 8, 3, padding=1)
        self.fc1 = nn.Linear(8 * 7 * 7, 16)
        self.drop = nn.Dropout(0.25)
        self.fc2 = nn.Linear(16, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.leaky_relu(self.conv2(x), 0.1), 2)
        x = x.view(x.size(0), -1)          # Shape, Gather, Unsqueeze, Concat, Reshape
        x = self.drop(F.relu(self.fc1(x)))
        return F.log_softmax(self.fc2(x), dim=1)


class TinyLSTM(nn.Module):
    """A one-layer LSTM over [seq 3, B, 5] with hidden size 4, then a linear head."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(5, 4)
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        y, (h, c) = self.lstm(x)
        return self.head(y), h, c


def export(model, name, example, input_names, output_names, dynamic_axes, fold=True):
    model.eval()
    folder = os.path.join(HERE, name)
    data = os.path.join(folder, "test_data_set_0")
    os.makedirs(data, exist_ok=True)
    path = os.path.join(folder, "model.onnx")
    torch.onnx.export(model, (example,), path, input_names=input_names, output_names=output_names,
                      dynamic_axes=dynamic_axes, opset_version=17, dynamo=False,
                      do_constant_folding=fold)
    with torch.no_grad():
        outputs = model(example)
    if isinstance(outputs, torch.Tensor):
        outputs = (outputs,)
    def save(t, n, file):
        proto = numpy_helper.from_array(t.detach().numpy(), n)
        with open(os.path.join(data, file), "wb") as f:
            f.write(proto.SerializeToString())
    save(example, input_names[0], "input_0.pb")
    for i, (o, n) in enumerate(zip(outputs, output_names)):
        save(o, n, f"output_{i}.pb")


def fuzz_seeds():
    """Small models for the fuzzer's seed corpus (Fuzz/corpus/onnx/): windows and movement ops."""
    import numpy as np
    import onnx
    from onnx import helper as h, TensorProto as T
    corpus = os.path.join(HERE, "..", "..", "..", "Fuzz", "corpus", "onnx")
    os.makedirs(corpus, exist_ok=True)
    def save(name, nodes, inputs, outputs, inits):
        g = h.make_graph(nodes, name, inputs, outputs, inits)
        onnx.save(h.make_model(g, opset_imports=[h.make_opsetid("", 17)]), os.path.join(corpus, name + ".onnx"))
    x = h.make_tensor_value_info("x", T.FLOAT, ["N", 2, 6, 6])
    w = numpy_helper.from_array(np.ones((4, 1, 3, 3), np.float32), "w")
    save("windows", [h.make_node("Conv", ["x", "w"], ["c"], group=2, pads=[1, 0, 1, 2], strides=[2, 1], name="conv"),
                     h.make_node("AveragePool", ["c"], ["a"], kernel_shape=[2, 2], ceil_mode=1, name="avg"),
                     h.make_node("MaxPool", ["a"], ["m"], kernel_shape=[2, 2], auto_pad="SAME_UPPER", name="max"),
                     h.make_node("LRN", ["m"], ["l"], size=3, name="lrn"),
                     h.make_node("GlobalAveragePool", ["l"], ["y"], name="gap")],
         [x], [h.make_tensor_value_info("y", T.FLOAT, None)], [w])
    v = h.make_tensor_value_info("v", T.FLOAT, ["N", 3, 4])
    ids = h.make_tensor_value_info("ids", T.INT64, ["N"])
    inits = [numpy_helper.from_array(np.arange(12, dtype=np.float32).reshape(6, 2), "table"),
             numpy_helper.from_array(np.array([0, -1], np.int64), "shape"),
             numpy_helper.from_array(np.array([0, 1, 0, 1], np.int64), "pads"),
             numpy_helper.from_array(np.array([1], np.int64), "axes")]
    save("movement", [h.make_node("Transpose", ["v"], ["t"], perm=[0, 2, 1]),
                      h.make_node("Reshape", ["t", "shape"], ["r"]),
                      h.make_node("Gather", ["table", "ids"], ["e"], axis=0),
                      h.make_node("Concat", ["r", "e"], ["cat"], axis=1),
                      h.make_node("Pad", ["cat", "pads"], ["p"], mode="reflect"),
                      h.make_node("Softmax", ["p"], ["y"], axis=1),
                      h.make_node("ReduceSum", ["y", "axes"], ["s"], keepdims=0)],
         [v, ids], [h.make_tensor_value_info("s", T.FLOAT, None)], inits)


def main():
    torch.manual_seed(0)
    classifier = TinyClassifier()
    with torch.no_grad():   # running statistics that are not the defaults
        classifier.bn1.running_mean.uniform_(-0.5, 0.5)
        classifier.bn1.running_var.uniform_(0.5, 1.5)
    export(classifier, "tiny_classifier", torch.randn(3, 1, 28, 28), ["image"], ["log_probs"],
           {"image": {0: "batch"}, "log_probs": {0: "batch"}}, fold=False)   # keeps BatchNormalization
    torch.manual_seed(1)
    export(TinyLSTM(), "tiny_lstm", torch.randn(3, 2, 5), ["x"], ["y", "h", "c"],
           {"x": {1: "batch"}, "y": {1: "batch"}, "h": {1: "batch"}, "c": {1: "batch"}})
    fuzz_seeds()


if __name__ == "__main__":
    main()
