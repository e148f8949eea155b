"""Generate the retrieval evaluation set: long multi-session conversations with turn-level evidence.

    .venv/bin/python benchmarks/retrieval_eval/generate.py [--conversations 10] [--seed 2024]

Shaped like LoCoMo-style long-conversation memory benchmarks: two friends chat over 15–30 dated sessions
of 15–30 turns each, with personal events (pets, trips, jobs, hobbies, races, moves, injuries …),
preferences, plans and small talk. Questions name their evidence turns and fall into five categories:

- single-hop: one detail from one turn (often the follow-up turn after the one the question echoes);
- multi-hop: two or more evidence turns from different sessions;
- temporal: "when did …" (the evidence is the turn that says it), plus time-window and as_of questions
  that carry `time_window_hours` / `as_of`;
- preference: likes and favourites stated in passing;
- adversarial: the wrong speaker's name, or a heavy paraphrase with almost no shared words.

Questions paraphrase their evidence (lexicon.PARAPHRASE) instead of copying it, and distractor turns reuse
the same entities (pet names, cities, hobbies), so neither full-text nor dense retrieval wins trivially.
Writes data/conversations.jsonl (one conversation per line) and data/questions.jsonl.
"""

import argparse
import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import lexicon as lx

DATA = Path(__file__).resolve().parent / "data"


@dataclass
class Person:
    """A speaker and what the generator has decided about their life."""

    name: str
    pron: str  # he / she

    @property
    def pos(self) -> str:
        return "his" if self.pron == "he" else "her"

    @property
    def obj(self) -> str:
        return "him" if self.pron == "he" else "her"

    pets: list[str] = field(default_factory=list)
    cities: list[str] = field(default_factory=list)
    hobbies: list[str] = field(default_factory=list)


@dataclass
class Line:
    """One turn of an exchange: who says it (0 = owner, 1 = friend), the text, and an evidence tag."""

    who: int
    text: str
    tag: str | None = None


@dataclass
class Question:
    """A question about an event; `tags` name the evidence lines (resolved to turn ids on assembly)."""

    category: str
    text: str
    tags: list[str]
    answer: str
    extra: dict = field(default_factory=dict)


@dataclass
class Event:
    """A topic one speaker brings up in a session: its lines and the questions it can answer."""

    kind: str
    owner: int  # index of the speaker in the conversation
    lines: list[Line]
    questions: list[Question]
    facts: dict = field(default_factory=dict)  # what multi-hop questions combine
    turn_ids: dict[str, str] = field(default_factory=dict)  # tag → turn id, after assembly
    date: datetime | None = None


def fmt_date(d: datetime) -> str:
    """'8 May, 2023' (LoCoMo's answer style)."""
    return f"{d.day} {d:%B}, {d.year}"


def fmt_session(d: datetime) -> str:
    """'1:56 pm on 8 May, 2023' (LoCoMo's session stamp)."""
    hour = d.hour % 12 or 12
    return f"{hour}:{d:%M} {'am' if d.hour < 12 else 'pm'} on {fmt_date(d)}"


