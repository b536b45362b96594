import json
from pathlib import Path

import pandas as pd
import streamlit as st

from medmodels.literature.figures import attention_heatmap, attribution_bars, evidence_over_time, top_entities_bars
from medmodels.literature.highlight import COLOURS, highlighted_html, markdown_safe
from medmodels.literature.indexing import DEFAULT_SOURCE, BackgroundIndexer
from medmodels.literature.pipeline import Explanation
from medmodels.literature.reading import (
    Document,
    LiteratureInputError,
    Mention,
    pasted_pmid,
    read_text,
    read_upload,
    unannotated,
)
from medmodels.literature.results import (
    COMENTION,
    RELATION_LABELS,
    entities_table,
    mention_names,
    pairs_table,
    top_counts,
)
from medmodels.literature.store import FindingsStore, StaleStoreError, default_store_path, index_documents
from pages._shared import Keys, literature_model, require_entrypoint, stop_unless_installed

BATCH = 16  # abstracts extracted between progress-bar updates
SHOWN_ERRORS = 10
TOP = 15  # bars in the top-entity charts
ALL_PAIRS = "all"  # the relation filter's last choice: every pair, whatever it was read as
REFRESH_TICKS = 8  # fragment runs (2 s apart) between full-page refreshes while indexing
ATTENTION_NOTE = (
    "Attention shows which tokens of the evidence sentence the encoder mixed into each other; gradient x input shows "
    "which tokens push the probability of the relation read up (red) or down (blue). Attention is not an explanation "
    "by itself: read both beside the sentence, and the abstract."
)

require_entrypoint(__file__)

st.title("Literature mining")
st.caption(
    "Chemicals, diseases and what a self-attention model reads between them in medical abstracts: whether the abstract "
    "says the chemical induces the disease, treats it, or only mentions both; with the evidence sentence and the "
    "attention over its tokens. Pasted and uploaded text is processed in memory and stored only if you add it to the "
    "database."
)
stop_unless_installed("literature", "literature-mining")
model = literature_model()
legend = " ".join(
    f'<mark style="background: {colour}; padding: 0 4px; border-radius: 3px">{kind}</mark>'
    for kind, colour in COLOURS.items()
)


@st.cache_resource
def indexer(store_path: str) -> BackgroundIndexer:
    """One background indexer per database file: every session sees the same progress."""
    return BackgroundIndexer(Path(store_path))


def pubmed_link(pmid: str) -> str:
    return (
        f"[PubMed {pmid}](https://pubmed.ncbi.nlm.nih.gov/{pmid}/)"
        if pmid.isascii() and pmid.isdigit()
        else f"<code>{markdown_safe(pmid)}</code> (not a PubMed id)"
    )


@st.cache_data(max_entries=64, show_spinner="Explaining the reading…")
def explained(
    document: Document, mentions: tuple[Mention, ...], chemical: str, disease: str, relation: str
) -> Explanation:
    """Attention and attribution behind one pair, computed once: choosing a layer or a head only redraws."""
    return literature_model().explain(document, list(mentions), chemical, disease, relation)


@st.cache_data(max_entries=32, show_spinner=False)
def findings_table(
    store_path: str, stamp: str, stored: int, relation: str | None, years: tuple[int, int] | None, needle: str
) -> pd.DataFrame:
    """The findings query, rerun only when the filters, the model that wrote the database or the number of
    stored abstracts change."""
    store = FindingsStore(store_path)
    try:
        return store.findings(relation, years=years, text=needle, headings=model.normaliser.headings)
    finally:
        store.close()


def show_explanation(
    document: Document, mentions: list[Mention], chemical: str, disease: str, relation: str, key: str
) -> None:
    """The pair's evidence sentence: attention heatmap with layer and head selectors, attribution beside it."""
    explanation = explained(document, tuple(mentions), chemical, disease, relation)
    left, right = st.columns(2)
    with left:
        attention_view(explanation, key)
    right.plotly_chart(
        attribution_bars(
            explanation.tokens,
            explanation.attribution,
            f"Gradient x input for '{explanation.relation}', probability {explanation.probability:.3f}",
        ),
        key=f"{key}_attribution",
    )
    st.caption(ATTENTION_NOTE)


