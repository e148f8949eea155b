"""The rule extractor on everyday personal facts: real sentences through spaCy and the rules (no stores)."""

from datetime import UTC, datetime

import pytest

from memory_runtime.domain.vocabulary import ENTITY_RELATIONSHIPS, fact_predicate
from memory_runtime.extraction import USER_SUBJECT
from memory_runtime.extraction.dates import resolve_date
from memory_runtime.extraction.spacy_extractor import SpacyExtractor
from memory_runtime.extraction.types import Extraction, TurnInput

FRIDAY = datetime(2025, 3, 14, 10, tzinfo=UTC)  # the turn's own time, a Friday


def extract_turns(*turns: TurnInput) -> list[Extraction]:
    return SpacyExtractor().extract_turns(list(turns))


def said(text: str, at: datetime = FRIDAY, role: str = "user", speaker: str | None = None) -> TurnInput:
    return TurnInput(text, role, at, speaker, "c1")


def triples(ext: Extraction, negated: bool = False) -> set[tuple[str, str, str]]:
    return {(f.subject, f.predicate, f.object) for f in ext.facts if f.negated is negated}


def facts(text: str) -> set[tuple[str, str, str]]:
    (ext,) = extract_turns(said(text))
    return triples(ext)


U = USER_SUBJECT


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # identity
        ("I'm 34 years old.", {(U, "age_is", "34")}),
        ("I just turned 30.", {(U, "age_is", "30")}),
        # employment
        ("I started a new job at Stripe last month.", {(U, "works_for", "Stripe")}),
        ("I just joined Globex.", {(U, "works_for", "Globex")}),
        ("My company is Initech.", {(U, "works_for", "Initech")}),
        (
            "I work at Acme Robotics Corporation in Berlin.",
            {(U, "works_for", "Acme Robotics Corporation"), ("Acme Robotics Corporation", "located_in", "Berlin")},
        ),
        # people and pets
        ("My manager Tomasz lives in Warsaw.", {(U, "has_manager", "Tomasz"), ("Tomasz", "lives_in", "Warsaw")}),
        ("Tomasz is my manager.", {(U, "has_manager", "Tomasz")}),
        ("My boss is Maria.", {(U, "has_manager", "Maria")}),
        ("My wife Sarah is a teacher.", {(U, "has_spouse", "Sarah"), ("Sarah", "is_a", "teacher")}),
        ("My colleague Jake moved to Denver.", {(U, "has_colleague", "Jake"), ("Jake", "lives_in", "Denver")}),
        ("I had lunch with my friend Chloe.", {(U, "has_friend", "Chloe")}),
        ("I have a dog named Rex.", {(U, "has_pet", "Rex")}),
        ("My cat is called Bella.", {(U, "has_pet", "Bella")}),
        # places
        ("I'm from Poland.", {(U, "is_from", "Poland")}),
        ("I grew up in Krakow.", {(U, "is_from", "Krakow")}),
        ("I no longer live in Paris but I live in Lyon now.", {(U, "lives_in", "Lyon")}),
        # education
        ("I studied physics at MIT.", {(U, "field_of_study", "physics"), (U, "studied_at", "MIT")}),
        ("I graduated from Stanford.", {(U, "studied_at", "Stanford")}),
        ("I'm a student at Oxford.", {(U, "is_a", "student"), (U, "studies_at", "Oxford")}),
        # habits, things, health
        ("I go running every morning.", {(U, "habit", "go running every morning")}),
        ("I usually play tennis on Sundays.", {(U, "habit", "play tennis on Sundays")}),
        ("I meditate daily.", {(U, "habit", "meditate daily")}),
        ("I own a camera.", {(U, "owns", "camera")}),
        ("I'm vegetarian.", {(U, "diet", "vegetarian")}),
        ("I'm allergic to peanuts and shellfish.", {(U, "allergic_to", "peanuts"), (U, "allergic_to", "shellfish")}),
        ("I have diabetes.", {(U, "has_condition", "diabetes")}),
        ("I'm lactose intolerant.", {(U, "has_condition", "lactose intolerance")}),
        ("I eat fish.", {(U, "eats", "fish")}),
    ],
)
def test_everyday_statements_become_facts(text: str, expected: set[tuple[str, str, str]]) -> None:
    assert facts(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # possessions: plurals in the singular, named products, "my new X", "we"
        ("I have three guitars.", {(U, "owns", "guitar")}),
        ("I drive a Honda Civic.", {(U, "owns", "Honda Civic")}),
        ("my new car is so comfy", {(U, "owns", "car")}),
        ("We finally bought a flat!", {(U, "owns", "flat")}),
        ("My wife and I own a restaurant.", {(U, "owns", "restaurant")}),
        ("I own two cats and a parrot.", {(U, "has_pet", "cat"), (U, "has_pet", "parrot")}),
        # education: degrees, majors, years at a school
        ("I have a master's in psychology.", {(U, "field_of_study", "psychology")}),
        ("I have a degree from Harvard.", {(U, "studied_at", "Harvard")}),
        ("I did my masters at LSE.", {(U, "studied_at", "LSE")}),
        ("I'm doing a degree in nursing at Leeds.", {(U, "field_of_study", "nursing"), (U, "studies_at", "Leeds")}),
        ("My major is computer science.", {(U, "field_of_study", "computer science")}),
        ("I'm in my final year at Warwick.", {(U, "studies_at", "Warwick")}),
        ("I went to university at Durham.", {(U, "studied_at", "Durham")}),
        # habits: frequency adverbs, counts per week, fronted schedules
        ("I go climbing twice a week.", {(U, "habit", "go climbing twice a week")}),
        ("I walk the dog three times a day.", {(U, "habit", "walk the dog three times a day")}),
        ("I watch the news most mornings.", {(U, "habit", "watch the news most mornings")}),
        ("I usually take the bus to work.", {(U, "habit", "take the bus to work")}),
        ("On Sundays I bake bread.", {(U, "habit", "bake bread on Sundays")}),
        # employment and places in chat style
        ("i work in finance at a firm called Brookfield", {(U, "works_for", "Brookfield")}),
        ("I was just hired by Tesco.", {(U, "works_for", "Tesco")}),
        ("I've been a cashier at Walmart for two years.", {(U, "is_a", "cashier"), (U, "works_for", "Walmart")}),
        ("I work under Margaret Lee.", {(U, "has_manager", "Margaret Lee")}),
        ("Just moved to Seattle last month!", {(U, "lives_in", "Seattle")}),
        ("Born and raised in Glasgow.", {(U, "is_from", "Glasgow")}),
        ("I'm based out of Dubai.", {(U, "lives_in", "Dubai")}),
        ("I've lived in Chicago for years.", {(U, "lives_in", "Chicago")}),
        # health, tastes, plans
        ("I suffer from insomnia.", {(U, "has_condition", "insomnia")}),
        ("I'm on a low-carb diet.", {(U, "diet", "low-carb")}),
        ("I'm really into birdwatching.", {(U, "likes", "birdwatching")}),
        ("Friends call me Sunny.", {(U, "name_is", "Sunny")}),
        ("My full name is Amelia Rose Carter.", {(U, "name_is", "Amelia Rose Carter")}),
    ],
)
def test_everyday_phrasings_of_things_studies_habits_and_work_become_facts(text: str, expected: set) -> None:
    assert facts(text) == expected


