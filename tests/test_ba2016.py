"""The Ba et al. (2016) reproduction command, on tiny settings in a temporary folder."""
from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("keras")

from fwcourse.data import retrieval  # noqa: E402
from fwcourse.experiments import ba2016  # noqa: E402
from fwcourse.__main__ import main as fwcourse_main  # noqa: E402

FIELDS = {"model", "R", "seed", "test_error", "steps", "seconds", "curve", "settings", "machine"}


def test_command_writes_resumable_results(tmp_path, capsys):
    args = ["reproduce", "ba2016", "--out", str(tmp_path), "--sizes", "3", "--max-steps", "6"]
    assert fwcourse_main(args + ["--models", "rnn,fastweights"]) == 0
    records = json.loads((tmp_path / "ba2016_results.json").read_text())
    assert isinstance(records, list) and [r["model"] for r in records] == ["rnn", "fastweights"]
    for r in records:
        assert FIELDS <= set(r)
        assert r["R"] == 3 and r["seed"] == 0 and r["steps"] == 6 and 0 <= r["test_error"] <= 1
        assert r["curve"] == [[6, r["valid_error"]]]
    md = (tmp_path / "ba2016_results.md").read_text()
    assert "| Fast weights | " in md and "as reported, quoted" in md and "Machine:" in md
    # a second call skips what is written and adds only the missing run
    assert fwcourse_main(args + ["--models", "rnn,fastweights,rnn_ln"]) == 0
    again = json.loads((tmp_path / "ba2016_results.json").read_text())
    assert [r["model"] for r in again] == ["rnn", "fastweights", "rnn_ln"]
    assert again[:2] == records
    assert "rnn_ln" in capsys.readouterr().out


def test_seeds_can_be_split_across_machines_and_runs_capped_in_time(tmp_path):
    args = ["reproduce", "ba2016", "--out", str(tmp_path), "--sizes", "3", "--max-steps", "4",
            "--models", "rnn", "--seeds", "1", "--first-seed", "2", "--max-minutes", "5"]
    assert fwcourse_main(args) == 0
    assert fwcourse_main(args + ["--lr-schedule", "cosine"]) == 0  # another protocol: run again
    plain, cosine = json.loads((tmp_path / "ba2016_results.json").read_text())
    assert plain["seed"] == 2 and plain["settings"]["max_minutes"] == 5
    assert "lr_schedule" not in plain["settings"] and cosine["settings"]["lr_schedule"] == "cosine"
    md = (tmp_path / "ba2016_results.md").read_text()
    assert "or 5 minutes a run, patience" in md and "cosine learning rate" in md


def test_cosine_schedule_decays_to_one_percent():
    net = ba2016.build_model("rnn", 3, learning_rate=1e-3, lr_decay_steps=100)
    schedule = net.optimizer._learning_rate  # Keras keeps the schedule object here
    assert float(schedule(0)) == pytest.approx(1e-3) and float(schedule(100)) == pytest.approx(1e-5)


@pytest.mark.parametrize("model", ba2016.MODELS)
def test_models_map_sequences_to_ten_digit_logits(model):
    net = ba2016.build_model(model, 4, embed_dim=5, hidden=6)
    out = np.asarray(net(retrieval.sample(3, 2, rng=0).x))
    assert out.shape == (3, retrieval.NUM_CLASSES)
    layer = net.layers[1]
    if model == "alstm":
        from fwcourse.alstm import AssociativeLSTM

        assert isinstance(layer, AssociativeLSTM) and layer.copies == 4
    if model == "rnn_ln":
        assert layer.fast_lr == 0.0 and layer.cell.state_size == [4]
    if model == "fastweights":
        assert layer.fast_lr > 0