@st.fragment
def attention_view(explanation: Explanation, key: str) -> None:
    """The heatmap and its layer and head selectors: a fragment, so choosing a layer or a head redraws this
    chart alone, from an explanation computed once."""
    layers, heads = explanation.attention.shape[:2]
    layer_column, head_column = st.columns(2)
    layer = layer_column.selectbox(
        "Attention layer", range(layers), index=layers - 1, format_func=lambda i: f"layer {i + 1}", key=f"{key}_layer"
    )
    head = head_column.selectbox(
        "Head",
        ["average"] + list(range(heads)),
        format_func=lambda h: "average of heads" if h == "average" else f"head {h + 1}",
        key=f"{key}_head",
    )
    weights = explanation.attention[layer].mean(axis=0) if head == "average" else explanation.attention[layer, head]
    which = "average of heads" if head == "average" else f"head {head + 1}"
    st.plotly_chart(
        attention_heatmap(explanation.tokens, weights, f"Attention, layer {layer + 1}, {which}"), key=f"{key}_attention"
    )


def export_buttons(table: pd.DataFrame, stem: str, key: str) -> None:
    csv, as_json = st.columns(2)
    csv.download_button(
        "Download table (CSV)",
        table.to_csv(index=False),
        file_name=f"{stem}.csv",
        mime="text/csv",
        icon=":material/download:",
        key=f"{key}_csv",
    )
    as_json.download_button(
        "Download table (JSON)",
        table.to_json(orient="records", indent=1),
        file_name=f"{stem}.json",
        mime="application/json",
        icon=":material/download:",
        key=f"{key}_json",
    )


database, own = st.tabs(["Findings database", "Your abstracts"])

