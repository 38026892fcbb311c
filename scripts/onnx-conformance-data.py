"""Lays out the ONNX backend test data for graphc's conformance runner (onnx-conformance):

    OUT/node/<case>/              one per node test, made from onnx.backend.test.case.node (the
                                  cases `backend-test-tools generate-data` wrote up to onnx 1.15;
                                  onnx 1.23's command writes only the model tests)
    OUT/pytorch-converted/<case>/ and OUT/pytorch-operator/<case>/, copied from the onnx wheel
    OUT/light/<model>/            the light model-zoo models, with the input the ONNX runner makes
                                  for them (arange(n) / n) and their reference output
    OUT/cases.tsv                 suite, case, op, folder, rtol, atol: one line per case

Each case folder holds model.onnx and test_data_set_N/{input,output}_K.pb, as ONNX lays them out."""
import argparse
import os
import shutil
import sys

import numpy as np
import onnx
import onnx.backend.test
from onnx import numpy_helper

DATA = os.path.join(os.path.dirname(onnx.backend.test.__file__), "data")


def write_case(folder, model, data_sets):
    """Writes a node test; returns why it cannot be written as tensors, or None."""
    for v in list(model.graph.input) + list(model.graph.output):
        if not v.type.HasField("tensor_type"):
            return f"non-tensor {'input' if v in model.graph.input else 'output'} {v.name}"
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "model.onnx"), "wb") as f:
        f.write(model.SerializeToString())
    for i, (inputs, outputs) in enumerate(data_sets):
        d = os.path.join(folder, f"test_data_set_{i}")
        os.makedirs(d, exist_ok=True)
        for kind, values, infos in (("input", inputs, model.graph.input), ("output", outputs, model.graph.output)):
            for j, value in enumerate(values):
                proto = value if isinstance(value, onnx.TensorProto) else numpy_helper.from_array(np.asarray(value), infos[j].name)
                with open(os.path.join(d, f"{kind}_{j}.pb"), "wb") as f:
                    f.write(proto.SerializeToString())
    return None


def node_cases(out, rows):
    import onnx.backend.test.case.node as node
    cases = node.collect_testcases()
    single = {c.name: c.model.graph.node[0].op_type for c in cases if len(c.model.graph.node) == 1}
    for c in cases:
        nodes = c.model.graph.node
        op = nodes[0].op_type if len(nodes) == 1 else single.get(c.name.split("_expanded")[0], "(expanded function)")
        folder = os.path.join(out, "node", c.name)
        why = write_case(folder, c.model, c.data_sets)
        rows.append(("node", c.name, op, folder if why is None else "-", c.rtol, c.atol, why or ""))


def copied_cases(out, rows, suite):
    for name in sorted(os.listdir(os.path.join(DATA, suite))):
        src = os.path.join(DATA, suite, name)
        dst = os.path.join(out, suite, name)
        shutil.copytree(src, dst, dirs_exist_ok=True)
        model = onnx.load(os.path.join(dst, "model.onnx"), load_external_data=False)
        ops = sorted({n.op_type for n in model.graph.node})
        # onnx's runner compares these with rtol 1e-3 and atol 1e-7.
        rows.append((suite, name, "+".join(ops) if ops else "(none)", dst, 1e-3, 1e-7, ""))


def light_cases(out, rows):
    import onnx.backend.test.case.model as model_cases
    tolerances = {c.model_name: (c.rtol, c.atol) for c in model_cases.collect_testcases() if c.kind == "real"}
    for model_name, (rtol, atol) in sorted(tolerances.items()):
        src = os.path.join(DATA, "light", f"light_{model_name}.onnx")
        folder = os.path.join(out, "light", model_name)
        data = os.path.join(folder, "test_data_set_0")
        os.makedirs(data, exist_ok=True)
        shutil.copyfile(src, os.path.join(folder, "model.onnx"))
        model = onnx.load(src)
        inits = {i.name for i in model.graph.initializer}
        inputs = [i for i in model.graph.input if i.name not in inits]
        for j, x in enumerate(inputs):
            # What onnx's backend runner feeds a light model (generate_dummy_data, random=False).
            shape = tuple(d.dim_value if d.HasField("dim_value") else 1 for d in x.type.tensor_type.shape.dim)
            n = int(np.prod(shape))
            value = (np.arange(n).reshape(shape) / n).astype(np.float32)
            with open(os.path.join(data, f"input_{j}.pb"), "wb") as f:
                f.write(numpy_helper.from_array(value, x.name).SerializeToString())
        for j in range(len(model.graph.output)):
            shutil.copyfile(os.path.join(DATA, "light", f"light_{model_name}_output_{j}.pb"), os.path.join(data, f"output_{j}.pb"))
        rows.append(("light", model_name, "model: " + model_name, folder, rtol, atol, ""))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    a = p.parse_args()
    rows = []
    light_cases(a.out, rows)
    for suite in ("pytorch-converted", "pytorch-operator"):
        copied_cases(a.out, rows, suite)
    node_cases(a.out, rows)
    with open(os.path.join(a.out, "cases.tsv"), "w") as f:
        f.write("suite\tcase\top\tfolder\trtol\tatol\tnot_laid_out\n")
        for r in rows:
            f.write("\t".join(str(x) for x in r) + "\n")
    print(f"onnx {onnx.__version__}: {len(rows)} cases in {a.out}/cases.tsv", file=sys.stderr)


if __name__ == "__main__":
    main()
