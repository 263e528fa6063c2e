"""Reviews: a first-person verdict on a venue or a product, labelled positive or negative.

The label is drawn first; then two to four aspects (food, staff, room, price; for a product: the thing itself,
the seller, the price) are judged, each with an adjective of the label's polarity from
:data:`~tlcourse.data.lexicon.ASPECT_ADJECTIVES`. Sentiment is not just a bag of words: an aspect may be
praised or criticised through a negated adjective of the other polarity (*the soup was not fresh*), one
aspect of a longer review may go against the verdict (*the only problem was that the coffee was cold*), and
the review ends with a verdict (*I would not recommend it.*).

Example:
    >>> import random
    >>> doc = review(random.Random(0))
    >>> doc.kind, doc.label, doc.sentences[-1].text
    ('review', 'negative', 'I would give it two stars.')
"""

from __future__ import annotations

import random

from tlcourse.data.document import Document
from tlcourse.data.grammar import DocumentWriter, Phrase, noun_phrase, tagged
from tlcourse.data.lexicon import ASPECT_ADJECTIVES, CITIES, COLORS, FOODS, NUMBERS, OBJECTS, VENUES, plural
from tlcourse.data.stories import new_person

LABELS = ("positive", "negative")
_WHEN = ("week", "month", "year", "Monday", "Friday", "Saturday", "Sunday")
_VERDICTS = {
    True: ("overall , I would recommend it .", "I would give it {stars} stars .", "it was worth every penny ."),
    False: ("I would not recommend it .", "I would give it {stars} .", "it was a waste of money ."),
}
#: How often each form of :func:`_clause` is used: plain, intensified, 'not', 'never', a verb of liking.
_FORM_WEIGHTS = (0.4, 0.25, 0.15, 0.1, 0.1)
_VENUE_VERDICTS = {True: "I will come back/ADV soon .", False: "I will never go back/ADV ."}
_PRODUCT_VERDICTS = {True: "I would buy it again .", False: "I will never buy it again ."}


def _aspect_noun(rng: random.Random, aspect: str, venue: str, thing: str) -> tuple[str, bool]:
    """The noun an aspect judges, and whether it is plural (``the cookies were``)."""
    if aspect == "price":
        return "prices", True
    if aspect == "thing":
        return thing, False
    noun = rng.choice(VENUES[venue][aspect])
    if aspect == "food" and noun in FOODS and rng.random() < 0.5:
        return plural(noun), True
    return noun, noun.endswith("s")  # tables, chairs, beds


def _clause(rng: random.Random, aspect: str, positive: bool, noun: str, is_plural: bool) -> Phrase:
    """One judgement of ``the noun`` with the given polarity, in one of five forms (two of them negated)."""
    good, bad = ASPECT_ADJECTIVES[aspect]
    same, other = (good, bad) if positive else (bad, good)
    be = "were" if is_plural else "was"
    the = f"the {noun}/NOUN"
    form = rng.choices(range(5), weights=_FORM_WEIGHTS)[0]
    if form == 0:
        return tagged(f"{the} {be} {rng.choice(same)}/ADJ")
    if form == 1:
        return tagged(f"{the} {be} {rng.choice(('very', 'really', 'quite'))} {rng.choice(same)}/ADJ")
    if form == 2:  # negation: the polarity comes from 'not' and an adjective of the other side
        return tagged(f"{the} {be} not {rng.choice(other)}/ADJ")
    if form == 3 and aspect in ("staff", "room"):
        return tagged(f"{the} {be} never {rng.choice(other)}/ADJ")
    if aspect == "price":
        return tagged(f"{the} {be} {rng.choice(same)}/ADJ")
    verb = rng.choice(("loved", "enjoyed", "liked")) if positive else rng.choice(("hated", "did not like"))
    return tagged(f"I {verb} {the}")


def review(rng: random.Random) -> Document:
    """A review of 4 to 6 sentences with its ``label``; see the module docstring."""
    w = DocumentWriter("review")
    positive = rng.random() < 0.5
    owner, city = new_person(rng), rng.choice(CITIES)
    slots = {"owner": owner.first, "city": city, "when": rng.choice(_WHEN)}
    product = rng.random() < 0.3
    thing = rng.choice(OBJECTS)
    if product:
        venue, aspects = "shop", ["thing", "staff", "price"]
        w.say("last {when} , I bought {thing} at {owner} 's shop/NOUN in {city} .",
              thing=noun_phrase(thing, rng.choice(COLORS), det="a"), **slots)  # fmt: skip
    else:
        venue, aspects = rng.choice(("restaurant", "cafe", "hotel", "bakery")), ["food", "staff", "room", "price"]
        if rng.random() < 0.5:
            w.say("I visited {owner} 's {venue} in {city} last {when} .", venue=venue, **slots)
        else:
            friend = new_person(rng, owner)
            w.say("last {when} , my friend {friend} and I went to {owner} 's {venue} .",
                  friend=friend.first, venue=venue, **slots)  # fmt: skip
    aspects = rng.sample(aspects, rng.randint(2, len(aspects)))
    polarities = [positive] * len(aspects)
    if len(aspects) >= 3 and rng.random() < 0.4:
        polarities[-1] = not positive  # one aspect goes against the verdict
    clauses = [_clause(rng, a, p, *_aspect_noun(rng, a, venue, thing)) for a, p in zip(aspects, polarities)]
    i = 0
    while i < len(clauses):
        if polarities[i] != positive:
            lead = "the only problem was that" if positive else "luckily ,"
            w.say(f"{lead} {{a}} .", a=clauses[i])
        elif len(clauses) > 2 and i + 1 < len(clauses) and polarities[i + 1] == positive and rng.random() < 0.3:
            w.say("{a} and {b} .", a=clauses[i], b=clauses[i + 1])
            i += 1
        else:
            w.say("{a} .", a=clauses[i])
        i += 1
    if product and rng.random() < 0.5:
        state = "it still works perfectly" if positive else "it was already broken"
        w.say(f"after {{n}} weeks , {state} .", n=rng.choice(NUMBERS[1:6]))
    ending = rng.choice(_VERDICTS[positive] + ((_PRODUCT_VERDICTS if product else _VENUE_VERDICTS)[positive],))
    stars = rng.choice(("four", "five") if positive else ("one/NUM star", "two/NUM stars"))
    w.say(ending, stars=stars)
    return w.document(LABELS[0] if positive else LABELS[1])
