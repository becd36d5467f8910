"""Asynchronous checkpoint saves (`save_async=True`) against synchronous ones and PyTorch DCP's `async_save`: the pause
per save, the training time lost to saving, the background write, host memory, and a kill soak.

A `LlamaForCausalLM` of 110M parameters, built from a config (hidden size 768, 12 layers, vocabulary of 16,000; no
download), trains with AdamW (`adamw_torch_fused`, the default) on random token ids, on the CPU, saving every few
update steps (`save_strategy="steps"`: every variant makes the same saves). A checkpoint is 1.3 GB (weights 0.44 GB,
optimizer 0.88 GB). Three variants run side by side, each run in a fresh process forked from a server that has
imported transformers once: no saves (`save_strategy="no"`), synchronous saves, asynchronous saves; in two regimes:

- busy host: the CPU step, which keeps every core busy: the worst case for a writer that needs the CPU too;
- idle host, as on an accelerator: a small CPU step (one sequence, one thread, as the one host thread that drives an
  accelerator) followed by `--device-seconds` of waiting (a `time.sleep` in `on_step_end`, as the host waits for a
  device to finish), so the host is idle most of each step.

Beside them, in the same rounds, PyTorch's distributed checkpointing (DCP): `torch.distributed.checkpoint.async_save`,
driven by `DcpTrainer` as an integration into `Trainer._save_checkpoint` would drive it (the previous save waited for;
the model's and the optimizer's state dicts staged by one `DefaultStager`, kept for the run, which reuses its copies;
`trainer_state.json` at the first step end after the write is complete). Its variants (`--dcp-variants`):
dcp-thread, the thread checkpointer, staged on the training thread, one `FileSystemWriter` (DCP's format: `.metadata`
and `__0_0.distcp`); dcp-thread-bg, staged by the stager's own thread while the next step computes, which waits for it
before its optimizer step; dcp-thread-hf, the weights by `HuggingFaceStorageWriter` (safetensors) and the optimizer by
a `FileSystemWriter`; dcp-process, the process checkpointer (a one-process gloo group); dcp-process-shm, the same with
the stager's copy in shared memory. Pinned memory needs CUDA: the stager ignores it on the CPU.

First, thread or process: the update step of the large model (one thread) alone, then beside a background thread that
repeats one part of a save (the weights written by safetensors, the optimizer state by `torch.save`), and beside one
that runs Python code, which holds the GIL: what a writer thread costs training through the GIL.

A round runs the variants of each regime, in reversed order every other round (a drift of the machine's speed
weighs on all alike). The final save is skipped (`control.should_save = False` at the last step): it is outside what
is measured. Each run records, in a callback added after `DefaultFlowCallback`, `time.time()` at each step begin and
step end (after the waiting), and samples its RSS (psutil, the process and its children) every 50 ms. Measured:

- pause per save: from the end of the step that saves to the beginning of the next step, the time training stands
  still (for an asynchronous save: the copy of the state, and the wait for a previous save still being written);
- training time lost to saving: the window from the end of the first step to the end of the last (or to the moment
  the last checkpoint in it is complete, its `trainer_state.json` written, if that is later), minus the same window
  of the run without saves of the same round, per save; and, steadier on a busy machine, from medians: the median
  pause plus `save_steps` times the rise of the median update step over the run without saves;
- background write: from the end of an asynchronous save's pause to the mtime of its last file written, and to that of
  its `trainer_state.json` (written at the first step end after the files are written and fsynced);
- staging: the copy of the states to host memory (ours: `_stage_checkpoint`; DCP: from the save's start until the
  stager's copy is complete);
- host memory: the peak RSS during `train()`, above the RSS before it (model built, no optimizer state yet); and the
  peak of the private memory (anonymous, and shared memory counted once: the RSS of DCP's checkpoint process counts
  again the pages of shared memory it reads).

Between runs the checkpoints are deleted and `os.sync()` flushes the page cache's dirty pages, outside what is timed.

Then the kill soak, the approach of `bench_crash_resume.py` (its `Timeline` and `read_timeline`, imported): a
smaller Llama (11M parameters, checkpoints of 137 MB, update steps slowed to `--soak-step-seconds`) trains with
`save_strategy="time"` and `save_async=True` and is SIGKILLed from outside, half the kills at a random moment, half
inside a background write (a checkpoint folder without its `trainer_state.json` while training is already past its
step), after a random part of it; then a fresh process resumes with `resume_from_checkpoint=True` and must start from
the newest checkpoint that had its `trainer_state.json` at the kill.

    .venv/bin/python benchmarks/bench_async_save.py            # what `make bench` runs: about 20 min on 2 quiet CPUs
    .venv/bin/python benchmarks/bench_async_save.py --dcp-variants none  # without DCP's variants: 6 min, 15 loaded
    .venv/bin/python benchmarks/bench_async_save.py --quick    # a smoke run: a small model, one round, 4 kills
    .venv/bin/python benchmarks/bench_async_save.py --only dcp-comparison   # sync, ours, DCP's: about 14 min
    .venv/bin/python benchmarks/bench_async_save.py --only dcp-comparison --regimes idle --rounds 1  # about 5 min
"""

import argparse
import copy
import dataclasses
import json
import math
import multiprocessing
import os
import random
import shutil
import signal
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil  # noqa: E402
import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402

from transformers import LlamaConfig, LlamaForCausalLM, Trainer, TrainerCallback, TrainingArguments  # noqa: E402
from transformers.trainer import SCHEDULER_NAME, TRAINER_STATE_NAME, TRAINING_ARGS_NAME  # noqa: E402


try:
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint import FileSystemWriter, HuggingFaceStorageWriter
    from torch.distributed.checkpoint.staging import DefaultStager, StagingOptions
    from torch.distributed.checkpoint.state_dict_saver import AsyncCheckpointerType

    HAS_DCP = True
except ImportError:  # a torch without DCP's async_save, DefaultStager or HuggingFaceStorageWriter
    HAS_DCP = False


