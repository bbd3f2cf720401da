"""Models, fusion variants, training, evaluation: shapes, gradients, determinism, resume, metrics."""

import copy
from dataclasses import replace

import numpy as np
import polars as pl
import pytest
import torch
from sklearn.metrics import f1_score, precision_score, recall_score, roc_auc_score

from ecgnet import seeds
from ecgnet.comparison import VariantResult, select, train_variant
from ecgnet.config import ComparisonConfig, ModelConfig, TrainConfig
from ecgnet.data import Split, TaskData, patient_holdout
from ecgnet.data import task_data as make_task_data
from ecgnet.decisions import apply_offsets
from ecgnet.evaluate import aami, bootstrap, evaluate, headline, macro_auc, macro_f1, paired_bootstrap
from ecgnet.export import Layout, Packed, packed_probs
from ecgnet.fusion import MODALITIES, activation, build, combine_probs, cross_fit_late, fit_late, mean_probs
from ecgnet.interval import Interval
from ecgnet.report import comparison_table
from ecgnet.train import epoch_order, predict_probs, seed_everything, tensors, train
from ecgnet.variants import VARIANTS
from feature_store.tasks import BEATS, RECORDS
from tests.nets import fold_members, intermediate, reference, single_net, time_net

pytestmark = pytest.mark.heavy

SMALL = ModelConfig(embed_dim=16, channels=4, scalar_dim=8, heads=2, layers=1, fusion_hidden=16)
BUILT = {n: v for n, v in VARIANTS.items() if v.kind not in ("late", "ensemble")}  # made by `build`


@pytest.fixture(scope="module")
def data(beat_task_sample):
    """DS1 (209, 220) split by patient into train/val, DS2 (232) as test; a few hundred beats each."""
    return beat_task_sample(300)


def test_splits_keep_patients_apart(data):
    assert set(data.train.groups) | set(data.val.groups) == {"209", "220"}
    assert not set(data.train.groups) & set(data.val.groups)
    assert set(data.test.groups) == {"232"}
    groups = np.array(["a", "a", "b", "c", "c", "d"])
    held = patient_holdout(groups, 0.5, seed=0)
    assert len(set(groups[held])) == 2 and not set(groups[held]) & set(groups[~held])
    assert patient_holdout(groups, 0.5, seed=0).tolist() == held.tolist()  # stable


def test_a_borrowed_validation_split_holds_every_scored_class_on_both_sides():
    """The bundled sample's beats task drew DS1's 209 (one V beat) for validation, so one beat made a third
    of the macro-F1 every choice reads; among seeded draws the first that holds each class both sides wins."""
    groups = np.repeat(np.array(["p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8"]), 40)
    first = patient_holdout(groups, 0.25, seed=0)  # the label-free draw
    y = np.zeros(len(groups), dtype=np.int64)  # N everywhere, then S and V where the draw makes them scarce
    y[np.flatnonzero(first)[:1]] = 2  # one V row in the first draw's validation
    y[np.flatnonzero(~first)[:60]] = 2  # V in train patients
    y[np.flatnonzero(groups == "p8")[:20]] = 1  # S in p8 alone: one patient cannot be on both sides
    held = patient_holdout(groups, 0.25, seed=0, y=y, classes=(0, 1, 2))
    assert held.sum() == first.sum() == 80 and held.tolist() != first.tolist()
    assert (y[held] == 2).sum() >= 10 and (y[~held] == 2).sum() >= 10  # V on both sides
    assert patient_holdout(groups, 0.25, seed=0, y=y, classes=(0, 1, 2)).tolist() == held.tolist()  # stable
    y_ok = np.where(groups == groups[np.flatnonzero(first)[0]], 2, 0)
    y_ok[np.flatnonzero(~first)[:60]] = 2
    assert patient_holdout(groups, 0.25, seed=0, y=y_ok, classes=(0, 2)).tolist() == first.tolist()  # kept
    multi = np.eye(3, dtype=np.float32)[y]  # a multi-hot task reads its columns alike
    assert patient_holdout(groups, 0.25, seed=0, y=multi, classes=(0, 1, 2)).tolist() == held.tolist()


def test_the_borrowed_validation_is_logged_with_its_patients_and_what_no_draw_could_hold(caplog):
    groups = np.repeat(np.array([f"p{i}" for i in range(8)]), 30)
    y = np.where(np.arange(len(groups)) % 3 == 0, 1, 0)  # S in every patient, V in none

    def split(rows: np.ndarray) -> Split:
        return Split({}, y[rows], rows.astype(str), groups[rows])

    every, none = np.arange(len(groups)), np.arange(0)
    with caplog.at_level("INFO", logger="ecgnet.data"):
        data = make_task_data(BEATS, split(every), split(none), split(every[:5]), {})
    held = sorted(set(data.val.groups.tolist()))
    assert len(held) == 2 and not set(held) & set(data.train.groups.tolist())
    assert f"60 rows of 25 % of train patients join validation ({', '.join(held)})" in caplog.text
    assert "they hold N 40, S 20, V 0 (no draw of 32 holds V on both sides)" in caplog.text


@pytest.mark.parametrize("name", [n for n, v in BUILT.items() if not v.boosted])  # trees learn no gradient
def test_every_trainable_variant_runs_forward_and_backward(data, name):
    seed_everything(0)
    model = build(VARIANTS[name], data, SMALL)
    x = {m: {k: v[:8] for k, v in inp.items()} for m, inp in tensors(data.train).items()}
    logits = model(x)
    assert logits.shape == (8, len(BEATS.classes))
    logits.sum().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert grads and all(g is not None for g in grads)


def test_the_time_encoder_can_keep_where_along_the_beat_a_shape_is(data):
    x = {m: {k: v[:8] for k, v in inp.items()} for m, inp in tensors(data.train).items()}
    one, four = (time_net(build(VARIANTS["time"], data, replace(SMALL, time_segments=s))) for s in (1, 4))
    assert four.proj.in_features - one.proj.in_features == 3 * 2 * SMALL.channels  # three more spans
    h = one.blocks(one.stem(one.norm_wave(x["time"]["waveform"])))
    torch.testing.assert_close(one.pool(h).flatten(1), h.mean(dim=-1))  # one span: the plain mean
    with torch.no_grad():
        assert four.eval()(x["time"]).shape == (8, len(BEATS.classes))
    with pytest.raises(ValueError, match="time_segments"):
        build(VARIANTS["time"], data, replace(SMALL, time_segments=0))


@pytest.mark.parametrize("name", list(BUILT))
def test_an_empty_split_has_no_rows_and_every_class(data, name):
    model = build(VARIANTS[name], data, SMALL)
    probs = predict_probs(model, data.test.take(np.arange(0)), False)
    assert probs.shape == (0, len(BEATS.classes)) and probs.dtype == np.float32


