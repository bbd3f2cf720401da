"""The boosted classical reference: scikit-learn's boosted trees carried into a torch module that
decides every real beat as scikit-learn does, saves, loads and exports like the other variants, and
is explained by Shapley values whose sum is the change they explain."""

from dataclasses import replace

import numpy as np
import pytest
import torch
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.utils.class_weight import compute_sample_weight

from ecgnet.classical import fit_reference
from ecgnet.config import BoostingConfig, ExplainConfig, ModelConfig
from ecgnet.explain import attribute, explain, train_baseline
from ecgnet.export import Layout, Packed
from ecgnet.fusion import activation, build
from ecgnet.train import tensors
from ecgnet.trees import TreeEnsemble, boosted_forest, float32_floor
from ecgnet.variants import VARIANTS
from feature_store.tasks import RecordWindows
from tests.nets import reference

pytestmark = pytest.mark.heavy

FAST = ModelConfig(boosting=BoostingConfig(rounds=40, leaves=15))


@pytest.fixture(scope="module")
def data(beat_task_sample):
    return beat_task_sample(300)


def _scalars(split) -> np.ndarray:
    return np.asarray(split.x["time"]["scalars"], np.float32).reshape(len(split), -1)


def _tree_module(trees, outputs, n_classes, bias) -> TreeEnsemble:
    forest, base = boosted_forest(trees, outputs)
    module = TreeEnsemble(n_classes)
    module.set_forest(forest, bias(base))
    return module


def test_the_tree_module_decides_real_beats_as_scikit_learn_does(data):
    x, test = _scalars(data.train), _scalars(data.test)
    # the sample's train patient has N and S beats; split by the first RR column they make three or
    # four classes, as many trees a round (the labels are beside the point: the decisions must agree)
    y = 2 * np.asarray(data.train.y) + (x[:, 0] > np.median(x[:, 0]))
    test[::5, 3] = np.nan  # a missing value takes the branch the fit chose for missing values
    trees = HistGradientBoostingClassifier(max_iter=30, max_leaf_nodes=15, random_state=0).fit(x, y)
    present = trees.classes_
    assert len(present) >= 3
    module = _tree_module(trees, present, 5, lambda base: _multiclass_bias(base, present))
    with torch.no_grad():
        logits = module(torch.from_numpy(test)).numpy()
    np.testing.assert_allclose(logits[:, present], trees.decision_function(test), atol=1e-4)
    assert logits[:, np.setdiff1d(range(5), present)].max() == -30.0
    # two classes: one tree a round, the log-odds of the second
    two = np.isin(y, present[:2])
    binary = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(x[two], y[two])
    module = _tree_module(binary, present[1:2], 5, lambda base: _binary_bias(base, present[:2]))
    with torch.no_grad():
        probs = activation(module(torch.from_numpy(test)), False).numpy()
    np.testing.assert_allclose(probs[:, present[:2]], binary.predict_proba(test), atol=1e-5)


def _multiclass_bias(base, present):
    out = np.full(5, -30.0)
    out[present] = base
    return out


def _binary_bias(base, pair):
    out = np.full(5, -30.0)
    out[pair[0]], out[pair[1]] = 0.0, base[0]
    return out


def test_thresholds_become_the_float32_below_them():
    t = np.array([0.1, 1.0, -0.30000001, 2.5000001])
    floor = float32_floor(t)
    assert floor.dtype == np.float32 and np.all(floor.astype(np.float64) <= t)
    assert np.all(np.nextafter(floor, np.float32(np.inf)).astype(np.float64) > t)  # the largest such float32
    assert floor[1] == np.float32(1.0)


