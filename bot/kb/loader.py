"""Load and validate knowledge/ (schema: knowledge/README.md).

Every problem is collected before anything is refused, so that a trainer sees the whole list at
once, each as ``knowledge/tariff.yml:42 entry tariff.tier_structure field source: missing``.
Line numbers come from PyYAML's node tree (one parse gives both the nodes and the data).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.clock import beijing_today
from bot.kb.model import TOPICS, Entry, KnowledgeBase, KnowledgeError, Region
from bot.kb.places import places_pattern
from bot.kb.text import clean

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ROOT = REPO_ROOT / "knowledge"

SYNONYMS_FILE = "synonyms.yml"
TOPICS_FILE = "topics.yml"  # the topics themselves (bot/topics.py), not entries
NEGATIVES_FILE = "negatives.yml"
MIN_PARAPHRASES = 8
REQUIRED_FIELDS = ("id", "question", "paraphrases", "answer", "source", "effective", "review_by", "related", "scope")
OPTIONAL_FIELDS = ("topic", "keywords", "materials", "fees", "time_limits", "channels", "refuse")
ID_RE = re.compile(r"^[a-z]+\.[a-z0-9]+(?:_[a-z0-9]+)*$")
SCOPE_RE = re.compile(r"^region:([a-z0-9_]+)$")
# libyaml's parser when present (5x faster on the ~400 kB KB); same nodes and error marks
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
PLACEHOLDER_RE = re.compile(r"\{\{\s*region\.([a-z0-9_]+)\.([A-Za-z0-9_.]+)\s*\}\}")

__all__ = ["DEFAULT_ROOT", "KnowledgeError", "load_knowledge", "display_path"]


# -- citations (knowledge/README.md "Sources") ------------------------------------------------
# A source is one or more citations separated by "；". Each names a document (its title in 《》 or
# quotes) and who issued it or when; a law or regulation also names the article relied on, or says
# 条文待核 when its text could not be read. Our own research notes are never a source.
NOTES_RE = re.compile(r"policy-facts|本项目|参考资料|研究笔记|AUDIT\.md|自拟", re.IGNORECASE)
TITLE_RE = re.compile(r"《([^》]+)》|[\"“「]([^\"”」]+)[\"”」]")
ISSUED_RE = re.compile(r"(?:19|20)\d\d|〔\d{4}〕|令第|GB")
# a public notice or article without a formal title is named by its kind and its issuer and date
DOC_KIND_RE = re.compile(r"流程|公告|通知|通告|提示|提醒|指南|指引|说明|通报|承诺|规范|标准|告知书|宣传|警示|简介|意见|解读")
LAW_TITLE_RE = re.compile(r"(?:法|条例|规则|规定|办法|细则|解释)$")
ARTICLE_RE = re.compile(r"第[零一二三四五六七八九十百千\d]+条")
PENDING = "条文待核"
EFFECTIVE_PENDING = "生效日期待核"
# the 1996 供电营业规则 (电力工业部令第8号) was replaced on 2024-06-01 by 国家发展和改革委员会令2024年第14号
SUPERSEDED_RE = re.compile(r"1996年《供电营业规则》|原《供电营业规则》")
# a figure with its unit (money, %, ‰, time, energy, distance, times); digits or Chinese numerals
FIGURE_RE = re.compile(
    r"(?:\d+(?:\.\d+)?|[一二三四五六七八九十百千两]+)\s*"
    r"(?:万元|元|%|％|‰|倍|个工作日|工作日|天|日|小时|分钟|千瓦时|度|kWh|米|次|千伏|kV)"
)
SENTENCE_RE = re.compile(r"[^。！？；;\n]+")
# a national answer that says figures differ by place must send the customer to the local figure
DIFFERS_RE = re.compile(r"由各省|各省不同|各地不同|各省规定|本省规定|当地规定为准|部分地区口径|各省（区、市）|因地而异")
LOCAL_WORD = "以当地供电公司公布为准"
# an entry whose citation is marked 待核 must be looked at again within this many days
PENDING_REVIEW_DAYS = 366


def split_citations(source: str) -> list[str]:
    """The citations of a source: split at ；/; outside brackets (notes in brackets may hold ；)."""
    parts, depth, cur = [], 0, []
    for ch in source:
        if ch in "（(":
            depth += 1
        elif ch in "）)":
            depth = max(0, depth - 1)
        if ch in "；;" and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur).strip())
    return [p for p in parts if p]


def citation_problems(source: str) -> list[str]:
    """What is wrong with each citation of a source (empty when every one is acceptable)."""
    out = []
    for part in split_citations(source):
        short = part if len(part) <= 30 else part[:30] + "…"
        if NOTES_RE.search(part):
            out.append(f"'{short}' is our own note, never a source: cite the rule or the public document it came from")
            continue
        titles = [a or b for a, b in TITLE_RE.findall(part)]
        if not titles and not DOC_KIND_RE.search(part):
            out.append(f"'{short}' names no document: give its title in 《》 (or the notice's kind), its issuer and date")
            continue
        if not ISSUED_RE.search(part) and "日期待核" not in part:
            out.append(f"'{short}' does not say when the document was issued (a number or a year, or 日期待核)")
        if SUPERSEDED_RE.search(part):
            out.append(
                f"'{short}' cites the 1996 供电营业规则, replaced on 2024-06-01: cite 《供电营业规则》"
                f"（国家发展和改革委员会令2024年第14号）with its article, or {PENDING}"
            )
        if any(LAW_TITLE_RE.search(t.strip()) for t in titles) and not ARTICLE_RE.search(part) and PENDING not in part:
            out.append(f"'{short}' is a law or regulation: name the article (第…条), or write {PENDING} if its text could not be read")
    return out


def provincial_figures(text: str, places_re: re.Pattern[str]) -> list[tuple[str, str]]:
    """(place, sentence) for every sentence that names a province or city next to a figure."""
    hits = []
    for sentence in SENTENCE_RE.findall(text):
        found = places_re.findall(sentence.replace(" ", ""))
        if found and FIGURE_RE.search(sentence):
            hits.append((found[0], sentence.strip()))
    return hits


def display_path(path: Path, root: Path) -> str:
    """File name as a trainer sees it: relative to the repo, else ``<root name>/<relative path>``."""
    path = path.resolve()
    try:
        return path.relative_to(REPO_ROOT).as_posix()
    except ValueError:
        try:
            return (Path(root.resolve().name) / path.relative_to(root.resolve())).as_posix()
        except ValueError:
            return path.as_posix()


def _line(node: yaml.Node | None) -> int:
    return node.start_mark.line + 1 if node is not None else 1


def _map_items(node: yaml.Node | None) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    """Key → (key node, value node) of a mapping node; {} for anything else."""
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {str(k.value): (k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode)}


def _seq_items(node: yaml.Node | None) -> list[yaml.Node]:
    return list(node.value) if isinstance(node, yaml.SequenceNode) else []


@dataclass
class _Raw:
    """One entry as read, before it becomes an Entry (kept for the cross-entry checks)."""

    id: str | None
    file: str
    line: int
    lines: dict[str, int]
    data: dict[str, Any]
    ok: bool = True
    para_lines: list[int] = field(default_factory=list)


class _Loader:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.problems: list[str] = []
        self.warnings: list[str] = []
        self.files: list[Path] = []
        self.digest = hashlib.sha256()

    # -- reading -----------------------------------------------------------------------------
    def parse(self, path: Path) -> tuple[yaml.Node | None, Any] | None:
        """(node, data) of one YAML file, or None after recording why it could not be read."""
        rel = display_path(path, self.root)
        try:
            raw = path.read_bytes()
            text = raw.decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self.problems.append(f"{rel}:1 file: cannot read ({exc})")
            return None
        self.files.append(path)
        self.digest.update(rel.encode() + b"\0" + raw + b"\0")
        loader = _YAML_LOADER(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark is not None else 1
            what = " ".join(x for x in (exc.context, exc.problem) if x)
            self.problems.append(f"{rel}:{line} YAML syntax error: {what}")
            return None
        except yaml.YAMLError as exc:
            self.problems.append(f"{rel}:1 YAML syntax error: {exc}")
            return None
        finally:
            loader.dispose()
        return node, data

    # -- regions -----------------------------------------------------------------------------
    def load_regions(self) -> dict[str, Region]:
        regions: dict[str, Region] = {}
        folder = self.root / "regions"
        for path in sorted(folder.glob("*.yml")) if folder.is_dir() else []:
            rel = display_path(path, self.root)
            parsed = self.parse(path)
            if parsed is None:
                continue
            node, data = parsed
            if not isinstance(data, dict):
                self.problems.append(f"{rel}:{_line(node)} top-level: expected a mapping of region parameters")
                continue
            regions[path.stem] = Region(name=path.stem, file=rel, params=data)
        return regions

    @staticmethod
    def region_value(region: Region, key: str) -> tuple[bool, str]:
        """Look a dotted key up in a region file: under ``params:`` (or similar) first, then top level."""
        containers = [region.params.get(k) for k in ("params", "parameters", "values")]
        containers = [c for c in containers if isinstance(c, dict)] + [region.params]
        for container in containers:
            value: Any = container
            for part in key.split("."):
                if isinstance(value, dict) and part in value:
                    value = value[part]
                else:
                    value = None
                    break
            if isinstance(value, dict) and "value" in value:
                value = value["value"]
            if value is None or isinstance(value, dict):
                continue
            if isinstance(value, list):
                return True, "、".join(str(v) for v in value)
            return True, str(value)
        return False, ""

    # -- synonyms / negatives --------------------------------------------------------------
    def load_synonyms(self) -> tuple[list[list[str]], dict[str, str]]:
        path = self.root / SYNONYMS_FILE
        if not path.is_file():
            return [], {}
        rel = display_path(path, self.root)
        parsed = self.parse(path)
        if parsed is None:
            return [], {}
        node, data = parsed
        items = _map_items(node)
        if not isinstance(data, dict):
            self.problems.append(f"{rel}:{_line(node)} top-level: expected a mapping with 'groups' and 'typos'")
            return [], {}
        groups: list[list[str]] = []
        seen: dict[str, int] = {}
        gnode = items.get("groups", (None, None))[1]
        raw_groups = data.get("groups") or []
        if not isinstance(raw_groups, list):
            self.problems.append(f"{rel}:{_line(gnode)} field groups: expected a list of word lists")
            raw_groups = []
        gnodes = _seq_items(gnode)
        for i, group in enumerate(raw_groups):
            line = _line(gnodes[i]) if i < len(gnodes) else _line(gnode)
            if isinstance(group, list):
                # a bare number such as 95598 is read by YAML as an int: it is still a word
                group = [str(w) if isinstance(w, int) and not isinstance(w, bool) else w for w in group]
            if not isinstance(group, list) or len(group) < 2 or not all(isinstance(w, str) and w.strip() for w in group):
                self.problems.append(f"{rel}:{line} field groups: a group needs ≥ 2 non-empty words, got {group!r}")
                continue
            words = [w.strip() for w in group]
            for w in words:
                key = clean(w, None)
                if key in seen and seen[key] != line:
                    self.problems.append(
                        f"{rel}:{line} field groups: word '{w}' is also in the group at line {seen[key]}"
                    )
                seen[key] = line
            groups.append(words)
        typos: dict[str, str] = {}
        raw_typos = data.get("typos") or {}
        tnode = items.get("typos", (None, None))[1]
        if not isinstance(raw_typos, dict):
            self.problems.append(f"{rel}:{_line(tnode)} field typos: expected a mapping typo: correct")
        else:
            for k, v in raw_typos.items():
                if not isinstance(k, str) or not isinstance(v, str) or not k.strip() or not v.strip():
                    self.problems.append(f"{rel}:{_line(tnode)} field typos: '{k}: {v}' must map text to text")
                    continue
                typos[k.strip()] = v.strip()
        return groups, typos

    def load_negatives(self) -> tuple[list[str], list[str]]:
        """(questions:, account_questions:) of negatives.yml. Both are questions the knowledge base
        must not answer; the second kind asks for the customer's own records or live status."""
        path = self.root / NEGATIVES_FILE
        if not path.is_file():
            return [], []
        rel = display_path(path, self.root)
        parsed = self.parse(path)
        if parsed is None:
            return [], []
        node, data = parsed
        questions = data.get("questions") if isinstance(data, dict) else None
        if not isinstance(questions, list):
            self.problems.append(f"{rel}:{_line(node)} top-level: expected 'questions:' with a list of questions")
            return [], []
        accounts = data.get("account_questions", [])
        if not isinstance(accounts, list):
            self.problems.append(f"{rel}:{_line(node)} field account_questions: expected a list of questions")
            accounts = []
        return self._question_list(rel, node, "questions", questions), self._question_list(rel, node, "account_questions", accounts)

    def _question_list(self, rel: str, node: Any, key: str, items: list[Any]) -> list[str]:
        out = []
        for i, q in enumerate(items):
            if isinstance(q, str) and q.strip():
                out.append(q.strip())
            else:
                qnodes = _seq_items(_map_items(node).get(key, (None, None))[1])
                line = _line(qnodes[i]) if i < len(qnodes) else _line(node)
                self.problems.append(f"{rel}:{line} field {key}: item {i + 1} is not a question text")
        return out

    # -- entries -----------------------------------------------------------------------------
    def read_entries(self, path: Path) -> list[_Raw]:
        rel = display_path(path, self.root)
        parsed = self.parse(path)
        if parsed is None:
            return []
        node, data = parsed
        items = _map_items(node)
        if not isinstance(data, dict) or "entries" not in data:
            self.problems.append(f"{rel}:{_line(node)} top-level: expected a mapping with 'topic:' and 'entries:'")
            return []
        file_topic = data.get("topic")
        if file_topic not in TOPICS:
            line = _line(items["topic"][1]) if "topic" in items else _line(node)
            self.problems.append(
                f"{rel}:{line} field topic: {file_topic!r} is not one of {'/'.join(TOPICS)}"
            )
            file_topic = None
        entries = data.get("entries")
        enodes = _seq_items(items["entries"][1])
        if not isinstance(entries, list):
            self.problems.append(f"{rel}:{_line(items['entries'][1])} field entries: expected a list of entries")
            return []
        raws = []
        for index, (edata, enode) in enumerate(zip(entries, enodes)):
            line = _line(enode)
            if not isinstance(edata, dict):
                self.problems.append(f"{rel}:{line} entry #{index + 1}: expected a mapping of fields")
                continue
            fields = _map_items(enode)
            lines = {k: _line(kn) for k, (kn, _v) in fields.items()}
            eid = edata.get("id") if isinstance(edata.get("id"), str) and edata.get("id").strip() else None
            raw = _Raw(id=eid.strip() if eid else None, file=rel, line=line, lines=lines, data=edata)
            para_node = fields.get("paraphrases", (None, None))[1]
            raw.para_lines = [_line(n) for n in _seq_items(para_node)]
            self.check_entry(raw, file_topic, enode)
            raws.append(raw)
        return raws

    def problem(self, raw: _Raw, fname: str, message: str, line: int | None = None) -> None:
        who = raw.id if raw.id else f"#{raw.line} (no id)"
        where = line or raw.lines.get(fname, raw.line)
        self.problems.append(f"{raw.file}:{where} entry {who} field {fname}: {message}")
        raw.ok = False

    def check_entry(self, raw: _Raw, file_topic: str | None, enode: yaml.Node) -> None:
        d = raw.data
        # duplicate keys are silently merged by PyYAML: a trainer's second `answer:` would vanish
        keys = [k.value for k, _v in enode.value if isinstance(k, yaml.ScalarNode)]
        for k in {k for k in keys if keys.count(k) > 1}:
            self.problem(raw, str(k), "appears twice in this entry")
        for fname in REQUIRED_FIELDS:
            value = d.get(fname)
            if fname == "effective" and fname in d and value is None and EFFECTIVE_PENDING in str(d.get("source") or ""):
                continue  # an unknown date is written down as unknown, never guessed
            if fname not in d or value is None:
                self.problem(raw, fname, "missing")
            elif isinstance(value, (str, list)) and not (value.strip() if isinstance(value, str) else value):
                self.problem(raw, fname, "empty")
        for fname in d:
            if fname not in REQUIRED_FIELDS and fname not in OPTIONAL_FIELDS:
                self.warnings.append(
                    f"{raw.file}:{raw.lines.get(fname, raw.line)} entry {raw.id} field {fname}: unknown field, ignored"
                )
        topic = d.get("topic", file_topic)
        if "topic" in d and topic not in TOPICS:
            self.problem(raw, "topic", f"{topic!r} is not one of {'/'.join(TOPICS)}")
            topic = None
        raw.data["_topic"] = topic
        if "id" in d and d["id"] is not None:
            if not isinstance(d["id"], str) or not ID_RE.match(d["id"]):
                self.problem(raw, "id", f"{d['id']!r} is not <topic>.<snake_slug> (ascii a-z, 0-9, _)")
            elif topic and not d["id"].startswith(topic + "."):
                self.problem(raw, "id", f"'{d['id']}' must start with its topic '{topic}.'")
        for fname in ("question", "answer", "source"):
            if d.get(fname) is not None and not isinstance(d[fname], str):
                self.problem(raw, fname, "must be text")
        paras = d.get("paraphrases")
        if paras is not None:
            if not isinstance(paras, list):
                self.problem(raw, "paraphrases", "must be a list")
            else:
                for i, p in enumerate(paras):
                    if not isinstance(p, str) or not clean(p, None):
                        line = raw.para_lines[i] if i < len(raw.para_lines) else None
                        self.problem(raw, "paraphrases", f"item {i + 1} is empty or not text", line)
                good = [p for p in paras if isinstance(p, str) and clean(p, None)]
                if len(good) < MIN_PARAPHRASES and paras:
                    self.problem(raw, "paraphrases", f"{len(good)} given, at least {MIN_PARAPHRASES} needed")
        for fname in ("effective", "review_by"):
            value = d.get(fname)
            if value is None:
                continue
            date = _as_date(value)
            if date is None:
                self.problem(raw, fname, f"{value!r} is not a date (YYYY-MM-DD)")
            else:
                d[fname] = date
        if isinstance(d.get("review_by"), dt.date) and d["review_by"] < beijing_today() and raw.id:
            self.warnings.append(
                f"{raw.file}:{raw.lines.get('review_by', raw.line)} entry {raw.id} field review_by: "
                f"{d['review_by'].isoformat()} is in the past, review the entry"
            )
        related = d.get("related")
        if related is not None and (
            not isinstance(related, list) or not all(isinstance(r, str) for r in related)
        ):
            self.problem(raw, "related", "must be a list of entry ids")
        for fname in ("keywords", "materials", "channels"):
            value = d.get(fname)
            if value is not None and not (isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value)):
                self.problem(raw, fname, "must be a list of texts")
        for fname in ("fees", "time_limits"):
            value = d.get(fname)
            if value is not None and not isinstance(value, (str, list, int, float)):
                self.problem(raw, fname, "must be text")
        if d.get("refuse") is not None and not isinstance(d["refuse"], bool):
            self.problem(raw, "refuse", "must be true or false")

    def check_scope_and_fill(self, raw: _Raw, regions: dict[str, Region]) -> None:
        scope = raw.data.get("scope")
        if isinstance(scope, str) and scope.strip():
            scope = scope.strip()
            m = SCOPE_RE.match(scope)
            if scope != "national" and not m:
                self.problem(raw, "scope", f"'{scope}' is not 'national' or 'region:<name>'")
            elif m and m.group(1) not in regions:
                self.problem(raw, "scope", f"region file {self._region_rel(m.group(1))} does not exist")
        elif scope is not None and not isinstance(scope, str):
            self.problem(raw, "scope", "must be text")

        def fill(text: str, fname: str) -> str:
            def sub(m: re.Match[str]) -> str:
                name, key = m.group(1), m.group(2)
                region = regions.get(name)
                if region is None:
                    self.problem(raw, fname, f"placeholder {m.group(0)}: region file {self._region_rel(name)} does not exist")
                    return m.group(0)
                found, value = self.region_value(region, key)
                if not found:
                    self.problem(raw, fname, f"placeholder {m.group(0)}: key '{key}' not in {region.file}")
                    return m.group(0)
                return value

            out = PLACEHOLDER_RE.sub(sub, text)
            if raw.ok and ("{{" in out or "}}" in out):
                self.problem(raw, fname, "malformed placeholder, expected {{region.<name>.<key>}}")
            return out

        for fname in ("answer", "fees", "time_limits"):
            if isinstance(raw.data.get(fname), str):
                raw.data[fname] = fill(raw.data[fname], fname)
        for fname in ("materials", "channels"):
            if isinstance(raw.data.get(fname), list):
                raw.data[fname] = [fill(str(v), fname) for v in raw.data[fname]]

    def check_citation(self, raw: _Raw, regions: dict[str, Region], places_re: re.Pattern[str]) -> None:
        """The source's citations, the dates against the source, no provincial figure in a national
        entry (rules in knowledge/README.md, "Sources and dates")."""
        d = raw.data
        source = d.get("source")
        if not isinstance(source, str) or not source.strip():
            return
        for message in citation_problems(source):
            self.problem(raw, "source", message)
        effective, review_by = d.get("effective"), d.get("review_by")
        if isinstance(effective, dt.date) and str(effective.year) not in source:
            self.problem(
                raw, "effective",
                f"{effective.isoformat()} is not a date the source names: add the document's date "
                f"(e.g. 2024年6月1日施行) to the source, or correct effective",
            )
        if isinstance(effective, dt.date) and isinstance(review_by, dt.date) and review_by <= effective:
            self.problem(raw, "review_by", f"{review_by.isoformat()} is not after effective {effective.isoformat()}")
        if "待核" in source and isinstance(review_by, dt.date):
            latest = beijing_today() + dt.timedelta(days=PENDING_REVIEW_DAYS)
            if review_by > latest:
                self.problem(raw, "review_by", f"the source is marked 待核: review by {latest.isoformat()} at the latest")
        scope = d.get("scope") if isinstance(d.get("scope"), str) else ""
        m = SCOPE_RE.match(scope.strip())
        region = regions.get(m.group(1)) if m else None
        if region is not None and "effective" in region.params:
            reg_eff = _as_date(region.params.get("effective"))
            if reg_eff != (effective if isinstance(effective, dt.date) else None):
                shown = reg_eff.isoformat() if reg_eff else "null"
                self.problem(raw, "effective", f"must agree with {region.file} (effective: {shown})")
        if scope.strip() != "national":
            return
        for fname in ("answer", "fees", "time_limits"):
            text = d.get(fname)
            if not isinstance(text, str):
                continue
            for place, sentence in provincial_figures(text, places_re):
                short = sentence if len(sentence) <= 24 else sentence[:24] + "…"
                self.problem(
                    raw, fname,
                    f"'{short}' gives a figure for {place}: a national entry has no provincial figure; "
                    f"make it a parameter in knowledge/regions/ with its source",
                )
        answer = d.get("answer")
        if isinstance(answer, str) and DIFFERS_RE.search(answer) and LOCAL_WORD not in answer:
            self.problem(raw, "answer", f"says the rule differs by place: add '{LOCAL_WORD}'")

    def _region_rel(self, name: str) -> str:
        return display_path(self.root / "regions" / f"{name}.yml", self.root)