def test_plans_in_everyday_phrasing_keep_their_dates() -> None:
    found = {
        (f.predicate, f.object, f.when)
        for t in (
            "I've booked a trip to Vienna for next Thursday.",
            "Next week I'm visiting my aunt in Bath.",
            "I'm moving to Lisbon in June.",
        )
        for f in extract_turns(said(t))[0].facts
    }
    assert found == {
        ("travels_to", "Vienna", "2025-03-20"),
        ("travels_to", "Bath", "2025-03-17"),
        ("plans", "move to Lisbon", "2025-06"),
    }


@pytest.mark.parametrize(
    ("text", "denied"),
    [
        ("I sold my bike.", {(U, "owns", "bike")}),
        ("I got rid of my TV.", {(U, "owns", "TV")}),
        ("Jake isn't my boyfriend anymore.", {(U, "has_partner", "Jake")}),
        ("I'm not at Microsoft anymore.", {(U, "works_for", "Microsoft")}),
    ],
)
def test_selling_leaving_and_breaking_up_are_denials(text: str, denied: set) -> None:
    (ext,) = extract_turns(said(text))
    assert triples(ext, negated=True) == denied and triples(ext) == set()


@pytest.mark.parametrize(
    "text",
    [
        "I was going to fly to Oslo but it got cancelled.",
        "I dreamt I owned a castle.",
        "I'd love to own a horse one day.",
        "Would you recommend studying in Germany?",
        "My old laptop finally died.",
        "I have a question about my degree.",
    ],
)
def test_plans_that_fell_through_wishes_and_questions_give_nothing(text: str) -> None:
    assert facts(text) == set()