LARGE = {"hidden_size": 768, "intermediate_size": 2048, "num_hidden_layers": 12, "num_attention_heads": 12}
SMALL = {"hidden_size": 256, "intermediate_size": 688, "num_hidden_layers": 4, "num_attention_heads": 4}
VOCAB_SIZE = 16000
HAS_ASYNC = "save_async" in {field.name for field in dataclasses.fields(TrainingArguments)}
VARIANTS = ("none", "sync", "async") if HAS_ASYNC else ("none", "sync")
# PyTorch's distributed checkpointing (DCP) driven by `DcpTrainer`: `dcp.async_save` of the model's and the optimizer's
# state dicts with `DefaultStager`; "staging": where the stager copies the state (on the training thread, or on its own
# thread while the next step computes, waited for before that step's optimizer step); "shared_memory": the stager's
# copy in shared memory (for the process checkpointer: handed over without a copy). Pinned memory needs CUDA: on the
# CPU the stager ignores it, so it is off here.
DCP_VARIANTS = {
    "dcp-thread": {"checkpointer": "thread", "async_staging": False, "shared_memory": False, "writer": "fs"},
    "dcp-thread-bg": {"checkpointer": "thread", "async_staging": True, "shared_memory": False, "writer": "fs"},
    "dcp-thread-hf": {"checkpointer": "thread", "async_staging": False, "shared_memory": False, "writer": "hf"},
    "dcp-process": {"checkpointer": "process", "async_staging": False, "shared_memory": False, "writer": "fs"},
    "dcp-process-shm": {"checkpointer": "process", "async_staging": False, "shared_memory": True, "writer": "fs"},
}
# dcp-process is left out by default: as fast as dcp-process-shm, with more memory (its copy goes to shared memory as
# it is handed to the checkpoint process)
DCP_DEFAULT = ("dcp-thread", "dcp-thread-bg", "dcp-thread-hf", "dcp-process-shm")
LABELS = {
    "sync": "synchronous",
    "async": "ours (`save_async`)",
    "dcp-thread": "DCP thread, staged on the training thread",
    "dcp-thread-bg": "DCP thread, staged in the background",
    "dcp-thread-hf": "DCP thread, HF safetensors writer",
    "dcp-process": "DCP process",
    "dcp-process-shm": "DCP process, shared-memory staging",
}
SOAK_MAX_STEPS = 400
CHILD_TIMEOUT_SECONDS = 600  # a run of the busy host took 300 s on 2 CPUs shared with 10 busy processes


def build_model(shape):
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=VOCAB_SIZE, num_key_value_heads=shape["num_attention_heads"], **shape)
    return LlamaForCausalLM(config)


def private_memory(pid, shared):
    """The anonymous memory of process `pid`, in bytes, plus its shared memory (tmpfs, `/dev/shm`) if `shared`: what
    it holds that no other process does, and what only it can free (libraries and the page cache left out)."""
    fields = {}
    with open(f"/proc/{pid}/status", encoding="utf-8") as f:
        for line in f:
            if line.startswith(("RssAnon:", "RssShmem:")):
                name, value, _ = line.split()
                fields[name] = int(value) * 1024
    return fields.get("RssAnon:", 0) + (fields.get("RssShmem:", 0) if shared else 0)


class PeakRss(threading.Thread):
    """The largest RSS of this process and its children, sampled every 50 ms; and the largest of their private memory
    (`private_memory`), shared memory counted once: the RSS of a checkpoint process counts again the pages of shared
    memory that the training process staged and it reads (and the libraries both load). Also the CPU time of the
    process and of each child as last sampled (`cpu_seconds`): what a writer costs the cores, whatever else runs."""

    def __init__(self):
        super().__init__(daemon=True)
        self.process, self.peak, self.private_peak, self.running = psutil.Process(), 0, 0, True
        self.cpu = {}  # pid: user + system seconds, as last sampled

    def rss(self):
        return self.sample()[0]

    def sample(self):
        """The RSS and the private memory of this process and its children (shared memory counted in this one)."""
        rss = private = 0
        for process in [self.process] + self.process.children(recursive=True):
            try:
                rss += process.memory_info().rss
                private += private_memory(process.pid, shared=process.pid == self.process.pid)
                times = process.cpu_times()
                self.cpu[process.pid] = times.user + times.system
            except (psutil.Error, OSError):
                pass
        return rss, private

    def cpu_seconds(self):
        """The CPU time of this process and its children so far (a child that ended: as last sampled)."""
        self.sample()
        return sum(self.cpu.values())

    def run(self):
        while self.running:
            rss, private = self.sample()
            self.peak, self.private_peak = max(self.peak, rss), max(self.private_peak, private)
            time.sleep(0.05)


class Recorder(TrainerCallback):
    """Notes `time.time()` at each step begin and end; in the idle-host regime, waits `device_seconds` at each step
    end first (the host waiting for the device); skips the final save."""

    def __init__(self, device_seconds, last_step):
        self.device_seconds, self.last_step = device_seconds, last_step
        self.begins, self.ends, self.saves = {}, {}, []

    def on_step_begin(self, args, state, control, **kwargs):
        self.begins[state.global_step + 1] = time.time()

    def on_step_end(self, args, state, control, **kwargs):
        if self.device_seconds:
            time.sleep(self.device_seconds)
        if state.global_step >= self.last_step:
            control.should_save = False  # the final save is outside what is measured
        if control.should_save:
            self.saves.append(state.global_step)
        self.ends[state.global_step] = time.time()


def files_written(output_dir, step):
    """When the last file of checkpoint-`step` but `trainer_state.json` was last written to (its mtime; an fsync that
    follows does not change it)."""
    files = [p for p in (Path(output_dir) / f"checkpoint-{step}").rglob("*") if p.is_file()]
    return max((p.stat().st_mtime for p in files if p.name != "trainer_state.json"), default=math.nan)


