"""The recurrent screening model's contract: tokens in, logits and per-residue attention out."""

import numpy as np
import pytest
import torch
from safetensors.torch import load, save
from sklearn.ensemble import HistGradientBoostingClassifier

from medmodels import create_model
from medmodels.sequences.alphabet import NUCLEOTIDE, PAD, PROTEIN
from medmodels.sequences.features import FEATURE_COUNT, protein_features
from medmodels.sequences.models import (
    AttentionGRU,
    FeatureNetwork,
    LocalisationConfig,
    TreeMember,
    model_inputs,
    recurrent_model,
    sequence_features,
)

ALPHABET, UNKNOWN, encode = PROTEIN.letters, PROTEIN.unknown, PROTEIN.encode


def test_tokenizer_gives_each_residue_its_own_id_and_pads_with_zero():
    tokens = encode(["ACDEFGHIKLMNPQRSTVWY", "KK"], max_length=50)
    assert tokens.shape == (2, 20) and tokens.dtype == torch.long
    assert tokens[0].tolist() == list(range(1, 21))
    assert tokens[1].tolist() == [ALPHABET.index("K") + 1] * 2 + [PAD] * 18


def test_tokenizer_maps_rare_residues_like_the_input_policy_and_keeps_both_ends_of_long_proteins():
    assert encode(["UO"], 10)[0].tolist() == [ALPHABET.index("C") + 1, ALPHABET.index("K") + 1]
    assert encode(["AXB"], 10)[0].tolist() == [1, UNKNOWN, UNKNOWN]  # ambiguous letters in training data
    long = "M" + "A" * 100 + "KDEL"
    kept = encode([long], 10)[0].tolist()
    assert kept[:5] == encode(["MAAAA"], 10)[0].tolist() and kept[5:] == encode(["AKDEL"], 10)[0].tolist()


def test_nucleotide_alphabet_ids_are_fixed_and_read_rna_as_dna():
    assert NUCLEOTIDE.size == 6 and NUCLEOTIDE.unknown == 5
    assert NUCLEOTIDE.encode(["ACGT", "ACGU"], 10).tolist() == [[1, 2, 3, 4], [1, 2, 3, 4]]
    assert NUCLEOTIDE.encode(["ANRYG"], 10)[0].tolist() == [1, 5, 5, 5, 3]  # N and IUPAC codes: one unknown id
    assert NUCLEOTIDE.encode(["AC", "G"], 10)[1].tolist() == [3, PAD]


MODELS = [("sequence.amp", 2), ("sequence.anticancer", 2), ("sequence.localisation", 13)]  # the last pools 5 residues


@pytest.mark.parametrize(("name", "classes"), MODELS)
def test_attention_sums_to_one_over_real_residues_and_is_zero_on_padding(name, classes):
    torch.manual_seed(0)
    model = create_model(name).eval()
    tokens, features = _inputs(model, ["GIGKFLHSAKKFGKAFVGEIMNS", "KWKLFKKI", "ACDEFGHIKLMNPQRSTVWYAC"], 200)
    logits, weights = model(tokens, features, return_attention=True)
    assert logits.shape == (3, classes) and weights.shape == tokens.shape
    real = tokens != PAD
    torch.testing.assert_close(weights.sum(dim=1), torch.ones(3))
    assert torch.all(weights[~real] == 0) and torch.all(weights[real] > 0)


def _inputs(model: torch.nn.Module, sequences: list[str], max_length: int) -> tuple:
    """Token ids, and the whole-sequence features of a model that reads them."""
    return encode(sequences, max_length), sequence_features(model.config, sequences)


@pytest.mark.parametrize(("name", "classes"), MODELS)
def test_padding_does_not_change_a_sequences_score_or_attention(name, classes):
    torch.manual_seed(0)
    model = create_model(name).eval()
    alone, alone_weights = model(*_inputs(model, ["KWKLFKKI"], 200), return_attention=True)
    beside, beside_weights = model(*_inputs(model, ["KWKLFKKI", "G" * 150], 200), return_attention=True)
    torch.testing.assert_close(alone, beside[:1], atol=1e-5, rtol=0)
    torch.testing.assert_close(alone_weights[0], beside_weights[0, :8], atol=1e-6, rtol=0)


