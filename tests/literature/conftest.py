import json
from dataclasses import asdict

import pytest
import torch

from medmodels.cards import ModelCard
from medmodels.checkpoints import save_checkpoint
from medmodels.literature.models import CdrConfig, CdrModel
from medmodels.literature.pipeline import NAME, lexicon_path
from medmodels.literature.text import TAGS

WORDS = ["lithium", "induced", "tremor", "in", "rats", "captopril"]


def tiny_config(vocabulary_size: int) -> CdrConfig:
    """A literature.cdr small enough to build in milliseconds, reading relation types as version 2 does."""
    return CdrConfig(
        vocabulary_size=vocabulary_size,
        word_dim=8,
        char_dim=4,
        char_filters=6,
        feature_dim=2,
        hidden=16,
        layers=2,
        heads=2,
        relation_width=8,
        relation_types=("induces", "treats"),
    )


@pytest.fixture
def tiny_weights(tmp_path):
    """A small untrained literature.cdr with its card and lexicon: what a trained one ships, in miniature."""
    torch.manual_seed(0)
    config = tiny_config(len(WORDS) + 2)
    model = CdrModel(config).eval()
    card = ModelCard(
        name=NAME,
        architecture="CdrModel",
        config=asdict(config),
        labels=list(TAGS),
        task="test",
        preprocessing={},
        threshold=0.5,
        positive_label="CID",
    )
    corpus = {"Chemical": {"lithium": "D008094"}, "Disease": {"tremor": "D014202"}}
    lexicon_path(tmp_path).write_text(json.dumps({"words": WORDS, "corpus": corpus, "names": {"captopril": "D002216"}}))
    save_checkpoint(model, card, tmp_path, {"lexicon": lexicon_path(tmp_path)})
    return tmp_path
