import numpy as np
import pandas as pd
import streamlit as st

from medmodels.genome.data import example_fasta as genome_examples
from medmodels.genome.explain import motif_hits, orf_track
from medmodels.genome.figures import saliency_logo
from medmodels.genome.parsing import DEFAULT_MAX_LENGTH as NUCLEOTIDE_MAX_LENGTH
from medmodels.genome.parsing import alphabet_vote, clean_nucleotides
from medmodels.sequences.data import example_fasta
from medmodels.sequences.explain import (
    TRACK_WINDOW,
    Descriptors,
    MutationScan,
    descriptors,
    explained_class,
    max_scan_length,
    mutation_scan,
    saliency,
)
from medmodels.sequences.figures import mutation_heatmap, sequence_tracks
from medmodels.sequences.parsing import (
    DEFAULT_MAX_LENGTH,
    SequenceInputError,
    SequenceRecord,
    clean_record,
    parse_text,
    parse_upload,
)
from medmodels.sequences.screening import WITHHELD, score_column, screening_table
from pages._shared import Keys, data_dir_or_none, installed_in, require_entrypoint, sequence_screener

SHOWN_ERRORS = 10

require_entrypoint(__file__)

st.title("Sequence screening")
st.caption(
    "Peptides and proteins: antimicrobial and anticancer scores and the subcellular location. DNA and RNA: splice "
    "sites, transcription-factor binding and coding potential (lncRNA or mRNA). Each with the attention the model "
    "paid to every letter; a sequence outside a model's domain gets no call. Sequences are processed in memory and "
    "never stored."
)
DOMAINS = {"protein": ("sequence", "protein"), "nucleotide": ("genome", "DNA or RNA")}
READ_AS = {"Detect": None, "Protein": "protein", "DNA or RNA": "nucleotide"}


@st.cache_data(show_spinner=False)
def examples(models: tuple[str, ...]) -> str:
    return example_fasta([(name, sequence_screener(name).screening) for name in models])


@st.cache_data(show_spinner=False)
def dna_examples() -> str:
    return genome_examples(data_dir_or_none())


# Explanations of one sequence, cached so that ranking, filtering or choosing another sequence and back
# redraws without recomputing them.
@st.cache_data(max_entries=64, show_spinner=False)
def explanation_tracks(model: str, sequence: str) -> dict[str, np.ndarray]:
    screener = sequence_screener(model)
    target = explained_class(screener, sequence)
    return {
        f"{model}: attention": screener.attention(sequence),
        f"{model}: gradient x input (toward '{screener.card.labels[target]}')": saliency(screener, sequence, target),
    }


@st.cache_data(max_entries=64, show_spinner=False)
def sequence_descriptors(sequence: str) -> Descriptors:
    return descriptors(sequence)


@st.cache_data(max_entries=32, show_spinner="Scoring every substitution…")
def cached_mutation_scan(model: str, sequence: str) -> MutationScan:
    return mutation_scan(sequence_screener(model), sequence)


def _as_given(record_id: str, raw: str, max_length: int) -> SequenceRecord:
    return SequenceRecord(record_id, raw)  # no policy yet: the alphabet decides which one applies


protein_names = [card.name for card in installed_in("sequence")]
dna_names = [card.name for card in installed_in("genome")]
buttons = st.columns(2)
if protein_names and buttons[0].button("Load protein examples (test splits)", icon=":material/science:"):
    st.session_state[Keys.SEQUENCE_TEXT] = examples(tuple(protein_names))
if dna_names and buttons[1].button("Load DNA examples", icon=":material/genetics:"):
    st.session_state[Keys.SEQUENCE_TEXT] = dna_examples()
text = st.text_area(
    "One sequence, or FASTA text with many records",
    key=Keys.SEQUENCE_TEXT,
    height=160,
    placeholder=">magainin2\nGIGKFLHSAKKFGKAFVGEIMNS",
)
upload = st.file_uploader(
    "…or a FASTA file, or a CSV with id and sequence columns", type=["fasta", "fa", "faa", "fna", "txt", "csv"]
)
read_as = st.radio(
    "Read the input as",
    list(READ_AS),
    horizontal=True,
    key=Keys.SEQUENCE_ALPHABET,
    help="Detect: each record votes. It reads as DNA or RNA when every letter is a nucleotide letter or an "
    "ambiguity code and at least 90 % are A, C, G, T or U, as protein when every letter is an amino-acid letter; a "
    "record with any other character does not vote. The input is DNA or RNA when most votes say so, protein "
    "otherwise; the records that do not fit are rejected with the reason.",
)

try:
    if upload is not None:
        raw = parse_upload(upload.getvalue(), upload.name, clean=_as_given)
    elif text.strip():
        raw = parse_text(text, clean=_as_given)
    else:
        st.info("Paste a sequence or FASTA text, upload a file, or load the examples.", icon=":material/edit_note:")
        st.stop()
except SequenceInputError as error:
    st.error(f"The input could not be read: {error}", icon=":material/error:")
    st.stop()

