"""The closed list of meta-reasoning strategies, with definitions and lexical cue patterns.

One home for the list: ``docs/strategies.md`` documents the same entries, the LLM annotator's prompt
is built from the definitions, and the lexical annotator compiles the cues. The list starts from the
cognitive-behaviour taxonomy used in the reasoning-trace literature (the paper's own list was not
published). Cue patterns are RE2/Python-compatible regular expressions matched on lower-cased text;
each match counts one use of the strategy.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Strategy:
    name: str  # the label stored in annotations.strategies
    title: str
    definition: str
    examples: tuple[str, ...]  # example cue phrases, for docs and the LLM prompt
    cues: tuple[str, ...]  # regular expressions on lower-cased text


STRATEGIES: tuple[Strategy, ...] = (
    Strategy(
        "self_verification",
        "Self-verification",
        "Checking an intermediate or final result: recomputing, substituting the answer back, or testing it "
        "against the conditions of the problem.",
        ("let me verify", "double-check", "plugging back in", "check: 3 × 4 = 12"),
        (
            r"\blet me (?:verify|check|confirm|double[- ]check)",
            r"\bdouble[- ]check",
            r"\b(?:to|i should|we should|we can|i'll|let's) (?:verify|check|confirm)\b",
            r"\bverif(?:y|ying|ied|ication)\b",
            r"\b(?:plug|plugging|substitut(?:e|ing)) (?:it |this |that |these |them )?back\b",
            r"\bcheck(?:ing)? (?:the|my|our|this|that) (?:answer|result|work|calculation|math)",
            r"\bthat checks out\b",
        ),
    ),
    Strategy(
        "backtracking",
        "Backtracking",
        "Abandoning a line of reasoning after noticing an error or a dead end, and returning to an earlier point.",
        ("wait,", "that's not right", "i made a mistake", "let me redo", "scratch that"),
        (
            r"\bwait[,.!]",
            r"\b(?:that|this)(?:'s| is) (?:not right|wrong|incorrect|a mistake)",
            r"\bi (?:made|think i made) (?:a |an )?(?:mistake|error)",
            r"\blet me (?:redo|re-?calculate|recompute|start over|reconsider|correct)",
            r"\bscratch that\b",
            r"\bon second thought\b",
            r"\bno,? (?:that|this|wait)\b",
            r"\bthat (?:doesn't|does not|can't|cannot) be right\b",
        ),
    ),
    Strategy(
        "exploring_alternatives",
        "Exploration of alternatives",
        "Considering more than one approach, interpretation or candidate answer before committing to one.",
        ("alternatively", "another approach", "or maybe", "what if we"),
        (
            r"\balternative(?:ly)?\b",
            r"\banother (?:approach|way|method|possibility|option|interpretation)\b",
            r"\b(?:a )?different (?:approach|way|method|angle)\b",
            r"\bor maybe\b",
            r"\bwhat if (?:we|i)\b",
            r"\blet me try (?:another|a different|again)\b",
            r"\bother possibilit(?:y|ies)\b",
        ),
    ),
    Strategy(
        "subgoal_decomposition",
        "Subgoal setting and decomposition",
        "Splitting the problem into intermediate goals or steps and working through them in order.",
        ("first, I need to", "step 1", "break this down", "next, find"),
        (
            r"\bstep \d+\b",
            r"\bfirst,? (?:i|we) (?:need|have|should|will|must)\b",
            r"\bbreak (?:it|this|the problem) (?:down|into)\b",
            r"\b(?:next|then),? (?:i|we) (?:need|should|have|can|will) (?:to )?(?:find|compute|calculate|determine)",
            r"\bsub-?(?:goal|problem|task)s?\b",
            r"\bthe (?:plan|steps) (?:is|are)\b",
        ),
    ),
    Strategy(
        "backward_chaining",
        "Backward chaining",
        "Reasoning from the goal or the desired answer back towards what is given: what must be true for the "
        "goal to hold.",
        ("work backwards", "to get X we need", "starting from the answer"),
        (
            r"\bwork(?:ing|ed)? backwards?\b",
            r"\breason(?:ing)? backwards?\b",
            r"\bstart(?:ing)? from the (?:answer|goal|end|result|desired)\b",
            r"\bin order (?:for|to get)\b",
            r"\bfor this to (?:hold|be true|work)\b",
            r"\bwhat (?:would|do) (?:i|we) need\b",
        ),
    ),
    Strategy(
        "hypothesis_testing",
        "Hypothesis testing",
        "Stating a conjecture or assumption explicitly and then testing it against facts or consequences.",
        ("suppose that", "assume", "if this were true, then", "let's test"),
        (
            r"\bsuppose\b",
            r"\b(?:let's|let us|we|i) assume\b",
            r"\bassuming\b",
            r"\bhypothes(?:is|es|ize|ise)\b",
            r"\bif (?:this|that) (?:is|were) (?:true|the case)\b",
            r"\b(?:let's|let me|we can) test\b",
            r"\bwould (?:imply|mean) that\b",
        ),
    ),
    Strategy(
        "analogy",
        "Analogy",
        "Using a similar, already understood problem, situation or known result to guide the current one.",
        ("similar to", "analogous", "just like", "reminds me of"),
        (
            r"\bsimilar(?:ly)? to\b",
            r"\banalog(?:ous|y|ically)\b",
            r"\bjust like\b",
            r"\breminds me of\b",
            r"\bakin to\b",
            r"\bthe same (?:way|idea|trick) as\b",
        ),
    ),
    Strategy(
        "abstraction_generalisation",
        "Abstraction and generalisation",
        "Moving from specific cases to a general rule, pattern or formula, or restating the problem abstractly.",
        ("in general", "more generally", "the general formula", "there's a pattern"),
        (
            r"\bin general\b",
            r"\bmore generally\b",
            r"\bgenerali[sz](?:e|ed|es|ing|ation)\b",
            r"\bthe general (?:case|form|formula|rule|principle|solution)\b",
            r"\b(?:a|the|this) pattern\b",
            r"\bfor (?:any|all|every) (?:n|x|integer|value|number|case)s?\b",
        ),
    ),
    Strategy(
        "case_analysis",
        "Case analysis",
        "Dividing the situation into exhaustive cases and handling each one separately.",
        ("case 1", "in the case where", "on the other hand", "consider both cases"),
        (
            r"\bcase (?:\d+|[ivx]+|[ab])\b",
            r"\b(?:two|three|both|all|these|the following) cases\b",
            r"\bin the case (?:where|that|of)\b",
            r"\bon the other hand\b",
            r"\bif [^.\n]{1,60}, otherwise\b",
        ),
    ),
    Strategy(
        "elimination",
        "Elimination",
        "Ruling out candidate answers or options that cannot be right, so that what remains must be the answer.",
        ("rule out", "eliminate option B", "can't be", "that leaves"),
        (
            r"\beliminat(?:e|es|ed|ing|ion)\b",
            r"\brul(?:e|ed|ing) out\b",
            r"\b(?:it|this|that|the answer) (?:can't|cannot|can not) be\b",
            r"\b(?:that|which) leaves\b",
            r"\bso it must be\b",
            r"\bby (?:process of )?elimination\b",
            r"\boption [a-e] is (?:wrong|incorrect|out)\b",
        ),
    ),
    Strategy(
        "summarising",
        "Summarising",
        "Restating what has been established so far, or pulling intermediate results together before going on.",
        ("so far", "to summarise", "putting it together", "recap"),
        (
            r"\bso far\b",
            r"\bto summari[sz]e\b",
            r"\bin summary\b",
            r"\brecap\b",
            r"\bputting (?:it|this|everything|these|that) (?:all )?together\b",
            r"\bto sum up\b",
            r"\bso,? (?:to recap|overall|in total|altogether)\b",
        ),
    ),
    Strategy(
        "rereading_question",
        "Re-reading the question",
        "Going back to the wording of the question to check what is asked, given or assumed.",
        ("let me re-read", "the question asks", "going back to the problem statement"),
        (
            r"\bre-?read(?:ing)?\b",
            r"\bthe (?:question|problem|prompt) (?:asks|says|states|is asking|wants|mentions|specifies)\b",
            r"\b(?:going|go|looking|look) back (?:at|to) the (?:question|problem|statement)\b",
            r"\bwhat (?:the question|the problem|it) is (?:really )?asking\b",
            r"\bthe wording\b",
        ),
    ),
    Strategy(
        "estimation_sanity_check",
        "Estimation and sanity checks",
        "Approximating a quantity or judging whether a result is plausible (order of magnitude, units, limits).",
        ("roughly", "approximately", "order of magnitude", "does that make sense", "sanity check"),
        (
            r"\broughly\b",
            r"\bapproximately\b",
            r"\bballpark\b",
            r"\border of magnitude\b",
            r"\bestimat(?:e|es|ed|ing|ion)\b",
            r"\bsanity[- ]check",
            r"\b(?:that|this|it) (?:makes|seems to make) sense\b",
            r"\bseems (?:reasonable|plausible|too (?:big|small|large|high|low))\b",
        ),
    ),
)

STRATEGY_NAMES: tuple[str, ...] = tuple(s.name for s in STRATEGIES)
BY_NAME: dict[str, Strategy] = {s.name: s for s in STRATEGIES}


def combined_pattern(strategy: Strategy) -> str:
    """One alternation for all of a strategy's cues (one regex pass per strategy)."""
    return "(?:" + "|".join(strategy.cues) + ")"


def describe_for_prompt() -> str:
    return "\n".join(f"- {s.name}: {s.definition} (cues: {', '.join(repr(e) for e in s.examples)})" for s in STRATEGIES)
