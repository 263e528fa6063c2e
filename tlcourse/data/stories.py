"""Stories and biographies: documents whose sentences build on each other and state consistent facts.

A **story** (past tense) introduces a hero (home, job or pet, tastes, a friend), then tells a few events in
order (*one morning ... then ... the next day ...*) with pronouns pointing back to the hero, and ends. A
**biography** (present tense) describes one person: job, birthplace and year, home, spouse, work place,
hobbies, food, possessions. Each document's facts are drawn once and every sentence agrees with them, so a
story never gives one person two homes, and the facts recorded in ``Document.facts`` are what the text says.

Example:
    >>> import random
    >>> doc = story(random.Random(3))
    >>> doc.kind, 7 <= len(doc.sentences) <= 12, doc.sentences[0].text
    ('story', True, 'Irene lived in a green house in Rome.')
"""

from __future__ import annotations

import random

from tlcourse.data.document import Document
from tlcourse.data.facts import Fact
from tlcourse.data.grammar import DocumentWriter, Person, noun_phrase
from tlcourse.data.lexicon import (
    CITIES, COLORS, FEELINGS, FEMALE_NAMES, FOODS, HOBBIES, JOBS, MALE_NAMES, MASS_FOODS, NUMBERS, OBJECTS,
    PETS, PLACES, SIZES, SURNAMES, WEATHER, WORKPLACES, YEARS, plural,
)  # fmt: skip

_OPENERS = ("one morning", "one day", "one evening", "on Monday", "on Saturday", "on Sunday", "last winter")
_DISHES = ("soup", "pasta", "rice", "curry", "fish", "chicken", "porridge", "dumplings", "pancakes", "eggs")
_PORTABLE = ("key", "ring", "watch", "hat", "scarf", "umbrella", "bag", "map", "pen", "phone", "book", "camera")
_THEN = ("then", "later", "after that", "the next day", "in the afternoon", "soon")
_ENDINGS = (
    "in the evening , {he} went home/ADV and slept .",
    "it was a long but wonderful day .",
    "{name} was tired but happy .",
    "after that , {name} and {friend} were best friends .",
    "{he} never forgot that day .",
)


def new_person(rng: random.Random, *others: Person) -> Person:
    """A person whose first name differs from ``others``' (so names in a document are unambiguous)."""
    taken = {other.first for other in others}
    female = rng.random() < 0.5
    first = rng.choice([name for name in (FEMALE_NAMES if female else MALE_NAMES) if name not in taken])
    return Person(first, rng.choice(SURNAMES), female)


def food_phrase(rng: random.Random, count: bool = False) -> tuple[str, str]:
    """A food (its singular for facts) and how a sentence says it: ``apples`` / ``three apples`` / ``soup``."""
    if not count and rng.random() < 0.4:
        food = rng.choice(MASS_FOODS)
        return food, food
    food = rng.choice(FOODS)
    return food, (f"{rng.choice(NUMBERS[1:6])} " if count else "") + plural(food)


def two_foods(rng: random.Random) -> tuple[tuple[str, str], tuple[str, str]]:
    """Two different foods as :func:`food_phrase` gives them (one liked, one not)."""
    first = food_phrase(rng)
    second = food_phrase(rng)
    while second[0] == first[0]:
        second = food_phrase(rng)
    return first, second


def _introduce(w: DocumentWriter, rng: random.Random, hero: Person, city: str) -> None:
    job = rng.choice(JOBS)
    a_job = noun_phrase(job, det="a")
    home, works = Fact(hero.first, "lives_in", city), Fact(hero.first, "works_as", job)
    choice = rng.randrange(4)
    if choice == 0:
        w.say("{name} lived in {city} .", home, city=city, **hero.pronouns)
    elif choice == 1:
        w.say("once upon a time , there was/VERB {job} called {name} .", works, job=a_job, **hero.pronouns)
        w.say("{he} lived in {city} .", home, city=city, **hero.pronouns)
    elif choice == 2:
        w.say("{name} was {job} in {city} .", works, home, job=a_job, city=city, **hero.pronouns)
    else:
        house = noun_phrase("house", rng.choice(SIZES + COLORS), det="a")
        w.say("{name} lived in {house} in {city} .", home, house=house, city=city, **hero.pronouns)