def marker_time(output_dir, step, timeout=CHILD_TIMEOUT_SECONDS):
    """When checkpoint-`step` became complete: the mtime of its `trainer_state.json` (waits for it, if need be)."""
    path = Path(output_dir) / f"checkpoint-{step}" / "trainer_state.json"
    deadline = time.time() + timeout
    while not path.exists():
        if time.time() > deadline:
            return math.nan
        time.sleep(0.01)
    return path.stat().st_mtime


# DCP: `torch.distributed.checkpoint.async_save` driven as an integration into `Trainer._save_checkpoint` would


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class DcpTrainer(Trainer):
    """
    A `Trainer` whose checkpoints are written by DCP's `async_save`, as a DCP integration of `save_async` would: at a
    save, wait for the previous one, then `dcp.async_save` of the model's and the optimizer's state dicts (staged by one
    `DefaultStager`, kept for the whole run, which reuses its copies), the small files (config, training arguments,
    scheduler, RNG state) written on the training thread, and `trainer_state.json` written at the first step end after
    the write is complete (as `save_async` does), and at the end of `train()`. With staging in the background, the next
    step waits for it before its optimizer step (the step changes the parameters and the optimizer state in place).

    Writers: "fs", one `FileSystemWriter` (DCP's format: `.metadata` and `__0_0.distcp`) for both state dicts; "hf",
    `HuggingFaceStorageWriter` for the model (`model-00001-of-00001.safetensors` and `model.safetensors.index.json`)
    and a `FileSystemWriter` for the optimizer (`optimizer_dcp/`), two `async_save` calls, so two writer threads. The
    process checkpointer takes one request at a time (its pipe has no lock): one call, so "fs" only. It needs a process
    group: a one-process gloo group is started in `train()`.
    """

    def __init__(self, *args, dcp_options, **kwargs):
        super().__init__(*args, **kwargs)
        self.dcp_options, self.dcp_stager, self.dcp_pending, self.dcp_staging = dcp_options, None, None, None
        self.dcp_waits, self.dcp_staged = {}, {}  # save step: seconds waited for the staging, seconds to stage
        if dcp_options["checkpointer"] == "process" and dcp_options["writer"] != "fs":
            raise ValueError("the process checkpointer takes one async_save at a time: one FileSystemWriter")
        self.add_callback(DcpStagingWait(self))

    def train(self, *args, **kwargs):
        if self.dcp_options["checkpointer"] == "process" and not dist.is_initialized():
            os.environ.setdefault("MASTER_ADDR", "127.0.0.1")  # where the checkpoint process starts its own group
            dist.init_process_group("gloo", rank=0, world_size=1, init_method=f"tcp://127.0.0.1:{free_port()}")
        try:
            return super().train(*args, **kwargs)
        finally:
            self.dcp_finish(wait=True)
            if self.dcp_stager is not None:
                self.dcp_stager.close()
                self.dcp_stager = None

    def _save_checkpoint(self, model, trial):
        self.dcp_finish(wait=True)  # at most one save in flight, as with save_async
        started, step, options = time.time(), self.state.global_step, self.dcp_options
        output_dir = os.path.join(self._get_output_dir(trial=trial), f"checkpoint-{step}")
        os.makedirs(output_dir, exist_ok=True)
        if self.dcp_stager is None:
            self.dcp_stager = DefaultStager(
                StagingOptions(
                    use_pinned_memory=options.get("pinned", False),
                    use_shared_memory=options["shared_memory"],
                    use_async_staging=options["async_staging"],
                    use_non_blocking_copy=options.get("non_blocking", False),
                )
            )
        process = options["checkpointer"] == "process"
        kind = AsyncCheckpointerType.PROCESS if process else AsyncCheckpointerType.THREAD

        def save(state_dict, writer):
            return dcp.async_save(
                state_dict,
                storage_writer=writer,
                async_checkpointer_type=kind,
                async_stager=self.dcp_stager,
                no_dist=True,
            )

        model_state_dict, optimizer_state_dict = self.model.state_dict(), self.optimizer.state_dict()
        if options["writer"] == "hf":
            responses = [
                save(model_state_dict, HuggingFaceStorageWriter(output_dir)),
                save({"optimizer": optimizer_state_dict}, FileSystemWriter(os.path.join(output_dir, "optimizer_dcp"))),
            ]
        else:
            responses = [
                save({"model": model_state_dict, "optimizer": optimizer_state_dict}, FileSystemWriter(output_dir))
            ]
        # with staging in the background, an `AsyncSaveResponse`; else the future of the write
        uploads = [getattr(response, "upload_completion", response) for response in responses]
        stagings = [response.staging_completion for response in responses if hasattr(response, "staging_completion")]
        if stagings:
            self.dcp_staging = (stagings, step)

            def staged(_, stagings=stagings):
                if all(future.done() for future in stagings):
                    self.dcp_staged[step] = time.time() - started

            for future in stagings:
                future.add_done_callback(staged)
        else:
            self.dcp_staged[step] = time.time() - started
        self.model.config.save_pretrained(output_dir)
        torch.save(self.args, os.path.join(output_dir, TRAINING_ARGS_NAME))
        torch.save(self.lr_scheduler.state_dict(), os.path.join(output_dir, SCHEDULER_NAME))
        self._save_rng_state(output_dir)
        self.dcp_pending = (output_dir, copy.deepcopy(self.state), uploads)

    def _maybe_log_save_evaluate(self, *args, **kwargs):
        super()._maybe_log_save_evaluate(*args, **kwargs)
        self.dcp_finish()

    def dcp_finish(self, wait=False):
        """Once the write in flight is complete (with `wait`, waits for it): its `trainer_state.json`."""
        if self.dcp_pending is None:
            return
        output_dir, state, uploads = self.dcp_pending
        if not wait and not all(future.done() for future in uploads):
            return
        for future in uploads:
            future.result()  # a failed write raises here
        self.dcp_pending = None
        state.save_to_json(os.path.join(output_dir, TRAINER_STATE_NAME))