@pytest.mark.parametrize("name", ["late_average", "late_stacker"])
def test_late_variants_combine_single_models(data, name):
    cfg = ComparisonConfig(
        variants=("time", "frequency", "spectrogram", name),
        model=SMALL,
        train=TrainConfig(epochs=1, batch_size=64),
        n_boot=20,
    )
    results: dict[str, VariantResult] = {}
    for variant in cfg.variants:  # dependency order: the late variant combines the three trained singles
        results[variant] = train_variant(variant, data, cfg, upstream=results)
    late = results[name]
    assert late.test_probs.shape == (len(data.test), 5)
    np.testing.assert_allclose(late.test_probs.sum(axis=1), 1.0, rtol=1e-5)
    if name == "late_average":
        weights = [late.fitted[f"weight_{m}"] for m in ("time", "frequency", "spectrogram")]
        assert abs(sum(weights) - 1) < 1e-6
    x = {m: {k: v[:4] for k, v in inp.items()} for m, inp in tensors(data.test).items()}
    late.model(x).sum()  # the combined model is one module (exportable with its singles)
    table = comparison_table(results, data, cfg)
    assert set(table["variant"]) == {"time", "frequency", "spectrogram", name}
    # calibration beside the decisions, the focus classes' one-vs-rest too (the overall ECE is mostly N's)
    assert table.columns[table.columns.index("pp_V") + 1 :][:4] == ["brier", "ece", "ece_S", "ece_V"]
    assert table.filter(pl.col("variant") == name)["ece_S"][0] == str(late.test["ece_S"])


def test_stacker_handles_a_class_missing_from_validation():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(5), size=(40, 3)).astype(np.float32)  # (rows, modalities, classes)
    y = rng.choice([0, 1, 2], size=40)  # F and Q never occur
    combine, _ = fit_late(VARIANTS["late_stacker"], probs, y, False, lambda p, t: macro_f1(p, t, False))
    out = activation(combine(torch.from_numpy(probs)), False).detach().numpy()
    assert out.shape == (40, 5) and out[:, 3:].max() < 0.01


def test_training_is_deterministic_under_a_seed(data):
    cfg = TrainConfig(epochs=2, batch_size=64, seed=3)

    def run():
        seed_everything(3)
        return train(build(VARIANTS["time"], data, SMALL), data, cfg).model.state_dict()

    a, b = run(), run()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_class_cap_draws_a_fresh_capped_sample_of_large_classes_each_epoch():
    y = torch.tensor([0] * 50 + [1] * 7 + [2] * 20)
    cfg = TrainConfig(class_cap=10, seed=1)
    first, second = epoch_order(y, cfg, 0), epoch_order(y, cfg, 1)
    for order in (first, second):
        assert len(order) == len(set(order.tolist())) == 27  # 10 + 7 + 10 rows, none twice
        assert torch.bincount(y[order], minlength=3).tolist() == [10, 7, 10]
    assert set(first.tolist()) != set(second.tolist())  # another draw of the large classes
    assert torch.equal(first, epoch_order(y, cfg, 0))  # repeatable, so a resumed run sees the same
    assert sorted(epoch_order(y, TrainConfig(seed=1), 0).tolist()) == list(range(77))  # no cap: every row


def test_resume_from_a_checkpoint_equals_an_uninterrupted_run(data, tmp_path):
    cfg = TrainConfig(epochs=3, batch_size=64, seed=1, patience=10)
    seed_everything(1)
    straight = train(build(VARIANTS["frequency"], data, SMALL), data, cfg)

    def stop_after_first(epoch, record):
        if epoch == 0:
            raise KeyboardInterrupt("simulated interruption")

    ckpt = tmp_path / "frequency.pt"
    seed_everything(1)
    with pytest.raises(KeyboardInterrupt):
        train(build(VARIANTS["frequency"], data, SMALL), data, cfg, checkpoint=ckpt, on_epoch=stop_after_first)
    seed_everything(99)  # a resumed process starts with other random state
    resumed = train(build(VARIANTS["frequency"], data, SMALL), data, cfg, checkpoint=ckpt)
    assert [h["epoch"] for h in resumed.history] == [0, 1, 2]
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert resumed.best_val == straight.best_val


def test_a_fixed_budget_keeps_that_epochs_weights_on_the_full_schedule_and_reads_no_validation_row(data):
    cfg = TrainConfig(epochs=4, batch_size=64, seed=2, patience=4)
    at_epoch: dict[int, dict] = {}
    seed_everything(2)
    model = build(VARIANTS["time"], data, SMALL)
    train(model, data, cfg, on_epoch=lambda e, _: at_epoch.update({e: copy.deepcopy(model.state_dict())}))
    blind = replace(data, val=data.val.take(np.arange(0)))  # nothing to stop early on
    seed_everything(2)
    fixed = train(build(VARIANTS["time"], blind, SMALL), blind, cfg, stop_after=1)
    assert [h["epoch"] for h in fixed.history] == [0, 1] and fixed.best_epoch == 1
    assert all(np.isnan(h["val_metric"]) for h in fixed.history)
    kept = fixed.model.state_dict()
    # epoch 1 of the four-epoch cosine schedule, not the last epoch of a two-epoch one
    assert all(torch.equal(kept[k], at_epoch[1][k]) for k in kept)
    assert not all(torch.equal(kept[k], at_epoch[0][k]) for k in kept)
    with pytest.raises(ValueError, match="outside the schedule"):
        train(build(VARIANTS["time"], blind, SMALL), blind, cfg, stop_after=4)


def test_packed_model_equals_the_model_on_its_inputs(data):
    layout = Layout.of(data)
    model = build(VARIANTS["intermediate_gated"], data, SMALL).eval()
    x = {m: {k: v[:5] for k, v in inp.items()} for m, inp in data.test.x.items()}
    flat = torch.from_numpy(layout.pack(x))
    assert flat.shape == (5, layout.width)
    with torch.no_grad():
        expected = activation(
            model({m: {k: torch.from_numpy(np.array(v)) for k, v in inp.items()} for m, inp in x.items()}), False
        )
        np.testing.assert_allclose(Packed(model, layout, False)(flat).numpy(), expected.numpy(), rtol=1e-6)
    assert Layout.from_json(layout.to_json()) == layout
    # a model trained on another layout of the views (an older view version): named, with the fix
    old = Layout(tuple((m, k, (999,) if k == "scalars" else s) for m, k, s in layout.entries))
    with pytest.raises(ValueError, match=r"time/scalars of shape \(999,\).*train it again"):
        old.pack(x)


