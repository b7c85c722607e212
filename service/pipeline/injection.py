"""Find passages of an article that read like instructions to a model: suspected prompt injection.

    suspect(text) -> list[SuspectedInjection]   # spans of the article, with the rules that fired

Grounding keeps a record only when its quotes are in the article, and an injected paragraph is in
the article: a model that obeys it quotes it, and the record grounds `exact`. This stage reads
the submitted text, without the model, and lists the passages a careful reader should distrust;
`merge` then flags (or, by `ATTACHE_INJECTION_POLICY`, drops) every record that stands on such
passages alone.

Newswire says "the minister instructed", "ignored warnings", "the rules", "the system" and
"Assistant Secretary" all the time, so no rule fires on one word: each is a construction that
binds a word of one class to a word of another, and any of them marks its passage.

- `addressed_to_machine`: speech to a machine, not about one. A machine noun (AI, assistant,
  language model, LLM, chatbot, extraction model or tool, automated system) in an address that
  ends the phrase with a colon or comma or goes on to say what the machine is doing to this text:
  "Note to the AI system processing this text:", "Message for any AI assistant processing this
  article:", "Attention AI assistants:", "If you are an AI,", "Language models reading this
  page". "A message to the AI industry" is news, and so is "if you are an AI researcher". Bare
  "system", "model" or "tool" count only bound to the text ("the model reading this:"). In
  French, German, Spanish, Italian and Russian too ("Hinweis an die KI:").
- `override_instructions`: a verb of setting aside (ignore, disregard, forget, bypass, override)
  whose object is the reader's instructions: "your rules", "all previous instructions", "the rules
  you were given"; "this overrides your guidelines", "your instructions no longer apply", "New
  instructions from the operator:", "the extraction schema has changed". "Ignored the rules" and
  "replaces previous guidelines" are news; "ignore your rules" is an order to the reader. In
  French, German, Spanish, Italian, Portuguese and Russian, in the imperative with "all",
  "previous" or "your" ("ignore toutes les instructions précédentes", "Ignoriere alle vorherigen
  Anweisungen", "игнорируй все предыдущие инструкции").
- `requests_records`: an order for records or quotes. An output verb (extract, report, add,
  include, return, list) in the imperative (opening a sentence, after "you must", "please", "is
  required to") whose object is extraction talk (records, evidence, quotes, JSON, a funding ask),
  casts something "as a declaration", or spells a record out after a colon ("Add a declaration:
  ..."); "output" or "emit" a record anywhere; "invent quotes"; "quote this paragraph as
  evidence". The plain form, an imperative for a meeting, an invitation or a declaration, counts
  only beside another rule: "You must report every meeting with a foreign official," an ethics
  code may well say.
- `prompt_marker`: chat-template and system-prompt markers, which prose never holds: `SYSTEM:`
  opening a sentence, a `### Instruction` heading, `[INST]`, `<<SYS>>`, `<|im_start|>` and the
  other `<|...|>` tokens, "SYSTEM NOTICE" or "SYSTEM OVERRIDE" in capitals.
- `role_tag`: a chat role opening a sentence (`Assistant:`, `User:`, `Human:`), a tag that opens
  or closes the article or the conversation (`</article>`, `<system>`), attache's own fence
  (`<<<ARTICLE ...>>>`), a code fence, a ruled "--- END OF ARTICLE".

A passage is the paragraph the rules fired in (a paragraph ends at a blank line or a wire-style
indent), so the claim an injection plants beside its order is covered with it. A paragraph
longer than `_LONGEST_PASSAGE` (an article that came with no breaks) is narrowed to the
sentences that fired and one on either side. An injection split over two paragraphs yields a
passage for each part that fires.

The patterns find every case of `evals/injection.py` and no passage in any of the 102 corpus
articles; `tests/service/pipeline/test_injection.py` checks both, and news sentences that use
the same words.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from attache.pipeline.prefilter import Finder, Prefilter, Text
from attache.schemas import InjectionRule, SuspectedInjection

# Past this length a "paragraph" is a text that came without breaks: flagging all of it would
# flag every record of the article.
_LONGEST_PASSAGE = 1200

_PARAGRAPH_BREAK = re.compile(r"\n[ \t\r]*\n|\n(?=[ \t])")
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])[\"'\u201d\u2019)]*\s+")

# Where an imperative or a role tag can stand: the start of the paragraph or of a sentence, after
# a colon, an opening quote or bracket, or a closing tag.
_START = r"(?:^\s*|(?<=[.!?:;])\s+|(?<=[.!?:;][\"'\u201d\u2019)])\s+|(?<=[\"\u201c(\[>])\s*)"

# Acronyms match in capitals only: "Ai" is a name (Ai Weiwei), "ai" a French verb.
_AI = r"(?-i:AI|A\.I\.|LLM|ML|GPT)"
# "Assistant" is kept apart from "Assistant Secretary".
_ASSISTANT = (
    r"assistants?(?!\s+(?:secretar|director|minister|manager|editor|general|professor|governor|"
    r"commissioner|attorney|chief|deputy|to\b))"
)
_MACHINE = (
    rf"(?:(?:{_AI}|extraction|summari[sz]ation|language)[ -](?:{_ASSISTANT}|models?|systems?|"
    r"tools?|agents?|pipelines?|engines?|bots?)|(?-i:AI|A\.I\.|LLMs?)|artificial[ -]intelligence|"
    r"(?:large )?language models?|chat ?bots?|ChatGPT|(?-i:GPT)(?:-?\d\w*)?|automated "
    r"(?:[\w-]+ ){0,2}(?:systems?|tools?|readers?|agents?|pipelines?|services?|extractors?|"
    rf"summari[sz]ers?)|virtual {_ASSISTANT}|{_ASSISTANT})"
)
# Machine nouns too common in news to count unless bound to the text itself.
_MACHINE_OR_GENERIC = rf"(?:{_MACHINE}|models?|systems?|bots?|tools?|agents?)"
_THE_TEXT = (
    r"(?:this|the\s+(?:above|following|present))(?:\s+(?:text|article|story|document|page|"
    r"report|dispatch|paragraph|passage|content|input|message|item|feed|news)\b|\s*[:,])"
)
_READING = (
    r"(?:reading|reads|processing|processes|parsing|parses|analy[sz]ing|analy[sz]es|"
    r"summari[sz]ing|summari[sz]es|extracting|extracts|ingesting|ingests|handling|handles|"
    r"scanning|scans)"
)
# What makes a machine noun an addressee: the phrase ends there, or says what it does to the text.
_ADDRESSED = (
    rf"(?=\s*[:,;!\u2014\u2013]|\s+-\s|\s+(?:(?:that|which|who)\s+)?(?:is\s+|are\s+)?{_READING}\b)"
)
_ADDRESSED_ABROAD = r"[\w-]*\s*[:,]"

_ADDRESSED_TO_MACHINE = (
    rf"\b(?:note|message|notice|instructions?|attention|memo|reminder|information|directive|"
    rf"request|command)s?\s+(?:to|for)\s+(?:the\s+|any\s+|all\s+|every\s+)?{_MACHINE}{_ADDRESSED}",
    rf"\b{_MACHINE_OR_GENERIC}\s+(?:(?:that|which|who)\s+)?(?:is\s+|are\s+)?{_READING}\s+"
    rf"(?:[\w-]+\s+){{0,4}}?{_THE_TEXT}",
    rf"\bif\s+you\s+are\s+(?:an?\s+)?(?:{_MACHINE}|machine|bot|model){_ADDRESSED}",
    rf"{_START}(?:dear|hey|hello|hi|attention|attn\.?)\s*,?\s+(?:the\s+|all\s+|any\s+)?"
    rf"{_MACHINE_OR_GENERIC}{_ADDRESSED}",
    r"\b(?:note|message|avis|attention|consigne)s?\s+(?:à|a|pour|aux?)\s+(?:l['\u2019]\s*|la\s+|le\s+|"
    r"les\s+)?(?:(?-i:IA|I\.A\.)|intelligence\s+artificielle|assistante?\s+(?:(?-i:IA)|virtuel)|"
    rf"modèles?\s+de\s+langage|(?-i:LLM)){_ADDRESSED_ABROAD}",
    r"\b(?:l['\u2019](?-i:IA)|modèle|assistant)\s+qui\s+(?:lit|traite|analyse|résume)\s+"
    r"(?:ce|cet|cette)\s+(?:texte|article|page|document|dépêche)",
    r"\b(?:Hinweis|Nachricht|Anweisung|Achtung|Mitteilung)\s+(?:an|für)\s+(?:die\s+|den\s+|das\s+|"
    r"alle\s+)?(?:(?-i:KI)|(?-i:K\.I\.)|künstliche\s+Intelligenz|Sprachmodell)"
    rf"{_ADDRESSED_ABROAD}",
    r"\b(?:nota|mensaje|aviso|atención|instrucción)\s+(?:para|a)\s+(?:el\s+|la\s+|los\s+|"
    r"cualquier\s+)?(?:(?-i:IA|I\.A\.)|inteligencia\s+artificial|asistente\s+(?:de\s+)?"
    rf"(?-i:IA)|asistente\s+virtual|modelo\s+de\s+lenguaje){_ADDRESSED_ABROAD}",
    r"\b(?:nota|messaggio|avviso|attenzione)\s+(?:per|a|all['\u2019])\s*(?:l['\u2019]\s*)?(?:(?-i:IA)|"
    r"intelligenza\s+artificiale|assistente\s+(?:(?-i:IA)|virtuale)|modello\s+linguistico)"
    rf"{_ADDRESSED_ABROAD}",
    r"(?:Внимание|Примечание|Сообщение|Указание|Инструкция)\s*[,:]?\s*(?:для\s+)?"
    rf"(?:ИИ|нейросет\w*|языков\w+\s+модел\w*|чат-бот\w*){_ADDRESSED_ABROAD}",
)

# Said to the reader: "ignore your rules", "disregard all previous instructions".
_SET_ASIDE = (
    r"(?:ignore|disregard|forget|override|bypass|set\s+aside|discard|abandon|drop|skip|disobey|"
    r"do\s+not\s+follow|don['\u2019]t\s+follow|stop\s+following)"
)
_YOUR_INSTRUCTIONS = (
    r"your\s+(?:[\w-]+\s+){0,2}?(?:instructions?|rules|guidelines|guidance|directions|directives|"
    r"prompts?|constraints|guardrails|programming|task|training|polic(?:y|ies)|restrictions)"
)
_THE_INSTRUCTIONS = (
    rf"(?:{_YOUR_INSTRUCTIONS}|(?:all\s+|any\s+)?(?:of\s+)?(?:the\s+)?(?:previous|prior|above|"
    r"earlier|preceding|foregoing|original|initial|system|all)\s+(?:[\w-]+\s+){0,2}?"
    r"(?:instructions?|prompts?|programming|guardrails)|(?:all\s+)?(?:the\s+)?(?:[\w-]+\s+)?"
    r"(?:instructions|rules|guidelines)\s+you\s+(?:were|have\s+been|had\s+been)\s+given)"
)
_OVERRIDE_INSTRUCTIONS = (
    rf"\b{_SET_ASIDE}\s+{_THE_INSTRUCTIONS}\b",
    # Orders replace orders all the time in news; only "yours" marks the reader as addressee.
    rf"\b(?:overrides|supersedes|replaces|cancels)\s+{_YOUR_INSTRUCTIONS}\b",
    rf"\b{_THE_INSTRUCTIONS}\s+(?:no\s+longer\s+appl(?:y|ies)|(?:are|is|have\s+been|has\s+been)"
    r"\s+(?:void|cancell?ed|revoked|suspended|lifted|replaced|superseded|obsolete))",
    r"\b(?:new|updated|revised|real|actual|secret|hidden)\s+instructions\s+(?:from\s+(?:the\s+)?"
    r"(?:operators?|developers?|administrators?|admins?|system|users?|publishers?)|for\s+(?:you|"
    rf"the\s+{_MACHINE}))\s*:",
    r"\b(?:extraction|output|JSON|response)\s+(?:schema|format)\s+(?:has|have)\s+(?:changed|"
    r"been\s+(?:changed|updated))",
    r"\b(?:ignore[rz]?|oublie[rz]?)\s+(?:toutes\s+(?:les|tes|vos)|tes|vos|les\s+(?:\w+\s+)?"
    r"(?:instructions|consignes|règles|directives)\s+(?:précédentes|antérieures|ci-dessus|"
    r"initiales))\b",
    r"\b(?:ignorier(?:e|en|t)?|vergiss|vergesst|vergessen|missachte|missachten)\s+(?:Sie\s+)?"
    r"(?:bitte\s+)?(?:alle\s+)?(?:vorherigen|vorigen|bisherigen|obigen|früheren|deine|Ihre|eure|"
    r"sämtliche)\s+(?:\w+\s+)?(?:Anweisungen|Instruktionen|Regeln|Vorgaben|Richtlinien|Befehle)",
    r"\b(?:ignora|ignore|ignoren|olvida|olvide|olviden|omite|omita|desobedece)\s+(?:todas\s+las|"
    r"tus|las\s+(?:instrucciones|reglas|indicaciones|directrices|normas)\s+(?:anteriores|previas|"
    r"iniciales))\b",
    r"\b(?:ignora|ignori|ignorate|dimentica|dimentichi|dimenticate)\s+(?:tutte\s+le|le\s+tue|"
    r"le\s+(?:istruzioni|regole|indicazioni|direttive)\s+(?:precedenti|iniziali|ricevute))\b",
    r"\b(?:ignore|ignora|esqueça|esquece)\s+(?:todas\s+as|as\s+suas|as\s+tuas|as\s+(?:instruções|"
    r"regras|orientações)\s+(?:anteriores|prévias))\b",
    r"(?:игнорируй(?:те)?|проигнорируй(?:те)?|забудь(?:те)?|отбрось(?:те)?|не\s+обращай(?:те)?\s+"
    r"внимания\s+на)\s+(?:все\s+)?(?:(?:свои|твои|ваши|предыдущие|прежние|прошлые|данные)\s+)*"
    r"(?:инструкци|указани|правил|команд|установк)",
)

_EVENT_NOUN = r"(?:meetings?|invitations?|declarations?)"
_EXTRACTION_NOUN = r"(?:records|evidence|quotes|quotations?|citations|entries|JSON|funding\s+asks?)"
_RECORD_TYPE = r"(?:meeting|invitation|declaration|funding\s+ask|record)"
_IMPERATIVE = (
    rf"(?:{_START}|\byou\s+(?:must|should|will|shall|need\s+to|have\s+to|are\s+(?:required|"
    r"instructed|expected)\s+to)\s+|\b(?:is|are)\s+(?:required|instructed|obliged|told)\s+to\s+|"
    r"\bplease\s+)(?:also\s+)?(?:extract|report|output|add|include|return|list|emit|insert|"
    r"generate|produce)\s+(?!of\b)"
)
# Orders that open a sentence or follow "you must", "please": `_START` makes re try every
# position of a paragraph (about 0.2 microseconds a character), so these run on its sentences
# that hold their words instead (`_IN_SENTENCES`). They match no ".", "!" or "?", so no match
# crosses the end of a sentence.
_ORDERS = (
    rf"{_IMPERATIVE}(?:[\w'\u2019-]+\s+){{0,4}}?{_EXTRACTION_NOUN}\b",
    rf"{_IMPERATIVE}(?:[\w'\u2019-]+\s+){{0,8}}?as\s+an?\s+(?:[\w-]+\s+)?{_RECORD_TYPE}\b",
    rf"{_IMPERATIVE}(?:an?|one|this|that)\s+{_RECORD_TYPE}\s*:",
    rf"(?:{_START}|\b(?:and|then|or|you\s+(?:must|should|may|can))\s+)(?:invent|fabricate|"
    r"make\s+up)\s+(?:[\w-]+\s+){0,2}?(?:quotes|quotations?|evidence|citations|records)\b",
)
_REQUESTS_RECORDS = (
    *_ORDERS,
    # "Output" and "emit" are nouns or jargon in news, never an order for a record.
    rf"\b(?:output|emit)\s+(?:[\w'\u2019-]+\s+){{0,4}}?(?:{_EVENT_NOUN}|{_EXTRACTION_NOUN})\b",
    r"\b(?:quote|use|cite)\s+this\s+(?:sentence|paragraph|passage|text|line)\s+as\s+(?:its\s+|"
    r"the\s+|their\s+)?(?:evidence|source|quote)\b",
    r"\bevidence\s+(?:that\s+)?you\s+(?:write|invent|make\s+up|compose)\s+yourself\b",
    r"\b(?:ajoutez|extrayez|extrais|signalez|inventez|indiquez)\s+(?:[\w'\u2019-]+\s+){0,3}?"
    r"(?:réunion|rencontre|invitation|déclaration|citation|preuve)s?\b",
    r"\b(?:füge|fügen\s+Sie|extrahiere|extrahieren\s+Sie|melde|melden\s+Sie|erfinde|erfinden\s+Sie)"
    r"\s+(?:[\w-]+\s+){0,3}?(?:Treffen|Einladung|Erklärung|Zitat|Zitate|Datensatz|Eintrag)",
    r"(?:добавь(?:те)?|извлеки(?:те)?|придумай(?:те)?|укажи(?:те)?)\s+"
    r"(?:\w+\s+){0,3}?(?:встреч|приглашени|заявлени|цитат|запис)",
)
# Counts only where another rule fired in the paragraph.
_REQUESTS_EVENTS = (rf"{_IMPERATIVE}(?:[\w'\u2019-]+\s+){{0,4}}?{_EVENT_NOUN}\b",)
_IN_SENTENCES = frozenset((*_ORDERS, *_REQUESTS_EVENTS))

_PROMPT_MARKER = (
    r"\[/?INST\]",
    r"<</?SYS>>",
    r"<\|[a-z_]{2,30}\|>",
    rf"{_START}(?:SYSTEM|System)(?:\s+(?:PROMPT|Prompt|prompt|MESSAGE|Message|message))?\s*:",
    r"(?m)^[ \t]*#{2,}[ \t]*(?:Instructions?|INSTRUCTIONS?|System|SYSTEM|Response|RESPONSE)"
    r"[ \t]*(?::|$)",
    r"\b(?:SYSTEM|ADMIN|ADMINISTRATOR)\s+(?:NOTICE|MESSAGE|OVERRIDE|PROMPT|INSTRUCTIONS?)\b",
)

_ROLE_TAG = (
    rf"{_START}(?:Assistant|ASSISTANT|User|USER|Human|HUMAN)\s*:",
    r"</?(?:article|document|text|data|context|input|content|system|user|assistant|"
    r"instructions?|untrusted[\w-]*)>",
    r"<{2,}\s*/?\s*(?:END\s+)?ARTICLE\b[^>\n]{0,40}>{2,}",
    r"```",
    r"(?:-{3,}|={3,}|#{3,}|\*{3,})\s*(?:END|BEGIN)\s+(?:OF\s+)?(?:THE\s+)?(?:ARTICLE|DOCUMENT|"
    r"TEXT|INPUT|CONTEXT|DATA)\b",
)


@dataclass(frozen=True)
class _Rule:
    name: InjectionRule
    patterns: tuple[Prefilter, ...]
    # Forms too plain to stand alone: they join a passage another pattern found.
    supporting: tuple[Prefilter, ...] = ()


def _compile(patterns: tuple[str, ...], flags: int = re.IGNORECASE) -> tuple[Prefilter, ...]:
    return tuple(Prefilter(re.compile(pattern, flags)) for pattern in patterns)


# Markers and role tags are matched as written: "System:" opening a sentence is a tag, a
# lower-case "system:" inside a hard-wrapped wire line is not.
_RULES = (
    _Rule(InjectionRule.ADDRESSED_TO_MACHINE, _compile(_ADDRESSED_TO_MACHINE)),
    _Rule(InjectionRule.OVERRIDE_INSTRUCTIONS, _compile(_OVERRIDE_INSTRUCTIONS)),
    _Rule(
        InjectionRule.REQUESTS_RECORDS,
        _compile(_REQUESTS_RECORDS),
        supporting=_compile(_REQUESTS_EVENTS),
    ),
    _Rule(InjectionRule.PROMPT_MARKER, _compile(_PROMPT_MARKER, 0)),
    _Rule(InjectionRule.ROLE_TAG, _compile(_ROLE_TAG, 0)),
)
_FINDER = Finder(gate for rule in _RULES for gate in (*rule.patterns, *rule.supporting))


@dataclass(frozen=True)
class _Hit:
    start: int
    end: int
    rule: InjectionRule


def suspect(text: str) -> list[SuspectedInjection]:
    """The passages of `text` that read like instructions to a model, in article order."""
    # The gates first ask the whole text, so most patterns are ruled out at once.
    article = _FINDER.text(text)
    rules = [
        _Rule(
            rule.name,
            tuple(gate for gate in rule.patterns if gate.may_match(article)),
            tuple(gate for gate in rule.supporting if gate.may_match(article)),
        )
        for rule in _RULES
    ]
    if not any(rule.patterns for rule in rules):
        return []
    passages: list[SuspectedInjection] = []
    for start, end in _paragraphs(text):
        paragraph = Text(text[start:end])
        found = _hits(rules, paragraph, start, supporting=False)
        if not found:
            continue
        hits = found + _hits(rules, paragraph, start, supporting=True)
        spans = (
            [(start, end)] if end - start <= _LONGEST_PASSAGE else _around(text, start, end, found)
        )
        passages += [_passage(lo, hi, [h for h in hits if lo <= h.start < hi]) for lo, hi in spans]
    return passages


def _hits(rules: list[_Rule], paragraph: Text, offset: int, *, supporting: bool) -> list[_Hit]:
    hits: list[_Hit] = []
    sentences: list[tuple[int, int, Text]] | None = None
    for rule in rules:
        for gate in rule.supporting if supporting else rule.patterns:
            if not gate.may_match(paragraph):
                continue
            if gate.pattern.pattern in _IN_SENTENCES:
                sentences = sentences if sentences is not None else _sentences(paragraph.text)
                spans = [(lo, hi) for lo, hi, sentence in sentences if gate.may_match(sentence)]
            else:
                spans = [(0, len(paragraph.text))]
            hits += [
                _Hit(offset + match.start(), offset + match.end(), rule.name)
                for lo, hi in spans
                for match in gate.pattern.finditer(paragraph.text, lo, hi)
            ]
    return hits


def _sentences(paragraph: str) -> list[tuple[int, int, Text]]:
    """The paragraph's sentences. A match may start in the space after a full stop, so a piece
    starts right after the stop, where `_SENTENCE_BREAK` does."""
    cuts = [0, *(end.start() for end in _SENTENCE_BREAK.finditer(paragraph)), len(paragraph)]
    return [(lo, hi, Text(paragraph[lo:hi])) for lo, hi in itertools.pairwise(cuts) if lo < hi]


def _passage(start: int, end: int, hits: list[_Hit]) -> SuspectedInjection:
    fired = {hit.rule for hit in hits}
    return SuspectedInjection(
        start=start, end=end, rules=[rule for rule in InjectionRule if rule in fired]
    )


def _paragraphs(text: str) -> list[tuple[int, int]]:
    """Paragraph spans, surrounding whitespace left out."""
    bounds = [0]
    for match in _PARAGRAPH_BREAK.finditer(text):
        bounds += [match.start(), match.end()]
    bounds.append(len(text))
    spans = (_trimmed(text, lo, hi) for lo, hi in zip(bounds[::2], bounds[1::2], strict=True))
    return [span for span in spans if span is not None]


def _trimmed(text: str, lo: int, hi: int) -> tuple[int, int] | None:
    while lo < hi and text[lo].isspace():
        lo += 1
    while hi > lo and text[hi - 1].isspace():
        hi -= 1
    return (lo, hi) if lo < hi else None


def _around(text: str, start: int, end: int, hits: list[_Hit]) -> list[tuple[int, int]]:
    """Runs of the sentences of a long paragraph that hold hits, with one sentence either side."""
    cuts = [start, *(m.end() for m in _SENTENCE_BREAK.finditer(text, start, end)), end]
    sentences = list(itertools.pairwise(cuts))
    marked = {
        i + step
        for i, (lo, hi) in enumerate(sentences)
        if any(lo <= hit.start < hi for hit in hits)
        for step in (-1, 0, 1)
        if 0 <= i + step < len(sentences)
    }
    runs: list[tuple[int, int]] = []
    for i in sorted(marked):
        lo, hi = sentences[i]
        if runs and i - 1 in marked:
            runs[-1] = (runs[-1][0], hi)
        else:
            runs.append((lo, hi))
    return [span for lo, hi in runs if (span := _trimmed(text, lo, hi)) is not None]