class DcpStagingWait(TrainerCallback):
    """With staging in the background: the step after a save waits for it before its optimizer step."""

    def __init__(self, trainer):
        self.trainer = trainer

    def on_pre_optimizer_step(self, args, state, control, **kwargs):
        if self.trainer.dcp_staging is not None:
            stagings, step = self.trainer.dcp_staging
            started = time.time()
            for future in stagings:
                future.result()
            self.trainer.dcp_waits[step] = time.time() - started
            self.trainer.dcp_staging = None


class TimedStaging(Trainer):
    """`save_async` as it is, the copy into host buffers timed (`_stage_checkpoint`, the device synchronized)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.staged = {}

    def _stage_checkpoint(self, output_dir):
        started = time.time()
        try:
            return super()._stage_checkpoint(output_dir)
        finally:
            self.staged[self.state.global_step] = time.time() - started


def make_trainer(variant, **kwargs):
    """The `Trainer` of a variant: a `DcpTrainer` for DCP's, `TimedStaging` for `save_async`."""
    if variant in DCP_VARIANTS:
        return DcpTrainer(dcp_options=DCP_VARIANTS[variant], **kwargs)
    if variant == "async":
        return TimedStaging(**kwargs)
    return Trainer(**kwargs)


def staging_times(trainer, saves):
    """Per save: the seconds to stage it (copy the states to host memory), and those the next step waited for it."""
    staged = getattr(trainer, "dcp_staged", None) or getattr(trainer, "staged", {})
    waits = getattr(trainer, "dcp_waits", {})
    return [staged.get(s, math.nan) for s in saves], [waits.get(s, 0.0) for s in saves]


def measure(job):
    """One run of the comparison, in a child process: trains, writes its measures to `job["result"]`."""
    torch.set_num_threads(job["threads"])
    model = build_model(job["shape"])
    sampler = PeakRss()
    rss_before, private_before = sampler.sample()
    cpu_before = sampler.cpu_seconds()
    saving = {"save_strategy": "steps", "save_steps": job["save_steps"]} if job["variant"] != "none" else {}
    if job["variant"] == "async":
        saving["save_async"] = True
    args = TrainingArguments(
        job["output_dir"],
        max_steps=job["steps"],
        per_device_train_batch_size=job["batch"],
        learning_rate=1e-5,
        report_to=[],
        disable_tqdm=True,
        use_cpu=True,
        logging_strategy="no",
        **(saving or {"save_strategy": "no"}),
    )
    from tests.trainer.test_trainer_checkpoint_resume import RandomTokens  # here: gpu_async_save imports this module

    dataset = RandomTokens(length=job["steps"] * job["batch"])
    recorder = Recorder(job["device_seconds"], job["steps"])
    trainer = make_trainer(job["variant"], model=model, args=args, train_dataset=dataset)
    trainer.add_callback(recorder)
    sampler.start()
    trainer.train()
    returned = time.time()
    sampler.running = False
    sampler.join()
    cpu_seconds = sampler.cpu_seconds() - cpu_before
    begins, ends = recorder.begins, recorder.ends
    staged, waits = staging_times(trainer, recorder.saves)
    markers = {step: marker_time(job["output_dir"], step) for step in recorder.saves}
    window_end = max([ends[job["steps"]]] + list(markers.values()))
    result = {
        "window": window_end - ends[1],
        "steps": [ends[s] - begins[s] for s in sorted(ends) if s > 1 and s - 1 not in recorder.saves],
        # with DCP's staging in the background, the pause goes on in the next step, until its optimizer step
        "pauses": [begins[s + 1] - ends[s] + wait for s, wait in zip(recorder.saves, waits)],
        "staging": staged,
        "writes": [markers[s] - begins[s + 1] for s in recorder.saves],
        "files": [files_written(job["output_dir"], s) - begins[s + 1] for s in recorder.saves],
        "saves": len(recorder.saves),
        "end_wait": returned - ends[job["steps"]],
        "rss_before": rss_before,
        "rss_peak": max(sampler.peak, rss_before),
        "private_before": private_before,
        "private_peak": max(sampler.private_peak, private_before),
        "cpu_seconds": cpu_seconds,
    }
    with open(job["result"], "w", encoding="utf-8") as f:
        json.dump(result, f)


def soak_train(output_dir, shape, step_seconds, save_time, resume=False):
    """One job of the kill soak, in a child process."""
    from benchmarks.bench_crash_resume import Timeline
    from tests.trainer.test_trainer_checkpoint_resume import RandomTokens

    torch.set_num_threads(1)
    timeline = Timeline(os.path.join(output_dir, "timeline.txt"), step_seconds, stop_after=3 if resume else None)
    args = TrainingArguments(
        output_dir,
        max_steps=SOAK_MAX_STEPS,
        per_device_train_batch_size=2,
        save_strategy="time",
        save_time=save_time,
        save_total_limit=2,
        save_async=True,
        report_to=[],
        disable_tqdm=True,
        use_cpu=True,
        logging_strategy="no",
    )
    trainer = Trainer(model=build_model(shape), args=args, train_dataset=RandomTokens(length=SOAK_MAX_STEPS * 2))
    trainer.add_callback(timeline)
    trainer.train(resume_from_checkpoint=resume or None)


def run_and_exit(target, job):
    with open(os.path.join(job["output_dir"], "job.log"), "a", encoding="utf-8") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    try:
        {"measure": measure, "writer_probe": writer_probe, "soak": soak_train}[target](
            **({"job": job} if target != "soak" else job)
        )
    except BaseException as error:
        print(f"{type(error).__name__}: {error}", file=sys.stderr, flush=True)
        os._exit(1)
    os._exit(0)


def last_error(output_dir):
    with open(os.path.join(output_dir, "job.log"), encoding="utf-8") as f:
        lines = [line for line in f.read().splitlines() if "Error" in line] or ["no error"]
    return lines[-1][:300]


# The comparison