def test_we_and_our_are_not_an_assistants() -> None:
    (ext,) = extract_turns(said("We have a hamster called Nibbles and we live in Porto.", role="assistant"))
    assert ext.facts == []


@pytest.mark.parametrize(
    "text",
    [
        "Do you have a dog?",
        "I might have a cat one day.",
        "I wish I had a boat.",
        "I would love to visit Japan.",
        "My friend might work at Google next year.",
        "I lived in Rome when I was a kid.",
        "I have a question about my invoice.",
    ],
)
def test_questions_wishes_and_the_past_give_no_personal_fact(text: str) -> None:
    assert facts(text) == set()


@pytest.mark.parametrize(
    ("text", "denied", "asserted"),
    [
        ("I don't eat meat anymore.", {(U, "eats", "meat")}, {(U, "avoids", "meat")}),
        ("I stopped eating sugar.", {(U, "eats", "sugar")}, {(U, "avoids", "sugar")}),
        ("I don't work at Google anymore.", {(U, "works_for", "Google")}, set()),
        ("I no longer live in Paris.", {(U, "lives_in", "Paris")}, set()),
        ("I left Deloitte in January.", {(U, "works_for", "Deloitte")}, set()),
        ("I quit my job at Hooli.", {(U, "works_for", "Hooli")}, set()),
        ("I'm not vegan anymore.", {(U, "diet", "vegan")}, set()),
        ("I don't have a car anymore.", {(U, "owns", "car")}, set()),
        ("Alice doesn't work at Microsoft anymore.", {("Alice", "works_for", "Microsoft")}, set()),
    ],
)
def test_denials_are_negated_facts(text: str, denied: set, asserted: set) -> None:
    (ext,) = extract_turns(said(text))
    assert triples(ext, negated=True) == denied
    assert triples(ext) == asserted
    assert ext.relations == []  # a denied job or home is never an edge


@pytest.mark.parametrize(
    ("text", "when"),
    [
        ("I'm flying to Lisbon next Friday.", "2025-03-21"),
        ("I'm flying to Lisbon tomorrow.", "2025-03-15"),
        ("I'm travelling to Lisbon in March.", "2025-03"),
        ("I'm travelling to Lisbon in February.", "2026-02"),
        ("I'm visiting Lisbon in two weeks.", "2025-03-28"),
        ("I'm going to Lisbon next week.", "2025-03-17"),
    ],
)
def test_trip_dates_resolve_against_the_turn_time(text: str, when: str) -> None:
    (ext,) = extract_turns(said(text))
    (fact,) = ext.facts
    assert (fact.predicate, fact.object, fact.when) == ("travels_to", "Lisbon", when)
    assert fact.claim.endswith(when)


def test_the_same_words_resolve_to_another_date_on_another_day() -> None:
    monday = datetime(2025, 6, 2, 9, tzinfo=UTC)
    (ext,) = extract_turns(said("I have a dentist appointment next Friday.", at=monday))
    assert [(f.predicate, f.object, f.when) for f in ext.facts] == [("plans", "dentist appointment", "2025-06-06")]


def test_a_plan_keeps_its_month() -> None:
    (ext,) = extract_turns(said("I'm planning to run a marathon in October."))
    assert [(f.predicate, f.object, f.when) for f in ext.facts] == [("plans", "run a marathon", "2025-10")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("today", "2025-03-14"),
        ("yesterday", "2025-03-13"),
        ("on Monday", "2025-03-17"),
        ("Friday", "2025-03-21"),
        ("last Monday", "2025-03-10"),
        ("this weekend", "2025-03-15"),
        ("next month", "2025-04"),
        ("next year", "2026"),
        ("March 3rd", "2026-03-03"),
        ("the 20th of March", "2025-03-20"),
        ("in June 2027", "2027-06"),
        ("2025-04-01", "2025-04-01"),
        ("may", None),
        ("some day", None),
        ("February 30", None),
    ],
)
def test_resolve_date(text: str, expected: str | None) -> None:
    assert resolve_date(text, FRIDAY) == expected