def test_a_packed_model_scores_a_long_record_a_few_rows_at_a_time_with_the_same_probabilities(data):
    layout = Layout.of(data)
    net = Packed(build(VARIANTS["intermediate_gated"], data, SMALL), layout, False).eval()
    flat = layout.pack(data.test.x)
    seen: list[int] = []
    net.register_forward_hook(lambda _module, args, _out: seen.append(len(args[0])))
    whole = packed_probs(net, flat, rows=len(flat))
    assert seen == [len(flat)]
    seen.clear()
    parts = packed_probs(net, flat, rows=7)
    assert max(seen) == 7 and sum(seen) == len(flat) and len(seen) == -(-len(flat) // 7)
    np.testing.assert_allclose(parts, whole, rtol=1e-5, atol=1e-7)
    assert packed_probs(net, flat[:0]).shape == (0, whole.shape[1])  # no row: the model's width, no error


# -- metrics against scikit-learn on fixed arrays ----------------------------------------------------
Y = np.array([0, 0, 1, 1, 2, 2, 0, 1, 2, 0, 3, 3])
P = np.array(
    [
        [0.7, 0.1, 0.1, 0.1],
        [0.4, 0.3, 0.2, 0.1],
        [0.2, 0.6, 0.1, 0.1],
        [0.3, 0.3, 0.3, 0.1],
        [0.1, 0.2, 0.6, 0.1],
        [0.2, 0.2, 0.5, 0.1],
        [0.5, 0.2, 0.2, 0.1],
        [0.1, 0.7, 0.1, 0.1],
        [0.3, 0.1, 0.5, 0.1],
        [0.6, 0.2, 0.1, 0.1],
        [0.1, 0.1, 0.1, 0.7],
        [0.3, 0.2, 0.1, 0.4],
    ]
)


def test_macro_auc_and_f1_agree_with_scikit_learn():
    assert macro_auc(P, Y, False) == pytest.approx(roc_auc_score(Y, P, multi_class="ovr", average="macro"))
    assert macro_f1(P, Y, False) == pytest.approx(f1_score(Y, P.argmax(1), average="macro"))
    multi = np.array([[1, 0], [0, 1], [1, 1], [0, 0], [1, 0], [0, 1]])
    probs = np.array([[0.9, 0.2], [0.3, 0.8], [0.6, 0.7], [0.2, 0.1], [0.4, 0.3], [0.1, 0.6]])
    assert macro_auc(probs, multi, True) == pytest.approx(roc_auc_score(multi, probs, average="macro"))
    assert macro_f1(probs, multi, True) == pytest.approx(f1_score(multi, probs >= 0.5, average="macro"))


def test_aami_figures_are_recall_and_precision():
    classes = ("N", "S", "V", "F")
    got = aami(P, Y, classes, ("S", "V"))
    pred = P.argmax(1)
    assert got["se_S"] == pytest.approx(recall_score(Y, pred, labels=[1], average="macro"))
    assert got["pp_V"] == pytest.approx(precision_score(Y, pred, labels=[2], average="macro"))
    assert got["accuracy"] == pytest.approx((pred == Y).mean())


def test_the_beats_headline_is_macro_f1_over_n_s_and_v():
    """F's own F1 is not averaged into the beats headline (its rows still count as N, S or V false
    positives); evaluate reports it beside the all-class macro-F1 under the name the comparison looks it
    up by; a multi-label task cannot restrict it."""
    spec = replace(BEATS, classes=("N", "S", "V", "F"))
    metric = headline(spec)
    assert metric(P, Y) == pytest.approx(f1_score(Y, P.argmax(1), labels=[0, 1, 2], average="macro"))
    assert metric(P, Y) != pytest.approx(macro_f1(P, Y, False))
    out = evaluate(P, Y, np.array(list("aabbccddeeff")), spec, n_boot=10)
    assert spec.metric_key == "macro_f1_N_S_V" and out[spec.metric_key].value == pytest.approx(metric(P, Y))
    with pytest.raises(ValueError, match="single-label macro_f1 only"):
        replace(BEATS, multilabel=True)
    with pytest.raises(ValueError, match=r"metric classes \['X'\]"):
        replace(BEATS, metric_classes=("N", "X"))


def test_bootstrap_intervals_hold_the_point_and_resample_patients():
    groups = np.array(list("aabbccddeeff"))
    spec = replace(BEATS, classes=("N", "S", "V", "F"))
    out = evaluate(P, Y, groups, spec, n_boot=100)
    assert out["macro_f1"].lo <= out["macro_f1"].value <= out["macro_f1"].hi
    assert {"accuracy", "se_S", "pp_S", "se_V", "pp_V"} <= out.keys() and "se_F" not in out
    one_group = bootstrap(lambda r: {"n": len(r)}, np.zeros(12), n_boot=5)
    assert one_group["n"] == (12, 12)  # one patient: every draw is the whole set
    same = paired_bootstrap(P, P, Y, groups, lambda p, y: macro_f1(p, y, False), n_boot=50)
    assert same == Interval(0.0, 0.0, 0.0)


def test_intermediate_fusion_warm_starts_from_the_single_encoders(data):
    seed_everything(0)
    singles = {m: build(VARIANTS[m], data, SMALL) for m in ("time", "frequency", "spectrogram")}
    fused = intermediate(build(VARIANTS["intermediate_concat"], data, SMALL))
    fused.warm_start(singles)
    for m, single in singles.items():
        for k, v in fused.encoders[m].state_dict().items():
            assert torch.equal(v, single_net(single).state_dict()[k]), (m, k)


@pytest.mark.parametrize("encoders", ["frozen", "fine_tune"])
def test_intermediate_fusion_keeps_or_tunes_the_single_encoders(data, encoders):
    from ecgnet.comparison import fit_variant

    seed_everything(0)
    singles = {m: build(VARIANTS[m], data, SMALL) for m in MODALITIES}
    cfg = ComparisonConfig(model=SMALL, train=TrainConfig(epochs=2, batch_size=64), intermediate_encoders=encoders)
    untrained = intermediate(build(VARIANTS["intermediate_gated"], data, SMALL)).head.state_dict()
    trained, history, fitted = fit_variant(VARIANTS["intermediate_gated"], data, cfg, singles, None, None)
    model = intermediate(trained)
    kept = [
        torch.equal(v, single_net(singles[m]).state_dict()[k])
        for m in MODALITIES
        for k, v in model.encoders[m].state_dict().items()
    ]
    assert all(kept) if encoders == "frozen" else not all(kept)
    assert len(history) == 2 and not all(torch.equal(v, untrained[k]) for k, v in model.head.state_dict().items())
    x = {m: {k: v[:16] for k, v in inp.items()} for m, inp in tensors(data.val).items()}
    with torch.no_grad():  # the head trained on cached embeddings is the head of the whole model
        direct = model.fusion_head()({"embedding": {"embedding": model.embed(x)}})
        torch.testing.assert_close(model(x), direct)
    with pytest.raises(ValueError, match="train .* first"):
        fit_variant(VARIANTS["intermediate_concat"], data, cfg, None, None, None)


def test_per_class_metrics_agree_with_scikit_learn():
    from ecgnet.evaluate import point_metrics

    got = point_metrics(P, Y, ("N", "S", "V", "F"), False)
    f1s = f1_score(Y, P.argmax(1), average=None)
    for c, name in enumerate(("N", "S", "V", "F")):
        assert got[f"f1_{name}"] == pytest.approx(f1s[c])
        assert got[f"auc_{name}"] == pytest.approx(roc_auc_score(c == Y, P[:, c]))


def test_late_variants_are_scored_out_of_fold_on_validation():
    """A combiner scored on the rows it was fitted on flatters itself; out-of-fold rows do not."""
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(5), size=(80, 3)).astype(np.float32)  # (rows, modalities, classes)
    y = rng.integers(0, 5, 80)  # labels unrelated to the probabilities: chance is all there is
    groups = np.repeat(np.arange(8), 10)
    stacker = VARIANTS["late_stacker"]
    score = lambda p, t: macro_f1(p, t, False)  # noqa: E731
    combine, _ = fit_late(stacker, probs, y, False, score)
    in_sample = combine_probs(combine, probs, False)
    oof = cross_fit_late(stacker, probs, y, groups, False, score)
    np.testing.assert_allclose(oof.sum(axis=1), 1.0, rtol=1e-5)  # every row was predicted once
    assert score(oof, y) < score(in_sample, y) - 0.1  # measured 0.235 against 0.443