vote = alphabet_vote(r.sequence or "" for r in raw)
detected = "nucleotide" if vote.nucleotides else "protein"
alphabet = READ_AS[read_as] or detected
domain, described = DOMAINS[alphabet]
clean = clean_nucleotides if alphabet == "nucleotide" else clean_record
records = [
    clean(r.id, r.sequence or "", DEFAULT_MAX_LENGTH if alphabet == "protein" else NUCLEOTIDE_MAX_LENGTH) for r in raw
]
st.caption(
    f":material/translate: Read as **{described}**"
    + (" (detected)" if READ_AS[read_as] is None else f" (chosen; detection says {DOMAINS[detected][1]})")
    + (f"; {vote.nucleotide} record(s) look like DNA or RNA and {vote.protein} like protein" if vote.mixed else "")
    + ". Change it above if that is wrong."
)
names = protein_names if alphabet == "protein" else dna_names
if not names:
    st.info(
        f"No {described} model is installed yet. Installed models are listed on the Models page.",
        icon=":material/info:",
    )
    st.stop()
unit = "aa" if alphabet == "protein" else "nt"

rejected = [r for r in records if r.sequence is None]
valid = [r for r in records if r.sequence is not None]
if rejected:
    st.error(
        f"{len(rejected)} of {len(records)} records rejected:\n\n"
        + "\n".join(f"- {r.error}" for r in rejected[:SHOWN_ERRORS])
        + (f"\n- … and {len(rejected) - SHOWN_ERRORS} more, listed below" if len(rejected) > SHOWN_ERRORS else ""),
        icon=":material/error:",
    )
    if len(rejected) > SHOWN_ERRORS:
        with st.expander(f"All {len(rejected)} rejected records"):
            problems = pd.DataFrame({"id": [r.id for r in rejected], "problem": [r.error for r in rejected]})
            st.dataframe(problems, hide_index=True)
            st.download_button(
                "Download rejected records (CSV)",
                problems.to_csv(index=False),
                file_name="rejected.csv",
                mime="text/csv",
            )
notices = [f"{record.id}: {notice}" for record in valid for notice in record.notices]
for notice in notices[:SHOWN_ERRORS]:
    st.caption(f":material/info: {notice}")
if len(notices) > SHOWN_ERRORS:
    st.caption(f":material/info: … and {len(notices) - SHOWN_ERRORS} more notices of the same kinds")
if not valid:
    st.stop()

# Scored once per input and set of models; moving the filter or choosing a sequence reuses the table.
table_key = (tuple(names), tuple((r.id, r.sequence) for r in valid))
if st.session_state.get(Keys.SCREEN_KEY) != table_key:
    bar = st.progress(0.0, text="Scoring…") if len(valid) > 50 else None
    table = screening_table(
        [sequence_screener(n) for n in names],
        valid,
        (lambda fraction, text: bar.progress(fraction, text=text)) if bar else None,
    )
    if bar:
        bar.empty()
    st.session_state[Keys.SCREEN_KEY], st.session_state[Keys.SCREEN_TABLE] = table_key, table
table = st.session_state[Keys.SCREEN_TABLE]

st.subheader("Ranked results")
# By default, rank by the model whose domain holds the most of these sequences (a splice window is no transcript).
scored = [int(table[score_column(sequence_screener(n))].notna().sum()) for n in names]
rank_by = st.selectbox(
    "Rank by",
    names,
    index=scored.index(max(scored)),
    format_func=lambda n: f"{n} — {score_column(sequence_screener(n))}",
)
ranked_column = score_column(sequence_screener(rank_by))
minimum = st.slider(f"Show only {ranked_column} at least", 0.0, 1.0, 0.0, 0.01)
# A sequence the model withholds (outside its domain) has no score: it stays in the table, last, with the reason.
withheld = table[ranked_column].isna()
shown = table[(table[ranked_column] >= minimum) | withheld].sort_values(
    ranked_column, ascending=False, na_position="last"
)
thresholds = ", ".join(f"{n}: {sequence_screener(n).threshold:.2f}" for n in names if sequence_screener(n).screening)
st.caption(
    f"{len(shown)} of {len(table)} sequences. "
    + (f"Screening calls use each model's threshold chosen on validation ({thresholds}); " if thresholds else "")
    + "a multi-class model calls its most probable class."
    + (
        f" {int(withheld.sum())} sequence(s) are outside {rank_by}'s domain: '{WITHHELD}', no score, listed last."
        if withheld.any()
        else ""
    )
)
st.dataframe(
    shown,
    hide_index=True,
    column_config={
        c: st.column_config.ProgressColumn(format="%.3f", min_value=0, max_value=1)
        for c in table.columns
        if c.startswith("P(")
    },
)
csv, fasta = st.columns(2)
csv.download_button(
    "Download table (CSV)",
    shown.to_csv(index=False),
    file_name="screening.csv",
    mime="text/csv",
    icon=":material/download:",
)
fasta.download_button(
    "Download shown sequences (FASTA)",
    "".join(f">{row.id} {ranked_column}={row[ranked_column]:.3f}\n{row.sequence}\n" for _, row in shown.iterrows()),
    file_name="hits.fasta",
    mime="text/plain",
    icon=":material/download:",
)