with database:
    runner = indexer(str(default_store_path()))
    store = FindingsStore(runner.store_path)
    stored = store.count()
    stale = store.staleness(model.stamp)

    @st.fragment(run_every=2 if runner.running else None)
    def indexing_status() -> None:
        progress = runner.progress
        # While indexing, the whole page reruns now and then so the findings table fills as abstracts are
        # stored, and once more when the run ends.
        ticks = st.session_state[Keys.INDEX_TICKS]
        if runner.running != st.session_state[Keys.INDEX_WAS_RUNNING] or (runner.running and ticks >= REFRESH_TICKS):
            st.session_state[Keys.INDEX_WAS_RUNNING], st.session_state[Keys.INDEX_TICKS] = runner.running, 0
            st.rerun()
        st.session_state[Keys.INDEX_TICKS] = ticks + 1
        if runner.running:
            total = (progress.total if progress else None) or 1
            seen = (progress.done + progress.skipped) if progress else 0
            text = (
                f"Reindexing with {model.stamp.describe()}: {seen:,} of {total:,} stored abstracts read again; the "
                "findings below are the previous model's until it finishes"
                if runner.reindexing
                else f"Indexing the default corpus: {seen:,} of {total:,} MEDLINE records read, "
                f"{progress.done if progress else 0:,} abstracts stored this run"
            )
            st.progress(min(seen / total, 1.0), text=text)
            # A callback, not `if st.button(...)`: it runs before the next script run, so a click is never
            # lost to the periodic st.rerun() above, which can end that run before the button is reached.
            st.button(
                "Pause reindexing" if runner.reindexing else "Pause indexing",
                icon=":material/pause:",
                on_click=runner.stop,
                help="Stops after the current batch; nothing done is lost and it resumes where it stopped",
            )
            return
        if runner.error:
            st.error(f"Indexing stopped with an error: {runner.error}", icon=":material/error:")
        elif runner.finished and progress:
            st.success(
                f"Reindexed: all {progress.done + progress.skipped:,} stored abstracts read by {model.stamp.describe()}."
                if runner.reindexing
                else f"Default corpus indexed: {progress.done:,} abstracts stored this run, {progress.skipped:,} "
                "skipped (already stored or without an abstract).",
                icon=":material/check_circle:",
            )
        if stale:
            st.warning(
                f"The findings are out of date: {stale}. Reindexing reads all {stored:,} stored abstracts again "
                f"with {model.stamp.describe()} (they are kept; only the findings are replaced, when it finishes).",
                icon=":material/update:",
            )
            if st.button(f"Reindex with {model.stamp.describe()}", icon=":material/refresh:", type="primary"):
                runner.start(reindex=True)
                st.session_state[Keys.INDEX_WAS_RUNNING] = True
                st.rerun()
            return
        label = "Index the default corpus" if stored == 0 else "Resume or update the default-corpus index"
        if st.button(
            label,
            icon=":material/play_arrow:",
            help=f"{DEFAULT_SOURCE}: about 33,000 abstracts from 1977-79 and 2021, indexed in the background",
        ):
            runner.start()
            st.session_state[Keys.INDEX_WAS_RUNNING] = True
            st.rerun()

    built_by = store.stamp()
    st.caption(
        f"Database: `{runner.store_path}` · {stored:,} abstracts stored"
        + (f" · findings by {built_by.describe()}" if built_by else "")
    )
    indexing_status()
    if stored == 0:
        st.info(
            "The database is empty. Index the default corpus above, or add your own abstracts in the other tab.",
            icon=":material/database:",
        )
    else:
        with st.expander("Search the abstracts (full text)"):
            query = st.text_input(
                "Words that must all appear in the title or abstract", key="fulltext", placeholder="e.g. lithium tremor"
            )
            if query.strip():
                hits = store.search(query, limit=200)
                st.caption(f"{len(hits)} abstracts{' (the first 200)' if len(hits) == 200 else ''}, best matches first")
                st.dataframe(hits, hide_index=True, column_config={"year": st.column_config.NumberColumn(format="%d")})
                if not hits.empty:
                    found = st.selectbox(
                        "Open",
                        hits.index,
                        format_func=lambda i: f"{hits.at[i, 'pmid']}: {hits.at[i, 'title'][:100]}",
                        key="fulltext_open",
                    )
                    pmid = hits.at[found, "pmid"]
                    st.markdown(f"{pubmed_link(pmid)} · {legend}", unsafe_allow_html=True)
                    st.markdown(
                        highlighted_html(store.document(pmid).text, store.entities(pmid)), unsafe_allow_html=True
                    )
    if stored and store.outdated_schema:
        st.info(
            "Findings are shown once the database is reindexed: it was written before relation types were stored.",
            icon=":material/update:",
        )
    elif stored:
        text_column, relation_column = st.columns([3, 2])
        needle = text_column.text_input(
            "Chemical or disease contains",
            placeholder="e.g. lithium, nephrotox, D008094",
            help="Matches the names shown, MeSH ids and every spelling the abstracts use",
        )
        choices = [*(c for c in model.classes if c != COMENTION), COMENTION, ALL_PAIRS]
        chosen_relation = relation_column.selectbox(
            "Relation",
            choices,
            format_func=lambda c: "every pair" if c == ALL_PAIRS else RELATION_LABELS[c],
            help="Induces or treats: pairs that more abstracts read this way than the other way. Co-mention: pairs that "
            "at least one abstract names together with no relation stated. Ranked by how many abstracts do",
        )
        relation = None if chosen_relation == ALL_PAIRS else chosen_relation
        span = store.year_range()
        years = None  # the full range also keeps abstracts without a year (every pasted one)
        if span and span[0] < span[1]:
            chosen = st.slider(
                "Publication years",
                span[0],
                span[1],
                span,
                help="Narrowing the range leaves out abstracts without a year",
            )
            years = None if chosen == span else chosen
        elif span:
            st.caption(f"Every dated abstract is from {span[0]}.")
        findings = findings_table(str(runner.store_path), str(built_by), stored, relation, years, needle)
        ranked_by = (
            "stated relations (induces or treats), then abstracts"
            if relation is None
            else f"abstracts read as '{relation}', then the best probability"
        )
        listed = (
            f" A pair is listed as '{relation}' when more of its abstracts read it so than the other way, so a drug "
            "that most abstracts say treats a disease is not listed as causing it."
            if relation not in (None, COMENTION)
            else ""
        )
        st.caption(
            f"{len(findings):,} chemical-disease pairs, ranked by {ranked_by}.{listed} "
            f"Each abstract reads a pair as {model.reading_rule} (the threshold chosen on BC5CDR dev)."
        )
        st.dataframe(
            findings,
            hide_index=True,
            column_config={
                "relation": st.column_config.TextColumn("relation", help="the relation ranked (or, for every pair, the one more abstracts state; disputed when as many read it each way)"),
                "supporting": st.column_config.NumberColumn("abstracts stating it", help="abstracts the model read as this relation"),
                "best_probability": st.column_config.ProgressColumn(
                    "best probability", format="%.3f", min_value=0, max_value=1, help="the relation's highest probability in any abstract"
                ),
                "induces": st.column_config.NumberColumn("induces", help="abstracts read as: the chemical induces the disease"),
                "treats": st.column_config.NumberColumn("treats", help="abstracts read as: the chemical treats the disease"),
                "co_mentions": st.column_config.NumberColumn("co-mentions", help="abstracts naming both with no relation stated"),
                "first_year": st.column_config.NumberColumn("first year", format="%d"),
                "last_year": st.column_config.NumberColumn("last year", format="%d"),
                "chemical_mesh": "chemical MeSH",
                "disease_mesh": "disease MeSH",
            },
        )  # fmt: skip
        export_buttons(findings, "findings", "findings")
        if not findings.empty:
            chemicals, diseases = st.columns(2)
            by_chemical = top_counts(findings, "chemical", "supporting", TOP)
            by_disease = top_counts(findings, "disease", "supporting", TOP)
            chemicals.plotly_chart(
                top_entities_bars(by_chemical, f"Top chemicals ({len(by_chemical)} shown)", "#4c8bd6"),
                key="top_chemicals",
            )
            diseases.plotly_chart(
                top_entities_bars(by_disease, f"Top diseases ({len(by_disease)} shown)", "#e07b53"), key="top_diseases"
            )

            st.subheader("A finding's evidence")
            choice = st.selectbox(
                "Finding",
                findings.index[:500],
                format_func=lambda i: (
                    f"{findings.at[i, 'chemical']} → {findings.at[i, 'disease']}: {findings.at[i, 'relation']} "
                    f"({findings.at[i, 'supporting']} abstracts; {findings.at[i, 'co_mentions']} co-mentions)"
                ),
            )
            row = findings.loc[choice]
            evidence = store.evidence(row["chemical_mesh"], row["disease_mesh"], row["relation"])
            if years is not None:
                evidence = evidence[evidence["year"].between(*years)].reset_index(drop=True)
            if evidence["year"].notna().any():
                st.plotly_chart(
                    evidence_over_time(
                        evidence["year"].tolist(),
                        evidence["relation"].tolist(),
                        f"{row['chemical']} → {row['disease']}: abstracts by year and relation read",
                    ),
                    key="over_time",
                )
            else:
                st.caption("These abstracts carry no publication year, so there is no timeline.")
            probability_columns = [c for c in (*model.classes[1:], COMENTION) if c in evidence.columns]
            st.markdown(f"**Every abstract naming both ({len(evidence)})**: the relation the model read in each")
            st.dataframe(
                evidence[["pmid", "year", "relation", *probability_columns, "evidence"]],
                hide_index=True,
                column_config={
                    "year": st.column_config.NumberColumn(format="%d"),
                    **{
                        c: st.column_config.ProgressColumn(c, format="%.3f", min_value=0, max_value=1)
                        for c in probability_columns
                    },
                    "evidence": st.column_config.TextColumn("evidence sentence", width="large"),
                },
            )
            opened = st.selectbox(
                "Open an abstract",
                evidence.index[:100],
                format_func=lambda i: (
                    f"{evidence.at[i, 'pmid']} ({'no year' if pd.isna(evidence.at[i, 'year']) else int(evidence.at[i, 'year'])}): "
                    f"{evidence.at[i, 'relation']} {evidence.at[i, evidence.at[i, 'relation']]:.3f} · {evidence.at[i, 'title'][:90]}"
                ),
            )
            item = evidence.loc[opened]
            document = Document(item["pmid"], item["title"], item["abstract"])
            mentions = store.entities(item["pmid"])
            st.markdown(
                f"{pubmed_link(item['pmid'])} · read as **{item['relation']}** "
                f"({' · '.join(f'{c} {item[c]:.3f}' for c in probability_columns)}) · {legend} · evidence underlined",
                unsafe_allow_html=True,
            )
            st.markdown(
                highlighted_html(document.text, mentions, (item["evidence_start"], item["evidence_end"])),
                unsafe_allow_html=True,
            )
            show_explanation(
                document, mentions, row["chemical_mesh"], row["disease_mesh"], item["relation"], "database"
            )
    store.close()


