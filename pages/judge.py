import streamlit as st
import torch

import latentcore as lc
import ui
from latentcore.evaluate.metrics import METRICS
from latentcore.evaluate.preferences import bradley_terry, win_rates
from latentcore.evaluate.report import HEADINGS
from ui import plots
from ui.server.rounds import MAX_PAIRS, RoundError, RoundStore, check_code, new_participant, round_metrics, \
    round_paths

SHOWN_METRICS = ("ri_typical_mean", "typical_band", "normality_pass")


@st.cache_resource(show_spinner=False)
def store() -> RoundStore:
    """The rounds of this server's workspace store (shared with every process on it)."""
    return RoundStore()


def participant() -> str:
    """This session's anonymous id: no identity beyond it."""
    return st.session_state.setdefault("judge.participant", new_participant())


@st.cache_data(max_entries=32, show_spinner=False)
def tallied(judgements: tuple, schemes: tuple):
    """The ranking and the head-to-head rates of ``judgements``: computed once per count of votes, for every session
    that looks."""
    return bradley_terry(judgements, schemes, torch.Generator().manual_seed(0)), win_rates(judgements, schemes)


@st.cache_data(max_entries=32, show_spinner=False)
def measured(code: str, _round, _model):
    """The metrics of round ``code``'s paths, which never change: computed once."""
    return round_metrics(_round, _model)


def opened_round(code: str):
    """The round ``code`` and its model and decoding, or None with a message that says why."""
    try:
        found = store().load_round(code)
        model = ui.get_model(found.model)
        return found, model, found.decoding_for(model)
    except (RoundError, ValueError, OSError) as err:
        st.warning(ui.plain(f"{err}."))
        return None