@pytest.mark.parametrize("model", ba2016.MODELS)
def test_builders_seed_their_weights_and_leave_the_global_random_state_alone(model):
    import keras

    keras.utils.set_random_seed(123)
    before = np.random.get_state()[1].copy()
    a, b, c = (ba2016.build_model(model, 4, embed_dim=5, hidden=6, seed=s) for s in (1, 1, 2))
    assert np.array_equal(np.random.get_state()[1], before)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    kernels = [w for w in a.get_weights() if w.ndim == 2 and np.ptp(w) > 0]
    assert len({w.tobytes() for w in kernels}) == len(kernels)  # every layer its own draw
    assert not np.array_equal(a.get_weights()[0], c.get_weights()[0])


def _record(model, R, seed, err, curve, settings):
    return dict(model=model, R=R, seed=seed, test_error=err, valid_error=err, best_step=10,
                steps=curve[-1][0], seconds=1.0, curve=curve, settings=settings, machine="m")


def _table1_settings(**changes):
    """A Table 1 run's settings as ``reproduce ba2016 --table1`` writes them."""
    return dict(dict(scale="default", eval_every=250, batch_size=128, learning_rate=1e-3, **ba2016.TABLE1), **changes)


def test_markdown_summarises_over_seeds_and_budgets():
    settings = dict(scale="quick", max_steps=20, patience=2)
    records = [_record("lstm", 20, s, e, [[10, 0.5 + s], [20, e]], settings) for s, e in ((0, 0.1), (1, 0.3))]
    records.append(_record("lstm", 20, 0, 0.05, [[40, 0.05]], dict(settings, max_steps=4000, max_minutes=3)))
    assert ba2016.summarise(records[:2])[("lstm", 20)] == pytest.approx((0.2, np.std([0.1, 0.3], ddof=1), 2))
    assert ba2016.summarise(records[2:])[("lstm", 20)] == (0.05, 0.0, 1)
    assert ba2016.best_within(records[1], 10) == 1.5 and ba2016.best_within(records[1], 5) is None
    assert [len(g) for g in ba2016.budget_groups(records)] == [1, 2]  # the larger budget first
    md = ba2016.render_markdown(records)
    longer, shorter = md.split("## Pilot budget: up to 20 steps")
    assert "## Pilot budget: up to 4,000 steps or 3 minutes a run, patience 2" in longer
    assert "| LSTM | 5.00% (n=1) | 60.81% |" in longer
    assert "| LSTM | 20.00% ± 14.14 (n=2) | 60.81% |" in shorter  # sample sd: 0.1·√2
    assert "| LSTM | 20 | – | – | 100.00% | 20.00% | 20 | 1 |" in shorter  # best within 1, 3, 10, 20 steps
    assert "| LSTM | 20 | 5.00% | 5.00% | 5.00% | 5.00% | 40 | 1 |" in longer  # 300, 1k, 3k, 4k
    assert "max_steps=20" in shorter


def test_the_table1_protocol_comes_first_and_lists_the_cells_still_to_run():
    table1 = _table1_settings()
    records = [_record("lstm", 20, 0, 0.3, [[20, 0.3]], dict(scale="quick", max_steps=200_000, patience=2))]
    records += [_record("fastweights", 20, s, 0.02, [[250, 0.02]], table1) for s in range(3)]
    records.append(_record("lstm", 50, 0, 0.04, [[250, 0.04]], table1))
    assert [len(g) for g in ba2016.budget_groups(records)] == [4, 1]  # the protocol before a longer pilot
    md = ba2016.render_markdown(records)
    protocol, pilot = md.split("## Pilot budget")
    assert "## Table 1, one protocol: up to 120,000 steps or 50 minutes a run" in protocol
    missing = ba2016.missing_runs(records)
    assert "Fast weights R=20 (3 of 3 seeds)" not in " ".join(missing)
    assert "LSTM R=50 (1 of 3 seeds)" in missing and "A-LSTM R=100 (0 of 3 seeds)" in missing
    assert len(missing) == 3 * len(ba2016.MODELS) - 1
    assert "LSTM R=50 (1 of 3 seeds)" in protocol and "Still to run" not in pilot
    assert "4 runs in this section, 0.1 min of training." in protocol and "1 run in this section" in pilot


