"""Scoring assets: each task's champion scores the new records dropped into its inbox folder
(`<workspace>/inbox/<task>/`, or ECGNET_INBOX's), once per record and champion, into the workspace's
`predictions/<task>/`: every record's rows as Parquet, its WFDB annotations, and where it brings its own
reference annotations (or, for the records task, states its diagnosis), how the champion agrees with them.
The inbox sensor starts them."""

import dagster as dg
import polars as pl

from feature_store.summary import markdown_table
from feature_store.tasks import TaskSpec

from ..metadata import png
from ..naming import TaskAssets
from ..resources import EcgnetStore, MlflowTracking, ScoringSettings


def build_scoring(spec: TaskSpec) -> dg.AssetsDefinition:
    names = TaskAssets(spec)

    @dg.asset(
        name=names.predictions,
        group_name="scoring",
        kinds={"parquet"},
        deps=[names.champion],
        check_specs=[
            dg.AssetCheckSpec(
                "check_inbox_readable",
                asset=names.predictions,
                description="Warns when the champion could not read a record of the inbox (each named, with its fix "
                "in the run's log and the asset's `refused`); the others were scored.",
            )
        ],
        description=f"The {spec.name} champion's predictions for the records in the inbox's {spec.name}/ folder "
        "(ScoringSettings.inbox): each record's rows (Parquet) and WFDB annotations under the workspace's "
        f"predictions/{spec.name}/, scored once per record and champion.",
    )
    def _predictions(
        context: dg.AssetExecutionContext, store: EcgnetStore, mlflow: MlflowTracking, scoring: ScoringSettings
    ) -> dg.MaterializeResult:
        from ecgnet.predict import load_champion
        from ecgnet.scoring import score_inbox

        workspace = store.workspace()
        folder = scoring.folder(workspace, spec)
        folder.mkdir(parents=True, exist_ok=True)  # where to drop records, made where the user looks for it
        if not any(folder.iterdir()):  # nothing to score needs no champion (a task never trained has none)
            return dg.MaterializeResult(
                metadata={"inbox": dg.MetadataValue.path(str(folder)), "records_scored": 0},
                check_results=[dg.AssetCheckResult(check_name="check_inbox_readable", passed=True)],
            )
        tracker = mlflow.tracker()
        crowned = tracker.current_champion(spec.name)
        if crowned is None:
            raise dg.Failure(
                description=f"no champion for the {spec.name} task in {tracker.uri}; fix: materialize "
                f"{names.champion} (the retrain job) first"
            )
        identity = crowned.identity
        try:  # the model is loaded only when a record needs scoring: an unchanged inbox costs a registry lookup
            report = score_inbox(
                spec, workspace, folder, lambda: load_champion(spec, workspace, tracker), identity, context.log.info
            )
        except ValueError as err:  # the champion could not be loaded (its metadata, a planted pickle)
            raise dg.Failure(description=f"{err}; fix: materialize {names.champion} (the retrain job) again") from err
        for problem in report.refused:  # one broken record never stops the others
            context.log.warning(problem)
        if report.against is not None:  # on the champion's page in MLflow's registry too
            context.log.info(report.against)
            tracker.tag_champion_reference(crowned, report.compared, report.against)
        rows = [
            {
                "record": str(s.record.relative_to(folder)) if s.record.is_relative_to(folder) else str(s.record),
                "rows": s.rows,
                **{c: s.counts[c] for c in spec.focus_classes or spec.classes},
                "against its reference": s.reference or "",
            }
            for s in report.scored
        ]
        drawn = [s.timeline for s in report.scored if s.timeline is not None]
        picture = png(drawn[-1].read_bytes(), drawn[-1], "timeline") if drawn else {}  # the last one scored
        readable = dg.AssetCheckResult(
            check_name="check_inbox_readable",
            passed=not report.refused,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"refused": len(report.refused), "first": report.refused[0] if report.refused else ""},
        )
        return dg.MaterializeResult(
            check_results=[readable],
            metadata={
                **picture,
                "inbox": dg.MetadataValue.path(str(folder)),
                "predictions": dg.MetadataValue.path(str(workspace.predictions / spec.name)),
                "champion": identity,
                "records_scored": len(report.scored),
                "records_unchanged": report.unchanged,
                "records_refused": len(report.refused),
                "scored": dg.MetadataValue.md(
                    markdown_table(pl.DataFrame(rows)) if rows else "no new or changed record"
                ),
                "refused": dg.MetadataValue.md("\n".join(f"- {p}" for p in report.refused) or "none"),
                # every inbox record with a reference, scored now or before by this champion, summed
                "records_compared": report.compared,
                "against_references": report.against or "no record in the inbox brings its reference",
                **(
                    {"reference_report": dg.MetadataValue.path(str(report.reference_report))}
                    if report.reference_report
                    else {}
                ),
            },
        )

    return _predictions


def build_scoring_assets(specs: list[TaskSpec]) -> list[dg.AssetsDefinition]:
    return [build_scoring(spec) for spec in specs]