with ui.page("Judge schemes") as (name, model, decoding):
    st.markdown("Metrics are proxies; which interpolation looks more natural is for people to say. Open a round on "
                "the model in the sidebar and give the room its code: everyone then sees, comparison after "
                "comparison, the same endpoints joined by two schemes, unnamed and in random order, and picks the "
                "one that looks more natural, or neither. The results pool every vote: each scheme's strength "
                "(Bradley-Terry) and its win rate against each other, with 95 % intervals, beside the metrics of the "
                "same paths.")
    state = st.session_state
    if "judge.opened" in state:  # a round this session has just opened: its code in the field
        state["judge.code"] = state.pop("judge.opened")
    state.setdefault("judge.code", st.query_params.get("round", ""))  # a link's code
    code_text = st.text_input("Round code", key="judge.code",
                              help="8 letters and digits, from the person who opened the round")
    code = None
    if code_text.strip():
        try:
            code = check_code(code_text)
        except RoundError as err:
            st.warning(ui.plain(f"{err}."))

    found = opened_round(code) if code else None
    judge_tab, results, host = st.tabs(["Judge", "Results", "Open a round"])  # the room judges; one person hosts

    with host:
        offered = [k for k in lc.schemes_for(model)[0] if not lc.SCHEMES[k].iterative]
        schemes = st.multiselect("Schemes to compare", offered, format_func=lambda k: lc.SCHEMES[k].label,
                                 key=ui.remember("judge.schemes", lc.SCHEMES.default_selection(), options=offered))
        st.caption("Closed-form schemes only: a round's paths are computed when it opens, while the room waits.")
        left, middle, right = st.columns(3)
        pairs = left.slider("Pairs of endpoints", 1, MAX_PAIRS, key=ui.remember("judge.pairs", 4,
                                                                               bounds=(1, MAX_PAIRS)))
        frames = middle.slider("Frames", 5, 16, key=ui.remember("judge.frames", 8, bounds=(5, 16)))
        seed, _ = ui.number_field("Random seed (which endpoints)", "judge.seed", 0, 0, 2**31, what="The random seed",
                                  where=right)
        comparisons = pairs * len(schemes) * (len(schemes) - 1) // 2
        st.caption(f"Endpoints are samples of {ui.plain(model.name)}'s prior; each person judges {comparisons} "
                   "comparisons (every pair of endpoints, every two schemes).")
        if st.button("Open the round", type="primary", disabled=len(schemes) < 2 or seed is None):
            try:
                paths = round_paths(model, schemes, pairs=pairs, frames=frames, seed=seed)
                opened = store().open_round(model.key, decoding.describe(), schemes, paths)
            except (RoundError, ValueError, OSError) as err:
                ui.show_error(f"The round could not open: {ui.plain(err)}.", err)
            else:
                state["judge.hosted"] = state["judge.opened"] = opened.code
                st.rerun()
        hosted = state.get("judge.hosted")
        if hosted:
            st.success(f"Round **{hosted}** is open. Give the room this code, or the page's link with "
                       f"`?round={hosted}`; the Results tab shows the votes so far.")

    with judge_tab:
        if found is None:
            st.info("Enter the code of a round to judge it.")
        else:
            round_, round_model, round_decoding = found
            me = participant()
            done = store().voted(round_, me)
            order = round_.order_for(me)
            left_to_do = [(n, swapped) for n, swapped in order if n not in done]
            if not left_to_do:
                st.success(f"You have judged all {len(order)} comparisons of round {round_.code}. Thank you.")
            else:
                number, swapped = left_to_do[0]
                pair, a, b = round_.comparisons()[number]
                shown = (b, a) if swapped else (a, b)
                st.markdown(f"**Comparison {len(done) + 1} of {len(order)}**: which path looks more natural?")
                for label, k in zip(("Left", "Right"), shown):
                    images = ui.decode_to_uint8(round_model, round_.paths[k, pair], round_decoding)
                    ui.frames.image_row(images, [label] + [""] * (len(images) - 2) + [label])
                picks = st.columns(3)
                answers = {"Left looks more natural": "second" if swapped else "first",
                           "Right looks more natural": "first" if swapped else "second", "No difference": "same"}
                for column, (label, choice) in zip(picks, answers.items()):
                    if column.button(label, key=f"judge.vote.{round_.code}.{number}.{choice}", width="stretch"):
                        try:
                            store().vote(round_, me, number, choice)
                        except RoundError as err:
                            st.warning(ui.plain(f"{err}."))
                        else:
                            st.rerun()

    with results:
        if found is None:
            st.info("Enter the code of a round to see its results.")
            ui.stop()
        round_, round_model, _ = found
        tally = state.get("judge.tally")
        if st.button("Count the votes again", key="judge.refresh") or tally is None or tally[0] != round_.code:
            tally = state["judge.tally"] = (round_.code, tuple(store().judgements(round_)))  # read on request only
        judgements = tally[1]
        st.markdown(f"Round **{round_.code}** on {ui.plain(round_.model)}: {len(judgements)} votes on "
                    f"{len(round_.comparisons())} comparisons.")
        if not judgements:
            st.info("No votes yet.")
            ui.stop()
        labels = {k: lc.SCHEMES[k].label if k in lc.SCHEMES else k for k in round_.schemes}
        ranking, rates = (table.copy() for table in tallied(judgements, round_.schemes))
        ranking["label"] = ranking["scheme"].map(labels)
        strengths = ["strength", "strength_low", "strength_high"]
        ranking[strengths] = ranking[strengths].round(3)  # log-strengths: 1e-11 is 0
        st.markdown("**Ranking**, most preferred first (Bradley-Terry strength, log scale, mean 0; 95 % bootstrap "
                    "intervals)")
        ui.table(ranking[["label", "strength", "strength_low", "strength_high", "judgements"]],
                 {"label": "scheme", "strength_low": "strength low", "strength_high": "strength high"})
        figure = plots.metric_bars_figure(ranking.assign(task="people", scheme=ranking["label"]), "strength",
                                          "Bradley-Terry strength (log scale)", "strength")
        st.plotly_chart(figure, width="stretch", key="judge-strengths")
        rates.insert(0, "pair", rates["first"].map(labels) + " over " + rates["second"].map(labels))
        st.markdown("**Head to head** (how often the first was preferred, ties half; binomial test against chance)")
        ui.table(rates[["pair", "n", "rate", "rate_low", "rate_high", "p_value"]],
                 {"rate_low": "rate low", "rate_high": "rate high", "p_value": "p"})
        metrics = measured(round_.code, round_, round_model).copy()
        metrics["scheme"] = metrics["scheme"].map(labels)
        st.markdown("**The same paths by the metrics** (interior frames)")
        ui.table(metrics[["scheme", *SHOWN_METRICS]], {m: HEADINGS[m] for m in SHOWN_METRICS},
                 helps={m: METRICS[m] for m in SHOWN_METRICS})
        st.download_button("Download the results (CSV)", ranking.to_csv(index=False) + "\n" + rates.to_csv(index=False),
                           file_name=f"round-{round_.code}.csv", mime="text/csv", on_click="ignore")