def test_task_data_saved_once_is_read_back_identical(data, tmp_path):
    """The training-data asset splits once; every model step maps the same arrays back in."""
    data.save(tmp_path)
    back = TaskData.load(tmp_path, BEATS)
    assert back.spec is BEATS and back.versions == data.versions
    for name in ("train", "val", "test"):
        a, b = data.split(name), back.split(name)
        np.testing.assert_array_equal(a.y, b.y)
        assert a.ids.astype(str).tolist() == b.ids.tolist() and a.groups.astype(str).tolist() == b.groups.tolist()
        for m, inp in a.x.items():
            for k, v in inp.items():
                np.testing.assert_array_equal(v, b.x[m][k])
    with pytest.raises(ValueError, match="holds task 'beats'"):
        TaskData.load(tmp_path, replace(BEATS, name="other"))


def test_ranking_agreement_is_kendall_tau_of_validation_against_test():
    from types import SimpleNamespace

    from ecgnet.report import ranking_agreement

    def results(val, test):
        return {
            f"v{i}": SimpleNamespace(val=Interval(v, v, v), test={BEATS.metric_key: Interval(t, t, t)})
            for i, (v, t) in enumerate(zip(val, test, strict=True))
        }

    empty = Split({}, np.zeros(0), np.zeros(0), np.zeros(0))
    data = TaskData(BEATS, empty, empty, empty, {})  # ranking_agreement reads only the task's spec
    assert ranking_agreement(results([0.1, 0.5, 0.9], [0.2, 0.4, 0.8]), data) == pytest.approx(1.0)
    assert ranking_agreement(results([0.1, 0.5, 0.9], [0.8, 0.4, 0.2]), data) == pytest.approx(-1.0)
    assert ranking_agreement(results([0.3, 0.1, 0.2, 0.4], [0.1, 0.2, 0.3, 0.4]), data) == pytest.approx(1 / 3)
    # two variants that tie on test but for an ulp (a sum in another order) are tied, not ordered by it:
    # tau-b of a full order against one with a tie
    ulp = results([0.1, 0.5, 0.9], [0.2, 0.4 + 1e-15, 0.4])
    assert ranking_agreement(ulp, data) == pytest.approx(
        ranking_agreement(results([0.1, 0.5, 0.9], [0.2, 0.4, 0.4]), data)
    )
    assert ranking_agreement(ulp, data) == pytest.approx(2 / np.sqrt(6))


def test_the_ranking_agreement_interval_resamples_patients_and_spans_zero_only_for_noise():
    """Variants whose skill differs keep their order in every resample of either split's patients (the
    interval sits near +1, or near -1 when test reverses validation); variants of equal skill trade
    places from draw to draw, so their interval holds 0. Cross-validated, validation is every development
    row (train and val), as the variants were scored on them; rows that are not these give NaN."""
    from types import SimpleNamespace

    from ecgnet.report import ranking_agreement_interval

    rng = np.random.default_rng(0)

    def split(first_patient, patients=12, beats=60):
        y = rng.integers(0, 3, patients * beats)  # N, S, V
        return Split({}, y, np.arange(len(y)), np.repeat(np.arange(patients), beats) + first_patient)

    def probs(y, accuracy):  # the true class for `accuracy` of the rows, another of N, S, V elsewhere
        guess = np.where(rng.random(len(y)) < accuracy, y, (y + rng.integers(1, 3, len(y))) % 3)
        return np.eye(len(BEATS.classes), dtype=np.float32)[guess]

    data = TaskData(BEATS, split(0), split(100), split(200), {})
    one_split, cross_validated = ComparisonConfig(n_boot=50), ComparisonConfig(n_boot=50, folds=2)

    def results(val_skill, test_skill, val_y=data.val.y):
        return {
            f"v{i}": SimpleNamespace(val_probs=probs(val_y, a), test_probs=probs(data.test.y, b))
            for i, (a, b) in enumerate(zip(val_skill, test_skill, strict=True))
        }

    apart, reversed_ = [0.9, 0.7, 0.5, 0.35], [0.35, 0.5, 0.7, 0.9]
    lo, hi = ranking_agreement_interval(results(apart, apart), data, one_split)
    assert 0.6 < lo <= hi <= 1.0
    lo, hi = ranking_agreement_interval(results(apart, reversed_), data, one_split)
    assert -1.0 <= lo <= hi < -0.6
    lo, hi = ranking_agreement_interval(results([0.6] * 4, [0.6] * 4), data, one_split)
    assert lo < 0 < hi
    development = np.concatenate([data.train.y, data.val.y])
    lo, hi = ranking_agreement_interval(results(apart, apart, development), data, cross_validated)
    assert 0.6 < lo <= hi <= 1.0
    assert all(np.isnan(ranking_agreement_interval(results(apart, apart), data, cross_validated)))
    assert all(np.isnan(ranking_agreement_interval(results([0.6], [0.6]), data, one_split)))


def _poisoned(data: TaskData) -> TaskData:
    """The same task data with the test split's features replaced by noise and its labels shuffled."""
    rng = np.random.default_rng(1)
    x = {
        m: {k: rng.standard_normal(v.shape).astype(np.float32) for k, v in inp.items()}
        for m, inp in data.test.x.items()
    }
    test = replace(data.test, x=x, y=rng.permutation(data.test.y))
    return replace(data, test=test)


@pytest.mark.parametrize(("folds", "n_seeds"), [(1, 1), (2, 2)])
def test_nothing_trained_fitted_or_chosen_depends_on_the_test_split(data, folds, n_seeds):
    """DS2 is only scored: every variant trains, stops, fits and is chosen the same when the test split
    is replaced by noise, with one fit or with patient-grouped cross-validation (two seeds a fold: each
    seed's fold ensemble is scored on test alone, and that too stays out of what was fitted)."""
    cfg = ComparisonConfig(
        model=SMALL, train=TrainConfig(epochs=2, batch_size=64), n_boot=5, folds=folds, seeds=n_seeds
    )
    runs = {}
    for name, task_data in (("real", data), ("poisoned", _poisoned(data))):
        results: dict[str, VariantResult] = {}
        for variant in VARIANTS:  # dependency order
            results[variant] = train_variant(variant, task_data, cfg, upstream=results)
        runs[name] = results
    for variant, real in runs["real"].items():
        other = runs["poisoned"][variant]
        assert real.val == other.val and real.fitted == other.fitted, variant
        assert [h["val_metric"] for h in real.history] == [h["val_metric"] for h in other.history], variant
        a, b = real.model.state_dict(), other.model.state_dict()
        assert all(torch.equal(a[k], b[k]) if torch.is_tensor(a[k]) else a[k] == b[k] for k in a), variant
        assert not np.array_equal(real.test_probs, other.test_probs), variant  # the poison did reach scoring
        assert real.test_per_seed != other.test_per_seed or not real.test_per_seed, variant  # as it did here
    seeded = [v for v, r in runs["real"].items() if r.test_per_seed]
    assert seeded == (
        ["time", "frequency", "spectrogram", "early", "intermediate_concat", "intermediate_gated"]
        if n_seeds > 1
        else []
    )
    tasks = {"real": data, "poisoned": _poisoned(data)}
    chosen = {name: select(results, tasks[name], cfg) for name, results in runs.items()}
    assert chosen["real"] == chosen["poisoned"]  # best, chosen and every paired gap on validation