with own:
    text = st.text_area(
        "An abstract: its title on the first line, then the text",
        key=Keys.ABSTRACT_TEXT,
        height=180,
        placeholder="Lithium-induced nephrogenic diabetes insipidus.\nA 45-year-old woman treated with lithium developed polyuria …",
    )
    upload = st.file_uploader(
        "…or a file: PubMed XML (.xml, .gz), PubTator, MEDLINE text, CSV or JSONL with pmid,title,abstract",
        type=["xml", "gz", "txt", "csv", "jsonl", "json", "medline"],
    )
    try:
        if upload is not None:
            records = read_upload(upload.getvalue(), upload.name)
        elif text.strip():
            records = [read_text(text, pasted_pmid(text))]
        else:
            st.info(
                "Paste an abstract or upload a file to see its chemicals, diseases and relations.",
                icon=":material/edit_note:",
            )
            records = []
    except LiteratureInputError as error:
        st.error(f"The input could not be read: {markdown_safe(str(error))}", icon=":material/error:")
        records = []
    rejected = [r for r in records if r.document is None]
    valid = [r.document for r in records if r.document is not None]
    if rejected:
        st.error(
            f"{len(rejected)} of {len(records)} documents could not be used:\n\n"
            + "\n".join(f"- {markdown_safe(r.error)}" for r in rejected[:SHOWN_ERRORS])
            + (f"\n- … and {len(rejected) - SHOWN_ERRORS} more" if len(rejected) > SHOWN_ERRORS else ""),
            icon=":material/error:",
        )
    for record in records:
        for notice in record.notices:
            st.caption(f":material/info: {markdown_safe(record.id)}: {notice}")
    if valid:
        documents = [unannotated(d) for d in valid]  # annotations in the input are ignored
        key = tuple((d.pmid, d.text) for d in documents)
        if st.session_state[Keys.OWN_KEY] != key:
            progress = st.progress(0.0, text="Reading the abstracts…") if len(documents) > BATCH else None
            extractions = []
            for start in range(0, len(documents), BATCH):
                extractions += model.extract(documents[start : start + BATCH])
                if progress:
                    progress.progress(
                        min((start + BATCH) / len(documents), 1.0),
                        text=f"Reading the abstracts… {min(start + BATCH, len(documents))} of {len(documents)}",
                    )
            if progress:
                progress.empty()
            st.session_state[Keys.OWN_KEY], st.session_state[Keys.OWN_EXTRACTIONS] = key, extractions
        extractions = st.session_state[Keys.OWN_EXTRACTIONS]

        names = mention_names(extractions, model.normaliser.headings)
        pairs = pairs_table(extractions, model.normaliser.headings)
        entities = entities_table(extractions)
        read = pairs["relation"].value_counts()
        st.caption(
            f"{len(documents)} abstracts · {len(entities)} mentions ({(entities['type'] == 'Chemical').sum()} chemical, {(entities['type'] == 'Disease').sum()} disease) · "
            f"{len(pairs)} chemical-disease pairs, read as "
            + ", ".join(f"{c} {read.get(c, 0)}" for c in model.classes[1:] + model.classes[:1])
            + f" ({model.reading_rule}). MeSH -1: not resolved."
        )
        st.markdown("**Chemical-disease pairs**")
        st.dataframe(
            pairs,
            hide_index=True,
            column_config={
                c: st.column_config.ProgressColumn(c, format="%.3f", min_value=0, max_value=1) for c in model.classes
            },
        )
        export_buttons(pairs, "relations", "own_pairs")
        with st.expander(f"All {len(entities)} mentions"):
            st.dataframe(entities, hide_index=True)
            st.download_button(
                "Download entities and relations (JSON Lines, as the command line writes them)",
                "\n".join(json.dumps(model.record(e)) for e in extractions),
                file_name="extractions.jsonl",
                mime="application/json",
                icon=":material/download:",
            )

        by_pmid = {e.pmid: e for e in extractions}
        shown = (
            st.selectbox(
                "Abstract",
                range(len(documents)),
                format_func=lambda i: f"{documents[i].pmid}: {documents[i].title[:90] or documents[i].abstract[:90]}",
            )
            if len(documents) > 1
            else 0
        )
        document, extraction = documents[shown], by_pmid[documents[shown].pmid]
        pair = None
        if extraction.pairs:
            pair = st.selectbox(
                "Pair",
                extraction.pairs,
                format_func=lambda p: (
                    f"{names.get(('Chemical', p.chemical), p.chemical)} → {names.get(('Disease', p.disease), p.disease)}: "
                    f"read as {p.relation} ({p.probability(p.relation):.3f})"
                ),
            )
        st.markdown(
            f"{pubmed_link(document.pmid)} · {legend}" + (" · evidence underlined" if pair else ""),
            unsafe_allow_html=True,
        )
        st.markdown(
            highlighted_html(
                document.text, extraction.entities, (pair.evidence_start, pair.evidence_end) if pair else None
            ),
            unsafe_allow_html=True,
        )
        if pair:
            show_explanation(document, list(extraction.entities), pair.chemical, pair.disease, pair.relation, "own")
        else:
            st.caption(
                "No chemical and disease with resolved MeSH ids are mentioned together here, so there is no pair to score."
            )

        if st.button(
            "Add these abstracts to the local database",
            icon=":material/database:",
            help="Documents already stored (same PMID) are skipped",
        ):
            local = FindingsStore(default_store_path())
            try:
                report = index_documents(
                    local, "your abstracts", documents, lambda batch: [by_pmid[d.pmid] for d in batch], model.stamp
                )
            except StaleStoreError as error:
                st.error(
                    f"Not added: {error}. Reindex it in the findings database tab, then add these again.",
                    icon=":material/update:",
                )
            else:
                st.success(
                    f"Added {report.done} abstracts to the database ({report.skipped} already there or without an abstract).",
                    icon=":material/check_circle:",
                )
            finally:
                local.close()
