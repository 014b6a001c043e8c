"""``emodet evaluate``, ``compare``, ``drift`` and ``report``: how good a model is, on which data."""

from __future__ import annotations

import json
from pathlib import Path

from emodet.cli.common import EXIT_FAILURES, add_tta_options, model_stem, tta_suffix
from emodet.errors import EmodetError
from emodet.registry.cli import add_registry_option, model_location
from emodet.registry.references import is_reference

SPLIT_HELP = ("train, val or test (FER2013: Training, PublicTest, PrivateTest). Default val, the split models and "
              "settings are chosen on; ask for test once, for the model already chosen (the final report)")


def add_evaluate(verbs) -> None:
    p = verbs.add_parser("evaluate", help="evaluate a model on a dataset split",
                         description="Accuracy, precision, recall, F1 (macro over the classes present, weighted, "
                                     "per class) and the confusion matrix; written as JSON and HTML and printed "
                                     "as a table. Dataset classes are matched to the model's by name "
                                     "(anger = angry, sadness = sad, ...).")
    p.add_argument("model", nargs="?",
                   help="a .keras, .onnx or .tflite emodet model or models:/NAME@ALIAS (default: the bundled model)")
    p.add_argument("--data", required=True, help="dataset: fer2013:CSV, ferplus:FER2013_CSV,FERPLUS_CSV or folder:DIR")
    p.add_argument("--split", default="val", help=SPLIT_HELP)
    add_tta_options(p)
    p.add_argument("--drop-unknown-classes", action="store_true",
                   help="leave out images of classes the model does not predict (e.g. CK+'s contempt) "
                        "instead of refusing the dataset")
    p.add_argument("--faces", choices=("crops", "detect"), default="crops",
                   help="crops: the folder holds face crops (default); detect: it holds photos, each run through "
                        "the face detector and alignment of `emodet detect` (largest face); photos without a face "
                        "are counted and left out of the scores")
    p.add_argument("--detector", help="with --faces detect: the face detector (default: emodet's default)")
    p.add_argument("--output", type=Path,
                   help="JSON file to write, the HTML page beside it (default: beside the model; for the bundled "
                        "model, the current folder)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--stream", action="store_true",
                   help="read the split from disk batch by batch instead of loading it (fer2013 and folder sources; "
                        "for data larger than memory; the page then shows no example faces)")
    add_registry_option(p)
    p.set_defaults(handler=_run_evaluate)


def _evaluate_streamed(args, model, crop_size: int, split: str, path) -> int:
    from emodet.data.stream import stream_splits
    from emodet.evaluation.metrics import evaluate_stream

    if args.faces == "detect":
        raise EmodetError("--stream reads face crops as stored; --faces detect needs the photos in memory")
    splits = stream_splits(args.data, image_size=crop_size)
    if split not in splits:
        raise EmodetError(f"{args.data} has no {split!r} split; it has {', '.join(splits)}")
    report = evaluate_stream(model, splits[split], tta=args.tta, batch_size=args.batch_size,
                             drop_unknown=args.drop_unknown_classes)
    return _write_evaluation(args, report, path, split, report.to_dict())


def _write_evaluation(args, report, path, split: str, summary: dict, *, data=None, page_model=None,
                      note: str = "") -> int:
    """The scores as JSON, the page beside it, the table printed; returns the exit status."""
    stem = f"{model_stem(args.model, path)}.eval-{split}{tta_suffix(args.tta)}.json"
    output = args.output or (path.with_name(stem) if path and args.model == str(path) else Path(stem))
    output = output.with_suffix(".json")  # the page goes beside it: --output x.html must not overwrite the scores
    output.write_text(json.dumps(summary, indent=2))
    page = report.save_html(output.with_suffix(".html"), model=page_model, data=data)
    print(report.format_table())
    if note:
        print(note)
    print(f"written to {output.resolve()} and {Path(page).resolve()}")  # said in full: the default may be here
    return 0


