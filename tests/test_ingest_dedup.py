"""Exact and near-duplicate removal and benchmark decontamination in `nt ingest`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from datasketch import MinHash

from naturalthoughts import benchmarks
from naturalthoughts.ingest import IngestConfig, ingest
from naturalthoughts.ingest.dedup import NearDuplicates
from naturalthoughts.ingest.text import question_id, tokenise, words
from naturalthoughts.manifest import Manifest
from naturalthoughts.rundir import RunDir

LONG = (
    "A cylindrical water tank with a radius of three metres is being filled by a pump at a constant rate "
    "of two cubic metres per minute while a small leak at the bottom drains water at a rate proportional "
    "to the square root of the current depth; find the depth at which the level stops rising."
)
PARAPHRASE = (
    LONG.replace("constant rate", "steady rate").replace("small leak", "tiny leak").replace("find", "determine")
)
UNRELATED = (
    "Describe how the French Revolution changed the relationship between the Catholic Church and the state, "
    "and explain which of those changes survived the Napoleonic concordat of 1801."
)


def write_jsonl(path: Path, questions: list[str]) -> Path:
    path.write_text("".join(json.dumps({"question": q}) + "\n" for q in questions), encoding="utf-8")
    return path


def rejected(run: RunDir) -> list[dict]:
    return pq.read_table(run.rejected).to_pylist()


def kept_ids(run: RunDir) -> list[str]:
    return pq.read_table(run.questions, columns=["id"]).column("id").to_pylist()


def assert_identity(run: RunDir) -> None:
    counts = Manifest(run.manifest).latest("ingest")["counts"]
    removed = counts["duplicates"] + counts["near_duplicates"] + counts["rejected"] + counts["contaminated"]
    assert counts["read"] == counts["kept"] + removed
    assert len(kept_ids(run)) == counts["kept"] and len(rejected(run)) == removed


def test_exact_duplicates_ignore_case_width_and_spacing(tmp_path: Path, run_dir: RunDir) -> None:
    variants = [
        UNRELATED,
        UNRELATED.upper(),
        "  " + UNRELATED.replace(" ", "   \t") + "\n",
        UNRELATED.replace("1801", "１８０１"),
    ]
    result = ingest(
        run_dir,
        IngestConfig(decontaminate=[], near_dup=False),
        sources=[str(write_jsonl(tmp_path / "q.jsonl", variants))],
        force=True,
    )
    first = question_id(" ".join(UNRELATED.lower().split()))
    assert result.kept == 1 and result.duplicates == 3 and kept_ids(run_dir) == [first]
    rows = rejected(run_dir)
    assert [r["kind"] for r in rows] == ["duplicate"] * 3 and {r["matched"] for r in rows} == {first}
    assert [r["source_row"] for r in rows] == [2, 3, 4]
    assert_identity(run_dir)


def test_near_duplicates_catch_a_paraphrase_and_keep_unrelated(tmp_path: Path, run_dir: RunDir) -> None:
    src = write_jsonl(tmp_path / "q.jsonl", [LONG, UNRELATED, PARAPHRASE, PARAPHRASE])
    result = ingest(run_dir, IngestConfig(decontaminate=[]), sources=[str(src)], force=True)
    assert (result.kept, result.near_duplicates, result.duplicates) == (2, 1, 1)
    long_id = question_id(tokenise(pa.array([LONG]))[0][0].as_py())
    near, exact = rejected(run_dir)
    assert near["kind"] == "near_duplicate" and near["matched"] == long_id and near["source_row"] == 3
    assert "estimated Jaccard" in near["reason"]
    assert exact["kind"] == "duplicate" and exact["matched"] == long_id, (
        "a copy of a removed row points at the kept one"
    )
    assert_identity(run_dir)

    off = ingest(tmp_path / "off", IngestConfig(decontaminate=[], near_dup=False), sources=[str(src)], force=True)
    assert (off.kept, off.near_duplicates) == (3, 0)


def test_minhash_signatures_equal_datasketch_update_batch() -> None:
    near = NearDuplicates(num_perm=64, shingle=3, seed=1)
    texts = pa.array([LONG, UNRELATED, "too short", PARAPHRASE])
    _, tokens = tokenise(texts)
    text_words = words(tokens)
    signatures, has = near.signatures(text_words)
    hashes, row, _ = near.shingle_hashes(text_words)
    assert has.tolist() == [True, True, True, True]
    for i in range(len(texts)):
        reference = MinHash(num_perm=64, seed=1, hashfunc=int)
        reference.update_batch(hashes[row == i].tolist())
        np.testing.assert_array_equal(signatures[i], reference.hashvalues)
    assert (
        0.55
        <= MinHash(hashvalues=signatures[0], scheme="affine32").jaccard(
            MinHash(hashvalues=signatures[3], scheme="affine32")
        )
        < 1
    )


def test_the_band_index_decides_as_datasketchs_minhash_lsh() -> None:
    """The compact index (numpy runs of band keys) keeps and matches exactly the questions datasketch's MinHashLSH
    does, on questions with planted near duplicates (a word or two changed) across and within batches."""
    from datasketch import MinHashLSH

    rng = np.random.default_rng(3)
    vocab = [f"w{i}" for i in range(400)]
    texts = [" ".join(rng.choice(vocab, int(rng.integers(12, 40)))) for _ in range(300)]
    for _ in range(120):  # near copies of earlier texts, some in the same batch, some chains of copies
        words_of = texts[int(rng.integers(len(texts)))].split()
        for position in rng.integers(0, len(words_of), int(rng.integers(1, 3))):
            words_of[position] = str(rng.choice(vocab))
        texts.insert(int(rng.integers(len(texts) // 2, len(texts) + 1)), " ".join(words_of))
    normalised, tokens = tokenise(pa.array(texts))
    ids = [question_id(t) for t in normalised.to_pylist()]
    unique = sorted({i: n for n, i in reversed(list(enumerate(ids)))}.values())  # first of each exact text
    near = NearDuplicates()
    ours: list = []
    for start in range(0, len(unique), 97):  # batches of 97: matches within a batch and against the index
        part = np.asarray(unique[start : start + 97], np.int64)
        ours.extend(near.check(words(tokens).select(part), [ids[i] for i in part.tolist()]))
    signatures, _ = NearDuplicates().signatures(words(tokens).select(np.asarray(unique, np.int64)))
    reference, lsh, kept = [], MinHashLSH(threshold=0.55, num_perm=64), {}
    for row, i in enumerate(unique):
        minhash = MinHash(hashvalues=signatures[row], permutations=near.permutations, scheme="affine32")
        found = sorted(lsh.query(minhash))
        similarity = [(signatures[kept[k]] == signatures[row]).mean() for k in found]
        best = int(np.argmax(similarity)) if found else None
        if best is not None and similarity[best] >= 0.55:
            reference.append((found[best], float(similarity[best])))
            continue
        kept[ids[i]] = row
        lsh.insert(ids[i], minhash)
        reference.append(None)
    assert sum(r is not None for r in reference) >= 60  # the planted copies are found
    assert ours == reference


def test_band_index_runs_stay_capped_and_every_pair_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    from naturalthoughts.ingest import dedup

    monkeypatch.setattr(dedup, "_MAX_RUN", 64)
    index, rng = dedup.BandIndex(), np.random.default_rng(0)
    stored = []
    for batch in range(40):  # 40 runs of 12 pairs: merged up to 64 pairs a run, then kept apart
        keys = rng.integers(0, 50, 12).astype(np.uint64)
        numbers = np.arange(batch * 12, batch * 12 + 12)
        index.add(keys, numbers)
        stored.extend(zip(keys.tolist(), numbers.tolist(), strict=True))
    assert max(len(k) for k, _ in index.runs) <= 64 and len(index.runs) > 1
    query = np.array([3, 7, 49, 60], np.uint64)
    positions, numbers = index.lookup(query)
    found = sorted(zip(positions.tolist(), numbers.tolist(), strict=True))
    assert found == sorted((i, n) for i, q in enumerate(query.tolist()) for k, n in stored if k == q)


@pytest.fixture(scope="module")
def contaminated_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunDir, dict[str, str]]:
    """One ingest with the default (bundled) decontamination over embedded benchmark questions."""
    gsm8k = benchmarks.load("gsm8k")[7]
    mmlu = next(item for item in benchmarks.load("mmlu") if 20 <= len(item.question.split()) <= 60)
    short = next(item for item in benchmarks.load("mmlu") if len(item.question.split()) < 8)
    questions = {
        "gsm8k": f"Here is a practice problem from my homework. {gsm8k.question} Please show every step.",
        "mmlu": f"My professor asked: {mmlu.question.upper()} I think the answer involves a definition.",
        "short": short.question,
        "clean": UNRELATED,
    }
    tmp = tmp_path_factory.mktemp("decontam")
    run = RunDir(tmp / "run")
    ingest(
        run,
        IngestConfig(near_dup=False),
        sources=[str(write_jsonl(tmp / "q.jsonl", list(questions.values())))],
        force=True,
    )
    return run, {"gsm8k": gsm8k.ref, "mmlu": mmlu.ref, "short": short.ref}


def test_decontamination_names_the_matched_benchmark_item(contaminated_run) -> None:
    run, refs = contaminated_run
    rows = {r["source_row"]: r for r in rejected(run)}
    assert rows[1]["kind"] == "contaminated" and rows[1]["matched"] == refs["gsm8k"]
    assert rows[2]["matched"] == refs["mmlu"], "case does not hide an embedded question"
    assert rows[3]["matched"] == refs["short"] and "identical" in rows[3]["reason"]
    assert "word n-gram" in rows[1]["reason"]
    assert kept_ids(run) == [question_id(" ".join(UNRELATED.lower().split()))]
    record = Manifest(run.manifest).latest("ingest")
    assert record["contaminated_by"] == {"gsm8k": 1, "mmlu": 2}
    assert record["decontaminated_against"] == {
        "gpqa_diamond": 198,
        "mmlu": 14042,
        "gsm8k": 1319,
        "aime2025": 30,
        "math500": 500,
    }
    assert_identity(run)


def test_decontamination_against_a_file_backed_benchmark_and_its_knobs(tmp_path: Path) -> None:
    item = {
        "question_id": 70,
        "question": "Typical advertising regulatory bodies suggest, for example that adverts "
        "must not: encourage _________, cause unnecessary ________ or _____, and must not cause _______ offence.",
        "options": ["A", "B"],
        "answer": "B",
        "answer_index": 1,
        "cot_content": "",
        "category": "business",
        "src": "ori_mmlu-business_ethics",
    }
    pro = tmp_path / "mmlu_pro.jsonl"
    pro.write_text(json.dumps(item) + "\n", encoding="utf-8")
    src = write_jsonl(tmp_path / "q.jsonl", [f"Quick quiz: {item['question']} Answer briefly.", UNRELATED])

    run = RunDir(tmp_path / "a")
    result = ingest(run, IngestConfig(decontaminate=f"mmlu_pro={pro}", near_dup=False), sources=[str(src)], force=True)
    assert result.contaminated == 1 and rejected(run)[0]["matched"] == "mmlu_pro:70"
    strict = ingest(
        tmp_path / "b",
        IngestConfig(decontaminate=f"mmlu_pro={pro}", decontam_min_shared=99, near_dup=False),
        sources=[str(src)],
        force=True,
    )
    assert strict.contaminated == 0, "fewer shared n-grams than the threshold is not contamination"
    off = ingest(tmp_path / "c", IngestConfig(decontaminate="none", near_dup=False), sources=[str(src)], force=True)
    assert off.contaminated == 0 and off.kept == 2