def _background(w: DocumentWriter, rng: random.Random, hero: Person, friend: Person, pet: str, city: str) -> None:
    """Zero to three sentences about the hero's pet, tastes and friend, in random order."""
    (liked, liked_text), (hated, hated_text) = two_foods(rng)
    parts = [
        lambda: w.say("{he} had {pet} .", Fact(hero.first, "owns", pet),
                      pet=noun_phrase(pet, rng.choice(COLORS + SIZES), det="a"), **hero.pronouns),
        lambda: w.say("{he} loved {food} .", Fact(hero.first, "likes", liked), food=liked_text, **hero.pronouns),
        lambda: w.say("{he} loved {food} , but {he} did not like {other} .", Fact(hero.first, "likes", liked),
                      Fact(hero.first, "likes", hated, negated=True), food=liked_text, other=hated_text,
                      **hero.pronouns),
        lambda: w.say("{his} best friend was {friend} .", Fact(hero.first, "friend_of", friend.first),
                      friend=friend.first, **hero.pronouns),
        lambda: w.say("{his} best friend was {friend} , who also lived in {city} .",
                      Fact(hero.first, "friend_of", friend.first), Fact(friend.first, "lives_in", city),
                      friend=friend.first, city=city, **hero.pronouns),
    ]  # fmt: skip
    for part in rng.sample(parts, rng.randint(0, 3)):
        part()


def _hero_slots(hero: Person, friend: Person) -> dict[str, str]:
    """The hero's pronoun slots, with ``{he}`` the hero's name when the friend would have the same pronoun."""
    return {**hero.pronouns, "friend": friend.first} | ({"he": hero.first} if friend.female == hero.female else {})


def _event(w: DocumentWriter, rng: random.Random, hero: Person, friend: Person, pet: str, opener: str) -> None:
    """One event of the story about ``hero``, ``friend`` and the hero's ``pet``, introduced by ``opener``."""
    slots = {"when": opener, "place": rng.choice(PLACES), **_hero_slots(hero, friend)}
    i = rng.randrange(12)
    if i == 0:
        w.say("{when} , {he} walked to the {place} .", Fact(hero.first, "went_to", slots["place"]), **slots)
    elif i == 1:
        food, text = food_phrase(rng, count=True)
        w.say("{when} , {he} bought {food} at the market .", Fact(hero.first, "bought", food), food=text, **slots)
        w.say("{he} gave some of them to {friend} .", **slots)
    elif i == 2:
        thing = rng.choice(OBJECTS)
        w.say("{when} , {he} bought {thing} .", Fact(hero.first, "bought", thing),
              thing=noun_phrase(thing, rng.choice(COLORS + SIZES), det="a"), **slots)  # fmt: skip
    elif i == 3:
        w.say("{when} , {he} met {friend} at the {place} .", Fact(hero.first, "went_to", slots["place"]), **slots)
        w.say("{friend} was very {feeling} to/PART see {him} .", feeling=rng.choice(FEELINGS[:7]), **slots)
    elif i == 4:
        thing, other = rng.choice(_PORTABLE), rng.choice(PLACES)
        w.say("{when} , {he} lost {his} {thing} at the {place} .", thing=noun_phrase(thing), **slots)
        w.say("{friend} found it near the {other} and brought it back .", other=other, **slots)
    elif i == 5:
        weather = rng.choice(WEATHER)
        w.say("{when} , it was {weather} , so {he} stayed at home/NOUN .", weather=weather, **slots)
        w.say("{he} read a book about {pets} .", pets=plural(rng.choice(PETS)), **slots)
    elif i == 6:
        w.say("{when} , {name} and {friend} cooked {food} together .", food=rng.choice(_DISHES), **slots)
    elif i == 7:
        w.say("{when} , {he} felt {feeling} .", feeling=rng.choice(FEELINGS), **slots)
        w.say("so {he} {did} .", did=rng.choice(("sang", "danced", "laughed", "slept", "rested", "smiled")), **slots)
    elif i == 8:
        w.say("{when} , {he} painted a picture of the {place} .", **slots)
        w.say("{friend} said that it was beautiful .", **slots)
    elif i == 9:
        w.say("{when} , {he} took {his} {pet} to the {place} .", Fact(hero.first, "owns", pet),
              Fact(hero.first, "went_to", slots["place"]), pet=pet, **slots)  # fmt: skip
        w.say("the {pet} was very {feeling} .", pet=pet, feeling=rng.choice(("happy", "tired", "hungry", "excited")))
    elif i == 10:
        w.say("{when} , {he} wrote a long letter to {friend} .", **slots)
        w.say("{friend} read it twice and smiled .", **slots)
    else:
        food = rng.choice(("cake", "pie", "muffin", "bread"))
        w.say("{when} , {he} baked {food} for {friend} .", food=noun_phrase(food, det=None if food == "bread" else "a"),
              **slots)  # fmt: skip
        w.say("it was {adjective} , and {friend} ate all of it .", adjective=rng.choice(("delicious", "sweet", "warm")),
              **slots)  # fmt: skip