def _as_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        return "；".join(str(v) for v in value)
    return str(value)


def topic_files(root: Path) -> list[Path]:
    """Entry files: every *.yml directly under root except the synonyms, negatives and topics files."""
    return sorted(p for p in root.glob("*.yml") if p.name not in (SYNONYMS_FILE, NEGATIVES_FILE, TOPICS_FILE))


def load_knowledge(root: Path = DEFAULT_ROOT) -> KnowledgeBase:
    """Read and validate the knowledge base under ``root``; raise KnowledgeError listing every problem."""
    root = Path(root)
    if not root.is_dir():
        raise KnowledgeError([f"{root}: knowledge directory does not exist"])
    ld = _Loader(root)
    regions = ld.load_regions()
    groups, typos = ld.load_synonyms()
    negatives, account_questions = ld.load_negatives()
    raws: list[_Raw] = []
    for path in topic_files(root):
        raws.extend(ld.read_entries(path))

    # ids unique across all files: report every place, each pointing at the others
    places: dict[str, list[_Raw]] = {}
    for raw in raws:
        if raw.id:
            places.setdefault(raw.id, []).append(raw)
    for eid, same in places.items():
        if len(same) > 1:
            for raw in same:
                others = ", ".join(f"{o.file}:{o.line}" for o in same if o is not raw)
                ld.problem(raw, "id", f"duplicate id, also at {others}")

    # one normalised text never belongs to two entries
    owners: dict[str, list[tuple[_Raw, str, int]]] = {}
    for raw in raws:
        if not raw.id:
            continue
        texts: list[tuple[str, int, str]] = []
        if isinstance(raw.data.get("question"), str):
            texts.append((raw.data["question"], raw.lines.get("question", raw.line), "question"))
        paras = raw.data.get("paraphrases")
        if isinstance(paras, list):
            for i, p in enumerate(paras):
                if isinstance(p, str):
                    line = raw.para_lines[i] if i < len(raw.para_lines) else raw.line
                    texts.append((p, line, "paraphrases"))
        seen_here: set[str] = set()
        for text, line, fname in texts:
            key = clean(text, None)
            if not key:
                continue
            if key in seen_here:
                ld.warnings.append(f"{raw.file}:{line} entry {raw.id} field {fname}: '{text}' repeated in the same entry")
                continue
            seen_here.add(key)
            owners.setdefault(key, []).append((raw, fname, line))
    for key, users in owners.items():
        ids = {u[0].id for u in users}
        if len(ids) > 1:
            for raw, fname, line in users:
                others = ", ".join(
                    f"{o.id} ({o.file}:{oline})" for o, _f, oline in users if o.id != raw.id
                )
                ld.problem(raw, fname, f"'{key}' is also used by entry {others}", line)

    known = set(places)
    places_re = places_pattern(p for r in regions.values() for p in r.places)
    for raw in raws:
        related = raw.data.get("related")
        if isinstance(related, list):
            for rid in related:
                if isinstance(rid, str) and rid not in known:
                    ld.problem(raw, "related", f"'{rid}' does not exist")
                elif rid == raw.id:
                    ld.warnings.append(f"{raw.file}:{raw.lines.get('related', raw.line)} entry {raw.id} field related: refers to itself")
        ld.check_scope_and_fill(raw, regions)
        ld.check_citation(raw, regions, places_re)

    if ld.problems:
        raise KnowledgeError(ld.problems)

    entries = [
        Entry(
            id=raw.id or "",
            topic=raw.data["_topic"],
            question=raw.data["question"].strip(),
            paraphrases=[p.strip() for p in raw.data["paraphrases"]],
            answer=raw.data["answer"].strip(),
            source=raw.data["source"].strip(),
            effective=raw.data["effective"],
            review_by=raw.data["review_by"],
            related=list(raw.data["related"]),
            scope=raw.data["scope"].strip(),
            file=raw.file,
            line=raw.line,
            keywords=[str(k) for k in raw.data.get("keywords") or []],
            materials=[str(k) for k in raw.data.get("materials") or []],
            fees=_as_text(raw.data.get("fees")),
            time_limits=_as_text(raw.data.get("time_limits")),
            channels=[str(k) for k in raw.data.get("channels") or []],
            refuse=bool(raw.data.get("refuse", False)),
            field_lines=dict(raw.lines),
        )
        for raw in raws
    ]
    return KnowledgeBase(
        root=root,
        entries=entries,
        regions=regions,
        synonym_groups=groups,
        typos=typos,
        negatives=negatives + account_questions,
        account_questions=account_questions,
        warnings=ld.warnings,
        files=ld.files,
        digest=ld.digest.hexdigest(),
    )
