"""One GPU, one shot: synchronous against asynchronous checkpoint saves (`save_async=True`) of a 1B-parameter Llama.

A `LlamaForCausalLM` built from a config (hidden size 2048, 16 layers, vocabulary of 32,000: 0.95B parameters; no
download), in bf16 (parameters and AdamW states: a checkpoint of about 5.7 GB), trains with `adamw_torch_fused` on
random token ids, saving every `--save-steps` update steps. Three runs, each in a fresh process: no saves,
synchronous saves, asynchronous saves (`--rounds 2` repeats them in reversed order). Each run notes, in a callback
after `DefaultFlowCallback`, `time.time()` at each step begin and at each step end (after `torch.cuda.synchronize()`,
in every run alike), skips the final save (outside what is measured) and reports:

- the pause per save: from the end of the step that saves to the beginning of the next;
- throughput: steps per second over the window from the end of the first step to the end of the last, or to the
  moment the last checkpoint in it is complete (its `trainer_state.json`), if that is later; the training time lost
  per save: the window minus that of the run without saves, over the saves;
- the background write: from the end of an asynchronous save's pause to its `trainer_state.json` (mtime);
- the peak RSS of the process (psutil, sampled every 50 ms) and the peak GPU memory allocated.

It prints one markdown table. About 3 minutes on an H100 or H200 (80 GB or more of GPU memory, 30 GB of host memory,
20 GB of free disk under `--output-dir`).

    python benchmarks/gpu_async_save.py                     # with transformers from fork/ (PYTHONPATH=fork/src)
    python benchmarks/gpu_async_save.py --dry-run           # a tiny model on the CPU: checks the script, no figures
"""

import argparse
import dataclasses
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


MODEL_1B = {
    "hidden_size": 2048,
    "intermediate_size": 5632,
    "num_hidden_layers": 16,
    "num_attention_heads": 16,
    "num_key_value_heads": 16,
    "vocab_size": 32000,
}
MODEL_TINY = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 4,
    "vocab_size": 1000,
}
CHILD_TIMEOUT_SECONDS = 240


def child(job):
    """One run, in its own process: prints its measures as one JSON line."""
    import psutil
    import torch

    from transformers import LlamaConfig, LlamaForCausalLM, Trainer, TrainerCallback, TrainingArguments

    cuda = not job["dry_run"]
    torch.manual_seed(0)
    with torch.device("cuda" if cuda else "cpu"):
        model = LlamaForCausalLM(LlamaConfig(**job["model"])).to(torch.bfloat16)
    process, peak = psutil.Process(), [0]
    running = True

    def sample():
        while running:
            peak[0] = max(peak[0], process.memory_info().rss)
            time.sleep(0.05)

    class Recorder(TrainerCallback):
        def __init__(self):
            self.begins, self.ends, self.saves = {}, {}, []

        def on_step_begin(self, args, state, control, **kwargs):
            self.begins[state.global_step + 1] = time.time()

        def on_step_end(self, args, state, control, **kwargs):
            if cuda:
                torch.cuda.synchronize()
            if state.global_step >= job["steps"]:
                control.should_save = False  # the final save is outside what is measured
            if control.should_save:
                self.saves.append(state.global_step)
            self.ends[state.global_step] = time.time()

    class Tokens(torch.utils.data.Dataset):
        def __init__(self):
            generator = torch.Generator().manual_seed(0)
            shape = (job["steps"] * job["batch"], job["sequence"])
            self.ids = torch.randint(0, job["model"]["vocab_size"], shape, generator=generator)

        def __len__(self):
            return len(self.ids)

        def __getitem__(self, i):
            return {"input_ids": self.ids[i], "labels": self.ids[i]}

    saving = {"save_strategy": "no"}
    if job["variant"] != "none":
        saving = {"save_strategy": "steps", "save_steps": job["save_steps"]}
    if job["variant"] == "async":
        saving["save_async"] = True
    args = TrainingArguments(
        job["output_dir"],
        max_steps=job["steps"],
        per_device_train_batch_size=job["batch"],
        learning_rate=1e-5,
        optim="adamw_torch_fused",
        report_to=[],
        disable_tqdm=True,
        logging_strategy="no",
        use_cpu=not cuda,
        dataloader_pin_memory=cuda,
        **saving,
    )
    recorder = Recorder()
    trainer = Trainer(model=model, args=args, train_dataset=Tokens(), callbacks=[recorder])
    rss_before = process.memory_info().rss
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    trainer.train()
    running = False
    sampler.join()
    markers = {}
    for step in recorder.saves:
        path = Path(job["output_dir"]) / f"checkpoint-{step}" / "trainer_state.json"
        deadline = time.time() + 60
        while not path.exists() and time.time() < deadline:
            time.sleep(0.01)
        markers[step] = path.stat().st_mtime if path.exists() else math.nan
    begins, ends, steps = recorder.begins, recorder.ends, job["steps"]
    checkpoint_bytes = 0
    if recorder.saves:
        folder = Path(job["output_dir"]) / f"checkpoint-{recorder.saves[0]}"
        checkpoint_bytes = sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())
    result = {
        "window": max([ends[steps]] + list(markers.values())) - ends[1],
        "window_steps": steps - 1,
        "step": statistics.median(ends[s] - begins[s] for s in ends if s > 1 and s - 1 not in recorder.saves),
        "pauses": [begins[s + 1] - ends[s] for s in recorder.saves],
        "writes": [markers[s] - begins[s + 1] for s in recorder.saves],
        "saves": len(recorder.saves),
        "rss_before": rss_before,
        "rss_peak": max(peak[0], rss_before),
        "gpu_peak": torch.cuda.max_memory_allocated() if cuda else 0,
        "parameters": sum(p.numel() for p in model.parameters()),
        "checkpoint_bytes": checkpoint_bytes,
        "device": torch.cuda.get_device_name() if cuda else "CPU (dry run)",
    }
    print("RESULT " + json.dumps(result), flush=True)