def test_targets_and_protocol_notes_are_read_from_the_runs():
    table1 = _table1_settings()
    fw = [_record("fastweights", 20, s, e, [[250, 0.6], [ba2016.TABLE1["max_steps"], e]], table1)
          for s, e in ((0, 0.0181), (1, 0.0181))]
    short = _record("fastweights", 50, 0, 0.006, [[250, 0.6], [90_000, 0.006]], table1)
    lines = ba2016.targets(fw + [short])
    assert lines[0] == "Fast weights R=20: at or below 1.81%; ours 1.81% (n=2): met"
    assert lines[1] == ("Fast weights R=50: below 0.50%; ours 0.60% (n=1): not met (seed 0 0.60%; the "
                        "validation error still fell at the end in 1 of 1 run(s))")
    assert lines[2] == "Fast weights R=100: below 0.50%; not run"
    md = ba2016.render_markdown(fw + [short])
    assert "- Fast weights R=50: below 0.50%; ours 0.60% (n=1): not met (seed 0 0.60%;" in md
    assert "patience never stops a Table 1 run" in md  # 1000 evaluations × 250 steps > 120,000
    assert "(on the 50-minute cap or at a validation error of 0): Fast weights R=50 seed 0 (90,000 steps)." in md
    assert "The paper gives no" not in ba2016.render_markdown(fw)  # the reason only where it applies
    odd = [dict(r, settings=_table1_settings(batch_size=64, learning_rate=3e-4, eval_every=500)) for r in fw]
    assert ("Adam from 0.0003 with a cosine decay to 1% over 120,000 steps (or 50 minutes of training, whichever "
            "comes first), batch 64, gradient norm clipped at 5, validation error every 500 steps") in ba2016.render_markdown(odd)


def test_rankings_order_the_models_as_ours_and_as_the_paper():
    table1 = _table1_settings()
    errs = {("fastweights", 20): (0.02, 0.04), ("lstm", 20): (0.05, 0.05), ("alstm", 50): (0.003, 0.005),
            ("fastweights", 50): (0.006, 0.004), ("rnn_ln", 50): (0.001, 0.001)}  # the control: not in the paper
    records = [_record(m, R, s, e[s], [[250, e[s]]], table1) for (m, R), e in errs.items() for s in (0, 1)]
    records.append(_record("lstm", 100, 0, 0.01, [[250, 0.01]], table1))  # no fast weights at R=100: no line
    records.append(_record("alstm", 20, 0, 0.001, [[250, 0.001]], _table1_settings(max_steps=5)))  # another budget
    lines = ba2016.rankings(records)
    assert lines == [
        "R=20: ours Fast weights 3.00% ± 1.41, LSTM 5.00% ± 0.00; paper Fast weights 1.81%, LSTM 60.81%",
        "R=50: ours A-LSTM 0.40% ± 0.14, Fast weights 0.50% ± 0.14; paper Fast weights 0.00%, A-LSTM 1.62%",
        "Fast weights come first (or tied first) in the paper at R = 20, 50; in ours at R = 20."]
    assert "- R=50: ours A-LSTM 0.40% ± 0.14" in ba2016.render_markdown(records)


def test_every_row_of_the_paper_table_is_shown_and_not_run_rows_say_so():
    settings = dict(scale="quick", max_steps=20, patience=2)
    records = [_record("fastweights", 20, 0, 0.1, [[20, 0.1]], settings),
               _record("alstm", 50, 0, 0.25, [[20, 0.25]], settings)]
    md = ba2016.render_markdown(records)
    for model in ba2016.PAPER_TABLE:
        assert f"| {ba2016.LABELS[model]} |" in md
    assert "| IRNN | not run | 62.11% | not run | 60.23% |" in md
    assert "| A-LSTM | not run | 60.13% | 25.00% (n=1) | 1.62% |" in md
    assert "| RNN (tanh) |" not in md  # not in the paper and not run