def test_the_classical_reference_is_scikit_learns_lda_as_one_linear_layer(data):
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    from ecgnet.classical import fit_reference

    model = reference(build(VARIANTS["classical"], data, SMALL))
    fitted = fit_reference(model, data)
    with torch.no_grad():
        train_x, test_x = (model.features(tensors(s)).double().numpy() for s in (data.train, data.test))
        probs = activation(model(tensors(data.test)), False).numpy()
    mean, std = train_x.mean(axis=0), train_x.std(axis=0)
    std[std <= 1e-8] = 1.0
    present = np.unique(data.train.y)
    lda = LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto", priors=np.full(len(present), 1 / len(present)))
    expected = lda.fit((train_x - mean) / std, data.train.y).predict_proba((test_x - mean) / std)
    np.testing.assert_allclose(probs[:, present], expected, atol=1e-4)
    assert fitted["classes_fitted"] == len(present) and probs[:, np.setdiff1d(range(5), present)].max() < 1e-6
    layout = Layout.of(data)  # exported like every variant: one flat input, probabilities out
    flat = torch.from_numpy(layout.pack({m: {k: v[:4] for k, v in inp.items()} for m, inp in data.test.x.items()}))
    np.testing.assert_allclose(Packed(model, layout, False)(flat).detach().numpy(), probs[:4], rtol=1e-5, atol=1e-6)
    # morphology "none": the time view's scalars alone (RR and record-relative descriptors)
    scalars_only = reference(build(VARIANTS["classical"], data, replace(SMALL, morphology="none")))
    fit_reference(scalars_only, data)
    with torch.no_grad():
        width = scalars_only.features(tensors(data.test)).shape[1]
    assert width == np.prod(data.test.x["time"]["scalars"].shape[1:]) < train_x.shape[1]


def test_a_class_with_one_training_row_is_named_in_the_log_not_left_to_scikit_learns_warning(caplog):
    import warnings

    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    from ecgnet.classical import equal_prior_lda

    rng = np.random.default_rng(0)
    z, y = rng.standard_normal((41, 4)), np.array([0] * 20 + [2] * 20 + [1])  # one S row
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning left would fail here
        with caplog.at_level("WARNING", logger="ecgnet.classical"):
            lda = equal_prior_lda(z, y, ("N", "S", "V"))
    assert "class ['S'] has one training row" in caplog.text
    with pytest.warns(UserWarning, match="Only one sample"):  # what scikit-learn alone says
        plain = LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto", priors=np.full(3, 1 / 3)).fit(z, y)
    np.testing.assert_allclose(lda.coef_, plain.coef_)  # the same discriminant
    caplog.clear()
    equal_prior_lda(z[:40], y[:40])
    assert "one training row" not in caplog.text


def test_the_classical_waves_sample_the_same_moments_of_a_beat_whatever_the_time_windows_start():
    from ecgnet.classical import WAVE_TIMES_S, morphology_index

    fs = 360.0
    default = morphology_index(round(0.7 * fs), "waves", beats=True)  # ingest's window: 0.25 s before the R peak
    wide = morphology_index(round(1.05 * fs), "waves", beats=True, before_s=0.6)
    np.testing.assert_array_equal(wide - default, round(0.35 * fs))  # the same moments, 0.35 s further in
    assert len(default) == len(WAVE_TIMES_S)


def test_patient_folds_put_each_patient_in_one_fold():
    from ecgnet.crossval import patient_folds

    groups = np.repeat([f"p{i}" for i in range(22)], 3)
    fold = patient_folds(groups, 5, seed=0)
    for p in set(groups):
        assert len(set(fold[groups == p])) == 1
    sizes = np.bincount(fold) // 3  # patients per fold
    assert sizes.max() - sizes.min() <= 1 and len(sizes) == 5
    assert fold.tolist() == patient_folds(groups, 5, seed=0).tolist()  # stable
    with pytest.raises(ValueError, match="5 folds need at least 5 patients"):
        patient_folds(groups[:9], 5, seed=0)


def test_stratified_patient_folds_spread_a_rare_class_that_random_folds_bunch():
    from ecgnet.crossval import patient_folds

    # ten patients, four of whom hold the rare class (1), each with 20 rows
    groups = np.repeat([f"p{i}" for i in range(10)], 20)
    y = np.zeros(len(groups), dtype=np.int64)
    for p in ("p0", "p1", "p2", "p3"):
        y[np.flatnonzero(groups == p)[:5]] = 1
    y[-2:] = 2  # a class with fewer rows than folds (p9): placed where it falls, no warning raised
    fold = patient_folds(groups, 4, seed=0, y=y)
    for p in set(groups):
        assert len(set(fold[groups == p])) == 1  # whole patients
    assert np.bincount(fold[y == 1], minlength=4).tolist() == [5, 5, 5, 5]  # one rare-class patient a fold
    assert fold.tolist() == patient_folds(groups, 4, seed=0, y=y).tolist()  # stable
    # dealt at random, some seed puts two of the four in one fold and leaves another fold without any
    bunched = [s for s in range(20) if np.bincount(patient_folds(groups, 4, seed=s)[y == 1], minlength=4).min() == 0]
    assert bunched
    with pytest.raises(ValueError, match="one label per row"):
        patient_folds(groups, 4, seed=0, y=np.zeros((len(groups), 3)))


