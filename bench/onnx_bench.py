"""graphc against onnxruntime on the same ONNX files, inputs and thread count, in the same run
(bench/onnx.sh sets it up): the light ResNet-50 of the ONNX model zoo at batch 1 and 8, and
ResNet-18 at 500x500 as the homework encodes its images (graphc's export of
graphs/resnet18.swiftgraph). Prints a Markdown section with medians, spreads and ratios."""
import argparse
import json
import os
import platform
import statistics
import subprocess
import time

import numpy as np
import onnx
import onnx.backend.test
import onnxruntime as ort

LIGHT = os.path.join(os.path.dirname(onnx.backend.test.__file__), "data", "light")


def cpu_name():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


def with_batch(src, dst, batch):
    """The model with its input's and output's first dimension `batch` and the Reshape before its Gemm to match."""
    m = onnx.load(src)
    m.graph.input[0].type.tensor_type.shape.dim[0].dim_value = batch
    for i in m.graph.initializer:
        if i.name == "OC2_DUMMY_1":  # the light ResNet-50's Reshape to [1, 2048] before its Gemm
            i.CopyFrom(onnx.numpy_helper.from_array(np.array([batch, 2048], dtype=np.int64), i.name))
    for o in m.graph.output:
        if o.type.tensor_type.shape.dim:
            o.type.tensor_type.shape.dim[0].dim_value = batch
    onnx.save(m, dst)


def inputs_for(path, seed=0):
    m = onnx.load(path)
    inits = {i.name for i in m.graph.initializer}
    rng = np.random.default_rng(seed)
    feeds = {}
    for x in m.graph.input:
        if x.name in inits:
            continue
        shape = [d.dim_value if d.HasField("dim_value") else 1 for d in x.type.tensor_type.shape.dim]
        feeds[x.name] = rng.standard_normal(shape).astype(np.float32)
    return feeds


def time_ort(path, feeds, threads, warmup, repeats):
    o = ort.SessionOptions()
    o.intra_op_num_threads = threads
    o.inter_op_num_threads = 1
    s = ort.InferenceSession(path, o, providers=["CPUExecutionProvider"])
    for _ in range(warmup):
        s.run(None, feeds)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        out = s.run(None, feeds)
        times.append(time.perf_counter() - t)
    return times, out


def time_graphc(tool, path, inputs, threads, warmup, repeats):
    r = subprocess.run([tool, path, inputs, "--threads", str(threads), "--warmup", str(warmup), "--repeats", str(repeats)],
                       check=True, capture_output=True, text=True)
    return json.loads(r.stdout)["seconds"]


def spread(ts):
    return f"{min(ts):.4f}-{max(ts):.4f}"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--onnx-bench", required=True)
    p.add_argument("--resnet18", required=True, help="graphc's export of graphs/resnet18.swiftgraph")
    p.add_argument("--out", required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    cases = []
    for batch in (1, 8):
        path = os.path.join(a.out, f"light_resnet50_b{batch}.onnx")
        with_batch(os.path.join(LIGHT, "light_resnet50.onnx"), path, batch)
        cases.append((f"light ResNet-50, batch {batch}", path, batch))
    cases.append(("ResNet-18 (graphs/resnet18.swiftgraph export), 500x500, batch 1", a.resnet18, 1))

    rows = []
    for name, path, batch in cases:
        feeds = inputs_for(path)
        npz = os.path.splitext(path)[0] + "-inputs.npz"
        np.savez(npz, **feeds)
        ort_t, _ = time_ort(path, feeds, a.threads, a.warmup, a.repeats)
        g_t = time_graphc(a.onnx_bench, path, npz, a.threads, a.warmup, a.repeats)
        om, gm = statistics.median(ort_t), statistics.median(g_t)
        rows.append((name, batch, gm, spread(g_t), om, spread(ort_t), gm / om))
        print(f"{name}: graphc {gm:.4f} s, onnxruntime {om:.4f} s, ratio {gm / om:.2f}", flush=True)

    print()
    print(f"### ONNX: graphc against onnxruntime ({time.strftime('%Y-%m-%d')})")
    print()
    print(f"`bench/onnx.sh`: CPU `{cpu_name()}`, {a.threads} threads for both (onnxruntime {ort.__version__}: intra-op "
          f"{a.threads}, inter-op 1), the same ONNX file and seeded inputs, in one run; median of {a.repeats} runs after "
          f"{a.warmup} warm-up runs, seconds per batch (spread: min-max). graphc imports the file, compiles it with the "
          f"inference pipeline plus fusion, and runs it with its memory plan (`onnx-bench`); OPENBLAS_CORETYPE="
          f"{os.environ.get('OPENBLAS_CORETYPE', 'unset')}; load average before the run {open('/proc/loadavg').read().split()[0]}.")
    print()
    print("| model | batch | graphc median (s) | graphc spread | onnxruntime median (s) | onnxruntime spread | graphc / onnxruntime |")
    print("|---|---|---|---|---|---|---|")
    for name, batch, gm, gs, om, os_, ratio in rows:
        print(f"| {name} | {batch} | {gm:.4f} | {gs} | {om:.4f} | {os_} | {ratio:.2f}x |")


if __name__ == "__main__":
    main()
