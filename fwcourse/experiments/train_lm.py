"""``python -m fwcourse train-lm``: train the causal transformer LM (optionally with a FWL head).

Examples::

    python -m fwcourse train-lm --out runs/base                      # docstring corpus, CPU or GPU
    python -m fwcourse train-lm --fwl --corpus synthetic --out runs/fwl
    python -m fwcourse train-lm --corpus my_texts/ --out runs/mine     # your own .txt file or folder
    python -m fwcourse train-lm --cpu-devices 2 ...                  # try tf.distribute on a laptop

Distribution: with two or more GPUs the model is trained with ``tf.distribute.MirroredStrategy``
over all of them (``--batch-size`` is the global batch, rounded up to a multiple of the replicas
so that every replica gets an equal share); with one GPU, without a strategy so that Keras
compiles with XLA; mixed precision is switched on whenever a GPU is present
(:func:`fwcourse.transformer.use_accelerator`). ``--cpu-devices N`` splits the CPU into N logical
devices and mirrors over them: the same code path as several GPUs, for testing without any.

The output folder receives ``model.keras``, ``vocab.json`` (the tokenizer's vocabulary) and
``metrics.json`` (loss history, validation perplexity, replicas, precision policy, timings), each
written atomically when training ends. It is checked before training starts: a folder that cannot
be written, or that holds a run of other settings or files this command did not write, is refused
in one line unless ``--overwrite`` (:func:`fwcourse.util.outdir.claim`).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

from fwcourse.course import config
from fwcourse.data import lm_data
from fwcourse.data.corpus import CorpusError
from fwcourse.util import atomic, outdir
from fwcourse.util.cli import ArgumentParser, stop_hint

OUTPUTS = ("model.keras", "vocab.json", "metrics.json")
# options that do not change what is trained (the model is the same on 1 or N replicas)
NOT_IDENTITY = ("out", "overwrite", "cpu_devices")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command's options; sizes default to those of notebook 06 at the chosen scale
    (``FWCOURSE_SCALE``), so ``train-lm`` at a scale trains what the notebook trains."""
    S = config.sizes("06")
    p = ArgumentParser(prog="python -m fwcourse train-lm", description=__doc__.split("\n")[0],
                                epilog=f"Defaults are the {S.scale!r} scale's (FWCOURSE_SCALE).")
    p.add_argument("--fwl", action="store_true", help="put a Fast Weight Layer head on the body")
    p.add_argument("--corpus", default=lm_data.CORPORA[0], metavar="NAME_OR_PATH",
                   help=f"a built-in corpus ({', '.join(lm_data.CORPORA)}) or your own .txt file "
                        "or folder of .txt files (split by document, leak-free)")
    p.add_argument("--out", default="runs/lm", help="output folder (created; default %(default)s)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace a run of other settings, or files this command did not write, in --out")
    p.add_argument("--seq-len", type=int, default=S.seq_len)
    p.add_argument("--d-model", type=int, default=S.d_model)
    p.add_argument("--layers", type=int, default=S.n_layers)
    p.add_argument("--heads", type=int, default=S.n_heads)
    p.add_argument("--fwl-size", type=int, default=S.fwl_size)
    p.add_argument("--attn-chunks", type=int, default=S.attn_chunks)
    p.add_argument("--epochs", type=int, default=S.epochs)
    p.add_argument("--batch-size", type=int, default=S.batch_size, help="global batch (over all replicas)")
    p.add_argument("--lr", type=float, default=S.learning_rate)
    p.add_argument("--max-tokens", type=int, default=S.max_tokens,
                   help="vocabulary size (text corpora), at least 3: padding, [UNK] and a word")
    p.add_argument("--max-train-tokens", type=int, default=S.max_train_tokens,
                   help="train on about this many words of the training documents (0: all)")
    p.add_argument("--n-docs", type=int, default=S.n_docs, help="documents (synthetic corpus)")
    p.add_argument("--words-per-doc", type=int, default=S.words_per_doc, help="words (synthetic corpus)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cpu-devices", type=int, default=1,
                   help="split the CPU into this many logical devices and mirror over them")
    args = p.parse_args(argv)
    positive = ("seq_len", "d_model", "layers", "heads", "fwl_size", "attn_chunks", "epochs",
                "batch_size", "max_tokens", "n_docs", "words_per_doc", "cpu_devices")
    for name in positive:
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1; got {getattr(args, name)}.")
    if args.max_tokens < 3:
        p.error(f"--max-tokens must be >= 3 (padding, [UNK] and at least one word); got {args.max_tokens}.")
    if not (args.lr > 0 and math.isfinite(args.lr)):
        p.error(f"--lr must be a positive number; got {args.lr}.")
    if args.corpus not in lm_data.CORPORA and not os.path.exists(args.corpus):
        p.error(f"--corpus must be one of {', '.join(lm_data.CORPORA)} or an existing .txt file or "
                f"folder; got {args.corpus!r}.")
    if args.d_model % args.heads:
        p.error(f"--d-model ({args.d_model}) must be divisible by --heads ({args.heads}).")
    return args


def make_strategy(cpu_devices: int = 1):
    """MirroredStrategy over all GPUs (2+) or over ``cpu_devices`` logical CPUs (2+), else the
    default strategy. Must run before TensorFlow initialises its devices."""
    import tensorflow as tf

    if cpu_devices > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(cpu_devices)])
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy()
    if not gpus and cpu_devices > 1:
        return tf.distribute.MirroredStrategy([d.name for d in tf.config.list_logical_devices("CPU")])
    return tf.distribute.get_strategy()