def test_cross_validated_variants_are_scored_out_of_fold_and_tested_as_fold_ensembles(data, tmp_path):
    from ecgnet.crossval import FoldEnsemble, development
    from ecgnet.results import load_result, save_result

    cfg = ComparisonConfig(model=SMALL, train=TrainConfig(epochs=1, batch_size=64), n_boot=5, folds=2)
    dev = development(data)
    results: dict[str, VariantResult] = {}
    for variant in ("time", "frequency", "spectrogram", "intermediate_gated", "late_average", "classical"):
        results[variant] = train_variant(variant, data, cfg, upstream=results)
    time_ = results["time"]
    assert isinstance(time_.model, FoldEnsemble) and len(time_.model.members) == 2
    assert time_.val_probs.shape == (len(dev), 5)  # every DS1 row predicted once, by the member that did not see it
    assert time_.fitted["folds"] == 2 and len(time_.fitted["cv_metric_per_fold"]) == 2
    assert {h["fold"] for h in time_.history} == {0, 1}
    with torch.no_grad():  # the ensemble's test probabilities are its members' mean
        x = tensors(data.test)
        members = torch.stack([activation(m(x), False) for m in time_.model.members]).mean(dim=0).numpy()
    if time_.offsets is not None:  # kept where their cross-fitted gain is beyond noise
        members = apply_offsets(members, time_.offsets)
    np.testing.assert_allclose(time_.test_probs, members, rtol=1e-4, atol=1e-6)
    assert (
        results["late_average"].val_probs.shape == (len(dev), 5) and "gate_time" in results["intermediate_gated"].fitted
    )
    save_result(time_, tmp_path)
    back = load_result("time", data, cfg, tmp_path)
    with torch.no_grad():
        np.testing.assert_allclose(activation(back.deployed(x), False).numpy(), time_.test_probs, rtol=1e-5, atol=1e-5)
    table = comparison_table(results, data, cfg)
    assert "cv_mean_sd" in table.columns and "±" in table.filter(table["variant"] == "time")["cv_mean_sd"][0]
    best = max(results, key=lambda n: results[n].val.value)
    column = table[f"val_vs_{best}"].to_list()  # every variant against the best, on DS1 patients only
    assert column[list(results).index(best)] == "(best)" and all("[" in c for c in column if c != "(best)")
    selection = select(results, data, cfg)  # parsimony: the smallest variant the best does not beat beyond noise
    assert selection.best == best and table.filter(table["chosen"])["variant"].to_list() == [selection.chosen]
    tied = [best] + [n for n, gap in selection.gap_to_best.items() if gap.hi >= 0]
    assert selection.chosen == min(tied, key=lambda n: results[n].n_params)
    assert select(results, data, replace(cfg, selection="best")).chosen == best


def test_seeds_give_each_fold_members_of_their_own_seed_averaged_out_of_fold(data, tmp_path):
    """`seeds` = 2: two members a fold, from different seeds, whose mean is the fold's out-of-fold
    prediction; the first is the one-seed comparison's member; intermediate members warm-start from the
    single members of their own fold and seed; the classical fit and the variants `one_seed` names keep
    one a fold (later seeds' fusion members build on it); saved and loaded."""
    from ecgnet.results import load_result, save_result

    # offsets kept whatever their gain, so that each seed's own are fitted and used
    one = ComparisonConfig(
        model=SMALL, train=TrainConfig(epochs=1, batch_size=64), n_boot=5, folds=2, offsets_min_gain=-1.0
    )
    two = replace(one, seeds=2, one_seed=("spectrogram",))
    results: dict[str, VariantResult] = {}
    for variant in ("time", "frequency", "spectrogram", "intermediate_concat", "classical"):
        results[variant] = train_variant(variant, data, two, upstream=results)
    time_ = results["time"]
    assert len(fold_members(time_.model)) == 4 and time_.fitted["members_per_fold"] == 2
    assert {(h["fold"], h["seed"]) for h in time_.history} == {(0, 0), (0, 1), (1, 0), (1, 1)}
    single = train_variant("time", data, one)
    first, second = (m.state_dict() for m in fold_members(time_.model)[:2])
    single_first = fold_members(single.model)[0].state_dict()
    assert all(torch.equal(first[k], single_first[k]) for k in first)  # seed 0 as before
    assert any(not torch.equal(first[k], second[k]) for k in first)  # another seed, another model
    assert time_.raw_val_probs is not None and single.raw_val_probs is not None
    assert not np.allclose(time_.raw_val_probs, single.raw_val_probs)  # the fold's seeds averaged
    # each seed's fold ensemble scored alone and decided as that seed alone decides: seed 0's is the
    # one-seed run, its offsets, validation figure and test figures
    key, per_seed, own = data.spec.metric_key, time_.test_per_seed, time_.fitted[seeds.OFFSETS_KEY]
    assert len(own) == 2 and own[0] == single.fitted["offsets"] and own[1] is not None
    assert len(time_.fitted[seeds.CV_KEY]) == 2
    assert time_.fitted[seeds.CV_KEY][0] == pytest.approx(single.val.value, abs=1e-4)
    assert single.fitted["val_metric_offsets"] == pytest.approx(single.val.value, abs=1e-4)  # cross-fitted
    for m in ("accuracy", "se_S", "se_V", key):
        assert per_seed[m][0] == pytest.approx(single.test[m].value, abs=1e-4, nan_ok=True), m
    assert len(per_seed["se_S"]) == 2 and per_seed[key][0] != per_seed[key][1]
    concat = fold_members(results["intermediate_concat"].model)
    own = single_net(fold_members(results["time"].model)[3]).state_dict()  # fold 1, seed 1
    encoder = intermediate(concat[3]).encoders["time"].state_dict()
    assert len(concat) == 4 and all(torch.equal(encoder[k], own[k]) for k in encoder)  # its own fold and seed's
    spectrogram = results["spectrogram"]
    assert len(fold_members(spectrogram.model)) == 2 and spectrogram.fitted["members_per_fold"] == 1
    assert {h["seed"] for h in spectrogram.history} == {0}
    kept = single_net(fold_members(spectrogram.model)[1]).state_dict()  # fold 1's only member
    encoder = intermediate(concat[3]).encoders["spectrogram"].state_dict()
    assert all(torch.equal(encoder[k], kept[k]) for k in encoder)
    assert len(fold_members(results["classical"].model)) == 2
    assert seeds.CV_KEY not in {*spectrogram.fitted, *results["classical"].fitted}  # one member a fold
    assert not spectrogram.test_per_seed and not results["classical"].test_per_seed
    table = comparison_table(results, data, two).filter(pl.col("variant").is_in(["time", "spectrogram"]))
    assert table["cv_by_seed"].to_list() == [seeds.by_seed(time_.fitted[seeds.CV_KEY]), ""]
    assert table[f"{key}_by_seed"][0].count(" / ") == 1 and table[f"{key}_by_seed"][1] == ""
    logged = seeds.seed_metrics(time_.fitted, time_.test_per_seed)
    assert set(logged) >= {"cv_metric_seed1", f"test_{key}_seed0", "test_se_S_seed1"}
    save_result(time_, tmp_path)
    back = load_result("time", data, two, tmp_path)
    assert len(fold_members(back.model)) == 4 and back.test_per_seed[key] == per_seed[key]
    with pytest.raises(ValueError, match="not 2 folds x 1 seeds"):
        singles = {n: results[n] for n in ("time", "frequency", "spectrogram")}
        train_variant("intermediate_concat", data, one, upstream=singles)
    with pytest.raises(ValueError, match="above 1 only with folds > 1"):
        replace(one, folds=1, seeds=2)
    with pytest.raises(ValueError, match=r"unknown variants \['spectral'\]"):
        replace(two, one_seed=("spectral",))