def run_once(context, regime, variant, args):
    output_dir = tempfile.mkdtemp(prefix=f"async-save-{regime['name']}-{variant}-", dir=args.tmp)
    job = {**regime["job"], "variant": variant, "output_dir": output_dir}
    job["result"] = os.path.join(output_dir, "result.json")
    process = context.Process(target=run_and_exit, args=("measure", job))
    process.start()
    process.join(CHILD_TIMEOUT_SECONDS)
    if process.exitcode != 0:
        if process.is_alive():
            process.kill()
        raise RuntimeError(f"{regime['name']}, {variant}: the run failed: {last_error(output_dir)}")
    with open(job["result"], encoding="utf-8") as f:
        result = json.load(f)
    shutil.rmtree(output_dir, ignore_errors=True)
    os.sync()  # flush what this run wrote, outside what the next one times
    return result


def median(values):
    values = [v for v in values if not math.isnan(v)]
    return statistics.median(values) if values else math.nan


def fmt_list(values, digits=2):
    return ", ".join(f"{v:.{digits}f}" for v in values)


def comparison(context, args, regimes, variants):
    """Runs `variants` of each regime, `args.rounds` rounds; returns the runs: `runs[regime name, variant]`."""
    runs = {(regime["name"], variant): [] for regime in regimes for variant in variants}
    for round_index in range(args.rounds):
        for regime in regimes:
            order = variants if round_index % 2 == 0 else variants[::-1]
            for variant in order:
                result = run_once(context, regime, variant, args)
                runs[regime["name"], variant].append(result)
                print(
                    f"  round {round_index + 1}, {regime['name']}, {variant}: window {result['window']:.2f} s, "
                    f"pauses [{fmt_list(result['pauses'])}] s, staging [{fmt_list(result['staging'])}] s, "
                    f"files [{fmt_list(result['files'])}] s, complete [{fmt_list(result['writes'])}] s, "
                    f"peak RSS +{(result['rss_peak'] - result['rss_before']) / 2**30:.2f} GiB, private "
                    f"+{(result['private_peak'] - result['private_before']) / 2**30:.2f} GiB, CPU {result['cpu_seconds']:.1f} s",
                    flush=True,
                )

    if args.save_runs:
        with open(args.save_runs, "w", encoding="utf-8") as f:
            json.dump({f"{name}, {variant}": results for (name, variant), results in runs.items()}, f, indent=1)
    return runs


# Measures of a regime's runs, shared by its tables


def baseline(runs, name):
    """The runs without saves: their median update step, and the spread of their windows round to round (A/A noise)."""
    none = runs[name, "none"]
    step = median([median(run["steps"]) for run in none])
    spread = max(r["window"] for r in none) - min(r["window"] for r in none)
    return step, spread


def lost_per_save(runs, name, variant, save_steps):
    """Training time lost per save, per round against that round's run without saves, two ways: from the windows (the
    definition: everything counts, bursts of other work on the machine too) and from medians (median pause + save_steps
    x the rise of the median update step: steadier, blind to a slowdown of fewer than half the steps). Returns the
    median over the rounds and the rounds' values of each."""
    none = runs[name, "none"]
    windows = [(run["window"] - base["window"]) / run["saves"] for run, base in zip(runs[name, variant], none)]
    medians = [
        median(run["pauses"]) + save_steps * (median(run["steps"]) - median(base["steps"]))
        for run, base in zip(runs[name, variant], none)
    ]
    return median(windows), windows, median(medians), medians


def save_pauses(runs, name, variant, first):
    """The pauses of the first save of each run (`first`), or of the later ones."""
    return [p for run in runs[name, variant] for p in (run["pauses"][:1] if first else run["pauses"][1:])]


def background_write(runs, name, variant):
    """From the end of each save's pause to its last file written, and to its `trainer_state.json`; the update step
    meanwhile over that without saves (median of the rounds)."""
    files = [w for run in runs[name, variant] for w in run["files"]]
    writes = [w for run in runs[name, variant] for w in run["writes"]]
    slowdown = [
        median(run["steps"]) / median(base["steps"]) for run, base in zip(runs[name, variant], runs[name, "none"])
    ]
    return files, writes, median(slowdown)


def cpu_per_save(runs, name, variant):
    """Per round: the CPU time of the run (the process and its children, during `train()`) above that of the run
    without saves, per save: what saving costs the cores, which a busy host loses, however loaded the machine."""
    return [
        (run["cpu_seconds"] - base["cpu_seconds"]) / run["saves"]
        for run, base in zip(runs[name, variant], runs[name, "none"])
    ]


def peak_memory(runs, name, variant, key="rss"):
    """The peak during `train()` above the value before it, GiB (median of the rounds): "rss", the RSS of the process
    and its children; "private", their private memory, shared memory counted once (`private_memory`)."""
    return median([(r[f"{key}_peak"] - r[f"{key}_before"]) / 2**30 for r in runs[name, variant]])


