"""The words of the world: people, places, things, adjectives with sentiment, and verbs, with their morphology.

Open-class words come in lists by meaning (foods, animals, jobs, ...); :func:`plural`, :func:`third_person`,
:func:`past` and :func:`article` inflect them; :func:`word_tags` knows the POS tag of every word the world can
write, so sentence templates (:mod:`tlcourse.data.grammar`) need no tags for unambiguous words.

Example:
    >>> plural("cherry"), plural("mouse"), third_person("watch"), past("buy"), past("stop"), article("owl")
    ('cherries', 'mice', 'watches', 'bought', 'stopped', 'an')
"""

from __future__ import annotations

import functools
import re

FEMALE_NAMES = (
    "Anna", "Maria", "Lena", "Sofia", "Emma", "Clara", "Nora", "Ella", "Julia", "Rosa", "Mia", "Lucy", "Alice",
    "Grace", "Hannah", "Sara", "Laura", "Ines", "Yuki", "Amara", "Leila", "Zoe", "Ida", "Olga", "Vera", "Eva",
    "Nina", "Paula", "Ruth", "Tara", "Mei", "Aisha", "Kate", "Helen", "Irene", "Lily",
)  # fmt: skip
MALE_NAMES = (
    "Tom", "Marco", "Leo", "Hugo", "Omar", "Ben", "Jack", "Sam", "Max", "Paul", "Peter", "David", "Felix", "Oscar",
    "Noah", "Ivan", "Kenji", "Luca", "Diego", "Ravi", "Adam", "Carl", "Erik", "Hans", "Karl", "Otto", "Pablo",
    "Mateo", "Amir", "Jonas", "Simon", "Victor", "Tariq", "Chen", "Arthur", "George",
)  # fmt: skip
SURNAMES = (
    "Rossi", "Smith", "Berg", "Silva", "Novak", "Costa", "Weber", "Moreau", "Tanaka", "Kim", "Garcia", "Meyer",
    "Jensen", "Popov", "Ito", "Okafor", "Haddad", "Santos", "Fischer", "Brown", "Lopez", "Nowak", "Rivera",
    "Walker", "Clarke", "Hansen", "Larsen", "Duval", "Kaplan", "Mendes",
)  # fmt: skip
CITIES = (
    "Lisbon", "Oslo", "Madrid", "Paris", "Rome", "Berlin", "Vienna", "Prague", "Dublin", "Cairo", "Lima", "Quito",
    "Tokyo", "Seoul", "Delhi", "Nairobi", "Accra", "Sydney", "Toronto", "Boston", "Chicago", "Denver", "Milan",
    "Porto", "Athens", "Warsaw", "Riga", "Bergen", "Kyoto", "Hanoi", "Havana", "Bogota",
)  # fmt: skip
JOBS = (
    "teacher", "baker", "doctor", "nurse", "farmer", "painter", "pilot", "writer", "singer", "cook", "driver",
    "engineer", "lawyer", "dancer", "gardener", "carpenter", "student", "musician", "librarian", "tailor",
    "mechanic", "scientist", "poet", "photographer", "architect", "dentist", "banker", "actor", "fisherman",
)  # fmt: skip
#: Where each job is done (a job not listed here works "at home").
WORKPLACES = {
    "teacher": "school", "baker": "bakery", "doctor": "hospital", "nurse": "hospital", "farmer": "farm",
    "pilot": "airport", "student": "university", "librarian": "library", "scientist": "university",
    "lawyer": "office", "engineer": "factory", "banker": "bank", "mechanic": "garage", "cook": "restaurant",
    "dentist": "clinic", "actor": "theater", "dancer": "theater", "fisherman": "harbor", "gardener": "park",
}  # fmt: skip
PETS = ("dog", "cat", "parrot", "rabbit", "horse", "goat", "hamster", "turtle", "duck", "pony", "mouse", "owl")
#: Countable foods ("three apples") and mass foods ("some soup").
FOODS = (
    "apple", "orange", "banana", "lemon", "pear", "cherry", "carrot", "potato", "tomato", "onion", "cake", "pie",
    "cookie", "pancake", "sandwich", "burger", "dumpling", "egg", "pizza", "plum", "peach", "muffin",
)  # fmt: skip
MASS_FOODS = (
    "soup", "bread", "rice", "cheese", "chocolate", "coffee", "tea", "pasta", "honey", "jam", "milk", "juice",
    "curry", "fish", "chicken", "salad", "yogurt", "porridge",
)  # fmt: skip
OBJECTS = (
    "book", "lamp", "chair", "table", "bicycle", "guitar", "piano", "clock", "camera", "kite", "hat", "coat",
    "scarf", "umbrella", "bag", "cup", "bowl", "map", "letter", "ball", "radio", "phone", "key", "ring", "watch",
    "painting", "boat", "car", "tent", "basket", "pen", "candle", "mirror", "blanket", "jacket", "violin", "vase",
)  # fmt: skip
#: Places in town a person can walk to.
PLACES = (
    "market", "park", "library", "beach", "river", "museum", "station", "bakery", "garden", "lake", "forest",
    "square", "harbor", "hill", "cinema", "zoo",
)  # fmt: skip
COLORS = ("red", "blue", "green", "yellow", "black", "white", "brown", "grey", "purple", "pink", "orange")
SIZES = ("big", "small", "old", "new", "little", "tiny")
FEELINGS = ("happy", "sad", "tired", "hungry", "angry", "excited", "proud", "worried", "surprised", "calm")
WEATHER = ("sunny", "rainy", "windy", "cold", "warm", "cloudy", "foggy", "hot")

