"""Next-word models, training with best-on-validation checkpoints, run directories, the CLI."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from fwcourse.course import config
from fwcourse.data import corpus

nextword = pytest.importorskip("fwcourse.experiments.nextword")
import keras  # noqa: E402

V, N = 23, 3
TINY = dict(embed_dim=8, units=6, hidden=10, filters=5, kernel_size=2, heads=2, jit_compile=False)


def _data(n, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, V, (n, N)).astype(np.int32), rng.integers(0, V, n).astype(np.int32)


@pytest.mark.parametrize("kind", nextword.MODELS)
def test_models_map_windows_to_logits_and_evaluate_by_definition(kind):
    model = nextword.build_model(kind, V, N, **TINY)
    X, y = _data(7, 1)
    logits = np.asarray(model.predict(X, verbose=0), np.float64)
    assert logits.shape == (7, V)
    s = nextword.evaluate(model, X, y)
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    nll = [-np.log(p[i, y[i]]) for i in range(7)]
    assert s["loss"] == pytest.approx(np.mean(nll), rel=1e-6)
    assert s["perplexity"] == pytest.approx(np.exp(np.mean(nll)), rel=1e-6)
    # Keras' own loss on the same windows (float32) agrees
    assert model.evaluate(X, y, verbose=0)[0] == pytest.approx(s["loss"], rel=1e-4)


def test_batched_scores_equal_the_scores_of_the_whole_matrix():
    from fwcourse import ngram

    model = nextword.build_model("lstm", V, N, **TINY)
    X, y = _data(50, 2)
    batched = nextword.log_probs(model, X, batch_size=7)
    np.testing.assert_allclose(batched, nextword.log_probs(model, X, batch_size=len(X)), atol=1e-6)
    assert nextword.evaluate(model, X, y, batch_size=7) == ngram.scores(batched, y)
    with pytest.raises(ValueError, match="at least one target"):
        nextword.evaluate(model, X[:0], y[:0])


@pytest.mark.parametrize("kind", nextword.MODELS)
def test_builders_seed_their_weights_and_leave_the_global_random_state_alone(kind):
    keras.utils.set_random_seed(123)
    before = np.random.get_state()[1].copy()
    a, b, c = (nextword.build_model(kind, V, N, seed=s, **TINY) for s in (1, 1, 2))
    assert np.array_equal(np.random.get_state()[1], before)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    random = [w for w in a.get_weights() if w.ndim > 1 and np.ptp(w) > 0]  # drawn: not biases or norms
    assert len({w.tobytes() for w in random}) == len(random)  # query, key, value: each its own draw
    assert not np.array_equal(a.get_weights()[0], c.get_weights()[0])


def test_package_exports_load_on_first_use():
    from fwcourse.experiments.nextword import DEFAULT_RUN_DIR, Predictor, predict

    assert Predictor is predict.Predictor and DEFAULT_RUN_DIR.name == "nextword"
    assert {"build_model", "fit", "main"} <= set(dir(nextword))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        nextword.nope


def test_position_embedding_adds_a_vector_per_position():
    layer = nextword.PositionEmbedding(5)
    x = np.random.default_rng(0).standard_normal((2, 3, 4)).astype("float32")
    out = np.asarray(layer(x))
    P = np.asarray(layer.positions)
    for b in range(2):
        for t in range(3):
            np.testing.assert_allclose(out[b, t], x[b, t] + P[t], rtol=1e-6)


def test_attention_block_is_causal():
    model = nextword.build_model("attention", V, 4, **TINY)
    inner = keras.Model(model.input, model.get_layer(index=6).output)  # the block's residual output
    assert inner.output.shape[1:] == (4, TINY["embed_dim"])
    X = np.array([[3, 4, 5, 6]], np.int32)
    Y = X.copy()
    Y[0, 2] = 9
    a, b = np.asarray(inner(X)), np.asarray(inner(Y))
    np.testing.assert_allclose(a[:, :2], b[:, :2], rtol=1e-6)  # earlier positions never see later ones
    assert not np.allclose(a[:, 2:], b[:, 2:])


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="kind must be one of"):
        nextword.build_model("gru", V)
    with pytest.raises(ValueError, match="embed_dim must be divisible by heads"):
        nextword.build_model("attention", V, embed_dim=5, heads=2)
    with pytest.raises(TypeError, match="train must be a pair"):
        nextword.fit(nextword.build_model("conv1d", V, N, **TINY), _data(4, 0)[0], _data(4, 0))


def test_fit_keeps_the_best_on_validation_and_resumes(tmp_path):
    model = nextword.build_model("conv1d", V, N, learning_rate=0.05, **TINY)
    train, valid = _data(64, 2), _data(32, 3)  # random labels: validation loss soon rises
    hist = nextword.fit(model, train, valid, tmp_path, epochs=4, batch_size=16)
    assert len(hist.loss) == 4 and (tmp_path / "model.keras").is_file()
    assert model.evaluate(*valid, verbose=0)[0] == pytest.approx(min(hist.val_loss), rel=1e-4)

    class Stop(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt

    run = tmp_path / "resumed"
    model = nextword.build_model("conv1d", V, N, **TINY)
    original_fit = model.fit
    model.fit = lambda *a, **k: original_fit(*a, **{**k, "callbacks": k["callbacks"] + [Stop()]})
    with pytest.raises(KeyboardInterrupt):
        nextword.fit(model, train, valid, run, epochs=3, batch_size=16)
    assert (run / "backup").is_dir() and len(nextword.read_history(run / "history.csv").loss) == 2
    model = nextword.build_model("conv1d", V, N, **TINY)
    hist = nextword.fit(model, train, valid, run, epochs=3, batch_size=16)
    assert len(hist.loss) == 3  # epochs 1-2 from the first call, epoch 3 from the resumed one
    assert not (run / "backup").exists()


def test_run_directory_refuses_another_vocabulary(tmp_path):
    a = corpus.Tokenizer.fit(["the cat sat on the mat"], max_tokens=10)
    b = corpus.Tokenizer.fit(["a dog ran in the park"], max_tokens=10)
    model = nextword.build_model("conv1d", a.size, N, **TINY)
    nextword.save_run_files(tmp_path, a, dict(kind="conv1d", context=N))
    model.save(tmp_path / "model.keras")
    loaded, tok, settings = nextword.load_run(tmp_path, tokenizer=a)
    assert tok.vocabulary == a.vocabulary and settings["context"] == N
    with pytest.raises(ValueError, match="another vocabulary"):
        nextword.load_run(tmp_path, tokenizer=b)
    with pytest.raises(ValueError, match="another vocabulary"):
        nextword.save_run_files(tmp_path, b, dict(kind="conv1d", context=N))
    with pytest.raises(FileNotFoundError, match="train-nextword"):
        nextword.load_run(tmp_path / "nothing")


def test_predictor_pads_short_phrases_and_keeps_the_last_words():
    tok = corpus.Tokenizer.fit(["the cat sat on the mat"], max_tokens=10)
    pred = nextword.Predictor(nextword.build_model("lstm", tok.size, N, **TINY), tok, N)
    ids = {w: tok.vocabulary.index(w) for w in ("the", "cat", "sat", "mat")}
    w, used, unknown, dropped = pred.window("Cat!")
    assert w.tolist() == [corpus.PAD_ID, corpus.PAD_ID, ids["cat"]] and used == ["cat"]
    w, used, unknown, dropped = pred.window("the zebra sat, the MAT")
    assert w.tolist() == [ids["sat"], ids["the"], ids["mat"]] and dropped == ["the", "zebra"]
    w, used, unknown, dropped = pred.window("zebra cat")
    assert w.tolist() == [corpus.PAD_ID, corpus.OOV_ID, ids["cat"]] and unknown == ["zebra"]
    out = pred.predict("the cat", k=3)
    assert len(out.words) == 3 and "" not in out.words and "[UNK]" not in out.words
    assert out.probs == sorted(out.probs, reverse=True) and sum(out.probs) < 1


def test_results_table_lists_every_model():
    table = nextword.results_table({"lstm": dict(train_loss=2.0, perplexity=120.0, top1=0.2, top5=0.4),
                                    "trigram": dict(perplexity=99.0)})
    assert table.count("\n") == 3 and "| lstm |" in table and "99.0" in table and "| - |" in table


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A tiny model trained by the train-nextword command on a folder of text."""
    root = tmp_path_factory.mktemp("nextword")
    rng = np.random.default_rng(0)
    words = "the cat dog sat ran on in a mat park and saw".split()
    for i in range(6):
        (root / "corpus").mkdir(exist_ok=True)
        text = ". ".join(" ".join(rng.choice(words, 6)) for _ in range(40))
        (root / "corpus" / f"doc{i}.txt").write_text(text)
    out = root / "run"
    assert nextword.main(["--corpus", str(root / "corpus"), "--model", "conv1d", "--out", str(out),
                          "--epochs", "1"]) == 0
    return out