class Writer:
    """Builds events for one conversation; every choice comes from one seeded RNG."""

    def __init__(self, rng: random.Random, people: list[Person]) -> None:
        self.rng = rng
        self.people = people
        self.used: dict[str, set] = {}

    # ---- helpers ---------------------------------------------------------------------------------
    def pick(self, seq):
        return self.rng.choice(seq)

    def fresh(self, pool_name: str, seq):
        """An element of `seq` not yet used in this conversation for `pool_name` (falls back to any)."""
        used = self.used.setdefault(pool_name, set())
        free = [x for i, x in enumerate(seq) if i not in used]
        if not free:
            return self.pick(seq)
        x = self.pick(free)
        used.add(seq.index(x))
        return x

    def para(self, concept: str, avoid: str | None = None) -> str:
        """A surface form of `concept`, usually different from `avoid` (the one the turn used)."""
        forms = lx.PARAPHRASE[concept]
        if avoid is not None and self.rng.random() < 0.8:
            others = [f for f in forms if f != avoid]
            if others:
                return self.pick(others)
        return self.pick(forms)

    def when(self, date: datetime) -> tuple[str, str]:
        """A relative time phrase and the absolute date it means on a session dated `date`."""
        r = self.rng.random()
        if r < 0.3:
            return "yesterday", fmt_date(date - timedelta(days=1))
        if r < 0.45:
            return "this morning", fmt_date(date)
        if r < 0.65:
            sat = date - timedelta(days=(date.weekday() - 5) % 7 or 7)
            return "last weekend", f"the weekend of {fmt_date(sat)}"
        if r < 0.8:
            days = self.rng.choice([2, 3, 4])
            return f"{['', '', 'two', 'three', 'four'][days]} days ago", fmt_date(date - timedelta(days=days))
        if r < 0.9:
            return "last week", f"the week before {fmt_date(date)}"
        day = date - timedelta(days=self.rng.randint(1, 6))
        return f"on {day:%A}", fmt_date(day)

    # ---- events ----------------------------------------------------------------------------------
    def pet(self, o: int, date: datetime) -> Event:
        x, y = self.people[o], self.people[1 - o]
        species = self.pick(["dog", "dog", "cat", "cat", "rabbit", "bird"])
        info = lx.PETS[species]
        word, breed, name = self.pick(info["words"]), self.pick(info["breeds"]), self.fresh("pet", lx.PET_NAMES)
        adopt, (rel, absolute) = self.pick(lx.PARAPHRASE["adopt"]), self.when(date)
        shelter = self.pick(lx.SHELTERS)
        main = self.pick(
            [
                f"Big news: {rel} I {adopt} a {word} from the {shelter}!",
                f"So {rel} we finally {adopt} a {word}. The house feels totally different now.",
                f"Guess who has a new roommate? I {adopt} a little {word} {rel}.",
                f"I did a thing {rel}... I {adopt} a {word}. No regrets so far!",
            ]
        )
        ask = self.pick(
            [
                "Aww, no way! What breed?",
                "Stop it, that's adorable! What kind?",
                "Oh my gosh! Tell me everything, what does it look like?",
            ]
        )
        detail = self.pick(
            [
                f"A {breed}! We named {'him' if self.rng.random() < 0.5 else 'her'} {name}.",
                f"{name.capitalize()} is a {breed}, super shy but very sweet.",
                f"It's a {breed}. The kids picked the name {name}.",
            ]
        )
        after = self.pick(
            [
                f"{name} is the perfect name! Send pictures please.",
                f"I already love {name}. Can't wait to meet them.",
                f"A {breed}, how fun. Are they settling in okay?",
            ]
        )
        x.pets.append(name)
        sq = self.pick([w for w in info["words"] if w != word] or info["words"])
        aq = self.para("adopt_q")
        qs = [
            Question("single-hop", f"What breed is {x.name}'s {sq}?", ["detail"], breed),
            Question("single-hop", f"What did {x.name} name the {sq} {x.pron} decided to {aq}?", ["detail"], name),
            Question("temporal", f"When did {x.name} {aq} a {sq}?", ["main"], absolute),
            Question("single-hop", f"Where did {x.name} {aq} {x.pos} {sq} from?", ["main"], shelter),
            Question("adversarial", f"What breed is {y.name}'s new {sq}?", ["detail"], breed),
            Question(
                "adversarial",
                f"Did {x.name} welcome any new animal companion into the household?",
                ["main"],
                f"yes, a {breed}",
            ),
        ]
        lines = [Line(0, main, "main"), Line(1, ask), Line(0, detail, "detail"), Line(1, after)]
        return Event("pet", o, lines, qs, {"pet": f"a {breed} named {name}", "species": species})

    def trip(self, o: int, date: datetime) -> Event:
        x, y = self.people[o], self.people[1 - o]
        city, country, sight, activity = self.fresh("trip", lx.TRIPS)
        went, trip, (rel, absolute) = (
            self.pick(lx.PARAPHRASE["went"]),
            self.pick(lx.PARAPHRASE["trip"]),
            self.when(date),
        )
        partner = self.pick(lx.TRIP_PARTNERS)
        main = self.pick(
            [
                f"I just got back from {city}! {partner.capitalize()} and I {went.split()[0]} there {rel}.",
                f"So {rel} I {went} {city} with {partner}. Best {trip} in years.",
                f"Finally did the {city} {trip} with {partner}, we got home {rel}.",
            ]
        )
        ask = self.pick(lx.QUESTIONS_BACK + ["What was the highlight?", "What did you do there?"])
        detail = self.pick(
            [
                f"Oh, we {activity}. And {sight} took my breath away.",
                f"Honestly the best part was that we {activity}. Still dreaming about {sight}.",
                f"We {activity}! I also took about a thousand photos of {sight}.",
            ]
        )
        after = self.pick(
            [
                f"{city} has been on my list forever!",
                f"I'm so jealous. {sight.capitalize()} sounds unreal.",
                f"Okay now I need to plan a trip to {country}.",
            ]
        )
        x.cities.append(city)
        tq, tripq = self.para("travel_q"), self.para("trip", trip)
        qs = [
            Question(
                "single-hop",
                f"Where did {x.name} {self.para('travel_with_q')} with {partner.replace('my ', x.pos + ' ')}?",
                ["main"],
                city,
            ),
            Question("single-hop", f"What did {x.name} do during the {tripq} to {country}?", ["detail"], activity),
            Question("temporal", f"When did {x.name} {tq} {country}?", ["main"], absolute),
            Question("single-hop", f"Who did {x.name} {tq} {city} with?", ["main"], partner),
            Question(
                "adversarial", f"What was the highlight of {y.name}'s {tripq} to {country}?", ["detail"], activity
            ),
        ]
        lines = [Line(0, main, "main"), Line(1, ask), Line(0, detail, "detail"), Line(1, after)]
        return Event("trip", o, lines, qs, {"trip": city, "country": country})

    def job(self, o: int, date: datetime, later: bool = False) -> Event:
        x, y = self.people[o], self.people[1 - o]
        title, places, fieldname = self.fresh("job", lx.JOBS)
        place = self.pick(places)
        company = self.pick(lx.COMPANY_WORDS)
        start = self.pick(lx.PARAPHRASE["job_start"])
        main = (
            self.pick(
                [
                    f"I {start} a {title} at {place}! First day was {self.pick(['Monday', 'last week', 'yesterday'])}.",
                    f"Some news on my end: I {start} a {title}. It's at {place}, the team is called {company}.",
                    f"So I finally left my old job and {start} a {title} at {place}.",
                ]
            )
            if later
            else self.pick(
                [
                    f"Work is busy as always. Being a {title} at {place} never gets boring.",
                    f"You know me, still working as a {title} at {place}. Long shifts this week.",
                    f"My job as a {title} has been intense lately, {place} is short-staffed.",
                ]
            )
        )
        reply = self.pick(
            [
                "That's huge, congrats!",
                "How's the new team?",
                "Do you like it so far?",
                "I don't know how you do it.",
                "That sounds demanding.",
            ]
        )
        jq = self.para("job_q")
        qs = [
            Question(
                "single-hop",
                f"What is {x.name}'s {jq}?"
                if jq in ("job", "profession", "occupation", "career")
                else f"What does {x.name} {jq}?",
                ["main"],
                title,
            ),
            Question("single-hop", f"In what field does {x.name} work?", ["main"], fieldname),
        ]
        if later:
            qs.append(Question("temporal", f"When did {x.name} change jobs?", ["main"], fmt_date(date)))
            qs.append(Question("adversarial", f"What new position did {y.name} accept?", ["main"], title))
        lines = [Line(0, main, "main"), Line(1, reply)]
        return Event("job", o, lines, qs, {"job": title, "field": fieldname})

    def hobby(self, o: int, date: datetime) -> Event:
        x, y = self.people[o], self.people[1 - o]
        activity, klass, feat, pq = self.fresh("hobby", lx.HOBBIES)
        start, (rel, absolute) = self.pick(lx.PARAPHRASE["class_start"]), self.when(date)
        main = self.pick(
            [
                f"I {start} {klass} {rel}! Totally out of my comfort zone.",
                f"Okay so {rel} I {start} {klass}. Needed something that isn't work.",
                f"New thing: I {start} {klass}. First session was {rel}.",
            ]
        )
        ask = self.pick(["Ooh, how was it?", "What made you try that?", "Are you any good?", "How did it go?"])
        detail = self.pick(
            [f"It was so fun, I {feat}.", f"Not bad for a beginner, I {feat}!", f"Harder than it looks, but I {feat}."]
        )
        x.hobbies.append(activity)
        hq = self.para("hobby_q")
        qs = [
            Question("single-hop", f"What {hq} did {x.name} take up?", ["main"], activity),
            Question("single-hop", f"What did {x.name} accomplish at {x.pos} first {pq} session?", ["detail"], feat),
            Question("temporal", f"When did {x.name} start {pq}?", ["main"], absolute),
            Question("adversarial", f"What class did {y.name} begin attending to get away from work?", ["main"], klass),
        ]
        lines = [Line(0, main, "main"), Line(1, ask), Line(0, detail, "detail")]
        return Event("hobby", o, lines, qs, {"hobby": activity})

    def race(self, o: int, date: datetime) -> Event:
        x, y = self.people[o], self.people[1 - o]
        race, dist = self.fresh("race", lx.RACES)
        cause = self.pick(lx.CAUSES)
        done, (rel, absolute) = self.pick(lx.PARAPHRASE["race_done"]), self.when(date)
        minutes = self.rng.randint(25, 300)
        time_s = f"{minutes // 60} hours {minutes % 60} minutes" if minutes >= 60 else f"{minutes} minutes"
        main = self.pick(
            [
                f"I {done} a {race} {rel} to raise money for {cause}!",
                f"{rel.capitalize()} I {done} my first {race}. It was for {cause}.",
                f"So I {done} the {race} {rel}, all the donations went to {cause}.",
            ]
        )
        ask = self.pick(["What was your time?", "How long did it take you?", "Were you sore after?"])
        detail = self.pick(
            [
                f"{time_s}! My legs are still mad at me.",
                f"I crossed the line at {time_s}, pretty happy.",
                f"About {time_s}. Walked a bit in the middle, not gonna lie.",
            ]
        )
        rq = self.para("race_q")
        qs = [
            Question("single-hop", f"What cause did {x.name}'s {rq} support?", ["main"], cause),
            Question("single-hop", f"How long did it take {x.name} to finish the {dist} {rq}?", ["detail"], time_s),
            Question("temporal", f"When did {x.name} do the {dist} {rq}?", ["main"], absolute),
            Question("adversarial", f"Which charity did {y.name} raise funds for by running?", ["main"], cause),
        ]
        lines = [Line(0, main, "main"), Line(1, ask), Line(0, detail, "detail")]
        return Event("race", o, lines, qs, {"race": race})

    def concert(self, o: int, date: datetime) -> Event:
        x = self.people[o]
        genre, artists, _ = self.fresh("concert", lx.MUSIC)
        artist = self.pick(artists)
        verb = self.pick(lx.PARAPHRASE["concert"]).format(artist=artist)
        rel, absolute = self.when(date)
        venue = self.pick(["an old theatre", "a tiny club", "the stadium", "an outdoor festival", "the park"])
        main = self.pick(
            [
                f"I {verb} {rel}! It was at {venue}.",
                f"{rel.capitalize()} I {verb}, front row at {venue}.",
                f"Okay, I {verb} at {venue} {rel} and I'm still buzzing.",
            ]
        )
        reply = self.pick(["Jealous! Did they play the classics?", "How was the crowd?", "That must have been loud!"])
        detail = self.pick(
            [
                "They played for almost three hours, I lost my voice singing along.",
                "The encore gave me chills, honestly the best show I've been to.",
                "Bit too crowded, but the sound was incredible.",
            ]
        )
        qs = [
            Question("single-hop", f"Which performer did {x.name} see on stage?", ["main"], artist),
            Question("temporal", f"When did {x.name} go to see {artist} perform?", ["main"], absolute),
            Question(
                "single-hop",
                f"How long did the {artist} show that {x.name} attended last?",
                ["detail"],
                "almost three hours",
            ),
        ]
        lines = [Line(0, main, "main"), Line(1, reply), Line(0, detail, "detail")]
        return Event("concert", o, lines, qs[: 2 if "three hours" not in detail else 3], {"concert": artist})

    def book(self, o: int, date: datetime) -> Event:
        x, _ = self.people[o], self.people[1 - o]
        title, kind = self.fresh("book", lx.BOOKS)
        verb = self.pick(lx.PARAPHRASE["reading"])
        main = self.pick(
            [
                f"I {verb} '{title}', it's {kind}.",
                f"Have you heard of '{title}'? I {verb} it, {kind}.",
                f"Book recommendation: '{title}'. I {verb} it this week, it's {kind}.",
            ]
        )
        reply = self.pick(["Adding it to my list!", "Is it sad? I can't handle sad right now.", "Who wrote it?"])
        bq = self.para("book_q")
        qs = [
            Question("single-hop", f"What {bq} did {x.name} recommend?", ["main"], title),
            Question("preference", f"What kind of {bq}s does {x.name} enjoy?", ["main"], kind),
        ]
        return Event("book", o, [Line(0, main, "main"), Line(1, reply)], qs, {"book": title})

    def cook(self, o: int, date: datetime) -> Event:
        x, y = self.people[o], self.people[1 - o]
        dish, cuisine = self.fresh("food", lx.FOODS)
        verb, (rel, _) = self.pick(lx.PARAPHRASE["cook"]), self.when(date)
        guest = self.pick(["my in-laws", "my roommates", "a potluck at work", "my partner's birthday", "game night"])
        main = self.pick(
            [
                f"I {verb} {dish} for {guest} {rel}.",
                f"{rel.capitalize()} I {verb} {dish} for {guest}!",
                f"Cooking win: {dish} for {guest}, {rel}.",
            ]
        )
        reply = self.pick(["Yum! Did it turn out well?", "Save me some next time!", "Was it hard to make?"])
        detail = self.pick(
            [
                "It came out great, everyone went back for seconds.",
                "A bit too spicy, but nobody complained.",
                "Honestly it was a disaster, we ordered pizza.",
            ]
        )
        fq = self.para("food_q")
        qs = [
            Question(
                "single-hop", f"What {fq} did {x.name} prepare for {guest.replace('my ', x.pos + ' ')}?", ["main"], dish
            ),
            Question("adversarial", f"What {cuisine} {fq} did {y.name} cook?", ["main"], dish),
        ]
        return Event("cook", o, [Line(0, main, "main"), Line(1, reply), Line(0, detail, "detail")], qs, {"dish": dish})

    def move(self, o: int, date: datetime) -> Event:
        x, _ = self.people[o], self.people[1 - o]
        place = self.fresh(
            "move",
            [
                "Denver",
                "a loft in Chicago",
                "Portland",
                "a farmhouse outside Austin",
                "a flat in Brooklyn",
                "Minneapolis",
                "a cottage near the coast",
                "Pittsburgh",
                "a townhouse in Atlanta",
                "Tucson",
                "Raleigh",
                "a condo in San Diego",
            ],
        )
        verb = self.pick(lx.PARAPHRASE["move"])
        why = self.pick(
            [
                "to be closer to my family",
                "for the new job",
                "because rent was insane",
                "for a fresh start",
                "so the kids have a yard",
            ]
        )
        main = self.pick(
            [
                f"Huge update: I {verb} {place} {why}.",
                f"We {verb} {place}! Did it {why}.",
                f"Boxes everywhere, I {verb} {place}. Mostly {why}.",
            ]
        )
        reply = self.pick(["Whoa, big change! Do you like it there?", "How's the new place?", "Need help unpacking?"])
        mq = self.para("move_q")
        qs = [
            Question(
                "single-hop",
                f"Where did {x.name} {mq}?" if mq != "live now" else f"Where does {x.name} live now?",
                ["main"],
                place,
            ),
            Question("single-hop", f"Why did {x.name} change homes?", ["main"], why),
            Question("temporal", f"When did {x.name} {'move' if mq == 'live now' else mq}?", ["main"], fmt_date(date)),
        ]
        return Event("move", o, [Line(0, main, "main"), Line(1, reply)], qs, {"home": place})

    def injury(self, o: int, date: datetime) -> Event:
        x, y = self.people[o], self.people[1 - o]
        what, part, how = self.fresh("injury", lx.INJURIES)
        rel, absolute = self.when(date)
        main = self.pick(
            [
                f"Ugh, I {what} {rel}.",
                f"So, slight disaster: I {what} {rel}.",
                f"I'm typing slowly because I {what} {rel}.",
            ]
        )
        reply = self.pick(lx.SAD_REACTIONS) + " " + self.pick(["What happened?", "How did that happen?"])
        detail = self.pick([f"Classic me, {how}.", f"It was so dumb, {how}.", f"Don't laugh: {how}."])
        iq = self.para("injury_q")
        qs = [
            Question(
                "single-hop",
                f"How did {x.name} {iq} {x.pos} {part}?"
                if iq != "accident"
                else f"What caused {x.name}'s {part} accident?",
                ["detail"],
                how,
            ),
            Question("temporal", f"When did {x.name} hurt {x.pos} {part}?", ["main"], absolute),
            Question("adversarial", f"What happened to {y.name}'s {part}?", ["main"], what),
        ]
        lines = [Line(0, main, "main"), Line(1, reply), Line(0, detail, "detail")]
        return Event("injury", o, lines, qs, {"injury": what})

    def volunteer(self, o: int, date: datetime) -> Event:
        x, _ = self.people[o], self.people[1 - o]
        place, task = self.fresh("volunteer", lx.VOLUNTEER)
        verb = self.pick(lx.PARAPHRASE["volunteer"])
        main = self.pick(
            [
                f"I {verb} {place} this month, mostly {task}.",
                f"Lately I {verb} {place}. It's {task}.",
                f"I {verb} {place}, {task}. It really puts things in perspective.",
            ]
        )
        reply = self.pick(["That's really kind of you.", "How did you get into that?", "That's so meaningful."])
        vq = self.para("volunteer_q")
        qs = [
            Question("single-hop", f"Where does {x.name} {vq}?", ["main"], place),
            Question("adversarial", f"Has {x.name} done anything to give back to the community?", ["main"], place),
        ]
        return Event("volunteer", o, [Line(0, main, "main"), Line(1, reply)], qs, {"volunteer": place})

    def language(self, o: int, date: datetime) -> Event:
        x, _ = self.people[o], self.people[1 - o]
        lang, method = self.fresh("lang", lx.LANGUAGES)
        verb = self.pick(lx.PARAPHRASE["learn_lang"])
        main = self.pick(
            [
                f"I {verb} {lang} with {method}.",
                f"Fun fact: I {verb} {lang}! Using {method}.",
                f"So I {verb} {lang}, mostly through {method}. Slow going.",
            ]
        )
        reply = self.pick(["Say something in it!", "Why that one?", "That's ambitious!"])
        detail = self.pick(
            [
                "I want to be able to chat with my partner's grandparents.",
                "For a trip next year, hopefully.",
                "Honestly just to keep my brain busy.",
            ]
        )
        lq = self.para("lang_q")
        qs = [
            Question(
                "single-hop",
                f"Which {lq} is {x.name} working on?" if lq == "language" else f"What is {x.name} trying to {lq}?",
                ["main"],
                lang,
            ),
            Question("single-hop", f"Why is {x.name} studying {lang}?", ["detail"], detail),
        ]
        lines = [Line(0, main, "main"), Line(1, reply), Line(0, detail, "detail")]
        return Event("language", o, lines, qs, {"language": lang})

    def purchase(self, o: int, date: datetime) -> Event:
        x, y = self.people[o], self.people[1 - o]
        if self.rng.random() < 0.5:
            thing, kind = self.fresh("vehicle", lx.VEHICLES)
        else:
            inst = self.fresh("instrument", lx.INSTRUMENTS)
            thing, kind = f"a {inst}", "instrument"
        verb, (rel, absolute) = self.pick(lx.PARAPHRASE["buy"]), self.when(date)
        main = self.pick(
            [
                f"I {verb} {thing} {rel}!",
                f"{rel.capitalize()} I {verb} {thing}. Don't judge me.",
                f"Treat yourself moment: I {verb} {thing}, {rel}.",
            ]
        )
        reply = self.pick(
            ["Oh nice, was it expensive?", "Finally! You've talked about that forever.", "Photos please!"]
        )
        bq = self.para("buy_q")
        qs = [
            Question("single-hop", f"What {kind} did {x.name} {bq}?", ["main"], thing),
            Question("temporal", f"When did {x.name} {bq} {thing}?", ["main"], absolute),
            Question("adversarial", f"What did {y.name} splurge on?", ["main"], thing),
        ]
        return Event("purchase", o, [Line(0, main, "main"), Line(1, reply)], qs, {"purchase": thing})

    def camping(self, o: int, date: datetime) -> Event:
        x, _ = self.people[o], self.people[1 - o]
        spot, incident = self.fresh("camp", lx.CAMP_SPOTS), self.pick(lx.CAMP_INCIDENTS)
        verb, (rel, absolute) = self.pick(lx.PARAPHRASE["camp"]), self.when(date)
        main = self.pick(
            [
                f"We {verb} {spot} {rel}.",
                f"{rel.capitalize()} we {verb} {spot} with the whole family.",
                f"Just back from the woods, we {verb} {spot} {rel}.",
            ]
        )
        reply = self.pick(["Fun! How was it?", "Did anything crazy happen?", "Was it freezing at night?"])
        detail = self.pick(
            [
                f"It was great, except {incident}.",
                f"So memorable, {incident}!",
                f"Mostly peaceful, although {incident}.",
            ]
        )
        cq = self.para("camp_q")
        qs = [
            Question(
                "single-hop",
                f"Where did {x.name} go for {x.pos} {cq}?" if cq != "camp out" else f"Where did {x.name} camp out?",
                ["main"],
                spot,
            ),
            Question("single-hop", f"What happened during {x.name}'s night in the tent?", ["detail"], incident),
            Question("temporal", f"When did {x.name} go camping?", ["main"], absolute),
        ]
        lines = [Line(0, main, "main"), Line(1, reply), Line(0, detail, "detail")]
        return Event("camping", o, lines, qs, {"camping": spot})

    def painting(self, o: int, date: datetime) -> Event:
        x, y = self.people[o], self.people[1 - o]
        subject = self.fresh("paint", lx.PAINT_SUBJECTS)
        verb, (rel, absolute) = self.pick(lx.PARAPHRASE["paint"]), self.when(date)
        main = self.pick(
            [
                f"I {verb} {subject} {rel}, it's hanging in the hallway now.",
                f"{rel.capitalize()} I {verb} {subject}. Best thing I've made.",
                f"Art update: I {verb} {subject}, finished it {rel}.",
            ]
        )
        reply = self.pick(["I need to see it!", "You're so talented.", "What colours did you use?"])
        pq = self.para("paint_q")
        qs = [
            Question("single-hop", f"What was the subject of {x.name}'s latest {pq}?", ["main"], subject),
            Question(
                "temporal", f"When did {x.name} {'paint' if pq != 'paint' else 'paint'} {subject}?", ["main"], absolute
            ),
            Question("adversarial", f"What did {y.name} depict in {y.pos} new {pq}?", ["main"], subject),
        ]
        return Event("painting", o, [Line(0, main, "main"), Line(1, reply)], qs, {"painting": subject})

    def party(self, o: int, date: datetime) -> Event:
        x, _ = self.people[o], self.people[1 - o]
        who, rel_word = self.pick(lx.FAMILY)
        theme = self.pick(lx.PARTY_THEMES)
        verb, (rel, absolute) = self.pick(lx.PARAPHRASE["party"]), self.when(date)
        age = self.rng.randint(3, 90)
        main = self.pick([f"I {verb} {who} {rel}, {age} years old!", f"{rel.capitalize()} I {verb} {who}. Big {age}!"])
        reply = self.pick(["Aww, what was the theme?", "How did it go?", "Was there cake?"])
        detail = self.pick(
            [
                f"A {theme} theme, I went all out with decorations.",
                f"{theme.capitalize()} everything, even the cupcakes.",
            ]
        )
        pq = self.para("party_q")
        qs = [
            Question(
                "single-hop",
                f"What was the theme of the {pq} {x.name} organised for {x.pos} {rel_word}?",
                ["detail"],
                theme,
            ),
            Question("single-hop", f"How old did {x.name}'s {rel_word} turn?", ["main"], str(age)),
            Question("temporal", f"When did {x.name} celebrate {x.pos} {rel_word}'s birthday?", ["main"], absolute),
        ]
        lines = [Line(0, main, "main"), Line(1, reply), Line(0, detail, "detail")]
        return Event("party", o, lines, qs, {"party": who})

    def project(self, o: int, date: datetime) -> Event:
        x, _ = self.people[o], self.people[1 - o]
        proj = self.fresh("project", lx.WORK_PROJECTS)
        verb = self.pick(lx.PARAPHRASE["project"])
        main = self.pick(
            [
                f"We {verb} {proj} at work this week, I'm exhausted but proud.",
                f"I {verb} {proj}! Months of late nights.",
                f"Work win: my team {verb} {proj}.",
            ]
        )
        reply = self.pick(["You must be relieved!", "Celebrate tonight!", "How did the boss react?"])
        pq = self.para("project_q")
        qs = [
            Question(
                "single-hop",
                f"What did {x.name} {pq}?"
                if pq in ("deliver", "finish at work")
                else f"What {pq} did {x.name}'s team complete?",
                ["main"],
                proj,
            ),
            Question("temporal", f"When did {x.name} finish {proj}?", ["main"], f"the week of {fmt_date(date)}"),
        ]
        return Event("project", o, [Line(0, main, "main"), Line(1, reply)], qs, {"project": proj})

    def exam(self, o: int, date: datetime) -> Event:
        x, y = self.people[o], self.people[1 - o]
        cert = self.fresh("cert", lx.CERTS)
        verb, (rel, absolute) = self.pick(lx.PARAPHRASE["passed"]), self.when(date)
        main = self.pick(
            [
                f"I {verb} {cert} {rel}!!",
                f"Results came in {rel}: I {verb} {cert}.",
                f"Guess who {verb} {cert}? Found out {rel}.",
            ]
        )
        reply = self.pick(lx.REACTIONS)
        eq = self.para("exam_q")
        qs = [
            Question("single-hop", f"What {eq} did {x.name} pass?", ["main"], cert),
            Question("temporal", f"When did {x.name} get the {eq} results?", ["main"], absolute),
            Question("adversarial", f"Which {eq} did {y.name} succeed at?", ["main"], cert),
        ]
        return Event("exam", o, [Line(0, main, "main"), Line(1, reply)], qs, {"exam": cert})

    def show(self, o: int, date: datetime) -> Event:
        x, _ = self.people[o], self.people[1 - o]
        show, kind = self.fresh("show", lx.SHOWS)
        verb = self.pick(lx.PARAPHRASE["show_watch"])
        main = self.pick([f"I {verb} {show} this week.", f"Confession: I {verb} {show}, three episodes a night."])
        reply = self.pick(["Ooh, is it good?", "I need a new one, send me the name!", "Is it scary?"])
        sq = self.para("show_q")
        qs = [
            Question(
                "preference",
                f"What {sq} has {x.name} been hooked on?"
                if sq != "watch"
                else f"What has {x.name} been watching lately?",
                ["main"],
                show,
            )
        ]
        return Event("show", o, [Line(0, main, "main"), Line(1, reply)], qs, {"show": show})

    def plan(self, o: int, date: datetime) -> Event:
        x, y = self.people[o], self.people[1 - o]
        goal = self.pick(
            [
                "run a marathon next spring",
                "open a small bakery one day",
                "go back to school for a master's",
                "foster kids in a few years",
                "hike the Appalachian trail",
                "learn to sail this summer",
                "write a children's book",
                "start a podcast with my brother",
                "buy a house by the lake",
                "take a year off to travel",
            ]
        )
        verb = self.pick(lx.PARAPHRASE["plan"])
        main = self.pick(
            [
                f"I'm seriously {verb} {goal}.",
                f"Don't laugh, but I'm {verb} {goal}.",
                f"Been {verb} {goal} for a while now.",
            ]
        )
        reply = self.pick(["You should totally go for it!", "That's a big dream, I love it.", "What's stopping you?"])
        pq = self.para("plan_q")
        qs = [
            Question(
                "single-hop",
                f"What future {pq} has {x.name} mentioned?"
                if pq in ("plans", "planning")
                else f"What does {x.name} {pq} to do in the future?",
                ["main"],
                goal,
            ),
            Question("adversarial", f"What long-term goal did {y.name} share?", ["main"], goal),
        ]
        return Event("plan", o, [Line(0, main, "main"), Line(1, reply)], qs, {"plan": goal})

    def preference(self, o: int, date: datetime) -> Event:
        x, _ = self.people[o], self.people[1 - o]
        kind = self.pick(["music", "music", "food", "drink", "movie", "season", "sport"])
        lq = self.para("like_q")
        if kind == "music":
            genre, artists, paras = self.fresh("music", lx.MUSIC)
            artist = self.pick(artists)
            main = self.pick(
                [
                    f"I've had {artist} on repeat all week, {self.pick(paras)} just calms me down.",
                    f"Nothing beats {genre} on a rainy evening. {artist} especially.",
                    f"My playlist is basically all {genre} right now, {artist} mostly.",
                ]
            )
            q = f"What kind of {self.para('music_q')} does {x.name} {self.pick([lq, 'listen to'])}?"
            answer = genre
        elif kind == "food":
            dish, cuisine = self.fresh("food", lx.FOODS)
            main = self.pick(
                [
                    f"Honestly nothing beats a big bowl of {dish}.",
                    f"I could eat {dish} every day.",
                    f"Comfort food for me is {dish}, always.",
                ]
            )
            q = f"What is {x.name}'s favourite {self.pick(['comfort food', 'dish', 'meal'])}?"
            answer = dish
        elif kind == "drink":
            drink, para = self.pick(lx.DRINKS)
            main = self.pick([f"I can't function without my {drink} in the morning.", f"I'm a {drink} person, always."])
            q = f"What does {x.name} {self.pick(['drink every morning', 'like to sip on', 'order at cafes'])}?"
            answer = drink
        elif kind == "movie":
            genre, para = self.pick(lx.MOVIE_GENRES)
            main = self.pick([f"Movie night for me always means {genre}.", f"I'm a sucker for {genre}, no shame."])
            films, verb = self.pick(["films", "movies", "cinema"]), self.pick(["like", "enjoy", "watch", "love"])
            q = f"What type of {films} does {x.name} {verb}?"
            answer = genre
        elif kind == "season":
            season = self.pick(lx.SEASONS)
            main = self.pick(
                [
                    f"{season.capitalize()} is my favourite time of year, no contest.",
                    f"I live for {season}, everything feels better.",
                ]
            )
            q = f"Which time of the year does {x.name} {lq} most?"
            answer = season
        else:
            sport, team = self.pick(lx.SPORT_FAN)
            main = self.pick(
                [
                    f"Did you see {team} last night? I yelled at the TV for two hours.",
                    f"I never miss a {team} game, {sport} season is the best.",
                ]
            )
            q = f"Which {self.pick(['team', 'sports team', 'club'])} does {x.name} root for?"
            answer = team
        reply = self.pick(["Same!", "Oh really? I never knew that.", "Ha, I can see that.", "Good taste."])
        qs = [Question("preference", q, ["main"], answer)]
        return Event("preference", o, [Line(0, main, "main"), Line(1, reply)], qs, {"preference": (kind, answer)})

    KINDS = [
        "pet",
        "trip",
        "hobby",
        "race",
        "concert",
        "book",
        "cook",
        "move",
        "injury",
        "volunteer",
        "language",
        "purchase",
        "camping",
        "painting",
        "party",
        "project",
        "exam",
        "show",
        "plan",
        "preference",
        "preference",
    ]


