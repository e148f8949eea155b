"""Generate the templated part of the extraction evaluation set: data/generated.jsonl.

    .venv/bin/python benchmarks/extraction_eval/generate.py [--per-template 3] [--seed 18]

Each template is a turn (or a few turns) with slots filled from the lexicons below, and the (subject,
predicate, object[, when]) triples a careful annotator would write down. Negations list the triple they
deny. Dates are computed here with plain calendar arithmetic from the turn's timestamp (not with the
extractor's resolver). The hand-written cases are in dev.jsonl and holdout.jsonl (not generated; see README.md).
"""

import argparse
import json
import random
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUT = HERE / "data" / "generated.jsonl"

FIRST = """Priya Tomasz Aisha Diego Sofia Liam Noah Emma Olivia Lucas Mia Yuki Omar Fatima Ivan Elena Jonas Sara
Mateo Hana Ravi Leila Marco Anna Pedro Ines Kofi Amara Wei Lena Felix Clara Hugo Nina Arjun Zoe""".split()
ORGS = """Acme Robotics Corporation|Globex|Initech|Hooli|Stripe|Siemens|Deloitte|Nimbus Labs|Cyberdyne Systems
|Wayne Enterprises|Stark Industries|Google|Microsoft|Spotify|Zalando|Shopify|Atlassian|Datadog|Northwind Traders
|Blue Harbor Logistics|Red Panda Software""".replace("\n", "").split("|")
CITIES = (
    """Berlin Warsaw Lisbon Madrid Rome Tokyo Toronto Austin Denver Seattle Munich Vienna Prague Oslo Dublin
Amsterdam Barcelona Boston Chicago Sydney Singapore Nairobi Istanbul Athens Stockholm Helsinki Zurich Milan
Seoul Mumbai""".split()
    + ["New York", "San Francisco", "Buenos Aires", "Cape Town"]
)
COUNTRIES = "Poland Portugal Japan Brazil Kenya Canada Mexico India Italy Greece Norway Vietnam Peru Egypt".split()
SCHOOLS = [
    "MIT",
    "Stanford University",
    "Oxford",
    "the University of Toronto",
    "Imperial College London",
    "ETH Zurich",
    "Harvard",
    "the University of Warsaw",
]
FIELDS = "physics law medicine economics chemistry history biology philosophy mathematics architecture".split()
ROLES = [
    "data scientist",
    "software engineer",
    "designer",
    "product manager",
    "nurse",
    "teacher",
    "accountant",
    "architect",
    "pharmacist",
    "electrician",
]
HOBBIES = "hiking cooking reading climbing chess photography gardening cycling painting yoga surfing baking".split()
FOODS = "sushi ramen tacos curry olives mushrooms tofu dumplings falafel kimchi oysters".split()
BANDS = ["Radiohead", "Coldplay", "Muse", "Blur", "Portishead"]
THINGS = ["bike", "car", "piano", "camera", "guitar", "boat", "motorcycle", "tent"]
PETS = ["dog", "cat", "parrot", "rabbit", "hamster"]
PET_NAMES = "Rex Luna Max Bella Milo Coco Pixel Biscuit".split()
ALLERGENS = "peanuts shellfish gluten penicillin pollen eggs".split()
CONDITIONS = ["diabetes", "asthma", "migraines", "arthritis", "epilepsy"]
DIETS = ["vegetarian", "vegan", "pescatarian"]
EVENTS = ["dentist appointment", "job interview", "doctor's appointment", "exam", "flight"]
ACTIVITIES = [
    ("go running", "every morning"),
    ("play tennis", "on Sundays"),
    ("swim", "every Tuesday"),
    ("meditate", "every evening"),
    ("go to the gym", "on Mondays"),
    ("call my mom", "every Sunday"),
    ("bake bread", "on weekends"),
    ("walk the dog", "every night"),
]
RELATIONS = {
    "manager": "has_manager",
    "boss": "has_manager",
    "colleague": "has_colleague",
    "coworker": "has_colleague",
    "wife": "has_spouse",
    "husband": "has_spouse",
    "girlfriend": "has_partner",
    "boyfriend": "has_partner",
    "partner": "has_partner",
    "sister": "has_sibling",
    "brother": "has_sibling",
    "mom": "has_parent",
    "father": "has_parent",
    "daughter": "has_child",
    "son": "has_child",
    "friend": "has_friend",
    "cousin": "has_relative",
    "roommate": "has_roommate",
}
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]