def _run_evaluate(args) -> int:
    from emodet.data.classmatch import match_classes
    from emodet.data.folder import NO_FACE
    from emodet.data.sources import load_split, split_name
    from emodet.evaluation.metrics import evaluate

    if args.batch_size < 1:
        raise EmodetError(f"--batch-size must be at least 1, got {args.batch_size}")
    path = model_location(args.model, args.registry)
    model, crop_size = _evaluation_model(path)
    split = split_name(args.split)
    if args.stream:
        return _evaluate_streamed(args, model, crop_size, split, path)
    face_crop = None
    if args.faces == "detect":
        from emodet.inference.crops import LargestFaceCrop

        face_crop = LargestFaceCrop(crop_size, args.detector)
    data = match_classes(load_split(args.data, split, image_size=crop_size, face_crop=face_crop),
                         model.class_names, drop_unknown=args.drop_unknown_classes)
    report = evaluate(model, data, tta=args.tta, batch_size=args.batch_size)
    no_face = [source for source, reason in data.skipped if reason == NO_FACE]
    unreadable = [(source, reason) for source, reason in data.skipped if reason != NO_FACE]
    summary = {**report.to_dict(), "skipped": [list(item) for item in unreadable]}
    notes = []
    if face_crop is not None:
        summary["photos_without_a_face"] = no_face
        notes.append(f"{len(no_face)} photo(s) had no face and are not scored"
                     + (f", e.g. {no_face[0]}" if no_face else ""))
    if unreadable:
        notes.append(f"{len(unreadable)} file(s) could not be read and are not scored (all listed in the JSON), e.g. "
                     + "; ".join(f"{source}: {reason}" for source, reason in unreadable[:3]))
    note = "\n".join(notes)
    return _write_evaluation(args, report, path, split, summary, data=data,
                             page_model=getattr(model, "model", None), note=note)  # Grad-CAM: Keras only


def _evaluation_model(path: Path | None):
    """(classifier, crop size) of the model to score: the bundled one when ``path`` is None."""
    from emodet.inference.loading import load_classifier

    classifier = load_classifier(path)
    return classifier, classifier.image_size


def add_compare(verbs) -> None:
    p = verbs.add_parser("compare", help="is a candidate model really better than the current one?",
                         description="Scores both models on the same images: the new data's split and a reference "
                                     "split of the old data. Prints accuracy, the difference with its paired "
                                     "bootstrap 95%% interval and an exact McNemar test, and the verdict of the "
                                     "promotion rule (better on the new data at p < 0.05, and not worse on the "
                                     "reference than --tolerance points). Exit status 0: promote; 1: do not.")
    p.add_argument("candidate", help="the candidate model (.keras, .onnx or .tflite, or models:/NAME/VERSION)")
    p.add_argument("--current", help="the current model (default: the bundled model; e.g. models:/emodet@champion)")
    p.add_argument("--data", required=True, help="the new data (e.g. folder:DIR)")
    p.add_argument("--split", default="test", help="its split to score (default test: promoting is the final decision "
                                                  "on a model already chosen, made on images it was not chosen on)")
    p.add_argument("--reference", help="the old data's source (e.g. fer2013:CSV); optional")
    p.add_argument("--reference-split", default="val", help="default val (FER2013 PublicTest: PrivateTest "
                                                           "stays the final report)")
    p.add_argument("--tolerance", type=float, default=1.0, help="points the candidate may lose on the reference")
    p.add_argument("--drop-unknown-classes", action="store_true", help="as for evaluate")
    p.add_argument("--json", type=Path, help="write the comparison to this JSON file")
    p.add_argument("--promote", action="store_true",
                   help="when the verdict is promote, point the current reference's alias (default champion) at "
                        "the candidate's registry version and keep this comparison with it")
    add_registry_option(p)
    p.set_defaults(handler=_run_compare)


def _run_compare(args) -> int:
    from emodet.data.classmatch import match_classes
    from emodet.data.sources import load_split
    from emodet.evaluation.compare import format_comparisons, paired_comparison, promotion_verdict
    from emodet.evaluation.metrics import predict_proba
    from emodet.evaluation.selection import explain, selection_score, set_scores

    if args.tolerance < 0:
        raise EmodetError(f"--tolerance must be zero or positive (points of accuracy), got {args.tolerance}")
    if args.promote and not is_reference(args.candidate):
        raise EmodetError(f"--promote needs the candidate as a registry reference (models:/NAME/VERSION), got "
                          f"{args.candidate}; register it first with "
                          f"`emodet registry add {args.candidate} --name NAME`")
    candidate, size = _evaluation_model(model_location(args.candidate, args.registry))
    current, current_size = _evaluation_model(model_location(args.current, args.registry))
    classes = tuple(current.class_names)
    if tuple(candidate.class_names) != classes:
        raise EmodetError(f"the candidate predicts {list(candidate.class_names)} but the current model "
                          f"{list(classes)}; compare models with the same classes")
    rows, by_model = [], {"current": {}, "candidate": {}}
    for source, split in ((args.data, args.split), (args.reference, args.reference_split)):
        if not source:
            continue
        data = match_classes(load_split(source, split, image_size=max(size, current_size)), classes,
                             drop_unknown=args.drop_unknown_classes)
        predictions = [predict_proba(model, data).argmax(axis=1) for model in (current, candidate)]
        name = f"{source.split(':')[0]} {split}"
        rows.append(paired_comparison(name, data.labels, *predictions))
        for role, predicted in zip(by_model, predictions):
            by_model[role][name] = set_scores(data.labels, predicted, data.class_names)
    print(format_comparisons(rows))
    for role, scores in by_model.items():  # the rule that chooses between candidates, over these sets
        print(f"selection rule, {role}: {explain(scores)}")
    promote, why = promotion_verdict(rows[0], rows[-1], tolerance=args.tolerance / 100)
    print(("promote: " if promote else "do not promote: ") + why)
    comparison = {"promote": promote, "why": why, "candidate": args.candidate, "current": args.current or "bundled",
                  "tolerance_points": args.tolerance, "sets": [r.to_dict() for r in rows],
                  "selection": {role: selection_score(scores) for role, scores in by_model.items()}}
    if args.json:
        args.json.write_text(json.dumps(comparison, indent=2))
    if promote and args.promote:
        from emodet.registry.cli import promote_after_compare

        promote_after_compare(args.candidate, args.current, args.registry, comparison)
    elif args.promote:
        print("the registry is unchanged")
    return 0 if promote else EXIT_FAILURES