@dataclass
class Conversation:
    """A generated conversation: sessions of turns, the events and the questions about them."""

    sample_id: str
    people: list[Person]
    sessions: list[dict]
    questions: list[dict]


def filler_line(w: Writer, speaker: Person, other: Person) -> str:
    """Small talk; a third of it mentions an entity already in the conversation (a distractor)."""
    if w.rng.random() < 0.35:
        slots = {"pet": speaker.pets, "city": speaker.cities + other.cities, "hobby": speaker.hobbies}
        options = [t for t in lx.ENTITY_FILLER if all(slots[k] for k in ("pet", "city", "hobby") if "{" + k in t)]
        if options:
            t = w.pick(options)
            return t.format(
                pet=w.pick(speaker.pets) if speaker.pets else "",
                city=w.pick(slots["city"]) if slots["city"] else "",
                hobby=w.pick(speaker.hobbies) if speaker.hobbies else "",
            )
    if w.rng.random() < 0.7:
        line = f"{w.pick(lx.SMALL_WHEN)} I {w.pick(lx.SMALL_DID)}, {w.pick(lx.SMALL_COMMENT)}."
        return line + (" " + w.pick(lx.SMALL_ASK) if w.rng.random() < 0.25 else "")
    return w.pick(lx.FILLER)


def dress(w: Writer, text: str, tag: str | None) -> str:
    """Evidence lines sometimes open with a lead-in or trail off with a second sentence, as chat does."""
    if tag == "main" and w.rng.random() < 0.3:
        text = w.pick(lx.LEAD_INS) + text[0].lower() + text[1:]
    if tag and w.rng.random() < 0.35:
        text += w.pick(lx.TAILS)
    return text