def test_train_command_writes_what_predict_needs(trained_run):
    for name in ("model.keras", "vocab.json", "settings.json", "history.csv", "metrics.json"):
        assert (trained_run / name).is_file()
    metrics = json.loads((trained_run / "metrics.json").read_text())
    assert set(metrics["test"]) == {"loss", "perplexity", "top1", "top5"}
    assert metrics["kneser_ney_trigram"]["test"]["perplexity"] > 1
    assert json.loads((trained_run / "settings.json").read_text())["scale"] == config.scale()


def _predict(run, stdin: str, *extra):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-m", "fwcourse", "predict", "--model", str(run), *extra],
                          input=stdin, capture_output=True, text=True, env=env, timeout=300)


def test_predict_loop_with_piped_input(trained_run):
    lines = ["the cat sat", "", "cat", "the dog ran in the park and", "zebra, unicorn!", "?!", "0",
             "never read"]
    proc = _predict(trained_run, "\n".join(lines) + "\n")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "Traceback" not in out + proc.stderr
    assert out.count("Top 5 possible words:") == 4
    assert "Please type a few words" in out and "No words left" in out
    assert "only 1 of 3 words" in out and "using the last 3 words: park and" not in out
    assert "using the last 3 words: in the park" not in out  # 'and' is the last word
    assert "using the last 3 words: the park and" in out
    assert "read as [UNK]: zebra, unicorn" in out
    assert out.rstrip().endswith("Good bye!") and "never read" not in out