def test_pooled_attention_is_shared_equally_within_each_window():
    torch.manual_seed(0)
    model = create_model("sequence.localisation").eval()
    _, weights = model(
        *_inputs(model, ["MKTAYIAKQRQISFVKSHFSRQ"], 1000), return_attention=True
    )  # 22 residues: windows of 5, 5, 5, 5, 2
    windows = list(weights[0].split(5))
    assert [len(w) for w in windows] == [5, 5, 5, 5, 2]
    assert all(torch.allclose(w, w[0].expand_as(w)) for w in windows)


PROTEINS = [
    "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQAPILSRVGDGTQDNLSGAEKAVQVKVKALPDAQFEVVHSLAKWKRQTLGQHDFSAGEGLYTHMKALRPDEDRLSPLHSVYVDQWDWERVMGDGERQFSTLKSTVEAIWAGIKATEAAVSEEFGLAPFLPDQIHFVHSQELLSRYPDLDAKGRERAIAKDLGAVFLVGIGGKLSDGHRHDVRAPDYDDWSTPSELGHAGLNGDILVWNPVLEDAFELSSMGIRVDADTLKHQLALTGDEDRLELEWHQALLRGEMPQTIGGGIGQSRLTMLLLQLPHIGQVQAGVWPAACRRPGLGGRMMAGDPDRAPRPGLAGSRDGSCLLAEAAAVPALKGGHATGPAPGGRSPPRAERESRPLRAGEPRRHPRRALRLPRPRLVRRRRPPPRRRHGDLLARQLPCHPLVAPLLLPAPRLTAGSPRGPGRGAGPRRLLRRRRLPRHRRRLRRRAPPRRRPRLPRGARRHRHPAPRAGHRPHRPPAPRPSRRRPPGRRPAPPLRRPRRHARRGRPVRPAPRRARGLRRPPRRAHRPAARAALRAARRAPLRRARAGR",
    "MKWVTFISLLFLFSSAYSRGVFRRDAHKSEVAHRFKDLGEENFKALVLIAFAQYLQQCPFEDHVKLVNEVTEFAKTCVADESAENCDKSLHTLFGDKLCTVATLRETYGEMADCCAKQEPERNECFLQHKDDNPNLPRLVRPEVDVMCTAFHDNEETFLKKYLYEIARRHPYFYAPELLFFAKRYKAAFTECCQAADKAACLLPKLDELRDEGKASSAKQRLKCASLQKFGERAFKAWAVARLSQRFPKAEFAEVSKLVTDLTKVHTECCHGDLLECADDRADLAKYICENQDSISSKLKECCEKPLLEKSHCIAEVENDEMPADLPSLAADFVESKDVCKNYAEAKDVFLGMFLYEYARRHPDYSVVLLLRLAKTYETTLEKCCAAADPHECYAKVFDEFKPLVEEPQNLIKQNCELFEQLGEYKFQNALLVRYTKKVPQVSTPTLVEVSRNLGKVGSKCCKHPEAKRMPCAEDYLSVVLNQLCVLHEKTPVSDRVTKCCTESLVNRRPCFSALEVDETYVPKEFNAETFTFHADICTLSEKERQIKKQTALVELVKHKPKATKEQLKAVMDDFAAFVEKCCKADDKETCFAEEGKKLVAASQAALGL",
]


def test_a_logit_shift_moves_every_logit_by_its_offset():
    torch.manual_seed(0)
    model = create_model("sequence.localisation").eval()
    inputs = model_inputs(model.config, PROTEINS)
    before = model(*inputs)
    offsets = torch.linspace(-1, 1, 13)
    model.shift_logits(offsets)
    torch.testing.assert_close(model(*inputs), before + offsets)