def build_conversation(rng: random.Random, sample_no: int, names: list[tuple[str, str]]) -> Conversation:
    """One conversation of two friends over 15–30 sessions."""
    people = [Person(n, p) for n, p in names]
    w = Writer(rng, people)
    n_sessions = rng.randint(15, 30)
    date = datetime(2023, 1, 1, tzinfo=UTC) + timedelta(days=rng.randint(0, 120))
    sessions, events = [], []
    jobs_done = [0, 0]
    for s in range(1, n_sessions + 1):
        date = date.replace(hour=rng.randint(8, 21), minute=rng.randint(0, 59))
        target = rng.randint(15, 30)
        # events of this session: each speaker brings up 0–2 topics
        planned: list[Event] = []
        for o in (0, 1):
            for _ in range(rng.choice([0, 1, 1, 1, 2])):
                if jobs_done[o] == 0 and rng.random() < 0.6 or (jobs_done[o] == 1 and s > 8 and rng.random() < 0.12):
                    planned.append(w.job(o, date, later=jobs_done[o] == 1))
                    jobs_done[o] += 1
                else:
                    planned.append(getattr(w, rng.choice(Writer.KINDS))(o, date))
        rng.shuffle(planned)
        lines: list[tuple[int, str, Event | None, str | None]] = []  # speaker, text, event, tag
        a, b = rng.sample([0, 1], 2)
        lines.append((a, rng.choice(lx.GREETINGS).format(o=people[b].name), None, None))
        lines.append((b, rng.choice(lx.GREETING_REPLIES).format(o=people[a].name), None, None))
        budget = max(0, target - 4 - sum(len(e.lines) + 1 for e in planned))
        slots = len(planned) + 1
        for i in range(slots):
            n_fill = budget // slots + (1 if i < budget % slots else 0)
            while n_fill > 0:
                sp = 1 - lines[-1][0]
                lines.append((sp, filler_line(w, people[sp], people[1 - sp]), None, None))
                n_fill -= 1
                if n_fill > 0 and rng.random() < 0.7:
                    lines.append((1 - sp, rng.choice(lx.FILLER_REPLIES).format(o=people[sp].name), None, None))
                    n_fill -= 1
            if i < len(planned):
                ev = planned[i]
                first = ev.owner if ev.lines[0].who == 0 else 1 - ev.owner
                if lines[-1][0] == first:
                    lines.append((1 - first, rng.choice(lx.BRIDGES), None, None))
                for ln in ev.lines:
                    sp = ev.owner if ln.who == 0 else 1 - ev.owner
                    lines.append((sp, dress(w, ln.text, ln.tag), ev, ln.tag))
                if rng.random() < 0.5:
                    sp = 1 - lines[-1][0]
                    mood = lx.SAD_REACTIONS if ev.kind == "injury" else lx.REACTIONS
                    lines.append((sp, rng.choice(mood), None, None))
        closer = 1 - lines[-1][0]
        lines.append((closer, rng.choice(lx.CLOSINGS).format(o=people[1 - closer].name), None, None))
        lines.append((1 - closer, rng.choice(lx.CLOSING_REPLIES).format(o=people[closer].name), None, None))
        turns = []
        for idx, (sp, text, ev, tag) in enumerate(lines):
            tid = f"D{s}:{idx + 1}"
            stamp = date + timedelta(seconds=40 * idx + rng.randint(0, 30))
            turns.append(
                {
                    "turn_id": tid,
                    "index": idx,
                    "speaker": people[sp].name,
                    "role": "user" if sp == 0 else "assistant",
                    "text": text,
                    "timestamp": stamp.isoformat(),
                }
            )
            if ev is not None and tag:
                ev.turn_ids[tag] = tid
        for ev in planned:
            ev.date = date
        events.extend(planned)
        sessions.append({"session": s, "date_time": fmt_session(date), "timestamp": date.isoformat(), "turns": turns})
        date = date + timedelta(days=rng.randint(3, 21))
    sample_id = f"conv-{sample_no:02d}"
    questions = make_questions(rng, sample_id, people, events, sessions)
    return Conversation(sample_id, people, sessions, questions)