def summarize(regime, runs, verdicts):
    """The rows of one regime in the table of synchronous against asynchronous saves, with their targets."""
    name, save_steps, rows = regime["name"], regime["job"]["save_steps"], []
    none = runs[name, "none"]
    step, spread = baseline(runs, name)
    saves = runs[name, "sync"][0]["saves"]
    rows.append(
        f"| {name}: update step (median, no saves); saves per run; the windows without saves, round to round "
        f"(A/A noise) | {step:.3f} s; {saves}; {fmt_list([r['window'] for r in none])} s "
        f"(spread {spread:.2f} s = {spread / saves:.2f} s per save) | | | | |"
    )

    def lost(variant):
        return lost_per_save(runs, name, variant, save_steps)

    if not HAS_ASYNC:
        pause, (lost_sync, _, from_medians, _) = (
            median([p for r in runs[name, "sync"] for p in r["pauses"]]),
            lost("sync"),
        )
        rows.append(
            f"| {name}: pause per save; training time lost per save (windows; medians) "
            f"| {pause:.3f} s; {lost_sync:.2f} s; {from_medians:.2f} s | - | | | save_async absent |"
        )
        return rows

    def pauses(variant, first):
        return save_pauses(runs, name, variant, first)

    sync_pause = median(pauses("sync", True) + pauses("sync", False))
    later, first = median(pauses("async", False)), median(pauses("async", True))
    every = median(pauses("async", True) + pauses("async", False))
    verdicts.append(every / sync_pause <= 0.1)
    rows.append(
        f"| {name}: pause per save, median of {len(pauses('sync', True) + pauses('sync', False))} "
        f"(async: the first save of a run, {first:.3f} s; the later ones "
        f"{later:.3f} s, {later / sync_pause:.3f} of sync) | {sync_pause:.3f} s | {every:.3f} s "
        f"| {every / sync_pause:.3f} | ≤ 0.1 | {'PASS' if every / sync_pause <= 0.1 else 'MISS'} |"
    )
    sync_lost, sync_windows, sync_medians, sync_rounds = lost("sync")
    async_lost, async_windows, async_medians, async_rounds = lost("async")
    limit = 1.0 if name == "busy host" else 0.25
    for label, a, b, a_rounds, b_rounds in [
        ("from the windows", sync_lost, async_lost, sync_windows, async_windows),
        ("from medians", sync_medians, async_medians, sync_rounds, async_rounds),
    ]:
        ratio = b / a if a > 0 else math.nan
        ok = ratio <= limit or (b <= 0 and a > 0)
        # the runs without saves of two rounds differ by more than what synchronous saves cost: no verdict
        noisy = spread / saves > abs(a)
        verdicts.append(ok and not noisy)
        rows.append(
            f"| {name}: training time lost per save, {label} (rounds: sync {fmt_list(a_rounds)}; async "
            f"{fmt_list(b_rounds)}) | {a:.2f} s ({a / step:.1f} steps) | {b:.2f} s ({b / step:.1f} steps) "
            f"| {ratio:.3f} | ≤ {limit:g} | {'none: A/A noise larger' if noisy else 'PASS' if ok else 'MISS'} |"
        )
    files, writes, slowdown = background_write(runs, name, "async")
    rows.append(
        f"| {name}: asynchronous save, from the end of its pause to its last file written; to its "
        f"`trainer_state.json` (at a step end after the fsyncs) (median, max); update step meanwhile, over that "
        f"without saves (median of the rounds) | | {median(files):.2f} s, {max(files):.2f} s; {median(writes):.2f} s, "
        f"{max(writes):.2f} s; {slowdown:.2f} | | | |"
    )
    peak = {v: peak_memory(runs, name, v) for v in VARIANTS}
    rows.append(
        f"| {name}: peak RSS during `train()` above the RSS before it (median; no saves: {peak['none']:.2f} GiB) "
        f"| {peak['sync']:.2f} GiB | {peak['async']:.2f} GiB | | | |"
    )
    return rows


def summarize_dcp(regime, runs, variants):
    """The rows of one regime in the table of every variant that saves, side by side: synchronous, ours, DCP's."""
    name, save_steps = regime["name"], regime["job"]["save_steps"]
    columns = [v for v in variants if v != "none"]
    step, spread = baseline(runs, name)
    saves = runs[name, columns[0]][0]["saves"]

    def row(label, cell):
        return f"| {name}: {label} | " + " | ".join(cell(v) for v in columns) + " |"

    def lost(variant, which):
        windows, window_rounds, medians, median_rounds = lost_per_save(runs, name, variant, save_steps)
        value, rounds = (windows, window_rounds) if which == "windows" else (medians, median_rounds)
        return f"{value:.2f} s ({fmt_list(rounds)})"

    def pause(variant):
        first, later = save_pauses(runs, name, variant, True), save_pauses(runs, name, variant, False)
        return f"{median(first + later):.3f} s ({median(first):.2f}; {median(later):.2f})"

    def write(variant):
        if variant == "sync":
            return "-"
        files, writes, slowdown = background_write(runs, name, variant)
        return f"{median(files):.2f} s; {median(writes):.2f} s; {slowdown:.2f}"

    def staging(variant):
        values = [s for run in runs[name, variant] for s in run["staging"]]
        return "-" if variant == "sync" else f"{median(values):.3f} s"

    return [
        f"| {name}: update step (median, no saves) {step:.3f} s; {saves} saves per run; A/A noise: the windows "
        f"without saves differ by {spread:.2f} s = {spread / saves:.2f} s per save |" + " |" * len(columns),
        row(f"pause per save, median of {saves * len(runs[name, 'none'])} (first saves; later ones)", pause),
        row("staging: the copy to host memory, from the save's start (median)", staging),
        row("training time lost per save, from the windows (rounds)", lambda v: lost(v, "windows")),
        row("training time lost per save, from medians (rounds)", lambda v: lost(v, "medians")),
        row(
            "background write: pause end to last file; to `trainer_state.json` (medians); step while writing / without",
            write,
        ),
        row(
            "CPU time per save above no saves, the process and its children (median of the rounds; no saves "
            f"{median([r['cpu_seconds'] for r in runs[name, 'none']]):.1f} s per run)",
            lambda v: f"{median(cpu_per_save(runs, name, v)):.2f} s",
        ),
        row(
            f"peak RSS above the start, with children (median; no saves {peak_memory(runs, name, 'none'):.2f} GiB)",
            lambda v: f"{peak_memory(runs, name, v):.2f} GiB",
        ),
        row(
            "peak private memory above the start, with children, shared memory once (median; no saves "
            f"{peak_memory(runs, name, 'none', 'private'):.2f} GiB)",
            lambda v: f"{peak_memory(runs, name, v, 'private'):.2f} GiB",
        ),
    ]


# Thread or process: what the writer's work costs a training step running beside it