def replica_batch(batch_size: int, replicas: int, n_windows: int, split: str) -> int:
    """The batch size for a split of ``n_windows`` windows that ``replicas`` share evenly.

    ``batch_size`` must be a multiple of ``replicas``. A split smaller than one batch gets the
    largest multiple of ``replicas`` it fills: Keras traces its distributed step on the first batch,
    and a first batch that does not split evenly fails (later uneven batches are fine). Raises
    :class:`~fwcourse.data.corpus.CorpusError` when the split has fewer windows than replicas.
    """
    if n_windows >= batch_size:
        return batch_size
    if n_windows < replicas:
        raise CorpusError(
            f"the {split} split holds {n_windows} window(s), fewer than the {replicas} replicas that "
            "must share a batch: use fewer --cpu-devices (or GPUs), a shorter --seq-len or a larger corpus.")
    return n_windows // replicas * replicas


def train(args: argparse.Namespace) -> dict:
    """Train as ``args`` say; write the model, vocabulary and metrics to ``args.out``; return metrics.

    ``args.out`` is claimed first (:func:`fwcourse.util.outdir.claim`, which raises
    :class:`fwcourse.util.outdir.OutputError`), before any data is loaded.
    """
    identity = {k: v for k, v in vars(args).items() if k not in NOT_IDENTITY}
    out = outdir.claim(args.out, "train-lm", identity, OUTPUTS, overwrite=args.overwrite)
    strategy = make_strategy(args.cpu_devices)
    from fwcourse import transformer

    accel = transformer.use_accelerator()
    replicas = strategy.num_replicas_in_sync
    if args.batch_size % replicas:
        rounded = -(-args.batch_size // replicas) * replicas
        print(f"train-lm: --batch-size {args.batch_size} rounded up to {rounded}, a multiple of the "
              f"{replicas} replicas (each gets {rounded // replicas}).")
        args.batch_size = rounded
    data = lm_data.load_lm_corpus(args.corpus, max_tokens=args.max_tokens, n_docs=args.n_docs,
                                  words_per_doc=args.words_per_doc, seed=args.seed,
                                  max_train_tokens=args.max_train_tokens or None)
    lm_data.require_tokens(data, args.seq_len, args.corpus)
    train_w = lm_data.lm_windows(data.train, args.seq_len)
    valid_w = lm_data.lm_windows(data.valid, args.seq_len)
    train_ds = lm_data.lm_dataset(train_w, replica_batch(args.batch_size, replicas, len(train_w), "training"),
                                  shuffle=True, seed=args.seed)
    valid_ds = lm_data.lm_dataset(valid_w, replica_batch(args.batch_size, replicas, len(valid_w), "validation"))
    with strategy.scope():
        model = transformer.build_lm(
            data.tokenizer.size, args.d_model, args.layers, args.heads, args.seq_len,
            fwl_size=args.fwl_size if args.fwl else None, attn_chunks=args.attn_chunks,
            learning_rate=args.lr, seed=args.seed)
    print(f"train-lm: {'FWL' if args.fwl else 'base'} model, {model.count_params():,} parameters, "
          f"{replicas} replica(s), policy {accel['policy']}, corpus {args.corpus} "
          f"({len(train_w)} train / {len(valid_w)} valid windows of {args.seq_len} tokens)")
    start = time.perf_counter()
    # the dataset shuffles itself (tf.data); Keras cannot shuffle a dataset
    history = model.fit(train_ds, validation_data=valid_ds, epochs=args.epochs, verbose=2,
                        shuffle=False)
    seconds = time.perf_counter() - start
    start = time.perf_counter()
    valid_loss = float(model.evaluate(valid_ds, verbose=0))
    eval_seconds = time.perf_counter() - start

    with atomic.replacing(out / "model.keras") as tmp:
        model.save(tmp)
    atomic.write_text(out / "vocab.json", json.dumps(data.tokenizer.vocabulary))
    metrics = {
        "model": "fwl" if args.fwl else "base",
        "corpus": args.corpus,
        "parameters": int(model.count_params()),
        "replicas": int(replicas),
        "policy": accel["policy"],
        "loss": [float(x) for x in history.history["loss"]],
        "val_loss": [float(x) for x in history.history.get("val_loss", [])],
        "valid_loss": valid_loss,
        "valid_perplexity": math.exp(valid_loss),
        "train_seconds": seconds,
        "train_tokens_per_s": float(train_w.weights.sum()) * args.epochs / seconds,
        "eval_tokens_per_s": float(valid_w.weights.sum()) / eval_seconds,
        "args": vars(args),
    }
    atomic.write_text(out / "metrics.json", json.dumps(metrics, indent=2))
    print(f"train-lm: valid perplexity {metrics['valid_perplexity']:.2f}; wrote {out}/model.keras, "
          "vocab.json, metrics.json")
    return metrics


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m fwcourse train-lm``: one line on stderr, not a traceback, for a
    corpus or output folder that cannot be used (exit 2) and for running out of memory (exit 1)."""
    args = parse_args(argv)
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(args.seed)  # the entry point seeds globally; build_lm does not
    try:
        with stop_hint(f"train-lm writes its files to {args.out} only when training ends; run the "
                              "command again to train from the start"):
            train(args)
    except (CorpusError, outdir.OutputError) as err:  # a learner's file or folder: one line, no traceback
        print(f"train-lm: {err}", file=sys.stderr)
        return 2
    except tf.errors.ResourceExhaustedError:  # TensorFlow's message is pages of allocator statistics
        print(f"train-lm: out of memory: a batch of {args.batch_size} windows of {args.seq_len:,} tokens "
              f"(d_model {args.d_model}, {args.layers} layer(s)) does not fit; use a smaller --seq-len "
              "or --batch-size.", file=sys.stderr)
        return 1
    return 0
