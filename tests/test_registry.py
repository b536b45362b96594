import pytest

from medmodels import create_model, list_models
from medmodels.registry import UnknownModelError, get_model_info, register_model


def test_list_models_includes_the_shipped_model_and_is_sorted():
    names = list_models()
    assert "imaging.pneumonia" in names
    assert names == sorted(names)
    assert all("." in name for name in names)


def test_unknown_model_is_refused_with_a_suggestion():
    with pytest.raises(UnknownModelError) as raised:
        create_model("imaging.pneumonai")
    message = str(raised.value)
    assert "unknown model 'imaging.pneumonai'" in message
    assert "Did you mean 'imaging.pneumonia'" in message


def test_unknown_config_key_is_refused_by_name():
    with pytest.raises(TypeError, match="unknown config key\\(s\\) for 'imaging.pneumonia': widht"):
        create_model("imaging.pneumonia", widht=3)


def test_config_keys_reach_the_model():
    model = create_model("imaging.pneumonia", num_classes=3, widths=(8, 16))
    info = get_model_info("imaging.pneumonia")
    config = info.config_class(num_classes=3, widths=(8, 16))
    assert model(info.example_input(config, 2)).shape == (2, 3)


def test_registering_a_name_twice_fails():
    info = get_model_info("imaging.pneumonia")
    with pytest.raises(ValueError, match="registered twice"):
        register_model(
            "imaging.pneumonia",
            config=info.config_class,
            task="x",
            labels=("a",),
            summary="x",
            example_input=info.example_input,
            recipe=info.recipe,
        )(info.builder)


def test_undotted_names_are_refused():
    info = get_model_info("imaging.pneumonia")
    with pytest.raises(ValueError, match="dotted by domain"):
        register_model(
            "pneumonia",
            config=info.config_class,
            task="x",
            labels=("a",),
            summary="x",
            example_input=info.example_input,
            recipe=info.recipe,
        )


def test_a_users_model_is_registered_from_its_card_and_can_never_shadow_a_built_in_one(tmp_path, monkeypatch):
    import json

    monkeypatch.setenv("MEDMODELS_HOME", str(tmp_path))
    folder = tmp_path / "models"
    folder.mkdir()

    def card(name: str, builder: str) -> None:
        header = {"name": name, "builder": builder, "task": "my task", "labels": ["a", "b"]}
        (folder / f"{name}.json").write_text(json.dumps(header))

    card("imaging.mine", "imaging.custom")
    card("imaging.pneumonia", "imaging.custom")  # a built-in name: ignored
    card("sequence.theirs", "imaging.custom")  # another domain than its builder's: ignored
    (folder / "notes.json").write_text("[1, 2]")  # not a card at all
    names = list_models()
    assert "imaging.mine" in names and "sequence.theirs" not in names
    mine = get_model_info("imaging.mine")
    assert (mine.task, mine.labels, mine.recipe) == ("my task", ("a", "b"), get_model_info("imaging.custom").recipe)
    assert get_model_info("imaging.pneumonia").task != "my task"
