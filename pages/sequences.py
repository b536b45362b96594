import numpy as np
import pandas as pd
import streamlit as st

from medmodels.sequences.data import example_fasta
from medmodels.sequences.explain import (
    MAX_SCAN_LENGTH,
    TRACK_WINDOW,
    Descriptors,
    MutationScan,
    descriptors,
    explained_class,
    mutation_scan,
    saliency,
)
from medmodels.sequences.figures import mutation_heatmap, sequence_tracks
from medmodels.sequences.parsing import SequenceInputError, parse_text, parse_upload
from medmodels.sequences.screening import score_column, screening_table
from pages._shared import Keys, require_entrypoint, sequence_screener, stop_unless_installed

SHOWN_ERRORS = 10

require_entrypoint(__file__)

st.title("Sequence screening")
st.caption(
    "Antimicrobial and anticancer scores for peptides and the subcellular location of proteins, with the attention "
    "each model paid to every residue. Sequences are processed in memory and never stored."
)
cards = stop_unless_installed("sequence", "sequence-screening")
names = [card.name for card in cards]


@st.cache_data(show_spinner=False)
def examples(models: tuple[str, ...]) -> str:
    return example_fasta([(name, sequence_screener(name).screening) for name in models])


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


if st.button("Load examples from the test splits", icon=":material/science:"):
    st.session_state[Keys.SEQUENCE_TEXT] = examples(tuple(names))
text = st.text_area(
    "One sequence, or FASTA text with many records",
    key=Keys.SEQUENCE_TEXT,
    height=160,
    placeholder=">magainin2\nGIGKFLHSAKKFGKAFVGEIMNS",
)
upload = st.file_uploader(
    "…or a FASTA file, or a CSV with id and sequence columns", type=["fasta", "fa", "faa", "txt", "csv"]
)

try:
    if upload is not None:
        records = parse_upload(upload.getvalue(), upload.name)
    elif text.strip():
        records = parse_text(text)
    else:
        st.info("Paste a sequence or FASTA text, upload a file, or load the examples.", icon=":material/edit_note:")
        st.stop()
except SequenceInputError as error:
    st.error(f"The input could not be read: {error}", icon=":material/error:")
    st.stop()

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
for record in valid:
    for notice in record.notices:
        st.caption(f":material/info: {record.id}: {notice}")
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
rank_by = st.selectbox("Rank by", names, format_func=lambda n: f"{n} — {score_column(sequence_screener(n))}")
ranked_column = score_column(sequence_screener(rank_by))
minimum = st.slider(f"Show only {ranked_column} at least", 0.0, 1.0, 0.0, 0.01)
shown = table[table[ranked_column] >= minimum].sort_values(ranked_column, ascending=False)
st.caption(
    f"{len(shown)} of {len(table)} sequences. Screening calls use each model's threshold chosen on validation ("
    + ", ".join(f"{n}: {sequence_screener(n).threshold:.2f}" for n in names if sequence_screener(n).screening)
    + "); a multi-class model calls its most probable class."
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
    format_func=lambda i: f"{table.at[i, 'id']} ({table.at[i, 'length']} aa)",
)
sequence = table.at[chosen, "sequence"]
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
    tracks.update(explanation_tracks(name, sequence))
tracks[f"hydrophobicity (Kyte-Doolittle, {TRACK_WINDOW}-residue window)"] = found.hydrophobicity_track
tracks[f"charge at pH 7 ({TRACK_WINDOW}-residue window)"] = found.charge_track
st.plotly_chart(sequence_tracks(sequence, tracks), key="tracks")
st.caption(
    "Attention shows which residues a model weighted when pooling, gradient x input which residues push its score up (red) "
    "or down (blue); both are aids to judgement, not explanations by themselves. Long proteins are read as their first "
    "and last residues only (see the model card)."
)

st.subheader("Mutation scan")
if len(sequence) > MAX_SCAN_LENGTH:
    st.info(
        f"The mutation scan covers sequences up to {MAX_SCAN_LENGTH} residues; this one has {len(sequence)}.",
        icon=":material/info:",
    )
else:
    scan = cached_mutation_scan(rank_by, sequence)
    heatmap, best = st.columns([3, 1])
    heatmap.plotly_chart(mutation_heatmap(scan), key="mutations")
    with best:
        st.markdown(f"**Top substitutions** for P({scan.target})")
        st.dataframe(pd.DataFrame(scan.best(10), columns=["substitution", "Δ P"]), hide_index=True)
    st.caption(
        f"All {19 * len(sequence)} single substitutions scored by {rank_by}; the model's view, not a measured effect."
    )