def test_an_ensemble_averages_its_networks_logits_and_saliency_and_its_letter_networks_attention():
    torch.manual_seed(0)
    ensemble = create_model("sequence.localisation").eval()  # five letter, five feature networks, five tree members
    letters = [m for m in ensemble.members if isinstance(m, AttentionGRU)]
    feature_networks = [m for m in ensemble.members if isinstance(m, FeatureNetwork)]
    assert len(letters) == len(feature_networks) == len(ensemble.trees) == 5
    tree_share = ensemble.config.tree_weight
    tokens, features = model_inputs(ensemble.config, PROTEINS)
    logits, weights = ensemble(tokens, features, return_attention=True)
    outputs = [member(tokens, features, return_attention=True) for member in letters]
    every_logit = [member_logits for member_logits, _ in outputs] + [m(tokens, features) for m in feature_networks]
    trees = torch.stack([m(tokens, features) for m in ensemble.trees]).mean(dim=0)
    torch.testing.assert_close(logits, (1 - tree_share) * torch.stack(every_logit).mean(dim=0) + tree_share * trees)
    torch.testing.assert_close(weights, torch.stack([member_weights for _, member_weights in outputs]).mean(dim=0))
    torch.testing.assert_close(weights.sum(dim=1), torch.ones(2))
    saliency = ensemble.gradient_x_input(tokens, 3, features)
    # Feature networks and trees read no letter: the saliency is the letter networks' sum over all ten networks,
    # times the networks' share of the logits.
    letter_sum = torch.stack([member.gradient_x_input(tokens, 3, features) for member in letters]).sum(dim=0)
    torch.testing.assert_close(saliency, (1 - tree_share) * letter_sum / 10)
    assert saliency.shape == tokens.shape and torch.all(saliency[tokens == PAD] == 0)
    offsets = torch.linspace(-1, 1, 13)
    ensemble.shift_logits(offsets)
    torch.testing.assert_close(ensemble(tokens, features), logits + offsets)


def test_tree_members_give_the_boosting_s_probabilities_survive_safetensors_and_take_their_share_of_the_logits():
    torch.manual_seed(0)
    config = LocalisationConfig(members=1, feature_members=1, tree_members=1, tree_rounds=20, tree_leaves=7)
    ensemble = recurrent_model(config).eval()
    rng = np.random.default_rng(0)
    rows = rng.random((650, FEATURE_COUNT)).astype(np.float32)
    labels = np.arange(650) % 13
    rows[np.arange(650), labels] += 1.0  # each class raises its own feature, so the trees have something to learn
    boosting = HistGradientBoostingClassifier(max_iter=20, max_leaf_nodes=7, random_state=0).fit(rows, labels)
    trees = ensemble.trees[0]
    trees.set_trees(boosting)
    tokens, _ = model_inputs(config, PROTEINS)
    features = torch.from_numpy(rows[:2])
    torch.testing.assert_close(
        torch.log_softmax(trees(tokens, features).double(), dim=1),
        torch.from_numpy(np.log(boosting.predict_proba(rows[:2]))),
        atol=1e-4,
        rtol=1e-4,
    )
    reloaded = recurrent_model(config).eval()
    reloaded.load_state_dict(load(save(ensemble.state_dict())))
    torch.testing.assert_close(reloaded(tokens, features), ensemble(tokens, features))
    letter, feature_network = ensemble.networks
    networks = (letter(tokens, features) + feature_network(tokens, features)) / 2
    expected = (1 - config.tree_weight) * networks + config.tree_weight * trees(tokens, features)
    torch.testing.assert_close(ensemble(tokens, features), expected)
    # Trees read no letter: the saliency is the networks' share of theirs.
    torch.testing.assert_close(
        ensemble.gradient_x_input(tokens, 3, features),
        (1 - config.tree_weight) * letter.gradient_x_input(tokens, 3, features) / 2,
    )
    offsets = torch.linspace(-1, 1, 13)
    before = ensemble(tokens, features)
    ensemble.shift_logits(offsets)
    torch.testing.assert_close(ensemble(tokens, features), before + offsets)
    assert isinstance(trees, TreeMember)


def test_the_whole_protein_features_read_its_termini_and_composition():
    features = protein_features(["MAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAASKL", "KDEL"])
    assert features.shape == (2, FEATURE_COUNT)
    amino_acids = PROTEIN.letters
    # The last residues one-hot: -SKL reads L at -1, K at -2, S at -3 (a peroxisomal PTS1 signal).
    last, second_last, third_last = (features[0, 500 + 20 * i : 520 + 20 * i] for i in range(3))
    assert (
        last[amino_acids.index("L")] == second_last[amino_acids.index("K")] == third_last[amino_acids.index("S")] == 1
    )
    assert features[0, amino_acids.index("A")] == pytest.approx(69 / 73)  # whole-protein share of alanine
    assert features[1, -1] == pytest.approx(np.log(4))  # log length
