"""The confidence model and the segmentation are kept between runs and redone when anything they depend on changes."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from bot.kb.engine import Engine
from bot.kb.loader import load_knowledge

FIXTURE = Path(__file__).parent / "data" / "kb_fixture"


def _confidences(engine: Engine) -> list[float]:
    return [engine.ask(q).confidence for q in ("阶梯电价是怎么算的", "电价", "电闸跳了", "燃气费怎么交")]


def test_second_start_reads_the_model_and_answers_the_same(tmp_path: Path):
    first = Engine(load_knowledge(FIXTURE), cache_dir=tmp_path)
    second = Engine(load_knowledge(FIXTURE), cache_dir=tmp_path)
    assert (first.calibration_source, second.calibration_source) == ("fitted", "cache")
    assert np.allclose(_confidences(first), _confidences(second))
    assert len(list(tmp_path.glob("calibration-*.json"))) == 1


def test_an_edited_knowledge_base_or_a_broken_cache_file_is_fitted_again(tmp_path: Path):
    kb_dir = tmp_path / "kb"
    shutil.copytree(FIXTURE, kb_dir)
    cache = tmp_path / "cache"
    Engine(load_knowledge(kb_dir), cache_dir=cache)
    negatives = kb_dir / "negatives.yml"
    negatives.write_text(negatives.read_text(encoding="utf-8") + "  - 楼下的路灯晚上不亮找谁\n", encoding="utf-8")
    assert Engine(load_knowledge(kb_dir), cache_dir=cache).calibration_source == "fitted"
    for f in cache.glob("calibration-*.json"):
        f.write_text("{not json", encoding="utf-8")
    again = Engine(load_knowledge(kb_dir), cache_dir=cache)
    assert again.calibration_source == "fitted"
    assert Engine(load_knowledge(kb_dir), cache_dir=cache).calibration_source == "cache"


def test_without_a_cache_directory_nothing_is_written(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    engine = Engine(load_knowledge(FIXTURE), cache_dir=None)
    assert engine.calibration_source == "fitted"
    assert list(tmp_path.rglob("calibration-*.json")) == []


def test_segmentation_is_kept_and_a_changed_dictionary_segments_again(tmp_path: Path, monkeypatch):
    kb_dir = tmp_path / "kb"
    shutil.copytree(FIXTURE, kb_dir)
    cache = tmp_path / "cache"
    first = Engine(load_knowledge(kb_dir), cache_dir=cache)
    assert len(list(cache.glob("tokens-*.json"))) == 1
    # the second build must not call jieba for any knowledge-base text
    from bot.kb import text as text_module
    calls = []
    original = text_module.TextProcessor.tokens
    monkeypatch.setattr(text_module.TextProcessor, "tokens", lambda self, s: calls.append(s) or original(self, s))
    second = Engine(load_knowledge(kb_dir), cache_dir=cache)
    assert calls == []
    assert [d.tokens for d in second.docs] == [d.tokens for d in first.docs]
    synonyms = kb_dir / "synonyms.yml"
    synonyms.write_text(synonyms.read_text(encoding="utf-8").replace("groups:\n", "groups:\n  - [配电箱, 电箱]\n", 1),
                        encoding="utf-8")
    Engine(load_knowledge(kb_dir), cache_dir=cache)
    assert len(calls) > 0 and len(list(cache.glob("tokens-*.json"))) == 2


def test_the_cache_directory_comes_from_the_settings(tmp_path: Path, monkeypatch):
    from bot.kb import kb_cache

    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("KB_CACHE_DIR", raising=False)
    assert kb_cache.default_dir() == tmp_path / "kb-cache"
    monkeypatch.setenv("KB_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert kb_cache.default_dir() == tmp_path / "elsewhere"
    monkeypatch.setenv("KB_CACHE_DIR", "off")
    assert kb_cache.default_dir() is None


def test_the_fit_uses_a_fixed_sample_of_leave_one_out_queries_once_the_base_is_large(tmp_path: Path, monkeypatch):
    """Past LOO_MAX_QUERIES texts the confidence model learns from a fixed sample (start-up grows
    with the knowledge base, not its square); below it, from every text; the trainers' leave-one-out
    report always covers every text; the cap is part of the cache key."""
    from bot.kb import engine as engine_module

    everything = Engine(load_knowledge(FIXTURE), cache_dir=tmp_path)
    n_texts = sum(len(e.texts) for e in everything.entries)
    n_negatives = len(list(everything._gate_negatives))  # negatives.yml's questions are always all in
    assert everything.confidence.training_size["queries"] == n_texts + n_negatives
    cap = n_texts // 2
    monkeypatch.setattr(engine_module, "LOO_MAX_QUERIES", cap)
    sampled = Engine(load_knowledge(FIXTURE), cache_dir=tmp_path)
    assert sampled.calibration_source == "fitted"  # another cap, another model
    assert sampled.confidence.training_size["queries"] == cap + n_negatives
    again = Engine(load_knowledge(FIXTURE), cache_dir=None)
    assert again.confidence.coefficients() == sampled.confidence.coefficients()  # the same sample every time
    assert len(sampled.loo_answers()) == n_texts
