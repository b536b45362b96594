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
