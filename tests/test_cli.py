import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medmodels.cards import read_card
from medmodels.checkpoints import WEIGHTS_DIR
from medmodels.cli import main
from tests.conftest import REPO_ROOT


def _lines(capsys) -> tuple[list[dict], str]:
    captured = capsys.readouterr()
    return [json.loads(line) for line in captured.out.splitlines() if line.strip()], captured.err


@pytest.fixture
def scan_png(tmp_path):
    path = tmp_path / "scan.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 48), dtype=np.uint8)).save(path)
    return path


def test_list_json_reports_the_pneumonia_model_with_its_test_metrics(capsys):
    assert main(["list", "--json"]) == 0
    (rows,), _ = _lines(capsys)
    row = next(r for r in rows if r["name"] == "imaging.pneumonia")
    card = read_card(WEIGHTS_DIR / "imaging.pneumonia.json")
    assert row["installed"] is True
    assert row["labels"] == ["normal", "pneumonia"]
    assert row["test_metrics"]["roc_auc"] == card.metrics.test.roc_auc


def test_list_table_is_human_readable(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "imaging.pneumonia" in out and "test figures" in out and "ROC AUC 0.98" in out


def test_predict_reports_each_input_and_fails_softly_on_a_corrupt_file(capsys, tmp_path, scan_png):
    broken = tmp_path / "broken.png"
    broken.write_bytes(scan_png.read_bytes()[:100])
    missing = tmp_path / "missing.png"
    assert (
        main(["predict", "imaging.pneumonia", str(scan_png), str(broken), str(missing), str(scan_png), "--json"]) == 1
    )
    lines, err = _lines(capsys)
    assert [line["input"] for line in lines] == [str(scan_png), str(broken), str(missing), str(scan_png)]
    good, corrupt, absent, again = lines
    # Random noise is no chest X-ray: withheld, with no label and no probability that could read as a diagnosis.
    assert good["ood"] is True and good["label"] is None and good["probabilities"] is None
    assert good == again
    assert "error" in corrupt and "\n" not in corrupt["error"] and "label" not in corrupt
    assert "error" in absent
    assert err == ""


def test_predict_succeeds_when_every_input_is_readable(capsys, scan_png):
    assert main(["predict", "imaging.pneumonia", str(scan_png)]) == 0
    assert capsys.readouterr().out.startswith(f"{scan_png}: ")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["predict", "imaging.nope", "x.png"], "unknown model 'imaging.nope'"),
        (["evaluate", "imaging.pneumonia", "--data", "/nonexistent/folder"], "does not exist"),
        (["frobnicate"], "invalid choice"),
        (["predict", "imaging.pneumonia"], "at least one input"),
    ],
)
def test_usage_errors_exit_2_with_one_line(capsys, argv, message):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_missing_data_folder_names_the_environment_variable(capsys, monkeypatch):
    monkeypatch.delenv("MEDMODELS_DATA", raising=False)
    assert main(["evaluate", "imaging.pneumonia"]) == 2
    assert "MEDMODELS_DATA" in capsys.readouterr().err