#: Review aspects: what a reviewer judges, and the adjectives that praise | criticise it.
_ASPECT_TABLE = """
food:  delicious fresh tasty excellent perfect wonderful sweet warm | cold stale bland salty burnt soggy greasy awful
staff: friendly helpful kind polite charming quick patient | rude slow unfriendly unhelpful lazy careless impatient
room:  clean cozy quiet bright comfortable beautiful spacious | dirty noisy dark crowded uncomfortable ugly smelly
thing: sturdy reliable useful beautiful excellent solid elegant | broken flimsy useless ugly fragile cheap faulty
price: fair low reasonable | high unfair outrageous
"""
#: {aspect: (positive adjectives, negative adjectives)}, from the table above.
ASPECT_ADJECTIVES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    aspect.strip(): (tuple(good.split()), tuple(bad.split()))
    for aspect, good, bad in (re.split(r"[:|]", line) for line in _ASPECT_TABLE.strip().splitlines())
}
#: What a reviewer judges at each kind of venue: the nouns of the food, staff and room aspects.
VENUES = {
    "restaurant": {"food": FOODS[10:] + MASS_FOODS, "staff": ("waiter", "staff", "owner", "cook"),
                   "room": ("room", "tables", "terrace")},
    "cafe": {"food": ("coffee", "tea", "cake", "muffin", "sandwich", "pie", "cookie", "juice"),
             "staff": ("waiter", "staff", "owner"), "room": ("room", "chairs", "garden")},
    "hotel": {"food": ("breakfast", "coffee", "bread", "egg", "juice"), "staff": ("receptionist", "staff", "owner"),
              "room": ("room", "beds", "bathroom", "garden")},
    "bakery": {"food": ("bread", "cake", "pie", "muffin", "cookie"), "staff": ("baker", "staff", "owner"),
               "room": ("shop",)},
    "shop": {"staff": ("seller", "owner", "staff")},
}  # fmt: skip
POSITIVE_WORDS = frozenset(word for pos, _ in ASPECT_ADJECTIVES.values() for word in pos)
NEGATIVE_WORDS = frozenset(word for _, neg in ASPECT_ADJECTIVES.values() for word in neg)

NUMBERS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve")
YEARS = tuple(str(year) for year in range(1950, 2025))

_IRREGULAR_PLURALS = {"mouse": "mice", "fish": "fish", "fisherman": "fishermen", "child": "children", "man": "men",
                      "woman": "women", "person": "people", "knife": "knives", "loaf": "loaves", "shelf": "shelves"}
_IRREGULAR_PAST = {
    "buy": "bought", "eat": "ate", "give": "gave", "read": "read", "see": "saw", "make": "made", "find": "found",
    "sell": "sold", "go": "went", "take": "took", "bring": "brought", "write": "wrote", "meet": "met",
    "drink": "drank", "sing": "sang", "run": "ran", "sleep": "slept", "feel": "felt", "leave": "left",
    "come": "came", "tell": "told", "wake": "woke", "have": "had", "swim": "swam", "ride": "rode", "fly": "flew",
    "lose": "lost",
    "build": "built", "teach": "taught", "win": "won", "sit": "sat", "draw": "drew", "stop": "stopped",
    "plan": "planned", "shop": "shopped", "hug": "hugged", "be": "was", "do": "did", "get": "got", "say": "said",
    "think": "thought", "forget": "forgot", "hear": "heard", "speak": "spoke", "grow": "grew", "know": "knew",
    "spend": "spent", "keep": "kept", "become": "became", "begin": "began", "hide": "hid", "hold": "held",
}  # fmt: skip
_THIRD_PERSON_IRREGULAR = {"have": "has", "be": "is"}