def add_drift(verbs) -> None:
    from emodet.evaluation.drift import DEFAULT_THRESHOLDS

    p = verbs.add_parser("drift", help="has production output drifted from the model's validation profile?",
                         description="Compares the faces of `emodet detect --jsonl` output (no labels needed) with "
                                     "a model's profile (profile.json of its training run; default: the bundled "
                                     "model's): PSI of the predicted-emotion mix, change of mean confidence and of "
                                     "mean entropy. Exit status 0: no drift; 1: drift (time to evaluate on newly "
                                     "labelled data).")
    p.add_argument("jsonl", type=Path, help="a window of `emodet detect --jsonl` output")
    p.add_argument("--profile", help="profile.json of the model's training run, or a registry reference "
                                     "(models:/NAME@ALIAS: its version's profile; default: the bundled model's)")
    p.add_argument("--plot", type=Path, help="write a PNG of the class shares, reference beside window")
    p.add_argument("--json", type=Path, help="write the drift report to this JSON file")
    for name, value in DEFAULT_THRESHOLDS.items():
        p.add_argument(f"--max-{name}", type=float, default=value, help=f"threshold (default {value})")
    add_registry_option(p)
    p.set_defaults(handler=_run_drift)


def _run_drift(args) -> int:
    from emodet.evaluation.drift import DEFAULT_THRESHOLDS, check_drift, load_profile, probs_from_jsonl

    if args.profile is None:
        from emodet.bundled import bundled_profile_path

        args.profile = bundled_profile_path()
    elif is_reference(args.profile):
        args.profile = model_location(args.profile, args.registry).with_name("profile.json")
    reference = load_profile(Path(args.profile))
    thresholds = {name: getattr(args, f"max_{name}") for name in DEFAULT_THRESHOLDS}
    report = check_drift(reference, probs_from_jsonl(args.jsonl, reference.class_names), thresholds)
    print(report.verdict())
    if args.plot:
        print(f"plot written to {report.plot(args.plot)}")
    if args.json:
        args.json.write_text(json.dumps(report.to_dict(), indent=2))
    return EXIT_FAILURES if report.drifted else 0


def add_report(verbs) -> None:
    p = verbs.add_parser("report", help="write an HTML report (figures, metrics, Grad-CAM) for a training run",
                         description="Evaluate RUN_DIR/best.keras on a split of the run's dataset and write one "
                                     "self-contained HTML page (report-SPLIT.html), its figures as PNG files and "
                                     "the evaluation JSON into the run directory.")
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a run directory written by `emodet train`")
    p.add_argument("--split", default="val", help=SPLIT_HELP)
    p.add_argument("--data", help="dataset, if it moved since training (default: the run's data.source)")
    add_tta_options(p)
    p.add_argument("--output", type=Path, help="HTML file to write (default: RUN_DIR/report-SPLIT.html)")
    p.add_argument("--batch-size", type=int, default=128)
    p.set_defaults(handler=_run_report)


def _run_report(args) -> int:
    from emodet.training.run_report import report_run

    if args.batch_size < 1:
        raise EmodetError(f"--batch-size must be at least 1, got {args.batch_size}")
    path = report_run(args.run_dir, args.split, output=args.output, source=args.data, tta=args.tta,
                      batch_size=args.batch_size)
    print(f"written to {path} (figures in {path.with_name(path.stem + '_figures')})")
    return 0