def test_python_dash_m_runs_the_cli_and_returns_its_status(tmp_path, scan_png):
    broken = tmp_path / "broken.png"
    broken.write_text("not an image")
    run = subprocess.run(
        [sys.executable, "-m", "medmodels", "predict", "imaging.pneumonia", str(scan_png), str(broken), "--json"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 1
    assert [("error" in json.loads(line)) for line in run.stdout.splitlines()] == [False, True]
    assert "Traceback" not in run.stderr


def test_evaluate_on_the_test_split_matches_the_card(capsys, pneumonia_npz):
    data_dir = pneumonia_npz.parents[1]
    assert main(["evaluate", "imaging.pneumonia", "--data", str(data_dir), "--json"]) == 0
    (metrics,), _ = _lines(capsys)
    card = read_card(WEIGHTS_DIR / "imaging.pneumonia.json")
    assert metrics["roc_auc"] >= 0.95 and metrics["accuracy"] >= 0.88
    for key in ("roc_auc", "accuracy", "sensitivity", "specificity", "ece"):
        assert metrics[key] == pytest.approx(getattr(card.metrics.test, key), abs=1e-6)


def test_train_writes_a_loadable_checkpoint_with_history(capsys, pneumonia_npz, tmp_path):
    data_dir = pneumonia_npz.parents[1]
    argv = ["train", "imaging.pneumonia", "--data", str(data_dir), "--epochs", "1", "--out", str(tmp_path)]
    assert main(argv + ["--reason", "a one-epoch smoke run"]) == 0
    card = read_card(tmp_path / "imaging.pneumonia.json")
    members = card.training.members
    assert [row["member"] for row in card.history] == list(range(1, members + 1))
    assert card.training.best_epochs == [1] * members
    assert (tmp_path / "imaging.pneumonia.ood.safetensors").is_file() and card.ood.flagged
    assert card.reproduce.endswith("--epochs 1")
    assert (
        main(
            [
                "evaluate",
                "imaging.pneumonia",
                "--data",
                str(data_dir),
                "--split",
                "val",
                "--weights",
                str(tmp_path),
                "--json",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out.splitlines()[-1]
    assert json.loads(out)["roc_auc"] == pytest.approx(card.metrics.validation.roc_auc, abs=1e-6)


def test_a_data_file_of_the_wrong_kind_is_a_one_line_error(capsys, tmp_path):
    (tmp_path / "medmnist").mkdir()
    (tmp_path / "medmnist" / "pneumoniamnist.npz").write_bytes(b"not an npz archive")
    assert main(["evaluate", "imaging.pneumonia", "--data", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "pneumoniamnist.npz is not a readable .npz file" in err and err.count("\n") == 1


def test_predict_reads_dicom_and_names_the_problem_with_a_fake_one(capsys, tmp_path):
    from pydicom.data import get_testdata_file

    fake = tmp_path / "report.dcm"
    fake.write_text("this is a text file renamed .dcm")
    assert main(["predict", "imaging.pneumonia", get_testdata_file("RG1_UNCR.dcm"), str(fake), "--json"]) == 1
    (radiograph, error), _ = _lines(capsys)
    # Withheld (no label, no probabilities) exactly when out of distribution.
    assert (radiograph["label"] is None) == (radiograph["probabilities"] is None) == radiograph["ood"]
    if not radiograph["ood"]:
        assert sum(radiograph["probabilities"].values()) == pytest.approx(1.0)
    assert "not a DICOM file" in error["error"]


def test_predict_gives_a_label_to_a_chest_x_ray_and_none_to_a_ct_slice(capsys, tmp_path, pneumonia_npz):
    from pydicom.data import get_testdata_file

    from medmodels.imaging.datasets import load_medmnist

    xray = tmp_path / "xray.png"
    Image.fromarray(load_medmnist(pneumonia_npz, "test").images[0]).save(xray)
    assert main(["predict", "imaging.pneumonia", str(xray), get_testdata_file("CT_small.dcm"), "--json"]) == 0
    (chest, ct), _ = _lines(capsys)
    assert chest["ood"] is False and chest["label"] in ("normal", "pneumonia")
    assert ct["ood"] is True and ct["label"] is None and ct["probabilities"] is None


def _issue_bad_inputs(folder):
    """Issue 3's list of awkward uploads, as files: name -> expected error fragment (None: it just works)."""
    from pydicom.data import get_testdata_file

    def png(image, name):
        image.save(folder / name)
        return folder / name

    good = png(Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8)), "good.png")
    truncated = folder / "truncated.png"
    truncated.write_bytes(good.read_bytes()[:60])
    empty = folder / "empty.png"
    empty.write_bytes(b"")
    renamed = folder / "notes.dcm"
    renamed.write_text("a text file renamed .dcm")
    return {
        empty: "empty",
        truncated: "corrupt or truncated",
        renamed: "not a DICOM file",
        get_testdata_file("reportsi.dcm"): "no pixel data",
        png(Image.new("1", (30000, 30000)), "bomb.png"): "decompression bomb",
        png(Image.new("L", (1, 1), 90), "tiny.png"): "at least 28 x 28",
        png(Image.new("RGBA", (64, 64), (90, 90, 90, 128)), "alpha.png"): None,
        png(Image.fromarray(np.arange(4096, dtype=np.uint16).reshape(64, 64) * 16), "sixteen.png"): None,
    }


def test_every_awkward_input_gets_its_own_line_and_the_others_still_run(capsys, tmp_path):
    expected = _issue_bad_inputs(tmp_path)
    assert main(["predict", "imaging.pneumonia", *map(str, expected), "--json"]) == 1
    lines, err = _lines(capsys)
    assert [line["input"] for line in lines] == [str(path) for path in expected] and err == ""
    for line, fragment in zip(lines, expected.values()):
        if fragment is None:  # alpha channels and 16-bit depth just work: a result, or a withheld one
            assert "error" not in line and (line["probabilities"] is None) == line["ood"]
            assert line["ood"] or sum(line["probabilities"].values()) == pytest.approx(1.0)
        else:
            assert fragment in line["error"] and "\n" not in line["error"]


def test_sequence_predict_takes_raw_sequences_and_fasta_and_names_bad_records(capsys, tmp_path):
    fasta = tmp_path / "peptides.fasta"
    fasta.write_text(">magainin2\nGIGKFLHSAKKFGKAFVGEIMNS\n>ambiguous\nGIGKBFL\n")
    assert main(["predict", "sequence.amp", "KWKLFKKIGAVLKVLTTG", "--fasta", str(fasta), "--json"]) == 1
    (raw, magainin, bad), err = _lines(capsys)
    assert raw["id"] == "input1" and raw["sequence"] == "KWKLFKKIGAVLKVLTTG"
    assert magainin["id"] == "magainin2" and magainin["label"] == "antimicrobial"
    assert set(magainin["probabilities"]) == {"not antimicrobial", "antimicrobial"}
    assert sum(magainin["probabilities"].values()) == pytest.approx(1.0)
    assert bad == {
        "id": "ambiguous",
        "error": "ambiguous, position 5: 'B' is ambiguous (D or N); replace it with one residue",
    }
    assert err == ""


def test_fasta_is_refused_for_image_models_and_a_missing_fasta_is_one_line(capsys, tmp_path):
    assert main(["predict", "imaging.pneumonia", "--fasta", "x.fasta"]) == 2
    assert "--fasta is for genome and sequence models" in capsys.readouterr().err
    # A file that cannot be read is an input error, like an unreadable scan: its own line, exit status 1.
    assert main(["predict", "sequence.amp", "--fasta", str(tmp_path / "missing.fasta")]) == 1
    out = capsys.readouterr().out
    assert "cannot read" in out and out.count("\n") == 1


# Issue 4's floors: both need ROC AUC >= 0.93; sequence.amp must also beat the composition baseline.
@pytest.mark.parametrize("name, must_beat_baseline", [("sequence.amp", True), ("sequence.anticancer", False)])
def test_sequence_evaluate_needs_no_data_folder_and_matches_the_card(capsys, monkeypatch, name, must_beat_baseline):
    monkeypatch.delenv("MEDMODELS_DATA", raising=False)
    assert main(["evaluate", name, "--json"]) == 0
    (metrics,), _ = _lines(capsys)
    card = read_card(WEIGHTS_DIR / f"{name}.json")
    for key in ("roc_auc", "mcc", "accuracy", "sensitivity", "specificity"):
        assert metrics[key] == pytest.approx(getattr(card.metrics.test, key), abs=1e-6)
    assert metrics["roc_auc"] >= 0.93
    if must_beat_baseline:
        assert metrics["roc_auc"] > card.metrics.baseline.figures["roc_auc"] and metrics["mcc"] >= 0.70


# Issue 15's floors for localisation version 5: accuracy >= 0.58 (met: 0.590) and macro-F1 >= 0.42 (met: 0.423;
# 0.442 out of fold; see the README). Both beat the composition baseline.
def test_localisation_evaluate_meets_its_floors_beats_the_baseline_and_matches_the_card(capsys, monkeypatch):
    monkeypatch.delenv("MEDMODELS_DATA", raising=False)
    assert main(["evaluate", "sequence.localisation", "--json"]) == 0
    (metrics,), _ = _lines(capsys)
    card = read_card(WEIGHTS_DIR / "sequence.localisation.json")
    for key in ("accuracy", "macro_f1", "balanced_accuracy", "mcc", "ece"):
        assert metrics[key] == pytest.approx(getattr(card.metrics.test, key), abs=1e-6)
    assert metrics["accuracy"] >= 0.58 and metrics["macro_f1"] >= 0.42
    baseline = card.metrics.baseline.figures
    assert metrics["accuracy"] > baseline["accuracy"] and metrics["macro_f1"] > baseline["macro_f1"]


def test_localisation_predict_calls_one_of_thirteen_locations(capsys):
    protein = "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQAPILSRVGDGTQDNLSGAEKAVQVKVKALPDAQFEVVHSLAKWKRQTLGQHDFSAGEGLYTHMKALRPDEDRLSPLHSV"
    assert main(["predict", "sequence.localisation", protein, "--json"]) == 0
    (line,), err = _lines(capsys)
    card = read_card(WEIGHTS_DIR / "sequence.localisation.json")
    assert set(line["probabilities"]) == set(card.labels) and sum(line["probabilities"].values()) == pytest.approx(1.0)
    assert line["label"] == max(line["probabilities"], key=line["probabilities"].get)
    assert "threshold" not in line and err == ""


@pytest.fixture
def oversized_file(tmp_path):
    """A sparse file a little over the upload cap: it takes no disk space, but reading it would take 101 MB."""
    from medmodels.uploads import MAX_UPLOAD_BYTES

    path = tmp_path / "huge.dcm"
    with open(path, "wb") as handle:
        handle.truncate(MAX_UPLOAD_BYTES + 1)
    return path


@pytest.mark.parametrize(
    ("argv", "refusal"),
    [
        (["predict", "imaging.pneumonia", "{file}"], "over the 100 MB limit"),
        # FASTA is read as a stream with no size cap: a file of zeros is one endless line, refused as no FASTA.
        (["predict", "sequence.amp", "--fasta", "{file}"], "not a FASTA text file"),
        (["predict", "literature.cdr", "--pubtator", "{file}"], "over the 100 MB limit"),
    ],
)
def test_a_file_over_the_cap_or_an_endless_device_is_refused_in_one_line(capsys, oversized_file, argv, refusal):
    # /dev/zero never ends: reading it whole (as the command line once did) fills memory until the kernel kills it.
    for path in (oversized_file, Path("/dev/zero")):
        if not path.exists():
            continue
        status = main([part.replace("{file}", str(path)) for part in argv])
        captured = capsys.readouterr()
        message = captured.err + captured.out
        assert status != 0 and refusal in message and len(message.strip().splitlines()) == 1


def test_a_fasta_that_cannot_be_read_as_a_whole_is_one_error_line_and_the_other_inputs_still_run(capsys, tmp_path):
    latin1 = tmp_path / "latin1.fasta"
    latin1.write_bytes(">caf\xe9\nGIGKFLHSAKKFGKAFVGEIMNS\n".encode("latin-1"))
    empty = tmp_path / "empty.fasta"
    empty.write_text("")
    for bad, fragment in ((latin1, "UTF-8"), (empty, "")):
        assert main(["predict", "sequence.amp", "KWKLFKKIGAVLKVLTTG", "--fasta", str(bad), "--json"]) == 1
        (scored, unreadable), err = _lines(capsys)
        assert scored["id"] == "input1" and "label" in scored
        assert unreadable["input"] == str(bad) and fragment in unreadable["error"] and "\n" not in unreadable["error"]
        assert err == ""


def test_core_code_and_the_generic_pages_name_no_domain():
    # A new domain must not need edits in the command line, the card, the plots or the generic pages.
    from medmodels.registry import list_models

    domains = {name.split(".", 1)[0] + "." for name in list_models()}
    files = [
        *sorted((REPO_ROOT / "medmodels").glob("*.py")),
        REPO_ROOT / "pages" / "home.py",
        REPO_ROOT / "pages" / "models.py",
    ]
    found = [
        f"{path.name}:{number}"
        for path in files
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if any(d in line for d in domains)
    ]
    assert found == []


def test_train_writes_into_an_output_folder_that_does_not_exist_yet(capsys, pneumonia_npz, tmp_path):
    out = tmp_path / "new" / "models"
    argv = ["train", "imaging.breast", "--data", str(pneumonia_npz.parents[1]), "--epochs", "1", "--out", str(out)]
    assert main(argv + ["--reason", "a one-epoch smoke run"]) == 0
    card = read_card(out / "imaging.breast.json")
    assert {entry.role for entry in card.files} == {"weights", "ood_gate"}