st.subheader("Why this score")
chosen = st.selectbox(
    "Sequence",
    list(shown.index) or list(table.index),
    format_func=lambda i: f"{table.at[i, 'id']} ({table.at[i, 'length']} {unit})",
)
sequence = table.at[chosen, "sequence"]
if alphabet == "protein":
    found = sequence_descriptors(sequence)
    columns = st.columns(4)
    for column, (title, value, help_text) in zip(
        columns,
        (
            ("Net charge (pH 7)", f"{found.net_charge:+.2f}", "Biopython ProtParam"),
            ("Isoelectric point", f"{found.isoelectric_point:.2f}", "Biopython ProtParam"),
            ("GRAVY", f"{found.gravy:+.2f}", "mean Kyte-Doolittle hydropathy (Biopython)"),
            ("Hydrophobic moment", f"{found.hydrophobic_moment:.2f}", "Eisenberg scale, 100° per residue (modlamp)"),
        ),
    ):
        column.metric(title, value, help=help_text)
    tracks = {}
    for name in names:
        reason = sequence_screener(name).withheld_reasons([sequence])[0]
        if reason:  # no explanation of a call that is not made
            st.warning(f"{name} withholds its call on this sequence: {reason}.", icon=":material/block:")
            continue
        tracks.update(explanation_tracks(name, sequence))
    tracks[f"hydrophobicity (Kyte-Doolittle, {TRACK_WINDOW}-residue window)"] = found.hydrophobicity_track
    tracks[f"charge at pH 7 ({TRACK_WINDOW}-residue window)"] = found.charge_track
    st.plotly_chart(sequence_tracks(sequence, tracks), key="tracks")
    st.caption(
        "Attention shows which residues a model weighted when pooling, gradient x input which residues push its score up "
        "(red) or down (blue); both are aids to judgement, not explanations by themselves. Long proteins are read as "
        "their first and last residues only (see the model card)."
    )
else:
    columns = st.columns(3)
    columns[0].metric("Length", f"{len(sequence):,} nt")
    columns[1].metric("GC content", f"{(sequence.count('G') + sequence.count('C')) / len(sequence):.1%}")
    orf = orf_track(sequence)
    columns[2].metric(
        "Longest ORF",
        f"{orf[1] - orf[0]:,} nt" if orf else "none",
        help="ATG to a stop codon, given strand (Biopython)",
    )
    for name in names:
        reason = sequence_screener(name).withheld_reasons([sequence])[0]
        if reason:
            st.warning(f"{name} withholds its call on this sequence: {reason}.", icon=":material/block:")
            continue
        (attention, gradient) = explanation_tracks(name, sequence).values()
        target = sequence_screener(name).card.labels[explained_class(sequence_screener(name), sequence)]
        hits = motif_hits(name, sequence)
        st.markdown(f"**{name}** — saliency toward '{target}'")
        st.pyplot(saliency_logo(sequence, gradient, attention, hits, orf, target), clear_figure=False)
        if hits:
            st.dataframe(
                pd.DataFrame([{"motif": h.name, "from": h.start + 1, "to": h.end, "strand": h.strand} for h in hits]),
                hide_index=True,
            )
    st.caption(
        "Top: the attention each base got when the model pooled. Below: gradient x input as a sequence logo; a letter "
        "above the line pushes toward the named class, below it away. Shaded: the known motifs of the task on either "
        "strand (the octamer ATGCAAAT for Oct4, the MARE half-site TGCTGA for MafK, the splice GT and AG beside the "
        "junction); a model that learned the biology leans on them. Aids to judgement, not explanations by themselves."
    )

st.subheader("Mutation scan")
scan_limit = max_scan_length(sequence_screener(rank_by))
if sequence_screener(rank_by).withheld_reasons([sequence])[0]:
    st.info(
        f"No mutation scan: {rank_by} withholds its call on this sequence (above), so its variants have no call either.",
        icon=":material/info:",
    )
elif len(sequence) > scan_limit:
    st.info(
        f"The mutation scan covers sequences up to {scan_limit} {'residues' if alphabet == 'protein' else 'bases'}; "
        f"this one has {len(sequence)}.",
        icon=":material/info:",
    )
else:
    scan = cached_mutation_scan(rank_by, sequence)
    heatmap, best = st.columns([3, 1])
    heatmap.plotly_chart(mutation_heatmap(scan), key="mutations")
    with best:
        st.markdown(f"**Most damaging** for P({scan.target})")
        st.dataframe(pd.DataFrame(scan.worst(10), columns=["substitution", "Δ P"]), hide_index=True)
        st.markdown(f"**Most raising** for P({scan.target})")
        st.dataframe(pd.DataFrame(scan.best(10), columns=["substitution", "Δ P"]), hide_index=True)
    variants = (len(scan.letters) - 1) * len(sequence)
    st.caption(
        f"All {variants:,} single substitutions scored by {rank_by}; the model's view, not a measured effect."
        + (
            " Check the variants still lie in the model's domain before reading much into them."
            if alphabet != "protein"
            else ""
        )
    )