def test_the_boosted_reference_saves_loads_and_exports(data, tmp_path):
    model = reference(build(VARIANTS["classical_trees"], data, FAST))
    fitted = fit_reference(model, data)
    assert fitted["model"] == "boosted_trees"
    x = tensors(data.test)
    with torch.no_grad():
        probs = activation(model(x), False).numpy()
    # the same fit by hand: class-balanced boosted trees over the time view's scalars
    train = _scalars(data.train)
    trees = HistGradientBoostingClassifier(
        max_iter=40, max_leaf_nodes=15, l2_regularization=1.0, early_stopping=False, random_state=0
    ).fit(train, data.train.y, sample_weight=compute_sample_weight("balanced", data.train.y))
    np.testing.assert_allclose(probs[:, trees.classes_], trees.predict_proba(_scalars(data.test)), atol=1e-5)
    assert fitted["trees"] == 40 * trees.n_trees_per_iteration_ and fitted["classes_fitted"] == len(trees.classes_)
    # saved weights load into a fresh (empty) model: sizes come from the fit
    torch.save(model.state_dict(), tmp_path / "trees.pt")
    fresh = build(VARIANTS["classical_trees"], data, FAST)
    fresh.load_state_dict(torch.load(tmp_path / "trees.pt", weights_only=True))
    with torch.no_grad():
        np.testing.assert_array_equal(activation(fresh(x), False).numpy(), probs)
    assert sum(p.numel() for p in fresh.parameters()) == fitted["nodes"]  # a threshold or a leaf value a node
    layout = Layout.of(data)
    flat = torch.from_numpy(layout.pack(data.test.x))
    rows = torch.export.Dim("rows")
    exported = torch.export.export(Packed(fresh, layout, False).eval(), (flat[:8],), dynamic_shapes=({0: rows},))
    torch.export.save(exported, tmp_path / "trees.pt2")  # as MLflow logs it
    loaded = torch.export.load(tmp_path / "trees.pt2")
    np.testing.assert_allclose(loaded.module()(flat).detach().numpy(), probs, atol=1e-6)
    # what `predict --explain` does with a served tree model: no gradient, so Shapley values, complete
    served = attribute(
        loaded.module(), layout, flat[:6].numpy(), train_baseline(data, layout), ExplainConfig(shapley_samples=2)
    )
    np.testing.assert_allclose(served.attributions.sum(axis=1), served.moved, atol=1e-5)


def test_trees_are_explained_by_shapley_values_that_add_up(data):
    model = reference(build(VARIANTS["classical_trees"], data, FAST))
    fit_reference(model, data)
    expl = explain(model, data, data.test, ExplainConfig(rows_per_class=10, shapley_samples=4))
    np.testing.assert_allclose(expl.attributions.sum(axis=1), expl.moved, atol=1e-5)  # exact completeness
    assert np.abs(expl.delta).max() < 1e-5 and np.abs(expl.moved).max() > 0.05  # and something to explain
    shares = expl.shares()
    assert shares["time"] == pytest.approx(1.0) and shares["frequency"] == shares["spectrogram"] == 0.0
    by_input = expl.by_input()
    assert np.abs(by_input[("time", "waveform")]).max() == 0.0  # the scalars alone are read by default
    assert np.abs(by_input[("time", "scalars")]).sum() > 0


def test_the_boosted_reference_reads_waveform_samples_where_asked(data):
    waveform_too = replace(FAST, boosting=replace(FAST.boosting, morphology="uniform"))
    model = reference(build(VARIANTS["classical_trees"], data, waveform_too))
    fitted = fit_reference(model, data)
    leads = data.test.x["time"]["waveform"].shape[1]
    assert fitted["features"] == _scalars(data.train).shape[1] + leads * 20


def test_a_few_dozen_training_rows_still_split(data):
    """scikit-learn's 20 rows a leaf leaves fewer than 40 rows one leaf a tree: the same answer for
    every row (the demo's record task trains on 41, and its few positives of a class sat in no leaf)."""
    from sklearn.metrics import roc_auc_score

    y = np.asarray(data.train.y)
    rows = np.sort(np.concatenate([np.flatnonzero(y == 1)[:5], np.flatnonzero(y == 0)[:25]]))
    few = replace(data, train=data.train.take(rows))  # 30 beats, 5 of them S
    model = reference(build(VARIANTS["classical_trees"], few, FAST))
    fit_reference(model, few)
    with torch.no_grad():
        s = activation(model(tensors(few.train)), False).numpy()[:, 1]
    assert roc_auc_score(few.train.y == 1, s) > 0.99  # a leaf of 20 cannot hold 4 S beats apart