def writer_probe(job):
    """In a child process: the median update step of the large model (one thread, as the host thread that drives an
    accelerator), alone, then beside a thread that repeats one part of a save. Writes the medians to `job["result"]`."""
    import numpy  # noqa: F401  (imported before timing: `Tensor.numpy` needs it)
    import safetensors.torch

    torch.set_num_threads(1)
    model = build_model(job["shape"])
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    tokens = torch.randint(0, VOCAB_SIZE, (1, 128), generator=torch.Generator().manual_seed(0))

    def step():
        started = time.perf_counter()
        model(input_ids=tokens, labels=tokens).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        return time.perf_counter() - started

    for _ in range(3):
        step()
    weights = {
        name: tensor.detach().clone() for name, tensor in model.state_dict().items() if name != "lm_head.weight"
    }
    optimizer_state = copy.deepcopy(optimizer.state_dict())
    folder = job["output_dir"]
    parts = {
        "nothing": None,
        "the weights to model.safetensors (safetensors, by pointer)": lambda: safetensors.torch.save_file(
            weights, os.path.join(folder, "model.safetensors"), metadata={"format": "pt"}
        ),
        "the optimizer state to optimizer.pt (torch.save)": lambda: torch.save(
            optimizer_state, os.path.join(folder, "optimizer.pt")
        ),
        "Python code, which holds the GIL (as a serializer written in Python would)": lambda: sum(range(10**5)),
    }
    medians = {}
    for name, part in parts.items():
        stop = threading.Event()

        def repeat(part=part, stop=stop):
            while part is not None and not stop.is_set():
                part()

        thread = threading.Thread(target=repeat, daemon=True)
        thread.start()
        # the last one: one step (beside Python code, it is ten times as long)
        medians[name] = statistics.median(step() for _ in range(3 if name != list(parts)[-1] else 1))
        stop.set()
        thread.join()
    with open(job["result"], "w", encoding="utf-8") as f:
        json.dump(medians, f)


def writer(context, args, shape):
    output_dir = tempfile.mkdtemp(prefix="async-save-writer-", dir=args.tmp)
    job = {"output_dir": output_dir, "shape": shape, "result": os.path.join(output_dir, "result.json")}
    process = context.Process(target=run_and_exit, args=("writer_probe", job))
    process.start()
    process.join(CHILD_TIMEOUT_SECONDS)
    if process.exitcode != 0:
        raise RuntimeError(f"the writer probe failed: {last_error(output_dir)}")
    with open(job["result"], encoding="utf-8") as f:
        medians = json.load(f)
    shutil.rmtree(output_dir, ignore_errors=True)
    alone = medians.pop("nothing")
    rows = [f"| nothing (the step alone) | {alone:.3f} s | 1.0 |"]
    rows += [f"| {name} | {value:.3f} s | {value / alone:.1f} |" for name, value in medians.items()]
    return rows


# The kill soak