def test_decision_offsets_are_kept_only_when_they_help_across_patients(data):
    """The classical variant (closed form, fast) with the gain rule at both extremes: offsets always
    kept (the decided test probabilities are the argmax ones shifted) or never (plain argmax)."""
    from ecgnet.decisions import apply_offsets

    always, never = (
        train_variant("classical", data, ComparisonConfig(model=SMALL, n_boot=5, offsets_min_gain=gain))
        for gain in (-1.0, 1.0)
    )
    assert never.offsets is None and "offsets" not in never.fitted
    assert never.fitted["val_metric_argmax"] == always.fitted["val_metric_argmax"]
    assert always.offsets is not None and set(always.fitted["offsets"]) == set(data.classes)
    np.testing.assert_allclose(always.test_probs, apply_offsets(never.test_probs, always.offsets), atol=1e-5)
    assert always.raw_val_probs is not None
    np.testing.assert_allclose(always.raw_val_probs, never.val_probs)
    np.testing.assert_allclose(always.combinable_test_probs, never.test_probs)  # what a late combiner reads


def test_a_result_saved_without_raw_test_probabilities_gets_them_from_its_model(data, tmp_path):
    """Results saved before the raw test probabilities were (and the late and ensemble variants read
    them) load with the model's own test probabilities, not the offset ones."""
    from ecgnet.results import load_result, save_result

    cfg = ComparisonConfig(model=SMALL, n_boot=5, offsets_min_gain=-1.0)
    result = train_variant("classical", data, cfg)
    assert result.offsets is not None
    save_result(result, tmp_path)
    saved = dict(np.load(tmp_path / "classical.npz"))
    np.savez(tmp_path / "classical.npz", **{k: v for k, v in saved.items() if k != "raw_test"})
    back = load_result("classical", data, cfg, tmp_path)
    np.testing.assert_allclose(back.combinable_test_probs, result.combinable_test_probs, rtol=1e-5, atol=1e-6)
    assert not np.allclose(back.combinable_test_probs, back.test_probs)


def test_a_result_saved_before_calibration_was_scored_gets_it_from_its_saved_probabilities(data, tmp_path):
    """A comparison resumed across an upgrade (a run re-executed from failure) reads variants saved by the
    code before: their calibration is scored from the saved test probabilities, as `score` scores it."""
    import json

    from ecgnet.results import load_result, save_result

    cfg = ComparisonConfig(model=SMALL, n_boot=5)
    result = train_variant("classical", data, cfg)
    save_result(result, tmp_path)
    scores = json.loads((tmp_path / "classical.json").read_text())
    calibration = [k for k in scores["test"] if k.startswith(("brier", "ece"))]
    assert {"brier", "ece", "ece_S", "brier_V"} <= set(calibration)
    scores["test"] = {k: v for k, v in scores["test"].items() if k not in calibration}
    (tmp_path / "classical.json").write_text(json.dumps(scores))
    back = load_result("classical", data, cfg, tmp_path)
    assert back.test.keys() == result.test.keys()
    for key, got in back.test.items():  # the same figures, NaN where a class is absent
        want = result.test[key]
        np.testing.assert_array_equal([got.value, got.lo, got.hi], [want.value, want.lo, want.hi], err_msg=key)


def test_the_fusion_ensemble_is_its_members_mean_and_every_variant_reloads_as_it_predicted(data, tmp_path):
    """The ensemble's validation probabilities are its members' (before their offsets) averaged, its
    model predicts their mean, it refuses to run without its members, and late and ensemble variants
    come back from disk as the models that were scored."""
    from ecgnet.results import load_result, save_result
    from ecgnet.variants import FUSION

    cfg = ComparisonConfig(model=SMALL, train=TrainConfig(epochs=1, batch_size=64), n_boot=5)
    results: dict[str, VariantResult] = {}
    for variant in (*MODALITIES, *FUSION):
        results[variant] = train_variant(variant, data, cfg, upstream=results)
    with pytest.raises(ValueError, match=r"fix: train \['late_stacker'\] first"):
        train_variant("fusion_ensemble", data, cfg, upstream={k: v for k, v in results.items() if k != "late_stacker"})
    ensemble = train_variant("fusion_ensemble", data, cfg, upstream=results)
    members = [results[n] for n in FUSION]
    mean_val = np.mean([m.combinable_val_probs for m in members], axis=0)
    # the model's rule (the mean, clamped away from 0 and renormalised) on validation as on test
    np.testing.assert_allclose(ensemble.combinable_val_probs, mean_val, atol=1e-6)
    np.testing.assert_array_equal(
        ensemble.combinable_val_probs, mean_probs(np.stack([m.combinable_val_probs for m in members]), False)
    )
    raw = np.mean([predict_probs(m.model, data.test, False) for m in members], axis=0)
    np.testing.assert_allclose(predict_probs(ensemble.model, data.test, False), raw, rtol=1e-4, atol=1e-6)
    assert ensemble.fitted["members"] == list(FUSION)
    # late and ensemble variants are scored from what their parts predicted on test: what the model says
    for result in (results["late_average"], results["late_stacker"], ensemble):
        ran = predict_probs(result.model, data.test, False)
        np.testing.assert_allclose(result.combinable_test_probs, ran, rtol=1e-5, atol=1e-6)
    for name, result in (("late_stacker", results["late_stacker"]), ("fusion_ensemble", ensemble)):
        save_result(result, tmp_path)
        back = load_result(name, data, cfg, tmp_path)
        np.testing.assert_allclose(predict_probs(back.deployed, data.test, False), result.test_probs, atol=1e-5)