def run(job):
    output_dir = tempfile.mkdtemp(prefix=f"gpu-async-save-{job['variant']}-", dir=job["root"])
    try:
        completed = subprocess.run(
            [sys.executable, __file__, "--child", json.dumps({**job, "output_dir": output_dir})],
            capture_output=True,
            text=True,
            timeout=CHILD_TIMEOUT_SECONDS,
        )
    finally:
        shutil.rmtree(output_dir, ignore_errors=True)
    lines = [line for line in completed.stdout.splitlines() if line.startswith("RESULT ")]
    if completed.returncode != 0 or not lines:
        sys.exit(f"{job['variant']}: the run failed (exit {completed.returncode}):\n{completed.stderr[-3000:]}")
    os.sync()  # flush what this run wrote, outside what the next one times
    return json.loads(lines[-1][len("RESULT ") :])


def has_save_async():
    from transformers import TrainingArguments

    return "save_async" in {field.name for field in dataclasses.fields(TrainingArguments)}


def table(runs, variants):
    def med(values):
        values = [v for v in values if not math.isnan(v)]
        return statistics.median(values) if values else math.nan

    first = runs["none"][0]
    lines = [
        f"{first['device']}; {first['parameters'] / 1e6:,.0f}M parameters in bf16, AdamW (fused); checkpoint "
        f"{max(r['checkpoint_bytes'] for v in variants for r in runs[v]) / 1e6:,.0f} MB; "
        f"{len(runs['none'])} round(s)",
        "",
        "| | no saves | synchronous | asynchronous | async / sync |",
        "|---|---|---|---|---|",
    ]

    def row(name, value, digits=3, ratio=True):
        cells = [value(v) if v in variants else math.nan for v in ("none", "sync", "async")]
        text = ["-" if math.isnan(c) else f"{c:.{digits}f}" for c in cells]
        quotient = cells[2] / cells[1] if ratio and cells[1] and not math.isnan(cells[2]) else math.nan
        lines.append(f"| {name} | {' | '.join(text)} | {'-' if math.isnan(quotient) else f'{quotient:.3f}'} |")

    row("update step, s (median, steps not after a save)", lambda v: med([r["step"] for r in runs[v]]))
    row("saves in the window", lambda v: med([r["saves"] for r in runs[v]]), 0, ratio=False)
    row(
        "pause per save, s (median)",
        lambda v: med([p for r in runs[v] for p in r["pauses"]]) if v != "none" else math.nan,
    )
    row("throughput, steps/s (window)", lambda v: med([r["window_steps"] / r["window"] for r in runs[v]]), 2)

    def lost(v):
        if v == "none":
            return math.nan
        return med([(r["window"] - b["window"]) / r["saves"] for r, b in zip(runs[v], runs["none"])])

    row("training time lost per save, s", lost)
    row(
        "background write, pause end to trainer_state.json, s (median)",
        lambda v: med([w for r in runs[v] for w in r["writes"]]) if v == "async" else math.nan,
        ratio=False,
    )
    row(
        "peak RSS above the start of train(), GiB",
        lambda v: med([(r["rss_peak"] - r["rss_before"]) / 2**30 for r in runs[v]]),
        2,
    )
    row("peak GPU memory allocated, GiB", lambda v: med([r["gpu_peak"] / 2**30 for r in runs[v]]), 2)
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="a tiny model on the CPU: checks the script only")
    parser.add_argument("--steps", type=int, default=120, help="update steps per run (the final save is skipped)")
    parser.add_argument("--save-steps", type=int, default=40, help="a save every this many update steps")
    parser.add_argument("--batch", type=int, default=8, help="sequences per update step")
    parser.add_argument("--sequence", type=int, default=1024, help="tokens per sequence")
    parser.add_argument("--rounds", type=int, default=1, help="rounds of the three runs, reversed every other round")
    parser.add_argument("--output-dir", default=None, help="where checkpoints are written (default: the temp dir)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(json.loads(args.child))
    model = MODEL_1B
    if args.dry_run:
        model, args.steps, args.save_steps, args.batch, args.sequence = MODEL_TINY, 9, 3, 2, 32
    else:
        import torch

        if not torch.cuda.is_available():
            sys.exit("no CUDA device: run on a GPU, or with --dry-run")
    variants = ("none", "sync", "async") if has_save_async() else ("none", "sync")
    if "async" not in variants:
        print("save_async is absent from this transformers: synchronous saves only")
    job = {"model": model, "dry_run": args.dry_run, "root": args.output_dir}
    job.update(steps=args.steps, save_steps=args.save_steps, batch=args.batch, sequence=args.sequence)
    started = time.monotonic()
    runs = {variant: [] for variant in variants}
    for round_index in range(args.rounds):
        for variant in variants if round_index % 2 == 0 else variants[::-1]:
            result = run({**job, "variant": variant})
            runs[variant].append(result)
            print(
                f"  {variant}: window {result['window']:.2f} s, pauses {[round(p, 3) for p in result['pauses']]} s,"
                f" writes {[round(w, 2) for w in result['writes']]} s ({time.monotonic() - started:.0f} s)",
                flush=True,
            )
    print()
    print(table(runs, variants))
    print(f"\n{time.monotonic() - started:.0f} s" + (" (dry run: no figures to keep)" if args.dry_run else ""))


if __name__ == "__main__":
    main()