def soak_trial(context, draw, args, inside):
    from benchmarks.bench_crash_resume import read_timeline

    output_dir = tempfile.mkdtemp(prefix="async-save-soak-", dir=args.tmp)
    job = {"output_dir": output_dir, "shape": SMALL, "step_seconds": args.soak_step_seconds, "save_time": 1.0}
    timeline = os.path.join(output_dir, "timeline.txt")
    process = context.Process(target=run_and_exit, args=("soak", job))
    process.start()
    while process.is_alive() and (not os.path.exists(timeline) or not read_timeline(output_dir)):
        time.sleep(0.01)
    started = time.time()
    if inside:
        # the n-th background write: a folder without `trainer_state.json` while training is past its step
        nth, part, seen = draw.randint(1, 3), draw.uniform(0.0, 0.8), set()
        while process.is_alive() and time.time() - started < 60:
            steps = [step for kind, step, _ in read_timeline(output_dir) if kind == "step"]
            for folder in Path(output_dir).glob("checkpoint-*"):
                number = int(folder.name.split("-")[1])
                if steps and number < steps[-1] and not (folder / "trainer_state.json").exists():
                    seen.add(number)
            if len(seen) >= nth:
                time.sleep(part * args.soak_write_seconds)
                break
            time.sleep(0.005)
    else:
        time.sleep(draw.uniform(1.5, 4.5) * job["save_time"])
    killed_at = time.time()
    if process.is_alive():
        os.kill(process.pid, signal.SIGKILL)
    process.join()
    steps = [step for kind, step, _ in read_timeline(output_dir) if kind == "step"]
    folders = {int(path.name.split("-")[1]): path for path in Path(output_dir).glob("checkpoint-*") if path.is_dir()}
    complete = {step: path for step, path in folders.items() if (path / "trainer_state.json").exists()}
    if process.exitcode != -signal.SIGKILL or not complete:
        shutil.rmtree(output_dir, ignore_errors=True)
        return None  # finished, or killed before its first checkpoint: not a kill this soak measures
    mid_write = any(step not in complete and steps and step < steps[-1] for step in folders)
    newest = max(complete)
    lost = killed_at - (complete[newest] / "trainer_state.json").stat().st_mtime
    events = len(read_timeline(output_dir))
    process = context.Process(target=run_and_exit, args=("soak", {**job, "resume": True}))
    process.start()
    process.join(CHILD_TIMEOUT_SECONDS)
    if process.is_alive():
        process.kill()
        process.join()
    resumed = [step for kind, step, _ in read_timeline(output_dir)[events:] if kind == "start"]
    ok = process.exitcode == 0 and resumed == [newest]
    if not ok:
        print(f"  resume failed (newest complete checkpoint: {newest}, resumed: {resumed}): {last_error(output_dir)}")
    # the checkpoint resumed from: from the end of its step (the timeline's clock is `time.monotonic()`) to its marker
    offset = time.time() - time.monotonic()
    ends = {step: t + offset for kind, step, t in read_timeline(output_dir)[:events] if kind == "step"}
    save = (complete[newest] / "trainer_state.json").stat().st_mtime - ends[newest]
    gaps = sorted(b - a for a, b in zip(sorted(ends.values()), sorted(ends.values())[1:]))
    shutil.rmtree(output_dir, ignore_errors=True)
    return {"ok": ok, "lost": lost, "mid_write": bool(mid_write), "step": gaps[len(gaps) // 2], "save": save}


def soak(context, args):
    draw = random.Random(args.seed)
    results = {"random moment": [], "inside a background write": []}
    for i in range(args.kills):
        inside = i % 2 == 1
        result = None
        while result is None:
            result = soak_trial(context, draw, args, inside)
        results["inside a background write" if inside else "random moment"].append(result)
        print(
            f"  kill {i + 1}: {json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()})}"
        )
    everything = [r for trials in results.values() for r in trials]
    step, save = median([r["step"] for r in everything]), median([r["save"] for r in everything])
    bound = 1.0 + step + save  # save_time, the step in which it came due, the save in flight
    rows = []
    for kind, trials in results.items():
        lost = [r["lost"] for r in trials if r["ok"]] or [math.nan]
        rows.append(
            f"| {len(trials)} from outside, {kind} | {sum(r['mid_write'] for r in trials)} "
            f"| {sum(r['ok'] for r in trials)}/{len(trials)} | {median(lost):.2f} s / {max(lost):.2f} s "
            f"| {sum(value <= bound for value in lost)} |"
        )
    summary = (
        f"update step {step * 1000:.0f} ms, save (end of its step to `trainer_state.json`) {save * 1000:.0f} ms "
        f"(medians); bound save_time + step + save = {bound:.2f} s"
    )
    return rows, sum(r["ok"] for r in everything), len(everything), summary


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: the small model, one round, 4 kills")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of the three variants in each regime")
    parser.add_argument("--device-seconds", type=float, default=1.5, help="idle-host regime: the wait per step")
    parser.add_argument("--kills", type=int, default=10, help="kills of the soak (half inside a background write)")
    parser.add_argument("--soak-step-seconds", type=float, default=0.1, help="soak: update step, seconds")
    parser.add_argument("--soak-write-seconds", type=float, default=0.4, help="soak: about a background write")
    parser.add_argument(
        "--only",
        choices=["writer", "comparison", "dcp-comparison", "soak"],
        help="run one part only (dcp-comparison: no saves, synchronous, ours and DCP's variants, one table)",
    )
    parser.add_argument(
        "--dcp-variants",
        default=",".join(DCP_DEFAULT),
        help=f"DCP's variants, comma-separated, of {', '.join(DCP_VARIANTS)}; 'none' for none",
    )
    parser.add_argument(
        "--regimes", default="busy,idle", help="the comparisons' regimes, comma-separated: busy (host), idle (host)"
    )
    parser.add_argument("--tmp", default=None, help="where checkpoints are written (default: the system's temp)")
    parser.add_argument("--save-runs", help="also write every run's measures to this JSON file")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    shape = LARGE
    if args.quick:
        shape, args.rounds, args.kills, args.device_seconds = SMALL, 1, 4, 0.3
    regimes = [
        {
            "name": "busy host",
            "job": {"shape": shape, "threads": 2, "batch": 2, "steps": 32, "save_steps": 8, "device_seconds": 0.0},
        },
        {
            "name": "idle host",
            "job": {"shape": shape, "threads": 1, "batch": 1, "steps": 15, "save_steps": 3},
        },
    ]
    regimes[1]["job"]["device_seconds"] = args.device_seconds
    chosen = [name.strip() for name in args.regimes.split(",") if name.strip()]
    if not chosen or set(chosen) - {"busy", "idle"}:
        sys.exit(f"--regimes: busy, idle or both, not {args.regimes!r}")
    regimes = [regime for regime in regimes if regime["name"].split()[0] in chosen]

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["__main__"])
    started, load = time.monotonic(), os.getloadavg()
    parameters = sum(p.numel() for p in build_model(shape).parameters())
    print(
        f"{parameters / 1e6:.0f}M parameters, torch {torch.__version__}, {os.cpu_count()} CPUs, "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; save_async "
        + ("present" if HAS_ASYNC else "ABSENT from this transformers: synchronous saves only"),
        flush=True,
    )
    tables = []
    if args.only in (None, "writer"):
        rows = writer(context, args, shape)
        tables.append(
            "\n".join(
                [
                    "| a background thread repeats | update step beside it (median of 3; beside Python code, 1) | over the step alone |",
                    "|---|---|---|",
                    *rows,
                ]
            )
        )
    dcp_variants = [v for v in args.dcp_variants.split(",") if v and v != "none"] if HAS_DCP else []
    if not HAS_DCP and args.only == "dcp-comparison":
        sys.exit("this torch lacks DCP's async_save, DefaultStager or HuggingFaceStorageWriter")
    if unknown := set(dcp_variants) - set(DCP_VARIANTS):
        sys.exit(f"unknown DCP variants: {', '.join(sorted(unknown))}")
    if args.only in (None, "comparison", "dcp-comparison"):
        # one set of runs for both tables: the variants of DCP run beside the others, in the same rounds
        variants = VARIANTS + tuple(dcp_variants) if args.only != "comparison" else VARIANTS
        runs = comparison(context, args, regimes, variants)
        if args.only != "dcp-comparison":
            rows, verdicts = [], []
            for regime in regimes:
                rows += summarize(regime, runs, verdicts)
            tables.append(
                "\n".join(
                    [
                        "| Measurement | synchronous | asynchronous | async / sync | target | |",
                        "|---|---|---|---|---|---|",
                        *rows,
                    ]
                )
            )
        if dcp_variants and args.only != "comparison":
            columns = [v for v in variants if v != "none"]
            rows = [row for regime in regimes for row in summarize_dcp(regime, runs, variants)]
            tables.append(
                "\n".join(
                    [
                        "| Measurement | " + " | ".join(LABELS[v] for v in columns) + " |",
                        "|---|" + "---|" * len(columns),
                        *rows,
                    ]
                )
            )
    if args.only in (None, "soak") and HAS_ASYNC:
        print(f"kill soak (load average {os.getloadavg()[0]:.2f})", flush=True)
        rows, ok, total, summary = soak(context, args)
        tables.append(
            "\n".join(
                [
                    "| kills (save_async=True, save_time=1s) | of them mid background write | resumed by themselves "
                    "| time lost per resumed kill, median / max | within bound |",
                    "|---|---|---|---|---|",
                    *rows,
                ]
            )
            + f"\n\n{summary}\nresumes that worked by themselves: {ok} of {total} (target: all)"
        )
    print()
    print("\n\n".join(tables))
    print(f"\n{time.monotonic() - started:.0f} s, load average now {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