def story(rng: random.Random) -> Document:
    """A past-tense story of 7 to 12 sentences about a hero and a friend; see the module docstring."""
    w = DocumentWriter("story")
    hero = new_person(rng)
    friend = new_person(rng, hero)
    city, pet = rng.choice(CITIES), rng.choice(PETS)
    _introduce(w, rng, hero, city)
    _background(w, rng, hero, friend, pet, city)
    openers = [rng.choice(_OPENERS), *rng.sample(_THEN, 4)]
    for i, opener in enumerate(openers):
        if len(w.sentences) >= 10 or (i > 1 and len(w.sentences) >= 6 and rng.random() < 0.3):
            break
        _event(w, rng, hero, friend, pet, opener)
    w.say(rng.choice(_ENDINGS), **_hero_slots(hero, friend))
    return w.document()


def biography(rng: random.Random) -> Document:
    """A present-tense biography of 4 to 10 sentences about one person; see the module docstring."""
    w = DocumentWriter("biography")
    person = new_person(rng)
    name, p = person.first, person.pronouns
    job, born, home = rng.choice(JOBS), rng.choice(CITIES), rng.choice(CITIES)
    pet, thing = rng.choice(PETS), rng.choice(OBJECTS)
    year = int(rng.choice(YEARS[:51]))
    w.say("{full} is {job} from {born} .", Fact(name, "works_as", job), Fact(name, "born_in", born),
          full=person.full_name, job=noun_phrase(job, det="a"), born=born)  # fmt: skip
    if rng.random() < 0.6:
        w.say("{he} was born there/ADV in {year} .", Fact(name, "born_year", str(year)), year=str(year), **p)
    if home == born:
        w.say("{he} still lives there/ADV .", Fact(name, "lives_in", home), **p)
    elif rng.random() < 0.5:
        spouse = new_person(rng, person)
        w.say("{he} lives in {city} with {his} {partner} {spouse} .", Fact(name, "lives_in", home),
              Fact(name, "married_to", spouse.first), city=home, spouse=spouse.first,
              partner="wife" if spouse.female else "husband", **p)  # fmt: skip
    else:
        moved = str(year + rng.randint(18, 24))
        w.say("{he} moved to {city} in {year} .", Fact(name, "lives_in", home), city=home, year=moved, **p)
    if job in WORKPLACES:
        w.say("{he} works at the {place} .", place=WORKPLACES[job], **p)
    hobby, other, third = rng.sample(HOBBIES, 3)
    (liked, liked_text), (hated, hated_text) = two_foods(rng)
    middle = [
        lambda: w.say("{he} loves {hobby} .", Fact(name, "likes", third), hobby=f"{third}/VERB", **p),
        lambda: w.say("in {his} free time , {he} enjoys {hobby} and {other} .", Fact(name, "likes", hobby),
                      Fact(name, "likes", other), hobby=f"{hobby}/VERB", other=f"{other}/VERB", **p),
        lambda: w.say("{his} favorite food is {food} .", Fact(name, "likes", liked), food=liked_text, **p),
        lambda: w.say("{he} does not like {food} .", Fact(name, "likes", hated, negated=True), food=hated_text, **p),
        lambda: w.say("{he} has {pets} .", Fact(name, "owns", pet), pets=f"{rng.choice(NUMBERS[1:4])} {plural(pet)}",
                      **p),
        lambda: w.say("{he} owns {thing} .", Fact(name, "owns", thing),
                      thing=noun_phrase(thing, rng.choice(COLORS + SIZES), det="a"), **p),
        lambda: w.say("{he} has {n} children , and {he} often takes them to the {place} .",
                      n=rng.choice(NUMBERS[1:5]), place=rng.choice(PLACES), **p),
        lambda: w.say("every morning , {he} wakes up/ADP early and drinks {drink} .",
                      drink=rng.choice([drink for drink in ("coffee", "tea", "milk", "juice") if drink != hated]), **p),
    ]  # fmt: skip
    for part in rng.sample(middle, rng.randint(2, 5)):
        part()
    if rng.random() < 0.4:
        w.say("people say that {name} is a very {quality} person .", quality=rng.choice(("kind", "calm", "busy")), **p)
    return w.document()
