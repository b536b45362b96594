"""``python -m medmodels predict literature.cdr``: one JSON line per document, annotations ignored, clear errors."""

import json

from medmodels.cli import main
from medmodels.literature.store import FindingsStore

PUBTATOR = (
    "7|t|Lithium-induced tremor.\n"
    "7|a|Tremor appeared in rats given lithium.\n"
    "7\t0\t7\tLithium\tChemical\tD008094\n"
    "7\t16\t22\ttremor\tDisease\tD014202\n"
    "7\tCID\tD008094\tD014202\n"
)


def _lines(capsys):
    captured = capsys.readouterr()
    return [json.loads(line) for line in captured.out.splitlines() if line.strip()], captured.err


def test_predict_prints_one_json_line_per_document_with_entities_and_relations(tiny_weights, capsys):
    assert (
        main(
            [
                "predict",
                "literature.cdr",
                "--text",
                "Lithium-induced tremor in rats.",
                "--text",
                "Captopril.",
                "--weights",
                str(tiny_weights),
                "--json",
            ]
        )
        == 0
    )
    lines, _ = _lines(capsys)
    assert [line["pmid"] for line in lines] == ["text1", "text2"]
    for line, text in zip(lines, ["Lithium-induced tremor in rats.", "Captopril."]):
        assert set(line) >= {"entities", "relations"}
        assert all(
            text[e["start"] : e["end"]] == e["text"] and set(e) == {"start", "end", "text", "type", "mesh"}
            for e in line["entities"]
        )
        for relation in line["relations"]:  # stated relations only: never a co-mention
            assert set(relation) == {"chemical", "disease", "type", "probabilities", "evidence"}
            assert relation["type"] in ("induces", "treats")
            assert set(relation["probabilities"]) == {"co-mention", "induces", "treats"}


def test_predict_ignores_the_annotations_a_pubtator_file_already_holds(tiny_weights, tmp_path, capsys):
    annotated, bare = tmp_path / "annotated.txt", tmp_path / "bare.txt"
    annotated.write_text(PUBTATOR)
    bare.write_text("".join(PUBTATOR.splitlines(keepends=True)[:2]))
    outputs = []
    for path in (annotated, bare):
        assert (
            main(["predict", "literature.cdr", "--pubtator", str(path), "--weights", str(tiny_weights), "--json"]) == 0
        )
        outputs.append(_lines(capsys)[0])
    assert outputs[0] == outputs[1] and outputs[0][0]["pmid"] == "7"


def test_bad_literature_input_gives_one_line_errors_and_a_non_zero_exit(tiny_weights, tmp_path, capsys):
    assert main(["predict", "literature.cdr", "--text", "   ", "--weights", str(tiny_weights), "--json"]) == 1
    lines, _ = _lines(capsys)
    assert lines == [{"pmid": "text1", "error": "text1: the text is empty"}]
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("7|t|Caf\u00e9 induced tremor.\n".encode("latin-1"))
    # A file that cannot be read as a whole is an input error: a line naming it, the other inputs still read, exit 1.
    assert (
        main(
            [
                "predict",
                "literature.cdr",
                "--pubtator",
                str(latin1),
                "--text",
                "Lithium-induced tremor.",
                "--weights",
                str(tiny_weights),
                "--json",
            ]
        )
        == 1
    )
    (unreadable, pasted), err = _lines(capsys)
    assert unreadable["input"] == str(latin1) and "not UTF-8" in unreadable["error"] and "\n" not in unreadable["error"]
    assert pasted["pmid"] == "text1" and "entities" in pasted and err == ""
    assert main(["predict", "literature.cdr", "--weights", str(tiny_weights)]) == 2
    assert "--pubtator" in capsys.readouterr().err
    assert main(["predict", "imaging.pneumonia", "--text", "abc"]) == 2


def test_index_into_a_folder_or_a_file_that_is_not_a_database_is_one_line(tiny_weights, tmp_path, capsys):
    pubtator = tmp_path / "docs.txt"
    pubtator.write_text("7|t|Aspirin and ulcers.\n7|a|Aspirin caused ulcers.\n\n")
    not_a_database = tmp_path / "notes.sqlite"
    not_a_database.write_text("patient notes")
    for store, reason in ((tmp_path, "unable to open database file"), (not_a_database, "file is not a database")):
        assert main(["index", str(pubtator), "--store", str(store), "--weights", str(tiny_weights)]) == 2
        err = capsys.readouterr().err
        assert f"error: cannot open the findings database {store}: {reason}" in err and "Traceback" not in err
    assert not_a_database.read_text() == "patient notes"  # left as it was


def test_index_and_batch_report_a_missing_or_corrupt_xml_file_in_one_line(tiny_weights, tmp_path, capsys):
    missing, corrupt = tmp_path / "missing.xml", tmp_path / "corrupt.xml.gz"
    corrupt.write_bytes(b"\x1f\x8b\x08 not gzip")  # the progress count must not be what fails
    assert main(["index", str(missing), "--store", str(tmp_path / "f.sqlite"), "--weights", str(tiny_weights)]) == 1
    err = capsys.readouterr().err
    assert f"error: cannot read {missing}: No such file or directory" in err and "Traceback" not in err
    out = tmp_path / "out"
    assert (
        main(["batch", "literature.cdr", str(missing), str(corrupt), "--out", str(out), "--weights", str(tiny_weights)])
        == 0
    )
    from medmodels.batch import read_results

    errors = read_results(out).column("error").to_pylist()
    assert "cannot read" in errors[0] and "not readable PubMed XML" in errors[1]


def test_xml_declaring_entities_is_an_input_error_and_the_other_inputs_still_run(tiny_weights, tmp_path, capsys):
    xml = tmp_path / "billion-laughs.xml"
    xml.write_text('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]><PubmedArticleSet></PubmedArticleSet>')
    assert (
        main(
            [
                "predict",
                "literature.cdr",
                "--pubmed-xml",
                str(xml),
                "--text",
                "Captopril.",
                "--weights",
                str(tiny_weights),
                "--json",
            ]
        )
        == 1
    )
    (unreadable, pasted), err = _lines(capsys)
    assert unreadable == {"input": str(xml), "error": "the XML declares entities, which are not accepted"}
    assert pasted["pmid"] == "text1" and err == ""


def test_index_refuses_to_mix_model_versions_and_reindex_rereads_what_is_stored(tiny_weights, tmp_path, capsys):
    pubtator, store_path = tmp_path / "docs.txt", tmp_path / "findings.sqlite"
    pubtator.write_text(
        "7|t|Lithium and tremor.\n7|a|Lithium caused tremor.\n\n8|t|Captopril.\n8|a|Captopril was given.\n\n"
    )
    assert main(["index", str(pubtator), "--store", str(store_path), "--weights", str(tiny_weights)]) == 0
    capsys.readouterr()
    store = FindingsStore(store_path)
    stamp = store.stamp()
    with store.connection:  # as if an earlier version of the model had written it
        store.connection.execute("UPDATE model SET value = '0' WHERE key = 'version'")
    store.close()
    assert main(["index", str(pubtator), "--store", str(store_path), "--weights", str(tiny_weights)]) == 2
    err = capsys.readouterr().err
    (line,) = [line for line in err.splitlines() if line.startswith("error:")]
    assert "written by literature.cdr version 0" in line and "index --reindex" in line and "Traceback" not in err
    assert main(["index", "--reindex", "--store", str(store_path), "--weights", str(tiny_weights)]) == 0
    assert "reindexed 2 abstracts" in capsys.readouterr().out
    store = FindingsStore(store_path)
    assert store.stamp() == stamp and store.count() == 2
    store.close()