#: Verbs the world uses, by argument structure: transitive (someone VERBs something) and intransitive.
TRANSITIVE_VERBS = (
    "buy", "eat", "read", "find", "make", "sell", "bring", "draw", "paint", "cook", "wash", "fix", "carry",
    "visit", "watch", "love", "like", "hate", "want", "need", "lose", "build", "clean", "share", "open", "hold",
    "play", "write", "take", "see", "drink", "study", "enjoy", "bake", "hide", "forget", "order", "know",
)  # fmt: skip
INTRANSITIVE_VERBS = ("sleep", "sing", "dance", "laugh", "cry", "run", "swim", "smile", "rest", "wait", "work")
#: Hobbies, as gerunds ("she loves swimming").
HOBBIES = (
    "swimming", "reading", "painting", "dancing", "cooking", "singing", "running", "fishing", "hiking", "drawing",
    "gardening", "baking", "skiing", "sailing", "knitting", "climbing",
)  # fmt: skip
#: Verbs that only the templates write, listed so that :func:`word_tags` knows their forms.
TEMPLATE_VERBS = (
    "live", "walk", "go", "give", "meet", "thank", "help", "have", "feel", "leave", "come", "tell", "stop",
    "plan", "shop", "hug", "get", "say", "think", "hear", "speak", "grow", "ride", "travel", "move", "marry",
    "recommend", "return", "try", "spend", "arrive", "decide", "look", "call", "stay", "keep", "finish",
    "become", "miss", "smell", "taste", "sit", "win", "fly", "teach", "want", "begin", "start", "love", "own", "wake",
)  # fmt: skip


def _add_s(word: str) -> str:
    """English ``-s`` spelling, shared by plurals and verbs: ``-es`` after a hiss, ``-ies`` after consonant + y."""
    if word.endswith(("s", "sh", "ch", "x")) or word in ("potato", "tomato", "go", "do"):
        return word + "es"
    if word.endswith("y") and word[-2] not in "aeiou":
        return word[:-1] + "ies"
    return word + "s"


def plural(noun: str) -> str:
    """The plural of an English noun of the world (regular rules plus a small table of exceptions).

    Example:
        >>> [plural(n) for n in ("dog", "bus", "box", "potato", "baby", "fish")]
        ['dogs', 'buses', 'boxes', 'potatoes', 'babies', 'fish']
    """
    return _IRREGULAR_PLURALS.get(noun) or _add_s(noun)


def third_person(verb: str) -> str:
    """The present-tense third-person singular: ``like`` -> ``likes``, ``carry`` -> ``carries``."""
    return _THIRD_PERSON_IRREGULAR.get(verb) or _add_s(verb)


def past(verb: str) -> str:
    """The past tense: ``walk`` -> ``walked``, ``like`` -> ``liked``, ``study`` -> ``studied``, ``go`` -> ``went``."""
    if verb in _IRREGULAR_PAST:
        return _IRREGULAR_PAST[verb]
    if verb.endswith("e"):
        return verb + "d"
    if verb.endswith("y") and verb[-2] not in "aeiou":
        return verb[:-1] + "ied"
    return verb + "ed"


def article(word: str) -> str:
    """``a`` or ``an`` before ``word`` (by its first letter; the world has no 'hour' or 'unicorn')."""
    return "an" if word[0] in "aeiou" else "a"


def _inflections(verbs: tuple[str, ...]) -> set[str]:
    return {form for verb in verbs for form in (verb, third_person(verb), past(verb))}


@functools.lru_cache(maxsize=1)
def word_tags() -> dict[str, frozenset[str]]:
    """Every open-class word the world writes, with the POS tags it can carry (``orange`` is ADJ or NOUN).

    Example:
        >>> sorted(word_tags()["orange"]), sorted(word_tags()["bought"])
        (['ADJ', 'NOUN'], ['VERB'])
    """
    nouns = {*JOBS, *WORKPLACES.values(), *PETS, *FOODS, *MASS_FOODS, *OBJECTS, *PLACES}
    nouns |= {plural(noun) for noun in nouns}
    nouns |= {noun for venue, aspects in VENUES.items() for group in aspects.values() for noun in (venue, *group)}
    adjectives = {*COLORS, *SIZES, *FEELINGS, *WEATHER, *POSITIVE_WORDS, *NEGATIVE_WORDS}
    verbs = _inflections(TRANSITIVE_VERBS + INTRANSITIVE_VERBS + TEMPLATE_VERBS) | set(HOBBIES)
    names = {*FEMALE_NAMES, *MALE_NAMES, *SURNAMES, *CITIES}
    tags: dict[str, set[str]] = {}
    for words, tag in ((nouns, "NOUN"), (adjectives, "ADJ"), (verbs, "VERB"), (names, "PROPN"),
                       ({*NUMBERS, *YEARS}, "NUM")):  # fmt: skip
        for word in words:
            tags.setdefault(word, set()).add(tag)
    return {word: frozenset(word_tags) for word, word_tags in tags.items()}