def test_predict_ends_quietly_at_end_of_input(trained_run):
    proc = _predict(trained_run, "the cat")  # no newline, no "0": the pipe just closes
    assert proc.returncode == 0 and "Traceback" not in proc.stderr
    assert "Top 5 possible words:" in proc.stdout and "Good bye!" in proc.stdout


def test_predict_without_a_model_says_how_to_train_one(tmp_path, capsys):
    from fwcourse.experiments.nextword import predict_cli

    assert predict_cli.main(["--model", str(tmp_path / "missing")]) == 2
    assert "train-nextword" in capsys.readouterr().err


def test_models_run_under_jax(run_under_jax):
    out = run_under_jax("""
        import numpy as np
        from fwcourse.experiments import nextword
        tiny = dict(embed_dim=8, units=6, hidden=10, filters=5, kernel_size=2, heads=2)
        X = np.random.default_rng(0).integers(0, 11, (5, 3)).astype("int32")
        y = np.random.default_rng(1).integers(0, 11, 5).astype("int32")
        m = nextword.build_model("attention", 11, 3, **tiny)  # the model with our own keras.ops layer
        m.fit(X, y, epochs=1, verbose=0)
        print(nextword.evaluate(m, X, y)["perplexity"] > 1)
    """)
    assert out.split() == ["True"]