def make_questions(rng, sample_id, people, events, sessions) -> list[dict]:
    """Sample per-event questions by category, then add multi-hop, window and as_of questions."""
    out: list[dict] = []
    by_cat: dict[str, list[dict]] = {}
    for ev in events:
        for q in ev.questions:
            if not all(t in ev.turn_ids for t in q.tags):
                continue
            by_cat.setdefault(q.category, []).append(
                {
                    "question": q.text,
                    "answer": q.answer,
                    "category": q.category,
                    "evidence": [ev.turn_ids[t] for t in q.tags],
                    "event": ev.kind,
                }
            )
    quota = {"single-hop": 26, "temporal": 14, "preference": 8, "adversarial": 10}
    for cat, n in quota.items():
        pool = by_cat.get(cat, [])
        out.extend(rng.sample(pool, min(n, len(pool))))
    out.extend(multi_hop(rng, people, events)[:10])
    out.extend(window_questions(rng, people, events, sessions)[:6])
    for i, q in enumerate(out):
        q["qid"] = f"{sample_id}-q{i + 1:03d}"
        q["sample_id"] = sample_id
    return out


def multi_hop(rng, people, events) -> list[dict]:
    """Questions whose answer spans events of one speaker in different sessions."""
    templates = {
        "pet": ("What pets does {x} have?", "Which animals has {x} adopted over time?"),
        "trip": ("Which places has {x} traveled to?", "What destinations did {x} go to this year?"),
        "hobby": ("What activities has {x} taken up?", "Which classes has {x} signed up for?"),
        "race": ("What running events has {x} taken part in?", "Which races has {x} completed?"),
        "concert": ("Which artists has {x} seen live?", "What concerts did {x} go to?"),
        "book": ("What books has {x} read?", "Which novels did {x} recommend?"),
        "cook": ("What dishes has {x} cooked for others?", "What has {x} made in the kitchen for guests?"),
        "purchase": ("What big purchases has {x} made?", "What things did {x} buy recently?"),
        "camping": ("Where has {x} been camping?", "Which spots did {x} pitch a tent at?"),
        "painting": ("What has {x} painted?", "What subjects appear in {x}'s artwork?"),
        "volunteer": ("Where has {x} volunteered?", "What charity work has {x} done?"),
        "exam": ("What exams has {x} passed?", "Which certifications does {x} hold?"),
        "injury": ("What injuries has {x} had?", "How has {x} gotten hurt over the months?"),
    }
    out = []
    for o, person in enumerate(people):
        for kind, tpls in templates.items():
            evs = [e for e in events if e.owner == o and e.kind == kind and "main" in e.turn_ids]
            sessions = {e.turn_ids["main"].split(":")[0] for e in evs}
            if len(evs) >= 2 and len(sessions) >= 2:
                out.append(
                    {
                        "question": rng.choice(tpls).format(x=person.name),
                        "category": "multi-hop",
                        "answer": "; ".join(str(next(iter(e.facts.values()))) for e in evs),
                        "evidence": [e.turn_ids["main"] for e in evs],
                        "event": kind,
                    }
                )
        # ordering questions: which came first
        evs = [
            e for e in events if e.owner == o and "main" in e.turn_ids and e.kind in ("trip", "pet", "hobby", "race")
        ]
        for _ in range(2):
            if len(evs) < 2:
                break
            e1, e2 = rng.sample(evs, 2)
            if e1.date == e2.date:
                continue
            v1, v2 = next(iter(e1.facts.values())), next(iter(e2.facts.values()))
            first = v1 if e1.date < e2.date else v2
            out.append(
                {
                    "question": f"Which happened first for {person.name}: the {e1.kind} involving {v1} "
                    f"or the {e2.kind} involving {v2}?",
                    "category": "multi-hop",
                    "answer": str(first),
                    "evidence": [e1.turn_ids["main"], e2.turn_ids["main"]],
                    "event": "order",
                }
            )
    rng.shuffle(out)
    return out


