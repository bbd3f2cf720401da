"""Explanations on real bundled beats and trained models: Integrated Gradients are complete, a view a
model cannot see gets no share and ablating it costs nothing, and deleting the top-attributed inputs
hurts the prediction faster than deleting random ones."""

import numpy as np
import pytest
import torch

from ecgnet.config import ExplainConfig, ModelConfig, TrainConfig
from ecgnet.evaluate import macro_auc
from ecgnet.explain import deletion_area, deletion_curves, explain, modality_ablation
from ecgnet.fusion import build
from ecgnet.train import seed_everything, train
from ecgnet.variants import VARIANTS

SMALL = ModelConfig(embed_dim=16, channels=4, scalar_dim=8, heads=2, layers=1, fusion_hidden=16)
FEW = ExplainConfig(rows_per_class=40)  # the default step count, whose completeness is tested


@pytest.fixture(scope="module")
def data(beat_task_sample):
    return beat_task_sample(600)


def _trained(variant: str, data, prepare=None):
    seed_everything(0)
    model = build(VARIANTS[variant], data, SMALL)
    if prepare:
        prepare(model)
    return train(model, data, TrainConfig(epochs=4, batch_size=64, device="cpu", patience=4)).model


@pytest.fixture(scope="module")
def time_model(data):
    return _trained("time", data)


def test_integrated_gradients_are_complete(data, time_model):
    expl = explain(time_model, data, data.test, FEW)
    gap = np.abs(expl.delta).sum()
    with torch.no_grad():
        from ecgnet.explain import packed, train_baseline
        from ecgnet.export import Packed

        net = Packed(time_model, expl.layout, False)
        fx = net(torch.from_numpy(packed(data.test, expl.layout, expl.rows)))[np.arange(len(expl.rows)), expl.target]
        fb = net(torch.from_numpy(train_baseline(data, expl.layout)))[0, expl.target]
    total = np.abs((fx - fb).numpy()).sum()
    assert len(expl.rows) > 40 and gap <= 0.01 * total
    np.testing.assert_allclose(expl.attributions.sum(axis=1), (fx - fb).numpy(), atol=0.02)


def test_a_view_the_model_cannot_see_gets_no_share_and_no_ablation_cost(data):
    def blind_to_all_but_time(model):
        for m in ("frequency", "spectrogram"):
            linear = model.proj[m][1]
            torch.nn.init.zeros_(linear.weight)
            linear.weight.requires_grad_(False)

    model = _trained("early", data, blind_to_all_but_time)
    shares = explain(model, data, data.test, FEW).shares()
    assert shares["time"] >= 0.99
    drops = modality_ablation(model, data, data.train, lambda p, y: macro_auc(p, y, False))
    assert drops["time"] > 0.05
    assert abs(drops["frequency"]) < 1e-6 and abs(drops["spectrogram"]) < 1e-6


def test_deleting_top_attributed_inputs_hurts_faster_than_random(data, time_model):
    expl = explain(time_model, data, data.test, FEW)
    curves = deletion_curves(time_model, data, expl, FEW)
    area = deletion_area(curves)
    assert curves["attributed"][0] == pytest.approx(curves["random"][0])  # nothing deleted yet
    assert area["faithfulness"] > 0.05 and area["attributed"] < area["random"]


def test_a_compared_variant_carries_its_explanation_through_save_and_load(data, tmp_path):
    from ecgnet.comparison import train_variant
    from ecgnet.config import ComparisonConfig
    from ecgnet.report import comparison_table, shares_plot
    from ecgnet.results import load_result, save_result

    cfg = ComparisonConfig(model=SMALL, n_boot=5, explain=ExplainConfig(rows_per_class=20))
    result = train_variant("classical", data, cfg)
    e = result.explained
    assert e is not None and set(e.shares) == {"time", "frequency", "spectrogram"}
    assert e.shares["time"] > 0.99  # the classical reference reads the time view only
    assert e.completeness_gap < 0.01 and e.rows > 20
    for cls, shares in e.shares_by_class.items():  # per predicted class, each a distribution over views
        assert cls in data.classes and sum(shares.values()) == pytest.approx(1.0, abs=1e-3)
    # what it reads most, by name, per class: the time view's descriptors, the largest first
    named = set(data.names.of("time", "scalars") or ())
    assert e.strongest and set(e.strongest) <= set(data.classes)
    for said in e.strongest.values():
        values = [abs(float(s.rsplit(" ", 1)[1])) for s in said]
        assert len(said) <= 3 and {s.rsplit(" ", 1)[0] for s in said} <= named and values == sorted(values)[::-1]
    assert set(result.pictures) == {"attribution_time.png"}  # the views it cannot see have nothing to draw
    assert all(png.startswith(b"\x89PNG") for png in result.pictures.values())
    save_result(result, tmp_path)
    loaded = load_result("classical", data, cfg, tmp_path)
    assert loaded.explained == e and loaded.pictures == result.pictures
    table = comparison_table({"classical": result}, data, cfg)
    assert table["shares_t/f/s"][0].startswith("1.00 / 0.00") and table["faithfulness"][0] == e.faithfulness
    assert "explainability" not in table.columns  # the sentence gives way to the measured numbers
    png = shares_plot({"classical": result}, data)
    assert png is not None and png.startswith(b"\x89PNG")


def test_a_pass_of_integrated_gradients_holds_a_bounded_number_of_input_values(time_model):
    """Rows per pass shrink with each row's width (the af task's 6,142 values a row took 6.9 GB at 4,096 rows)
    and with the networks a pass runs through, never below 64 rows."""
    import copy

    from ecgnet.explain import ig_batch

    assert ig_batch(time_model, 600) == 1_747  # 2**20 values of 600
    assert ig_batch(time_model, 6_000) == 174
    assert ig_batch(time_model, 60) == 4_096  # narrow rows: the cap of rows
    assert ig_batch(time_model, 10**6) == 64
    ensemble = torch.nn.ModuleList(copy.deepcopy(time_model) for _ in range(13))  # modules() counts each once
    assert ig_batch(ensemble, 60) == 12_288 // 13