def test_she_refers_to_the_one_person_named_in_the_speakers_previous_turn() -> None:
    first, second = extract_turns(said("My sister Anna is visiting."), said("She works at Fiat."))
    assert triples(first) == {(U, "has_sibling", "Anna")}
    assert triples(second) == {("Anna", "works_for", "Fiat")}
    assert [(r.source.name, r.rel_type, r.target.name) for r in second.relations] == [("Anna", "WORKS_FOR", "Fiat")]


def test_he_within_one_turn() -> None:
    (ext,) = extract_turns(said("My brother Omar called. He lives in Cairo now."))
    assert ("Omar", "lives_in", "Cairo") in triples(ext)


@pytest.mark.parametrize(
    "turns",
    [
        ["My friends Karen and Steve came over.", "She works at IKEA."],
        ["Karen and Steve came over.", "She works at IKEA."],
        ["She works at IKEA."],
    ],
)
def test_ambiguous_or_unknown_pronouns_stay_unresolved(turns: list[str]) -> None:
    *_, last = extract_turns(*(said(t) for t in turns))
    assert triples(last) == set()


def test_pronouns_do_not_cross_conversations_or_speakers() -> None:
    named, other_conversation, assistant = extract_turns(
        said("My sister Anna is visiting."),
        TurnInput("She works at Fiat.", "user", FRIDAY, None, "c2"),
        TurnInput("She works at Fiat.", "assistant", FRIDAY, None, "c1"),
    )
    assert triples(other_conversation) == set() and triples(assistant) == set()


def test_in_a_two_human_chat_each_speakers_i_is_that_speaker() -> None:
    caroline, melanie = extract_turns(
        said("I work at Nokia.", role="user", speaker="Caroline"),
        said("Cool! I live in Oslo and I'm a nurse.", role="assistant", speaker="Melanie"),
    )
    assert triples(caroline) == {(U, "works_for", "Nokia")}
    assert triples(melanie) == {("Melanie", "lives_in", "Oslo"), ("Melanie", "is_a", "nurse")}
    assert ("Melanie", "Person") in {(e.name, e.type) for e in melanie.entities}
    assert {f.claim for f in melanie.facts} == {"Melanie lives in Oslo", "Melanie is a nurse"}


def test_an_assistant_without_a_speaker_is_nobody() -> None:
    (ext,) = extract_turns(said("I live in the cloud and I love helping.", role="assistant"))
    assert ext.facts == []


def test_relation_facts_carry_a_whitelisted_edge_type_and_the_person_as_an_entity() -> None:
    (ext,) = extract_turns(said("My manager Tomasz lives in Warsaw and my girlfriend Mai is a nurse."))
    typed = {(f.predicate, f.object, f.rel_type) for f in ext.facts if f.subject == U}
    assert typed == {("has_manager", "Tomasz", "REPORTS_TO"), ("has_partner", "Mai", "PARTNER_OF")}
    assert {("Tomasz", "Person"), ("Mai", "Person"), ("Warsaw", "Location")} <= {(e.name, e.type) for e in ext.entities}
    assert all(f.rel_type in ENTITY_RELATIONSHIPS for f in ext.facts if f.rel_type)


def test_every_predicate_is_whitelisted_and_every_fact_has_a_confidence() -> None:
    texts = [
        "Hi, I'm Priya. I'm 29 and I work at Acme Corp in Berlin.",
        "My favorite band is Muse and I love hiking, but I hate olives.",
        "I have a cat named Luna. I'm vegan and I go swimming every Tuesday.",
        "I'm flying to Rome next Friday and I'm planning to learn Italian.",
    ]
    out = extract_turns(*(said(t) for t in texts))
    found = [f for ext in out for f in ext.facts]
    assert len(found) >= 12
    assert all(fact_predicate(f.predicate) == f.predicate and 0 < f.confidence <= 1 for f in found)