def window_questions(rng, people, events, sessions) -> list[dict]:
    """Vague 'lately' questions answered by the time window, and 'back then' questions answered by as_of."""
    out = []
    stamps = {s["session"]: datetime.fromisoformat(s["timestamp"]) for s in sessions}
    for o, person in enumerate(people):
        for _ in range(2):
            s = rng.randint(3, len(sessions))
            as_of = stamps[s] + timedelta(hours=2)
            days = rng.choice([7, 14, 21])
            since = as_of - timedelta(days=days)
            gold = [
                e.turn_ids["main"]
                for e in events
                if e.owner == o and "main" in e.turn_ids and since <= e.date <= as_of and e.kind != "preference"
            ]
            if not gold:
                continue
            q = rng.choice(
                [
                    "What has {x} been up to recently?",
                    "What's new in {x}'s life lately?",
                    "What did {x} tell {y} about in the past few weeks?",
                    "Any recent news from {x}?",
                ]
            )
            out.append(
                {
                    "question": q.format(x=person.name, y=people[1 - o].name),
                    "category": "temporal",
                    "answer": "",
                    "evidence": gold,
                    "event": "window",
                    "as_of": as_of.isoformat(),
                    "time_window_hours": days * 24,
                }
            )
        jobs = [e for e in events if e.owner == o and e.kind == "job" and "main" in e.turn_ids]
        if len(jobs) >= 2 and jobs[0].date < jobs[1].date:
            as_of = jobs[0].date + (jobs[1].date - jobs[0].date) / 2
            out.append(
                {
                    "question": f"What did {person.name} do for work back then?",
                    "category": "temporal",
                    "answer": jobs[0].facts["job"],
                    "evidence": [jobs[0].turn_ids["main"]],
                    "event": "as_of",
                    "as_of": as_of.isoformat(),
                }
            )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=10)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--out", type=Path, default=DATA)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    she, he = list(lx.NAMES["she"]), list(lx.NAMES["he"])
    rng.shuffle(she)
    rng.shuffle(he)
    pool = [(n, "she") for n in she] + [(n, "he") for n in he]
    rng.shuffle(pool)
    if len(pool) < 2 * args.conversations:
        raise SystemExit(f"at most {len(pool) // 2} conversations (one pair of names each)")
    convs = [build_conversation(rng, i + 1, pool[2 * i : 2 * i + 2]) for i in range(args.conversations)]
    args.out.mkdir(parents=True, exist_ok=True)
    with (args.out / "conversations.jsonl").open("w") as f:
        for c in convs:
            f.write(
                json.dumps({"sample_id": c.sample_id, "speakers": [p.name for p in c.people], "sessions": c.sessions})
                + "\n"
            )
    with (args.out / "questions.jsonl").open("w") as f:
        for c in convs:
            for q in c.questions:
                f.write(json.dumps(q) + "\n")
    turns = sum(len(s["turns"]) for c in convs for s in c.sessions)
    nq = sum(len(c.questions) for c in convs)
    cats: dict[str, int] = {}
    for c in convs:
        for q in c.questions:
            cats[q["category"]] = cats.get(q["category"], 0) + 1
    print(
        f"{len(convs)} conversations, {sum(len(c.sessions) for c in convs)} sessions, {turns} turns, "
        f"{nq} questions {cats} → {args.out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