Case = dict[str, Any]


def _turn(text: str, at: datetime, role: str = "user", speaker: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"role": role, "text": text, "at": at.isoformat().replace("+00:00", "Z")}
    if speaker:
        out["speaker"] = speaker
    return out


def _next_weekday(day: date, weekday: int) -> date:
    """The first `weekday` (0 = Monday) strictly after `day`."""
    ahead = weekday - day.weekday()
    if ahead <= 0:
        ahead += 7
    return day + timedelta(days=ahead)


def _month_ahead(day: date, month: int) -> str:
    """`YYYY-MM` of the next `month` (this one included) from `day`."""
    year = day.year if month >= day.month else day.year + 1
    return f"{year:04d}-{month:02d}"


class Gen:
    """Case builders: each returns one case (turns + expected triples) from random slot values."""

    def __init__(self, rng: random.Random) -> None:
        self.r = rng

    def at(self) -> datetime:
        """A turn time: a random day of 2025 at a random hour."""
        return datetime(2025, 1, 1, tzinfo=UTC) + timedelta(days=self.r.randrange(365), hours=self.r.randrange(8, 22))

    def pick(self, items: list[str]) -> str:
        return self.r.choice(items)

    # Each template: (category, builder). A builder returns (turns, expected, negated).
    def identity(self) -> list[Callable[[], Case]]:
        r = self.r
        return [
            lambda: self.case("identity", [f"My name is {(n := self.pick(FIRST))}."], [("user", "name_is", n)]),
            lambda: self.case("identity", [f"Hi, I'm {(n := self.pick(FIRST))}."], [("user", "name_is", n)]),
            lambda: self.case(
                "identity", [f"I'm {(a := r.randrange(19, 80))} years old."], [("user", "age_is", str(a))]
            ),
            lambda: self.case(
                "identity", [f"I just turned {(a := r.randrange(20, 70))}."], [("user", "age_is", str(a))]
            ),
            lambda: self.case("identity", [f"I am a {(x := self.pick(ROLES))}."], [("user", "is_a", x)]),
            lambda: self.case(
                "identity",
                [f"My name is {(n := self.pick(FIRST))} and I'm {(a := r.randrange(19, 80))}."],
                [("user", "name_is", n), ("user", "age_is", str(a))],
            ),
        ]

    def employment(self) -> list[Callable[[], Case]]:
        p = self.pick
        return [
            lambda: self.case("employment", [f"I work at {(o := p(ORGS))}."], [("user", "works_for", o)]),
            lambda: self.case(
                "employment",
                [f"I work for {(o := p(ORGS))} as a {(x := p(ROLES))}."],
                [("user", "works_for", o), ("user", "is_a", x)],
            ),
            lambda: self.case(
                "employment",
                [f"I'm a {(x := p(ROLES))} at {(o := p(ORGS))}."],
                [("user", "works_for", o), ("user", "is_a", x)],
            ),
            lambda: self.case(
                "employment", [f"I started a new job at {(o := p(ORGS))} last month."], [("user", "works_for", o)]
            ),
            lambda: self.case("employment", [f"I just joined {(o := p(ORGS))}."], [("user", "works_for", o)]),
            lambda: self.case("employment", [f"My company is {(o := p(ORGS))}."], [("user", "works_for", o)]),
            lambda: self.case(
                "employment",
                [f"I work at {(o := p(ORGS))} in {(c := p(CITIES))}."],
                [("user", "works_for", o), (o, "located_in", c)],
            ),
        ]

    def relations(self) -> list[Callable[[], Case]]:
        p = self.pick

        def rel(template: str) -> Case:
            noun, name = p(list(RELATIONS)), p(FIRST)
            return self.case("relations", [template.format(noun=noun, name=name)], [("user", RELATIONS[noun], name)])

        return [
            lambda: rel("My {noun} {name} is visiting this week."),
            lambda: rel("{name} is my {noun}."),
            lambda: rel("My {noun} is {name}."),
            lambda: rel("I had lunch with my {noun} {name}."),
            lambda: self.case(
                "relations", [f"My {(x := p(PETS))} is called {(n := p(PET_NAMES))}."], [("user", "has_pet", n)]
            ),
            lambda: self.case(
                "relations", [f"I have a {(x := p(PETS))} named {(n := p(PET_NAMES))}."], [("user", "has_pet", n)]
            ),
            lambda: self.case(
                "relations",
                [f"My manager {(n := p(FIRST))} lives in {(c := p(CITIES))}."],
                [("user", "has_manager", n), (n, "lives_in", c)],
            ),
            lambda: self.case(
                "relations",
                [f"My {(x := p(['sister', 'brother', 'friend']))} {(n := p(FIRST))} works at {(o := p(ORGS))}."],
                [("user", RELATIONS[x], n), (n, "works_for", o)],
            ),
        ]

    def location(self) -> list[Callable[[], Case]]:
        p = self.pick
        return [
            lambda: self.case("location", [f"I live in {(c := p(CITIES))}."], [("user", "lives_in", c)]),
            lambda: self.case("location", [f"I moved to {(c := p(CITIES))} last year."], [("user", "lives_in", c)]),
            lambda: self.case("location", [f"I'm from {(c := p(COUNTRIES))}."], [("user", "is_from", c)]),
            lambda: self.case("location", [f"I grew up in {(c := p(CITIES))}."], [("user", "is_from", c)]),
            lambda: self.case("location", [f"I'm based in {(c := p(CITIES))}."], [("user", "lives_in", c)]),
            lambda: self.case(
                "location",
                [f"I'm originally from {(c := p(COUNTRIES))} but I live in {(d := p(CITIES))} now."],
                [("user", "is_from", c), ("user", "lives_in", d)],
            ),
        ]

    def education(self) -> list[Callable[[], Case]]:
        p = self.pick

        def school(s: str) -> str:
            return s.removeprefix("the ")

        return [
            lambda: self.case(
                "education",
                [f"I studied {(f := p(FIELDS))} at {(s := p(SCHOOLS))}."],
                [("user", "field_of_study", f), ("user", "studied_at", school(s))],
            ),
            lambda: self.case(
                "education", [f"I graduated from {(s := p(SCHOOLS))}."], [("user", "studied_at", school(s))]
            ),
            lambda: self.case(
                "education",
                [f"I'm a student at {(s := p(SCHOOLS))}."],
                [("user", "is_a", "student"), ("user", "studies_at", school(s))],
            ),
            lambda: self.case("education", [f"I majored in {(f := p(FIELDS))}."], [("user", "field_of_study", f)]),
            lambda: self.case(
                "education",
                [f"I'm studying {(f := p(FIELDS))} at {(s := p(SCHOOLS))}."],
                [("user", "field_of_study", f), ("user", "studies_at", school(s))],
            ),
        ]

    def preferences(self) -> list[Callable[[], Case]]:
        p = self.pick
        return [
            lambda: self.case("preferences", [f"I love {(h := p(HOBBIES))}."], [("user", "likes", h)]),
            lambda: self.case(
                "preferences",
                [f"I really enjoy {(h := p(HOBBIES))} and {(g := p(HOBBIES))}."],
                [("user", "likes", h), ("user", "likes", g)],
            ),
            lambda: self.case("preferences", [f"I hate {(f := p(FOODS))}."], [("user", "dislikes", f)]),
            lambda: self.case("preferences", [f"I can't stand {(f := p(FOODS))}."], [("user", "dislikes", f)]),
            lambda: self.case(
                "preferences", [f"My favorite band is {(b := p(BANDS))}."], [("user", "favorite_band", b)]
            ),
            lambda: self.case("preferences", [f"I'm a huge fan of {(b := p(BANDS))}."], [("user", "likes", b)]),
        ]

    def habits(self) -> list[Callable[[], Case]]:
        def habit(prefix: str = "") -> Case:
            act, when = self.r.choice(ACTIVITIES)
            return self.case("habits", [f"I {prefix}{act} {when}."], [("user", "habit", f"{act} {when}")])

        return [lambda: habit(), lambda: habit("usually "), lambda: habit("always ")]

    def possessions(self) -> list[Callable[[], Case]]:
        p = self.pick
        return [
            lambda: self.case("possessions", [f"I have a {(t := p(THINGS))}."], [("user", "owns", t)]),
            lambda: self.case("possessions", [f"I own a {(t := p(THINGS))}."], [("user", "owns", t)]),
            lambda: self.case("possessions", [f"I bought a new {(t := p(THINGS))} yesterday."], [("user", "owns", t)]),
        ]

    def plans(self) -> list[Callable[[], Case]]:
        p, r = self.pick, self.r

        def weekday_case(template: str, triple: Callable[[str], tuple[str, str, str]]) -> Case:
            at = self.at()
            wd = r.randrange(7)
            when = _next_weekday(at.date(), wd).isoformat()
            return self.case("plans", [template.format(day=WEEKDAYS[wd])], [(*triple(when), when)], at=at)

        def month_case(template: str, obj: str, pred: str) -> Case:
            at = self.at()
            m = r.randrange(1, 13)
            return self.case(
                "plans",
                [template.format(month=MONTHS[m - 1])],
                [("user", pred, obj, _month_ahead(at.date(), m))],
                at=at,
            )

        def tomorrow_case() -> Case:
            at, c = self.at(), p(CITIES)
            when = (at.date() + timedelta(days=1)).isoformat()
            return self.case("plans", [f"I'm flying to {c} tomorrow."], [("user", "travels_to", c, when)], at=at)

        def next_week_case() -> Case:
            at, c = self.at(), p(CITIES)
            monday = at.date() - timedelta(days=at.date().weekday()) + timedelta(days=7)
            return self.case(
                "plans", [f"I'm travelling to {c} next week."], [("user", "travels_to", c, monday.isoformat())], at=at
            )

        return [
            lambda: weekday_case(
                f"I'm flying to {(c := p(CITIES))} next {{day}}.", lambda w: ("user", "travels_to", c)
            ),
            lambda: weekday_case(f"I have a {(e := p(EVENTS))} on {{day}}.", lambda w: ("user", "plans", e)),
            lambda: month_case(f"I'm travelling to {(c := p(COUNTRIES))} in {{month}}.", c, "travels_to"),
            lambda: month_case("I'm planning to run a marathon in {month}.", "run a marathon", "plans"),
            tomorrow_case,
            next_week_case,
            lambda: self.case(
                "plans",
                [f"I'm going to learn {(x := p(['Spanish', 'Japanese', 'the guitar', 'to sail']))}."],
                [("user", "plans", f"learn {x}")],
            ),
        ]

    def health(self) -> list[Callable[[], Case]]:
        p = self.pick
        return [
            lambda: self.case("health", [f"I'm {(d := p(DIETS))}."], [("user", "diet", d)]),
            lambda: self.case("health", [f"I'm allergic to {(a := p(ALLERGENS))}."], [("user", "allergic_to", a)]),
            lambda: self.case("health", [f"I have {(c := p(CONDITIONS))}."], [("user", "has_condition", c)]),
            lambda: self.case("health", [f"I eat {(f := p(FOODS))}."], [("user", "eats", f)]),
            lambda: self.case(
                "health", ["I'm lactose intolerant."], [("user", "has_condition", "lactose intolerance")]
            ),
        ]

    def negation(self) -> list[Callable[[], Case]]:
        p = self.pick
        return [
            lambda: self.case(
                "negation",
                ["I eat meat.", "I don't eat meat anymore."],
                [("user", "eats", "meat"), ("user", "avoids", "meat")],
                [("user", "eats", "meat")],
            ),
            lambda: self.case(
                "negation", [f"I don't work at {(o := p(ORGS))} anymore."], [], [("user", "works_for", o)]
            ),
            lambda: self.case("negation", [f"I no longer live in {(c := p(CITIES))}."], [], [("user", "lives_in", c)]),
            lambda: self.case("negation", [f"I left {(o := p(ORGS))} in {p(MONTHS)}."], [], [("user", "works_for", o)]),
            lambda: self.case("negation", [f"I quit my job at {(o := p(ORGS))}."], [], [("user", "works_for", o)]),
            lambda: self.case("negation", [f"I don't like {(h := p(HOBBIES))} anymore."], [], [("user", "likes", h)]),
            lambda: self.case("negation", [f"I'm not {(d := p(DIETS))} anymore."], [], [("user", "diet", d)]),
            lambda: self.case("negation", [f"I don't have a {(t := p(THINGS))} anymore."], [], [("user", "owns", t)]),
        ]

    def coreference(self) -> list[Callable[[], Case]]:
        p = self.pick

        def two_turns() -> Case:
            noun = p(["sister", "friend", "colleague", "mom"])
            name, org = p(FIRST), p(ORGS)
            pron = "She" if noun in ("sister", "mom") else p(["She", "He"])
            return self.case(
                "coreference",
                [f"My {noun} {name} is visiting.", f"{pron} works at {org}."],
                [("user", RELATIONS[noun], name), (name, "works_for", org)],
            )

        def one_turn() -> Case:
            name, city = p(FIRST), p(CITIES)
            return self.case(
                "coreference",
                [f"My brother {name} called. He lives in {city} now."],
                [("user", "has_sibling", name), (name, "lives_in", city)],
            )

        def ambiguous() -> Case:
            a, b, org = self.r.sample(FIRST, 2) + [p(ORGS)]
            return self.case("coreference", [f"My friends {a} and {b} are here.", f"She works at {org}."], [])

        return [two_turns, one_turn, ambiguous]

    def attribution(self) -> list[Callable[[], Case]]:
        p = self.pick

        def two_humans() -> Case:
            a, b = self.r.sample(FIRST, 2)
            c1, c2, h = p(CITIES), p(CITIES), p(HOBBIES)
            at = self.at()
            turns = [
                _turn(f"I live in {c1}.", at, "user", a),
                _turn(f"Oh nice, I live in {c2} and I love {h}.", at + timedelta(seconds=30), "assistant", b),
            ]
            return {
                "category": "attribution",
                "turns": turns,
                "expected": [["user", "lives_in", c1], [b, "lives_in", c2], [b, "likes", h]],
                "negated": [],
            }

        def third_person() -> Case:
            n, o, c = p(FIRST), p(ORGS), p(CITIES)
            return self.case(
                "attribution", [f"{n} works at {o} and lives in {c}."], [(n, "works_for", o), (n, "lives_in", c)]
            )

        def assistant_i() -> Case:
            at = self.at()
            turns = [
                _turn(f"I work at {(o := p(ORGS))}.", at),
                _turn("I live in the cloud, so no commute for me!", at, "assistant"),
            ]
            return {"category": "attribution", "turns": turns, "expected": [["user", "works_for", o]], "negated": []}

        return [two_humans, third_person, assistant_i]

    def distractors(self) -> list[Callable[[], Case]]:
        p = self.pick
        texts = [
            lambda: f"Do you live in {p(CITIES)}?",
            lambda: f"I think I might move to {p(CITIES)}.",
            lambda: f"I used to work at {p(ORGS)}.",
            lambda: f"I would love to visit {p(COUNTRIES)} someday.",
            lambda: "Can you recommend a good book?",
            lambda: f"If I lived in {p(CITIES)} I'd cycle everywhere.",
            lambda: "Thanks, that helps a lot!",
            lambda: f"What's the weather like in {p(CITIES)} tomorrow?",
        ]
        return [lambda t=t: self.case("distractors", [t()], []) for t in texts]

    def case(
        self,
        category: str,
        texts: list[str],
        expected: list[tuple[str, ...]],
        negated: list[tuple[str, ...]] = (),
        at: datetime | None = None,
    ) -> Case:  # type: ignore[assignment]
        at = at or self.at()
        turns = [_turn(t, at + timedelta(minutes=2 * i)) for i, t in enumerate(texts)]
        return {
            "category": category,
            "turns": turns,
            "expected": [list(e) for e in expected],
            "negated": [list(n) for n in negated],
        }


def generate(per_template: int, seed: int) -> list[Case]:
    """Every template `per_template` times, with ids."""
    rng = random.Random(seed)
    gen = Gen(rng)
    groups = [
        gen.identity,
        gen.employment,
        gen.relations,
        gen.location,
        gen.education,
        gen.preferences,
        gen.habits,
        gen.possessions,
        gen.plans,
        gen.health,
        gen.negation,
        gen.coreference,
        gen.attribution,
        gen.distractors,
    ]
    cases: list[Case] = []
    for group in groups:
        for t, template in enumerate(group()):
            for k in range(per_template):
                case = template()
                case["id"] = f"gen-{case['category']}-{t:02d}-{k}"
                cases.append(case)
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-template", type=int, default=4)
    parser.add_argument("--seed", type=int, default=18)
    args = parser.parse_args()
    cases = generate(args.per_template, args.seed)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w") as fh:
        for case in cases:
            fh.write(json.dumps(case, ensure_ascii=False) + "\n")
    turns = sum(len(c["turns"]) for c in cases)
    print(f"wrote {len(cases)} cases ({turns} turns) to {OUT.relative_to(HERE.parent.parent)}")


if __name__ == "__main__":
    main()
