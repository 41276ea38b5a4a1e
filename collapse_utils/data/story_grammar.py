"""A synthetic language of children's stories with exact log-probabilities: the offline stand-in for TinyStories.

TinyStories (Eldan & Li 2023) cannot be downloaded on the build machines, so the language-model chapter trains on
stories drawn from this stochastic grammar instead. Because the grammar is **unambiguous**, the exact probability of
every story is known, so the chapter reports the true entropy per token and each model's excess loss
(cross-entropy minus true entropy = KL divergence per token from the true law), not only its cross-entropy.

A story (``"Once upon a time, there was a little girl named Lily. Lily had a red ball. One day, she went to the park
with her ball. ... In the end, Lily was very happy."``) is

1. an **opening** that introduces the hero (a kind -- girl, boy or an animal --, a trait and a name, whose gender fixes
   the pronouns he/she, his/her, him/her);
2. a **setup** that introduces the hero's toy (a colour and a noun);
3. one to ``max_events`` **events**, chosen by a small Markov chain over event templates: each event lists the events
   that may follow it (a lost toy is searched for, cried over, found); an event may introduce a friend (with a kind,
   a name and pronouns of its own), and events that mention the friend are possible only after that;
4. an **ending**. After an event that can close the story, the story ends with probability ``end_prob``; after
   ``max_events`` events it always ends, so the set of stories is finite. An event that cannot close the story (a
   lost toy) is chosen only where the chain can still reach one that can, within ``max_events``.

The hero, the toy, the place and the friend are chosen once, where first mentioned, and every later mention repeats
them, so references stay consistent. Every choice point draws one word from an explicit distribution and writes that
word into the text, and the options of a choice point are distinct words; templates are chosen by their first word,
and the words of the template are fixed except for the slots that make further choices. Hence the words of a story
determine its **derivation** (the option taken at each choice point) uniquely, :meth:`StoryGrammar.parse` recovers it
by reading the story from left to right, and the probability of a story is the product of the probabilities of its
choices -- including the end of the story, which follows the ending deterministically.

Texts are written in the canonical spacing of :func:`collapse_utils.data.tokenizer.join_words`, so the word tokenizer
(:class:`collapse_utils.data.tokenizer.WordTokenizer`) is lossless on them. :meth:`StoryGrammar.log_prob` returns
``-inf`` for a text outside the language; :meth:`StoryGrammar.parse` raises a ValueError that says where it fails.

The default language (:data:`DEFAULT_GRAMMAR`) has 348 word types (punctuation included), stories of 33 to ~110
tokens (about 69 on average, end-of-story token included) and an entropy of about 0.60 nats per word token
(:func:`entropy_per_token` on 20,000 samples). Sampling or parsing 5,000 stories takes well under a second.
Its words, templates and weights are data, in :mod:`collapse_utils.data.story_words`.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from collapse_utils.data import story_words
from collapse_utils.data.tokenizer import join_words, split_words
from collapse_utils.validation import Instance, Int, Optional, Real, Strings, fail, validate

Derivation = tuple[int, ...]
"""The index of the option taken at each choice point of a story, in the order the story is read."""


# ---------------------------------------------------------------------------------------------------------------
# the lexicon: words and templates (the chapter's are in story_words.py)
# ---------------------------------------------------------------------------------------------------------------

_PROBABILITY = Real(0, 1, low_open=True, high_open=True)
_GENERATOR = Instance(np.random.Generator)
_TEXT = Instance(str)


@validate(key=Instance(str), text=Instance(str), weight=Real(0, low_open=True))
@dataclass(frozen=True)
class Event:
    """A middle-event template of the Markov chain.

    Parameters
    ----------
    key
        Name of the event, unique in the lexicon.
    text
        The template: tokens separated by spaces; ``{slot}`` tokens are filled in (see :class:`StoryLexicon`).
        The first token is a fixed word (or ``{He}``, ``{His}``, ``{Name}``, ``{Friend}``) that identifies the template.
    weight
        Relative weight (> 0) among the events that may come next.
    follows
        Keys of the events that may come right after this one; ``None``: every event with ``opens=True``.
    opens
        Whether the event may be the first one or follow an event whose ``follows`` is ``None``.
    can_end
        Whether the story may end right after this event (a lost toy should be found first).
    """

    key: str
    text: str
    weight: float = 1.0
    follows: tuple[str, ...] | None = None
    opens: bool = True
    can_end: bool = True


@validate(max_events=Int(1), end_prob=_PROBABILITY, zipf=Real(0, 5), pronoun_prob=_PROBABILITY,
          colour_prob=_PROBABILITY)
@dataclass(frozen=True)
class StoryLexicon:
    """Words, templates and the Markov-chain settings of a story language.

    Word lists are ordered by frequency: option ``r`` (0-based) of a list has probability proportional to
    ``(r + 1) ** -zipf``. Template slots:

    - hero: ``{kind}`` (``girl``, ``boy`` or one of ``animals``), ``{Name}`` (a girl's name for a girl, a boy's name for
      a boy, any name for an animal; its list fixes the gender), ``{trait}``; pronouns ``{he} {He} {his} {His}
      {him}`` (she, She, her, Her, her for a girl's name);
    - toy: ``{colour}``, ``{toy}``; place: ``{place}``;
    - friend: ``{fkind}`` (introduces the friend), ``{Friend}`` (a name other than the hero's), pronouns ``{fhe} {Fhe}
      {fhis} {Fhis} {fhim}``;
    - fresh words at each use: ``{feeling} {sad} {joy} {spot} {food} {game} {parent} {fixer} {weather} {animal}
      {answer} {move} {time} {how} {thing} {material} {taste}`` from the lists of the same meaning, and
      ``{adj}`` from ``traits``;
    - variants: ``{who}`` / ``{Who}`` is the hero's pronoun (probability ``pronoun_prob``) or name, ``{thetoy}`` the
      toy with its colour (probability ``colour_prob``) or without.

    The hero, toy, place and friend slots choose a word at their first use and repeat it afterwards.
    """

    girl_names: tuple[str, ...]
    boy_names: tuple[str, ...]
    animals: tuple[str, ...]
    traits: tuple[str, ...]
    toys: tuple[str, ...]
    colours: tuple[str, ...]
    places: tuple[str, ...]
    feelings: tuple[str, ...]
    sads: tuple[str, ...]
    joys: tuple[str, ...]
    spots: tuple[str, ...]
    foods: tuple[str, ...]
    games: tuple[str, ...]
    parents: tuple[str, ...]
    fixers: tuple[str, ...]
    weathers: tuple[str, ...]
    answers: tuple[str, ...]
    moves: tuple[str, ...]
    times: tuple[str, ...]
    hows: tuple[str, ...]
    things: tuple[str, ...]
    materials: tuple[str, ...]
    tastes: tuple[str, ...]
    openings: tuple[str, ...]
    setups: tuple[str, ...]
    events: tuple[Event, ...]
    endings: tuple[str, ...]
    max_events: int
    end_prob: float
    zipf: float
    pronoun_prob: float
    colour_prob: float

    def __post_init__(self):
        for name in (*_WORD_LISTS, "openings", "setups", "endings", "events"):
            value = getattr(self, name)
            if not isinstance(value, tuple) or (not value and name != "animals"):
                fail(name, "a non-empty tuple" if name != "animals" else "a tuple", value)
        for name in _WORD_LISTS:
            words = getattr(self, name)
            if len(set(words)) != len(words) or not all(isinstance(w, str) and re.fullmatch(r"[A-Za-z]+", w)
                                                        for w in words):
                fail(name, "distinct single words of letters", words)
        for name in ("girl_names", "boy_names"):
            if len(getattr(self, name)) < 2:
                fail(name, "at least 2 names (a friend's name differs from the hero's)", getattr(self, name))
        if set(self.girl_names) & set(self.boy_names):
            fail("boy_names", "names that are not girls' names", sorted(set(self.girl_names) & set(self.boy_names)))
        if set(self.colours) & set(self.toys):
            fail("toys", "words that are not colours", sorted(set(self.colours) & set(self.toys)))
        keys = [e.key for e in self.events if isinstance(e, Event)]
        if len(keys) != len(self.events) or len(set(keys)) != len(keys) or not any(e.opens for e in self.events):
            fail("events", "Event objects with distinct keys, at least one with opens=True", self.events)
        unknown = sorted({k for e in self.events for k in e.follows or () if k not in keys})
        if unknown:
            fail("events", f"events whose follows name known events (not {unknown})", self.events)


_WORD_LISTS = ("girl_names", "boy_names", "animals", "traits", "toys", "colours", "places", "feelings", "sads", "joys",
               "spots", "foods", "games", "parents", "fixers", "weathers", "answers", "moves", "times", "hows",
               "things", "materials", "tastes")
_FREE_SLOTS = {"feeling": "feelings", "sad": "sads", "joy": "joys", "spot": "spots", "food": "foods", "game": "games",
               "parent": "parents", "fixer": "fixers", "weather": "weathers", "animal": "animals", "answer": "answers",
               "move": "moves", "time": "times", "how": "hows", "thing": "things", "material": "materials",
               "adj": "traits", "taste": "tastes"}
_ONCE_SLOTS = ("kind", "Name", "trait", "colour", "toy", "place", "fkind", "Friend")
_PRONOUNS = {  # slot -> (whose, masculine form, feminine form)
    "he": ("hero", "he", "she"), "He": ("hero", "He", "She"), "his": ("hero", "his", "her"),
    "His": ("hero", "His", "Her"), "him": ("hero", "him", "her"),
    "fhe": ("friend", "he", "she"), "Fhe": ("friend", "He", "She"), "fhis": ("friend", "his", "her"),
    "Fhis": ("friend", "His", "Her"), "fhim": ("friend", "him", "her"),
}
_VARIANT_SLOTS = frozenset({"who", "Who", "thetoy"})  # a pronoun or the name; the toy with or without its colour
_FRIEND_SLOTS = frozenset({"fkind", "Friend", "fhe", "Fhe", "fhis", "Fhis", "fhim"})
_LEADING_SLOTS = frozenset({"He", "His", "Name", "Friend"})  # slots that may identify a template (always set by then)
_SLOT_RE = re.compile(r"^\{(\w+)\}$")


DEFAULT_LEXICON = StoryLexicon(**story_words.WORD_LISTS, openings=story_words.OPENINGS, setups=story_words.SETUPS,
                               events=tuple(Event(**e) for e in story_words.EVENTS), endings=story_words.ENDINGS,
                               **story_words.SETTINGS)
"""The chapter's story language, built from the words, templates and weights of :mod:`story_words`."""


# ---------------------------------------------------------------------------------------------------------------
# compiled choice points and the three readers of the story program (sample, parse, replay)
# ---------------------------------------------------------------------------------------------------------------


class _Choice:
    """A choice point: distinct option words, their cumulative probabilities and log-probabilities."""

    __slots__ = ("cum", "logp", "words")

    def __init__(self, words: Sequence[str], weights: Sequence[float]):
        if len(set(words)) != len(words):
            fail("lexicon", "distinct options at each choice point (an animal named like a kind?)", list(words))
        w = np.asarray(weights, dtype=float)
        p = w / w.sum()
        cum = np.cumsum(p)
        cum[-1] = 1.0
        self.words = tuple(words)
        self.cum = tuple(float(c) for c in cum)
        self.logp = tuple(float(v) for v in np.log(p))


class _NotAStory(ValueError):
    pass


class _Branch(Exception):
    """Control flow of the enumeration: the derivation prefix ends at a choice point of ``n_options`` options."""

    def __init__(self, n_options: int):
        self.n_options = n_options


class _Sampler:
    """Draws each choice from a buffer of uniform numbers and writes the words."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.u = rng.random(8192).tolist()
        self.j = 0
        self.reset()

    def reset(self):
        self.out: list[str] = []
        self.deriv: list[int] = []
        self.logp = 0.0

    def pick(self, words, choice: _Choice) -> int:
        if self.j == len(self.u):
            self.u = self.rng.random(8192).tolist()
            self.j = 0
        i = bisect_right(choice.cum, self.u[self.j])
        self.j += 1
        self.out.append(words[i])
        self.deriv.append(i)
        self.logp += choice.logp[i]
        return i

    def words(self, tokens):
        self.out.extend(tokens)


class _Replayer(_Sampler):
    """Takes the choices from a given derivation (raising :class:`_Branch` past its end, for the enumeration)."""

    def __init__(self, derivation: Sequence[int], branch: bool = False):
        self.given = derivation
        self.branch = branch
        self.reset()

    def pick(self, words, choice: _Choice) -> int:
        k = len(self.deriv)
        if k == len(self.given):
            if self.branch:
                raise _Branch(len(words))
            fail("derivation", f"a complete derivation (it ends after {k} choices, before the story does)", self.given)
        i = self.given[k]
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)) or not 0 <= i < len(words):
            fail("derivation", f"option indices; choice {k} is one of 0 .. {len(words) - 1}", self.given)
        i = int(i)
        self.out.append(words[i])
        self.deriv.append(i)
        self.logp += choice.logp[i]
        return i


class _Parser:
    """Reads the choices off the words of a text."""

    def __init__(self, tokens: list[str]):
        self.tokens = tokens
        self.pos = 0
        self.deriv: list[int] = []
        self.logp = 0.0

    def _fail(self, expected) -> None:
        got = repr(self.tokens[self.pos]) if self.pos < len(self.tokens) else "the end of the text"
        before = join_words(self.tokens[max(0, self.pos - 6):self.pos])
        raise _NotAStory(f"not a story of this grammar: at word {self.pos} (after {before!r}) expected "
                         f"{expected}, got {got}")

    def pick(self, words, choice: _Choice) -> int:
        tokens, pos = self.tokens, self.pos
        if pos >= len(tokens) or tokens[pos] not in words:
            self._fail(f"one of {list(words)}")
        i = words.index(tokens[pos])
        self.pos = pos + 1
        self.deriv.append(i)
        self.logp += choice.logp[i]
        return i

    def words(self, expected):
        n = len(expected)
        if tuple(self.tokens[self.pos:self.pos + n]) == expected:
            self.pos += n
            return
        for word in expected:  # move to the first mismatch, for the message
            if self.pos >= len(self.tokens) or self.tokens[self.pos] != word:
                self._fail(repr(word))
            self.pos += 1


@dataclass(frozen=True)
class _Template:
    lead: str  # the first token: a fixed word or a leading slot name
    lead_is_slot: bool
    rest: tuple  # segments: (is_slot, str or tuple of words)
    event: Event | None
    needs_friend: bool
    introduces_friend: bool


def _compile(text: str, event: Event | None = None) -> _Template:
    tokens = text.split()
    slots = []
    for t in tokens:
        m = _SLOT_RE.match(t)
        if m:
            name = m.group(1)
            if name not in _ONCE_SLOTS and name not in _PRONOUNS and name not in _FREE_SLOTS \
                    and name not in _VARIANT_SLOTS:
                fail("template", f"known slots only, not {t}", text)
            slots.append(name)
        elif "{" in t or "}" in t or split_words(t) != [t]:
            fail("template", f"words, punctuation marks and slots separated by spaces, not {t!r}", text)
    lead_match = _SLOT_RE.match(tokens[0]) if tokens else None
    if not tokens or (lead_match and lead_match.group(1) not in _LEADING_SLOTS):
        fail("template", "non-empty, starting with a fixed word or {He}, {His}, {Name}, {Friend}", text)
    segments: list[tuple] = []
    for t in tokens[1:]:
        m = _SLOT_RE.match(t)
        if m:
            segments.append((True, m.group(1)))
        elif segments and not segments[-1][0]:
            segments[-1] = (False, (*segments[-1][1], t))
        else:
            segments.append((False, (t,)))
    introduces = "fkind" in slots
    if introduces and (slots.index("fkind") > min(slots.index(s) for s in _FRIEND_SLOTS & set(slots))):
        fail("template", "one that introduces the friend with {fkind} before the other friend slots", text)
    needs = bool(_FRIEND_SLOTS & set(slots)) and not introduces
    return _Template(lead=lead_match.group(1) if lead_match else tokens[0], lead_is_slot=bool(lead_match),
                     rest=tuple(segments), event=event, needs_friend=needs, introduces_friend=introduces)


def _zipf(n: int, s: float) -> np.ndarray:
    return (np.arange(1, n + 1, dtype=float)) ** -s


# ---------------------------------------------------------------------------------------------------------------
# the grammar
# ---------------------------------------------------------------------------------------------------------------


class StoryGrammar:
    """The stochastic grammar of a :class:`StoryLexicon`: sample stories, parse them, and their exact probability.

    Parameters
    ----------
    lexicon
        Words, templates and Markov-chain settings; :data:`DEFAULT_LEXICON` is the chapter's language.
    """

    @validate(lexicon=Instance(StoryLexicon))
    def __init__(self, lexicon: StoryLexicon = DEFAULT_LEXICON):
        self.lexicon = lexicon
        self._validate(lexicon)
        z = lexicon.zipf
        self._lists = {name: _Choice(getattr(lexicon, name), _zipf(len(getattr(lexicon, name)), z))
                       for name in _WORD_LISTS if getattr(lexicon, name)}
        self._slots_used = frozenset(re.findall(r"\{(\w+)\}", " ".join(
            [*lexicon.openings, *lexicon.setups, *(e.text for e in lexicon.events), *lexicon.endings])))
        for slot, list_name in _FREE_SLOTS.items():
            if slot in self._slots_used and list_name not in self._lists:
                fail(f"lexicon.{list_name}", f"non-empty: the templates use {{{slot}}}", getattr(lexicon, list_name))
        girls, boys, animals = lexicon.girl_names, lexicon.boy_names, lexicon.animals
        self._female = frozenset(girls)
        kinds = ("girl", "boy", *animals)
        self._kind = _Choice(kinds, [2.0, 2.0] + [2.0 / max(len(animals), 1)] * len(animals))
        all_names = girls + boys
        all_weights = np.concatenate([_zipf(len(girls), z), _zipf(len(boys), z)])
        self._names = {"girl": (girls, _zipf(len(girls), z)), "boy": (boys, _zipf(len(boys), z))}
        for a in animals:
            self._names[a] = (all_names, all_weights)
        self._name_choice = {k: _Choice(*v) for k, v in self._names.items()}
        self._pronoun_or_name = _Choice(("pronoun", "name"), (lexicon.pronoun_prob, 1 - lexicon.pronoun_prob))
        self._with_colour = _Choice(("colour", "toy"), (lexicon.colour_prob, 1 - lexicon.colour_prob))
        self._friend_choice: dict[tuple[str, str], _Choice] = {}
        self._openings = self._template_choice([_compile(t) for t in lexicon.openings], None)
        self._setups = self._template_choice([_compile(t) for t in lexicon.setups], None)
        self._events = [_compile(e.text, e) for e in lexicon.events]
        self._endings = [_compile(t) for t in lexicon.endings]
        self._by_key = {e.event.key: e for e in self._events}
        self._next_memo: dict[tuple, tuple] = {}

    # -- validation ------------------------------------------------------------------------------------------

    @staticmethod
    def _validate(lex: StoryLexicon) -> None:
        """The rules on templates that the engine's slots define (the lexicon checks its own fields)."""
        for t in lex.openings:
            slots = re.findall(r"\{(\w+)\}", t)
            if "kind" not in slots or "Name" not in slots or slots.index("kind") > slots.index("Name"):
                fail("lexicon.openings", "templates that introduce the hero with {kind} before {Name}", t)
            early = [x for x in slots[:slots.index("Name")] if x not in ("kind", "trait") and x not in _FREE_SLOTS]
            if early:
                fail("lexicon.openings", f"templates that use no {{{early[0]}}} before {{Name}}", t)
        for t in (*lex.openings, *lex.setups):
            if _FRIEND_SLOTS & set(re.findall(r"\{(\w+)\}", t)):
                fail("lexicon.setups", "templates (and openings) that do not mention the friend", t)
        fixed_leads = [t.split()[0] for t in (*(e.text for e in lex.events), *lex.endings)]
        if len(set(fixed_leads)) != len(fixed_leads):
            fail("lexicon.events", "templates that, with the endings, start with distinct words (the first word tells "
                                   "which template comes next)", fixed_leads)
        all_leads = fixed_leads + [t.split()[0] for t in (*lex.openings, *lex.setups)]
        names = lex.girl_names + lex.boy_names
        clash = {w for w in all_leads if not _SLOT_RE.match(w)} & (set(names) | {"He", "She", "His", "Her"})
        if clash:
            fail("lexicon", "templates whose first word is not a name or He, She, His, Her (the words of the slots "
                            "that may start a template)", sorted(clash))

    def _template_choice(self, templates: list[_Template], weights) -> tuple:
        leads = [t.lead for t in templates]
        fixed = [t.lead for t in templates if not t.lead_is_slot]
        if len(set(leads)) != len(leads) or len(set(fixed)) != len(fixed):
            fail("lexicon", "templates that start with distinct words at each choice point", leads)
        # the option words of a template choice are its templates' first words, resolved at each use (_lead)
        return tuple(templates), _Choice([f"#{i}" for i in range(len(templates))],
                                         weights if weights is not None else [1.0] * len(templates))

    # -- the story program -------------------------------------------------------------------------------------

    def _next_events(self, prev: _Template | None, n_done: int, friend: bool) -> tuple:
        """The templates that may come after ``n_done`` events (the last one ``prev``) and their probabilities."""
        key = (None if prev is None else prev.event.key, n_done, friend)
        memo = self._next_memo.get(key)
        if memo is not None:
            return memo
        lex = self.lexicon
        if n_done >= lex.max_events:
            candidates = []
        elif prev is None:
            candidates = [t for t in self._events if t.event.opens]
        else:
            candidates = self._successors(prev)
        candidates = [t for t in candidates if self._allowed(t, friend)
                      and self._can_close(t, lex.max_events - n_done - 1, friend or t.introduces_friend)]
        endings = [t for t in self._endings if self._allowed(t, friend)]
        may_end = prev is not None and prev.event.can_end  # and then, thanks to _can_close, candidates or endings
        if not candidates and not may_end:
            fail("lexicon.events", f"a chain in which some first event reaches an event after which the story may "
                                   f"end within max_events = {lex.max_events} events", [e.key for e in lex.events])
        if may_end and not endings:
            fail("lexicon.endings", "one ending at least without friend slots", lex.endings)
        p_end = 0.0 if not may_end else (1.0 if not candidates else lex.end_prob)
        templates, weights = [], []
        if candidates:
            total = sum(t.event.weight for t in candidates)
            for t in candidates:
                templates.append(t)
                weights.append((1 - p_end) * t.event.weight / total)
        if p_end > 0:
            for t in endings:
                templates.append(t)
                weights.append(p_end / len(endings))
        memo = self._template_choice(templates, weights)
        self._next_memo[key] = memo
        return memo

    @staticmethod
    def _allowed(t: _Template, friend: bool) -> bool:
        return not (t.needs_friend and not friend) and not (t.introduces_friend and friend)

    def _successors(self, t: _Template) -> list[_Template]:
        if t.event.follows is None:
            return [s for s in self._events if s.event.opens and s is not t]
        return [self._by_key[k] for k in t.event.follows if self._by_key[k] is not t]

    def _can_close(self, t: _Template, steps_left: int, friend: bool) -> bool:
        """Whether the story can reach an event after which it may end, within ``steps_left`` more events."""
        if t.event.can_end:
            return True
        return steps_left > 0 and any(
            self._allowed(s, friend) and self._can_close(s, steps_left - 1, friend or s.introduces_friend)
            for s in self._successors(t))

    def _render_choice(self, options: tuple, ch, st: dict) -> _Template:
        templates, choice = options
        words = tuple(self._lead(t, st) if t.lead_is_slot else t.lead for t in templates)
        t = templates[ch.pick(words, choice)]
        for is_slot, value in t.rest:
            if is_slot:
                self._slot(value, ch, st)
            else:
                ch.words(value)
        return t

    @staticmethod
    def _lead(t: _Template, st: dict) -> str:
        if t.lead in _PRONOUNS:  # He or His
            _, masc, fem = _PRONOUNS[t.lead]
            return fem if st["hero_female"] else masc
        return st[t.lead]  # Name or Friend, set by then

    def _slot(self, name: str, ch, st: dict) -> None:
        if name in st:
            ch.words((st[name],))
            return
        pronoun = _PRONOUNS.get(name)
        if pronoun is not None:
            whose, masc, fem = pronoun
            female = st["hero_female"] if whose == "hero" else st["friend_female"]
            word = fem if female else masc
            st[name] = word
            ch.words((word,))
            return
        if name in _VARIANT_SLOTS:
            self._variant(name, ch, st)
            return
        free = _FREE_SLOTS.get(name)
        if free is not None:
            choice = self._lists[free]
            ch.pick(choice.words, choice)
            return
        if name == "kind" or name == "fkind":
            choice = self._kind
        elif name == "Name":
            choice = self._name_choice[st["kind"]]
        elif name == "Friend":
            choice = self._friend_names(st["fkind"], st["Name"])
        else:  # trait, colour, toy, place
            choice = self._lists[name + "s"]
        word = choice.words[ch.pick(choice.words, choice)]
        st[name] = word
        if name == "Name":
            st["hero_female"] = word in self._female
        elif name == "Friend":
            st["friend_female"] = word in self._female

    def _variant(self, name: str, ch, st: dict) -> None:
        """``{who}``/``{Who}``: the hero's pronoun or name; ``{thetoy}``: the toy, with its colour or without."""
        if name == "thetoy":
            colour, toy = st["colour"], st["toy"]
            if ch.pick((colour, toy), self._with_colour) == 0:
                ch.words((toy,))
            return
        pronoun = _PRONOUNS["he" if name == "who" else "He"]
        ch.pick((pronoun[2] if st["hero_female"] else pronoun[1], st["Name"]), self._pronoun_or_name)

    def _friend_names(self, fkind: str, hero: str) -> _Choice:
        key = (fkind, hero)
        choice = self._friend_choice.get(key)
        if choice is None:
            names, weights = self._names[fkind]
            keep = [i for i, n in enumerate(names) if n != hero]  # never empty: each list holds two names or more
            choice = _Choice([names[i] for i in keep], [weights[i] for i in keep])
            self._friend_choice[key] = choice
        return choice

    def _run(self, ch) -> None:
        st: dict = {}
        self._render_choice(self._openings, ch, st)
        self._render_choice(self._setups, ch, st)
        prev = None
        n_done = 0
        while True:
            t = self._render_choice(self._next_events(prev, n_done, "Friend" in st), ch, st)
            if t.event is None:
                return
            prev = t
            n_done += 1

    # -- public API ----------------------------------------------------------------------------------------------

    @validate(n=Int(1), rng=_GENERATOR)
    def sample_with_derivations(self, n: int, rng: np.random.Generator) -> list[tuple[str, Derivation]]:
        """``n`` independent stories with their derivations (see :meth:`sample`)."""
        ch = _Sampler(rng)
        out = []
        for _ in range(n):
            ch.reset()
            self._run(ch)
            out.append((join_words(ch.out), tuple(ch.deriv)))
        return out

    @validate(n=Int(1), rng=_GENERATOR)
    def sample(self, n: int, rng: np.random.Generator) -> list[str]:
        """``n`` independent stories drawn from the grammar.

        Parameters
        ----------
        n
            Number of stories, an integer >= 1.
        rng
            A ``numpy.random.Generator``: the same seed gives the same stories.
        """
        return [text for text, _ in self.sample_with_derivations(n, rng)]

    def _parse(self, text: str) -> _Parser:
        tokens = split_words(text)
        if join_words(tokens) != text:
            raise ValueError(f"not a story of this grammar: the text is not in canonical spacing ({text[:60]!r})")
        parser = _Parser(tokens)
        self._run(parser)
        if parser.pos != len(tokens):
            raise ValueError(f"not a story of this grammar: the story ends at word {parser.pos} of {len(tokens)}, "
                             f"before {join_words(tokens[parser.pos:parser.pos + 6])!r}")
        return parser

    @validate(text=_TEXT)
    def parse(self, text: str) -> Derivation:
        """The derivation of a story: the option taken at each choice point; a ValueError if ``text`` is no story."""
        return tuple(self._parse(text).deriv)

    @validate(text=_TEXT)
    def log_prob(self, text: str) -> float:
        """The exact natural-log probability of the story ``text`` (its end included); ``-inf`` if it is no story.

        Use :meth:`parse` to learn why a text is not a story. A non-str ``text`` is a ValueError.
        """
        try:
            return self._parse(text).logp
        except ValueError:
            return -math.inf

    @validate(text=_TEXT)
    def valid_prefix(self, text: str) -> int:
        """Number of words of ``text`` the grammar reads before its first error (all of them for a story).

        A story of the language returns ``len(split_words(text))``; a text that is a story followed by more words
        returns the story's length. Measures how far a generated text stays grammatical.
        """
        parser = _Parser(split_words(text))
        try:
            self._run(parser)
        except _NotAStory:
            pass
        return parser.pos

    @validate(texts=Strings(nonempty=False))
    def true_nll(self, texts: Sequence[str]) -> np.ndarray:
        """Negative log-probability of each story, in nats (``inf`` for a text outside the language)."""
        return np.array([-self.log_prob(t) for t in texts], dtype=float)

    def generate(self, derivation: Sequence[int]) -> str:
        """The story of a derivation (the inverse of :meth:`parse`); a ValueError for an invalid derivation."""
        ch = _Replayer(tuple(derivation))
        self._run(ch)
        if len(ch.deriv) != len(ch.given):
            fail("derivation", f"as long as its story, which ends after {len(ch.deriv)} choices", ch.given)
        return join_words(ch.out)

    @validate(max_stories=Int(1))
    def enumerate_stories(self, max_stories: int = 200_000) -> list[tuple[str, float]]:
        """Every story of the language with its probability, for small lexicons (the unit tests' tiny one).

        Parameters
        ----------
        max_stories
            Stop with a ValueError once the language proves to hold more stories than this (an integer >= 1).

        Returns
        -------
        list of (text, probability)
            In depth-first order of the derivations; the probabilities sum to one.
        """
        out: list[tuple[str, float]] = []
        stack: list[tuple[int, ...]] = [()]
        while stack:
            prefix = stack.pop()
            ch = _Replayer(prefix, branch=True)
            try:
                self._run(ch)
            except _Branch as b:
                stack.extend((*prefix, i) for i in reversed(range(b.n_options)))
                continue
            out.append((join_words(ch.out), math.exp(ch.logp)))
            if len(out) > max_stories:
                fail("max_stories", "at least the number of stories of the language", max_stories)
        return out

    def vocabulary(self) -> tuple[str, ...]:
        """Every word and punctuation mark that a story of this grammar can contain, sorted."""
        lex = self.lexicon
        vocab = set()
        for t in [*lex.openings, *lex.setups, *(e.text for e in lex.events), *lex.endings]:
            vocab.update(tok for tok in t.split() if not _SLOT_RE.match(tok))
        for s in self._slots_used:
            if s in _PRONOUNS:
                vocab.update(_PRONOUNS[s][1:])
            elif s in _FREE_SLOTS:
                vocab.update(getattr(lex, _FREE_SLOTS[s]))
            elif s in ("who", "Who"):
                vocab.update(_PRONOUNS["he" if s == "who" else "He"][1:])
                vocab.update(lex.girl_names + lex.boy_names)
            elif s == "thetoy":
                vocab.update(lex.colours + lex.toys)
            elif s in ("kind", "fkind"):
                vocab.update(self._kind.words)
            elif s in ("Name", "Friend"):
                vocab.update(lex.girl_names + lex.boy_names)
            else:
                vocab.update(getattr(lex, s + "s"))
        return tuple(sorted(vocab))

    def n_tokens(self, text: str) -> int:
        """Word tokens of ``text`` plus one for the end of the story (the length a word-level model predicts)."""
        return len(split_words(text)) + 1


DEFAULT_GRAMMAR = StoryGrammar(DEFAULT_LEXICON)
"""The chapter's story language."""


def story_grammar() -> StoryGrammar:
    """The chapter's story language (:data:`DEFAULT_GRAMMAR`)."""
    return DEFAULT_GRAMMAR


@dataclass(frozen=True)
class EntropyEstimate:
    """True negative log-likelihood per token of a set of stories, with its Monte-Carlo standard error."""

    per_token: float  # sum of -log p(story) / sum of tokens (end-of-story tokens included), nats
    se: float  # standard error of the ratio (delta method); the entropy rate when the stories are i.i.d. samples
    n_stories: int
    mean_tokens: float  # tokens per story, end-of-story token included
    mean_nll: float  # nats per story


@validate(texts=Strings(), grammar=Optional(Instance(StoryGrammar)))
def entropy_per_token(texts: Sequence[str], grammar: StoryGrammar | None = None, tokenizer=None) -> EntropyEstimate:
    """The true negative log-likelihood per token of ``texts`` under ``grammar``.

    For stories sampled from the grammar this estimates its entropy per token, ``H(story) / E[tokens]``; for a
    test set it is the cross-entropy a perfect model would reach, so a model's excess loss is its test loss minus
    ``per_token`` (its KL divergence per token from the true law).

    Parameters
    ----------
    texts
        Stories of the grammar (a non-empty sequence; a text outside the language gives a ValueError).
    grammar
        The story grammar; default :data:`DEFAULT_GRAMMAR`.
    tokenizer
        Counts tokens as ``len(tokenizer.encode(text))`` (end-of-story token included); default: word tokens + 1.

    Returns
    -------
    EntropyEstimate
        ``per_token = sum(-log p) / sum(tokens)`` and the delta-method standard error of that ratio.
    """
    grammar = DEFAULT_GRAMMAR if grammar is None else grammar
    nll = np.array([-grammar._parse(t).logp for t in texts])
    if tokenizer is None:
        counts = np.array([grammar.n_tokens(t) for t in texts], dtype=float)
    else:
        counts = np.array([len(tokenizer.encode(t)) for t in texts], dtype=float)
    ratio = nll.sum() / counts.sum()
    n = len(texts)
    se = float(np.std(nll - ratio * counts, ddof=1) / np.sqrt(n) / counts.mean()) if n > 1 else math.nan
    return EntropyEstimate(per_token=float(ratio), se=se, n_stories=n, mean_tokens=float(counts.mean()),
                           mean_nll=float(nll.mean()))