def test_multi_label_tasks_get_one_binary_ensemble_a_class(data):
    from feature_store.tasks import RECORDS

    x = _scalars(data.train)
    beat = np.asarray(data.train.y)
    # five labels of the records task's shape over real beats: S, three from RR columns, one never seen
    rr = [x[:, k] > np.quantile(x[:, k], q) for k, q in ((0, 0.5), (1, 0.5), (2, 0.75))]
    y = np.stack([beat == 1, *rr])
    y = np.concatenate([y.T, np.zeros((len(x), 1), bool)], axis=1).astype(np.float32)
    labelled = replace(data, spec=RECORDS, train=replace(data.train, y=y))
    model = reference(build(VARIANTS["classical_trees"], labelled, FAST))
    fitted = fit_reference(model, labelled)
    assert fitted["classes_fitted"] == 4 and fitted["trees"] == 4 * 40
    with torch.no_grad():
        probs = activation(model(tensors(data.test)), True).numpy()
    test = _scalars(data.test)
    for c in range(4):
        alone = HistGradientBoostingClassifier(
            max_iter=40,
            max_leaf_nodes=15,
            l2_regularization=1.0,
            early_stopping=False,
            min_samples_leaf=min(20, len(x) // 10),
            random_state=0,
        ).fit(x, y[:, c], sample_weight=compute_sample_weight("balanced", y[:, c]))
        np.testing.assert_allclose(probs[:, c], alone.predict_proba(test)[:, 1], atol=1e-5)
    assert probs[:, 4].max() < 1e-6  # a class no train row carries is never predicted


def test_monotone_trees_read_an_earlier_beat_as_more_premature_and_less_normal(data):
    """BoostingConfig.monotone_rhythm: one binary ensemble a class, S's (and V's) log-odds never falling
    and N's never rising as the beat comes earlier by any RR column, whatever the other features."""
    from ecgnet.classical import earlier_signs
    from ecgnet.data import rhythm_columns

    cfg = replace(FAST, boosting=replace(FAST.boosting, monotone_rhythm=True))
    model = reference(build(VARIANTS["classical_trees"], data, cfg))
    fitted = fit_reference(model, data)
    classes = list(data.classes)
    n, s = classes.index("N"), classes.index("S")
    present = np.unique(data.train.y)
    assert fitted["classes_fitted"] == len(present) and fitted["trees"] == 40 * len(present)  # one ensemble a class
    names, context = rhythm_columns(data.spec)
    signs = earlier_signs(model, data)
    assert len(signs) == fitted["features"]
    assert signs[names.index("rr_prev_s")] == -1 and signs[names.index("rr_record_s")] == +1
    assert signs[names.index("rr_next_q90_norm")] == +1
    # of the RR context only the beat's own two intervals; morphology and the rest are free
    assert {c: int(signs[len(names) + i]) for i, c in enumerate(context) if signs[len(names) + i]} == (
        {"rr_m0": -1, "rr_p0": +1} if context else {}
    )
    assert not signs[len(names) + len(context) :].any()
    # each class's logit is the class-balanced binary fit, with the constraint, made by hand
    train, test = _scalars(data.train), _scalars(data.test)
    target = (np.asarray(data.train.y) == s).astype(int)
    by_hand = HistGradientBoostingClassifier(
        max_iter=40,
        max_leaf_nodes=15,
        l2_regularization=1.0,
        early_stopping=False,
        random_state=0,
        monotonic_cst=signs,
    ).fit(train, target, sample_weight=compute_sample_weight("balanced", target))
    x = tensors(data.test)
    with torch.no_grad():
        logits = model(x).numpy()
    np.testing.assert_allclose(logits[:, s], by_hand.decision_function(test), atol=1e-4)
    # sweep each constrained column over its train range on every test beat, from late to early
    moved_any = False
    for column in np.flatnonzero(signs):
        sweep = []
        for value in np.quantile(train[:, column], np.linspace(0, 1, 9))[:: signs[column]]:
            moved = {**x, "time": {**x["time"], "scalars": x["time"]["scalars"].clone()}}
            moved["time"]["scalars"].view(len(test), -1)[:, column] = float(value)
            with torch.no_grad():
                sweep.append(model(moved).numpy())
        earlier = np.diff(np.stack(sweep), axis=0)  # (steps, beats, classes): each step a beat earlier
        assert earlier[:, :, s].min() >= -1e-5 and earlier[:, :, n].max() <= 1e-5, f"feature {column}"
        moved_any |= bool(np.abs(earlier[:, :, s]).max() > 0)
    assert moved_any  # and the constrained columns are read at all
    # a task whose rows are not beats has no beat intervals to constrain
    records = replace(data, spec=replace(data.spec, window=RecordWindows(), reference_stress=None, ectopic_runs={}))
    with pytest.raises(ValueError, match="monotone_rhythm reads beat RR columns"):
        earlier_signs(model, records)
