"""graphc's ONNX exports against onnxruntime: each model is exported by graphc
(--export-onnx), run by onnxruntime and by graphc (--run) on the same inputs, and every output
must agree within the tolerance (max abs error). Prints one line per model and output and exits
non-zero on any mismatch. Called by scripts/onnx-export-check.sh, which sets up the venv."""
import argparse
import os
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort


def make_inputs(model, batch, rng):
    """Seeded inputs of the model's declared types, with every symbolic dimension `batch`.
    i64 inputs (token ids) are drawn below 4, within any vocabulary."""
    feeds = {}
    for i in model.graph.input:
        t = i.type.tensor_type
        shape = [d.dim_value if d.HasField("dim_value") else batch for d in t.shape.dim]
        if t.elem_type == onnx.TensorProto.FLOAT:
            feeds[i.name] = rng.standard_normal(shape).astype(np.float32)
        elif t.elem_type == onnx.TensorProto.INT64:
            feeds[i.name] = rng.integers(0, 4, size=shape).astype(np.int64)
        else:
            raise SystemExit(f"{i.name}: unexpected element type {t.elem_type}")
    return feeds


def check(graphc, model_file, out_dir, batch, threads, tolerance, rng):
    stem = os.path.splitext(os.path.basename(model_file))[0]
    onnx_file = os.path.join(out_dir, stem + ".onnx")
    subprocess.run([graphc, model_file, "--export-onnx", onnx_file], check=True, stdout=subprocess.DEVNULL)
    model = onnx.load(onnx_file)
    onnx.checker.check_model(model, full_check=True)
    feeds = make_inputs(model, batch, rng)
    inputs_file = os.path.join(out_dir, stem + "-inputs.npz")
    np.savez(inputs_file, **feeds)
    graphc_file = os.path.join(out_dir, stem + "-graphc.npz")
    # --random-inputs fills what the export left out (the label a loss reads).
    subprocess.run([graphc, model_file, "--run", "--inputs", inputs_file, "--random-inputs", "--threads", str(threads),
                    "--out", graphc_file], check=True, stdout=subprocess.DEVNULL)
    ours = np.load(graphc_file)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(onnx_file, options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    theirs = dict(zip(names, session.run(names, feeds)))
    ok = True
    for name in names:
        a, b = ours[name], theirs[name]
        if a.shape != b.shape or a.dtype != b.dtype:
            print(f"FAIL {stem} {name}: graphc {a.dtype}{a.shape}, onnxruntime {b.dtype}{b.shape}")
            ok = False
            continue
        err = float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))) if a.size else 0.0
        verdict = "ok  " if err < tolerance else "FAIL"
        ok &= err < tolerance
        print(f"{verdict} {stem} {name} {b.dtype}{list(b.shape)}: max abs error {err:.3g} "
              f"(tolerance {tolerance:g}; {len(model.graph.node)} ONNX nodes)")
    return ok


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--graphc", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--tolerance", type=float, default=1e-4)
    p.add_argument("models", nargs="+")
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    rng = np.random.default_rng(10)
    print(f"onnxruntime {ort.__version__}, onnx {onnx.__version__}")
    results = [check(a.graphc, m, a.out, a.batch, a.threads, a.tolerance, rng) for m in a.models]
    passed = sum(results)
    print(f"{passed} passed, {len(results) - passed} failed")
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