def test_verdicts_give_the_distance_and_the_criterion():
    settings = dict(scale="quick", max_steps=20, patience=2)
    far = [_record("lstm", 20, s, e, [[20, e]], settings) for s, e in ((0, 0.1), (1, 0.3))]
    (line,) = ba2016.compare_with_paper(far)  # mean 20% against the paper's 60.81%
    assert "ours  20.00% (n=2)" in line and line.endswith("-> not reproduced: 40.81 points below the paper's; criterion ±1")
    (line,) = ba2016.compare_with_paper([dict(far[0], test_error=0.6131)])
    assert line.endswith("-> reproduced: 0.50 points above the paper's; criterion ±1")
    (line,) = ba2016.compare_with_paper([dict(far[0], test_error=0.6281)], tolerance=2.5)
    assert line.endswith("-> reproduced: 2.00 points above the paper's; criterion ±2.5")
    (line,) = ba2016.compare_with_paper([dict(far[0], test_error=0.6081)])
    assert line.endswith("-> reproduced: 0.00 points off; criterion ±1")
    md = ba2016.render_markdown(far)
    assert "-> not reproduced: 40.81 points below the paper's; criterion ±1" in md and "(within" not in md


def test_learning_curve_figure_has_one_panel_per_budget_and_size_with_runs():
    import matplotlib.pyplot as plt

    from fwcourse.experiments.ba2016.report import plot_learning_curves

    def runs(max_steps, sizes):
        settings = dict(scale="quick", max_steps=max_steps, patience=2)
        return [_record(m, R, 0, 0.1, [[max_steps // 2, 0.5], [max_steps, 0.1]], settings)
                for R in sizes for m in ("lstm", "fastweights")]

    records = runs(40_000, [20]) + runs(60_000, [20, 50, 100]) + runs(1_000, [20, 50])
    fig = plot_learning_curves(records, min_steps=30_000)
    assert len(fig.axes) == 4  # 1 + 3 panels: none for the missing sizes, none for the short budget
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0].startswith("R = 20: up to 60,000 steps") and titles[3].startswith("R = 20: up to 40,000")
    for ax in fig.axes:
        assert len(ax.lines) == 2  # both models' curves
    assert [ax.get_subplotspec().get_geometry()[:2] for ax in fig.axes] == [(2, 3)] * 4
    plt.close(fig)
    fig = plot_learning_curves(records)
    assert len(fig.axes) == 6 and fig.axes[0].get_subplotspec().get_geometry()[:2] == (2, 3)
    plt.close(fig)
    fig = plot_learning_curves(runs(40_000, [20]))
    assert len(fig.axes) == 1 and fig.axes[0].get_subplotspec().get_geometry()[:2] == (1, 1)
    plt.close(fig)
    with pytest.raises(ValueError, match="min_steps=100000"):
        plot_learning_curves(records, min_steps=100_000)
    with pytest.raises(ValueError, match="ncols must be an integer >= 1"):
        plot_learning_curves(records, ncols=0)


def test_step_marks_climb_to_the_budget():
    assert ba2016.step_marks(8000) == [300, 1000, 3000, 8000]
    assert ba2016.step_marks(200_000) == [10_000, 30_000, 100_000, 200_000]
    assert ba2016.step_marks(40) == [3, 10, 30, 40]


@pytest.mark.parametrize("argv", [
    ["ba2016", "--models", "gru"], ["ba2016", "--sizes", "a,b"], ["ba2016", "--sizes", "0"],
    ["ba2016", "--seeds", "0"], ["ba2016", "--first-seed", "-1"], ["ba2016", "--max-minutes", "0"], ["other"],
])
def test_bad_arguments_are_explained(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        ba2016.main(argv)
    assert exc.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_unknown_model_is_explained():
    with pytest.raises(ValueError, match="model must be one of"):
        ba2016.recurrent_layer("gru", 4)
    with pytest.raises(ValueError, match="units must be even"):
        ba2016.recurrent_layer("alstm", 5)


def test_fast_weight_parts_reproduce_the_keras_model():
    from fwcourse import fwrnn

    net = ba2016.build_model("fastweights", 5, embed_dim=4, hidden=6)
    x = retrieval.sample(3, 2, rng=1).x
    p = ba2016.fast_weight_parts(net)
    h = fwrnn.fast_weight_rnn(p["embedding"][x], p["W"], p["C"], p["b"], decay=p["decay"],
                              fast_lr=p["fast_lr"], inner_steps=p["inner_steps"], gain=p["gain"],
                              ln_bias=p["ln_bias"])
    np.testing.assert_allclose(np.asarray(net.layers[1](net.layers[0](x))), h[:, -1], rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="fastweights or rnn_ln"):
        ba2016.fast_weight_parts(ba2016.build_model("lstm", 3))


def test_explain_reads_the_reason_from_the_runs():
    settings = dict(scale="quick", max_steps=1000, patience=2)
    falling = _record("fastweights", 50, 0, 0.03, [[250, 0.6], [500, 0.2], [750, 0.08], [1000, 0.03]], settings)
    flat = _record("lstm", 50, 0, 0.04, [[250, 0.6], [500, 0.04], [750, 0.04], [1000, 0.04]], settings)
    plateau = _record("lstm", 20, 0, 0.05, [[1000, 0.05]], settings)
    stuck = _record("irnn", 50, 0, 0.62, [[1000, 0.62]], settings)
    close = _record("fastweights", 20, 0, 0.02, [[1000, 0.02]], settings)
    why = dict(line.split("\n    why: ") for line in ba2016.explain([falling, flat, plateau, stuck, close]))
    reason = {tuple(k.split("ours")[0].split()[-1:]) + (k.split()[0],): v for k, v in why.items()}
    assert reason["R=20", "Fast"] == "within the criterion."
    assert reason["R=20", "LSTM"].startswith("the paper's number is the plateau; 1 of our 1 run(s) left it")
    assert "at step 1,000 on average" in reason["R=20", "LSTM"]
    assert reason["R=50", "IRNN"] == "both are on the plateau."
    assert reason["R=50", "Fast"] == "budget: the error was still falling when 1 of 1 run(s) stopped."
    assert reason["R=50", "LSTM"].startswith("not budget alone: the error had flattened in 1 of 1")
    # ours on the plateau where the paper's is not: flat says capacity or protocol, falling says budget
    still = _record("irnn", 100, 0, 0.61, [[250, 0.63], [500, 0.63], [750, 0.63], [1000, 0.61]], settings)
    flat = _record("irnn", 100, 0, 0.62, [[250, 0.62], [1000, 0.62]], settings)
    assert ba2016.explain([still])[0].endswith("budget: 1 of 1 run(s) were still improving on the plateau when they stopped.")
    assert "stayed on the plateau to the end: capacity or protocol" in ba2016.explain([flat])[0]
    lower = _record("lstm", 50, 0, 0.001, [[1000, 0.001]], settings)  # paper 1.85%
    assert "ours is lower than the paper's. The paper gives no training budget: a longer one" in ba2016.explain([lower])[0]


def test_table1_flag_sets_the_protocol(monkeypatch, capsys):
    from fwcourse.experiments.ba2016.cli import _parse

    with pytest.raises(SystemExit):  # the protocol is for the default scale's data only
        _parse(["ba2016", "--table1"])
    assert "set FWCOURSE_SCALE=default" in capsys.readouterr().err
    monkeypatch.setenv("FWCOURSE_SCALE", "default")
    args = _parse(["ba2016", "--table1", "--models", "lstm"])
    assert (args.max_steps, args.patience, args.max_minutes, args.lr_schedule) == ba2016.TABLE1_BUDGET
    assert args.seeds == ba2016.TABLE1_SEEDS and _parse(["ba2016", "--table1", "--seeds", "1"]).seeds == 1
