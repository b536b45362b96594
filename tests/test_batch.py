"""The batch runner: every input becomes one row, in order, in Parquet shards with a manifest; an interrupted
run resumes without predicting finished shards again or duplicating rows."""

import io
import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from medmodels.batch import MANIFEST, iterate_records, read_results, run_batch
from medmodels.cli import main
from medmodels.errors import UsageError

LETTERS = "ACDEFGHIKLMNPQRSTVWY"


@pytest.fixture
def fasta(tmp_path):
    rng = np.random.default_rng(0)
    lines = []
    for i in range(23):
        lines += [f">pep{i}", "".join(rng.choice(list(LETTERS), int(rng.integers(10, 40))))]
        if i == 7:
            lines += [">broken", "GIGK@FLHS"]  # not an amino-acid letter: an error row in its place
    path = tmp_path / "peptides.fasta"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_every_input_is_one_row_in_order_and_unreadable_ones_are_error_rows(fasta, tmp_path):
    missing = tmp_path / "missing.fasta"
    manifest = run_batch("sequence.amp", [str(fasta), str(missing)], tmp_path / "out", shard_size=10)
    table = read_results(tmp_path / "out")
    assert table.column("position").to_pylist() == list(range(25))
    ids = table.column("id").to_pylist()
    assert ids[:8] == [f"pep{i}" for i in range(8)] and ids[8] == "broken" and ids[-1] == str(missing)
    errors = table.column("error").to_pylist()
    assert [i for i, e in enumerate(errors) if e] == [8, 24] and "cannot read" in errors[24]
    assert [(s.index, s.records, s.errors) for s in manifest.shards] == [(0, 10, 1), (1, 10, 0), (2, 5, 1)]
    assert pq.read_table(tmp_path / "out" / "shards").sort_by("position").equals(table)  # readable without medmodels
    saved = json.loads((tmp_path / "out" / MANIFEST).read_text())
    assert saved["complete"] and saved["model"] == "sequence.amp" and len(saved["card_sha256"]) == 64
    records = list(iterate_records(tmp_path / "out"))
    # The same record as predict gives: a call with probabilities, or withheld with its reason.
    for record in records[:8]:
        assert (record["label"] is None) == ("withheld_reason" in record)


def test_an_interrupted_run_resumes_without_predicting_finished_shards_again(fasta, tmp_path, monkeypatch):
    whole = tmp_path / "whole"
    run_batch("sequence.amp", [str(fasta)], whole, shard_size=5)

    def stop_after_two_shards(done: int, added: int, total: int | None) -> None:
        if done >= 10:
            raise KeyboardInterrupt

    resumed = tmp_path / "resumed"
    with pytest.raises(KeyboardInterrupt):
        run_batch("sequence.amp", [str(fasta)], resumed, shard_size=5, progress=stop_after_two_shards)
    assert not json.loads((resumed / MANIFEST).read_text())["complete"]

    from medmodels.sequences.recipes import SequencePredictor

    predicted = []
    original = SequencePredictor.predict_batch
    monkeypatch.setattr(
        SequencePredictor, "predict_batch", lambda self, records: predicted.extend(records) or original(self, records)
    )
    run_batch("sequence.amp", [str(fasta)], resumed, shard_size=5)
    assert len(predicted) == 24 - 10 - 0  # the 14 readable inputs after the first two shards (no error among them)
    assert read_results(resumed).equals(read_results(whole))  # byte-identical records, no duplicate rows


def test_a_folder_holding_another_run_is_refused(fasta, tmp_path):
    run_batch("sequence.amp", [str(fasta)], tmp_path / "out", shard_size=10)
    with pytest.raises(UsageError, match="choose another --out"):
        run_batch("sequence.anticancer", [str(fasta)], tmp_path / "out", shard_size=10)


def test_the_command_line_batch_prints_one_summary_line(fasta, tmp_path, capsys):
    assert main(["batch", "sequence.amp", str(fasta), "--out", str(tmp_path / "out"), "--shard-size", "10"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out == [f"24 records in 3 shard(s), 1 error row(s): {tmp_path / 'out'}"]
    assert main(["batch", "sequence.amp", str(fasta), "--out", str(tmp_path / "x"), "--workers", "2"]) == 2
    assert "error: --address and --workers are for --engine ray" in capsys.readouterr().err


def test_scans_are_named_by_folders_globs_and_list_files(tmp_path):
    from medmodels.imaging.recipes import scan_paths
    from medmodels.recipe import RejectedInput

    export = tmp_path / "export"
    (export / "b" / ".cache").mkdir(parents=True)
    for name in ("a/2.dcm", "a/10.dcm", "b/1.png", "b/.cache/x.png", ".DS_Store"):
        (export / name).parent.mkdir(parents=True, exist_ok=True)
        (export / name).write_bytes(b"")
    (tmp_path / "empty").mkdir()
    listing = tmp_path / "scans.txt"
    listing.write_text("# exported 2026-12-01\nexport/b/1.png\n\n/abs/scan.dcm\n")
    given = [str(export), str(tmp_path / "export/a/*.dcm"), str(listing), str(tmp_path / "empty"), "/none/*.png"]
    named = list(scan_paths(given))
    files = [str(export / n) for n in ("a/10.dcm", "a/2.dcm", "b/1.png")]  # sorted, hidden files left out
    # The folder, the glob's two matches, then the list's lines (relative to the list's folder, or absolute).
    assert named[:7] == files + files[:2] + [str(export / "b/1.png"), "/abs/scan.dcm"]
    assert named[7:] == [
        RejectedInput("input", str(tmp_path / "empty"), "the folder holds no files"),
        RejectedInput("input", "/none/*.png", "no file matches this pattern"),
    ]


def test_record_counts_for_the_progress_bar_hold_across_read_boundaries():
    from medmodels.uploads import count_marker

    class Trickle(io.BytesIO):  # hands back 3 bytes a read, so markers straddle reads
        def read(self, size: int = -1) -> bytes:
            return super().read(3)

    data = b"<P>x<P><P>yy<P" + b">"
    assert count_marker(Trickle(data), b"<P>") == data.count(b"<P>") == 4
    assert count_marker(Trickle(b">a\nKK\n>b\nKK\n"), b"\n>", before=b"\n") == 2
