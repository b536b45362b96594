import numpy as np
import torch

from medmodels.literature import recipes
from medmodels.literature.distant import split_of
from medmodels.literature.models import UNKNOWN, TextEncoder, encode_batch
from medmodels.literature.pretraining import (
    MaskedBatches,
    MaskedWordModel,
    encode_abstracts,
    mask_words,
    masked_word_accuracy,
    masked_word_loss,
)
from medmodels.literature.reading import Document
from medmodels.literature.text import OUTSIDE, TAGS, tokenize
from medmodels.training import TrainConfig, train

from .conftest import tiny_config

VOCABULARY = {word: i + 2 for i, word in enumerate(["cisplatin", "induced", "nephrotoxicity", "in", "rats", "."])}


def _batch(text: str = "Cisplatin induced nephrotoxicity in rats and mice .") -> tuple[str, object]:
    return text, encode_batch([text], [tokenize(text)], VOCABULARY)


def test_only_words_with_a_vector_are_hidden_and_a_hidden_word_shows_nothing_of_itself():
    _, batch = _batch(" ".join(["Cisplatin induced nephrotoxicity in rats and mice ."] * 40))
    masked, targets = mask_words(batch, 0.5, torch.Generator().manual_seed(0))
    chosen = targets != -100
    assert chosen.any() and not (chosen & (batch.words <= UNKNOWN)).any()  # "and", "mice": no vector, no target
    assert torch.equal(targets[chosen], batch.words[chosen])
    hidden = chosen & (masked.words == UNKNOWN)
    assert hidden.sum() > 0.8 * chosen.sum()  # most chosen words are hidden, a few stay visible
    assert (masked.spelling_ids[hidden] == 0).all()
    assert (masked.dictionary[hidden] == TAGS.index(OUTSIDE)).all()
    assert torch.equal(masked.words[~chosen], batch.words[~chosen])
    assert abs(chosen.sum().item() / (batch.words > UNKNOWN).sum().item() - 0.5) < 0.15


def test_masking_repeats_exactly_for_a_seed_and_differs_between_seeds():
    _, batch = _batch(" ".join(["Cisplatin induced nephrotoxicity in rats ."] * 20))
    first = mask_words(batch, 0.15, torch.Generator().manual_seed(3))[1]
    assert torch.equal(first, mask_words(batch, 0.15, torch.Generator().manual_seed(3))[1])
    assert not torch.equal(first, mask_words(batch, 0.15, torch.Generator().manual_seed(4))[1])


def test_pretraining_learns_to_name_hidden_words_from_their_context():
    torch.manual_seed(0)
    texts = ["Cisplatin induced nephrotoxicity in rats ."] * 64
    batches = MaskedBatches(encode_abstracts(texts, VOCABULARY), batch_size=16, seed=0, rate=0.3)
    model = MaskedWordModel(TextEncoder(tiny_config(len(VOCABULARY) + 2)))
    before = masked_word_accuracy(model, batches)
    result = train(model, batches, None, masked_word_loss, None, TrainConfig(30, 16, 1e-2, 0.0, 0, grad_clip=1.0))
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"] / 2
    assert masked_word_accuracy(model, batches) > max(0.9, before + 0.3)


def test_pretraining_reads_only_the_training_share_of_medline_and_no_bc5cdr_abstract():
    pmids = [str(1000 + i) for i in range(60)]
    medline = [Document(pmid, "Title", "An abstract.") for pmid in pmids]
    medline.append(Document("9999", "A title without abstract", ""))
    in_bc5cdr = next(p for p in pmids if split_of(p) == "train")
    bc5cdr = Document(in_bc5cdr, "Title", "An abstract.")
    corpora = recipes.Corpora(
        splits={"train": [], "val": [], "test": [bc5cdr]},
        medline=medline,
        words=[],
        vectors=np.zeros((0, 8), dtype=np.float32),
        names={},
        mesh={},
        indexing={},
    )
    read = recipes.pretraining_texts(corpora)
    expected = [p for p in pmids if split_of(p) == "train" and p != in_bc5cdr]
    assert 0 < len(read) == len(expected) < len(pmids) - 1