def test_per_patient_figures_are_each_patients_own_and_show_where_a_pooled_sensitivity_is_lost(data):
    from ecgnet.comparison import VariantResult
    from ecgnet.report import chosen_per_patient, per_patient_plot, per_patient_table

    rng = np.random.default_rng(0)
    y, groups = np.array([0, 1, 1, 1, 0, 2, 1, 0, 0, 2]), np.array(list("aaaabbbbcc"))
    said = np.array([0, 1, 1, 0, 0, 2, 0, 1, 0, 0])  # a: 2 of 3 S found; b: its S missed, an N called S
    probs = np.eye(5, dtype=np.float32)[said] * 0.9 + 0.02
    test = data.test.take(np.arange(len(y)))
    # patient b, one man with two records (as MIT-BIH's 201 and 202)
    ids = np.array([f"{r}:{i * 360}" for i, r in enumerate(["x1"] * 4 + ["202", "201", "202", "201"] + ["x3:a"] * 2)])
    test = replace(test, y=y, groups=groups, ids=ids)
    scored = replace(data, test=test)
    interval = Interval(0.5, 0.4, 0.6)
    results = {
        name: VariantResult(VARIANTS[name], torch.nn.Identity(), p, p, interval, {}, 1, 0.0)
        for name, p in (("time", probs), ("early", rng.dirichlet(np.ones(5), len(y)).astype(np.float32)))
    }
    table = per_patient_table(results, scored)
    assert table.shape[0] == 2 * 3 and set(table["patient"]) == {"a", "b", "c"}
    mine = {r["patient"]: r for r in table.filter(table["variant"] == "time").to_dicts()}
    assert mine["a"]["n_S"] == 3 and mine["a"]["se_S"] == pytest.approx(2 / 3) and mine["a"]["beats"] == 4
    assert mine["b"]["se_S"] == 0.0 and mine["b"]["se_V"] == 1.0 and np.isnan(mine["c"]["se_S"])
    assert mine["a"]["pp_S"] == 1.0 and mine["b"]["pp_S"] == 0.0 and mine["c"]["se_V"] == 0.0
    assert [mine[p]["records"] for p in "abc"] == ["x1", "201 202", "x3:a"]  # a record id may hold ':'
    for patient, row in mine.items():  # each patient's figures are aami's on its rows alone
        rows = groups == patient
        assert row["accuracy"] == pytest.approx(aami(probs[rows], y[rows], BEATS.classes, ("S", "V"))["accuracy"])
    shown = chosen_per_patient(table, "time")
    assert shown["patient"].to_list() == ["a", "b", "c"] and "variant" not in shown.columns  # most S beats first
    png = per_patient_plot(table, scored, "time", min_beats=1)
    assert png is not None and png[:4] == b"\x89PNG"
    assert per_patient_plot(table, scored, "time", min_beats=4) is None  # no patient has 4 S or V beats
    # on validation: the probabilities each variant is judged by there, its own patients
    on_val = per_patient_table(results, replace(scored, val=test, test=data.test), "val")
    assert on_val.drop("records").equals(table.drop("records"))  # the same rows and probabilities, as val
    png = per_patient_plot(on_val, scored, "time", min_beats=1, split="val")
    assert png is not None and png[:4] == b"\x89PNG"
    # cross-validated, a variant is judged on every development row (train and val): those are the rows
    twice = {n: replace(r, val_probs=np.concatenate([r.val_probs, r.val_probs])) for n, r in results.items()}
    development = replace(scored, train=test, val=test, test=data.test)
    crossed = per_patient_table(twice, development, "val", ComparisonConfig(folds=2))
    once = table.filter(table["variant"] == "time")["beats"].to_list()
    assert crossed.filter(crossed["variant"] == "time")["beats"].to_list() == [2 * n for n in once]  # twice over
    with pytest.raises(ValueError, match="20 rows of probabilities for 10 labels; fix: score the rows"):
        per_patient_table(twice, development, "val")  # one split: its rows are not those the probabilities cover
    with pytest.raises(ValueError, match="split"):
        per_patient_table(results, scored, "train")
    multilabel = replace(scored, spec=RECORDS)
    empty = per_patient_table(results, multilabel)
    assert empty.is_empty() and per_patient_plot(empty, multilabel, "time") is None


def test_a_rhythm_strip_is_an_input_where_the_view_has_one_and_the_time_encoder_reads_it(data):
    from ecgnet.data import modality_inputs, view_of

    cols = {"waveform": np.zeros((3, 2, 252), np.float32), "rhythm": np.zeros((3, 10), np.float32)}
    cols |= {"moments": np.zeros((3, 2, 4), np.float32), "qrs_energy": np.zeros((3, 2), np.float32)}
    features = {view_of("beats", "time"): cols}
    assert set(modality_inputs(features, "beats", ("time",))["time"]) == {"waveform", "scalars"}
    cols["strip"] = np.zeros((3, 2, 180), np.float32)
    assert modality_inputs(features, "beats", ("time",))["time"]["strip"].shape == (3, 2, 180)
    # the same task data with a strip (the context window at 90 Hz: 180 samples) beside the beat
    strip = {
        s: np.random.default_rng(0).normal(size=(len(getattr(data, s)), 2, 180)).astype(np.float32)
        for s in ("train", "val")
    }
    with_strip = replace(
        data,
        train=replace(data.train, x={**data.train.x, "time": {**data.train.x["time"], "strip": strip["train"]}}),
        val=replace(data.val, x={**data.val.x, "time": {**data.val.x["time"], "strip": strip["val"]}}),
    )
    plain, read = time_net(build(VARIANTS["time"], data, SMALL)), time_net(build(VARIANTS["time"], with_strip, SMALL))
    assert plain.strip is None and read.strip is not None
    assert read.proj.in_features == plain.proj.in_features + read.strip.width
    x = {k: torch.from_numpy(np.asarray(v[:8])) for k, v in with_strip.train.x["time"].items()}
    read.eval()
    with torch.no_grad():
        before = read(x)
        x["strip"] = x["strip"] + 1.0
        assert before.shape == (8, len(BEATS.classes)) and not torch.allclose(before, read(x))


def test_class_weights_are_inverse_frequency_to_a_power(data):
    from ecgnet.train import loss_function

    def weights(cfg: TrainConfig) -> np.ndarray:
        weight = loss_function(data, cfg, torch.device("cpu")).weight
        assert weight is not None
        return weight.numpy()

    counts = np.bincount(data.train.y, minlength=len(data.classes)).astype(np.float64)
    full = weights(TrainConfig())
    present = counts > 0
    np.testing.assert_allclose(full[present], counts.sum() / (len(counts) * counts[present]), rtol=1e-6)
    assert (full[~present] == 0).all()
    soft = weights(TrainConfig(class_weight_power=0.5))
    np.testing.assert_allclose(soft, np.sqrt(full), rtol=1e-6)
    assert loss_function(data, TrainConfig(class_weighting=False), torch.device("cpu")).weight is None
    rare = int(counts[present].min())  # the rarest class present, and every class as rare as it, weighs nothing
    few = weights(TrainConfig(min_class_rows=rare + 1))
    np.testing.assert_allclose(few, np.where(counts <= rare, 0.0, full), rtol=1e-6)
    assert (few > 0).any() and (few[counts == rare] == 0).all()


def test_a_single_variant_without_a_modality_and_a_mismatched_upstream_are_refused_by_name(data):
    from ecgnet.comparison import VariantResult, _member
    from ecgnet.variants import Variant

    with pytest.raises(ValueError, match="'loose' names no modality; fix: set its modality"):
        build(Variant("loose", "single", "a single variant that forgot its view"), data, SMALL)
    # an upstream single model trained without cross-validation, asked for by a 2-fold comparison
    plain = build(VARIANTS["time"], data, SMALL)
    none = np.zeros((0, len(data.classes)))
    result = VariantResult(VARIANTS["time"], plain, none, none, Interval(0.5, 0.4, 0.6), {}, 1, 0.1)
    with pytest.raises(ValueError, match="time was trained without cross-validation, not 2 folds x 1 seeds; fix:"):
        _member(result, 0, 0, ComparisonConfig(folds=2, seeds=1))


def test_a_split_without_a_class_the_figures_read_is_named():
    def split(*classes: str) -> Split:
        y = np.array([BEATS.classes.index(c) for c in classes])
        return Split({}, y, np.arange(len(y)), np.zeros(len(y)))

    # beats read N, S and V (the headline's classes, then the focus ones); F and Q no figure reads
    assert BEATS.scored_classes == ("N", "S", "V")
    data = TaskData(BEATS, split("N", "S", "F"), split("N", "V"), split("N", "Q"), {})
    assert data.absent_classes() == {"train": ["V"], "val": ["S"], "test": ["S", "V"]}
    # the folds re-split train and validation: together they hold all three
    assert data.absent_classes(cross_validated=True) == {"test": ["S", "V"]}
    full = split("N", "S", "V")
    assert TaskData(BEATS, full, full, full, {}).absent_classes() == {}
