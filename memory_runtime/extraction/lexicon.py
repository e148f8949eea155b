"""Words the rules key on: the nouns that name a relation to a person or a pet."""

RELATION_NOUNS: dict[str, str] = {
    **dict.fromkeys(("manager", "boss", "supervisor", "lead"), "has_manager"),
    **dict.fromkeys(("colleague", "coworker", "co-worker", "teammate"), "has_colleague"),
    **dict.fromkeys(("report", "intern"), "has_report"),
    **dict.fromkeys(("wife", "husband", "spouse", "hubby"), "has_spouse"),
    **dict.fromkeys(
        ("partner", "girlfriend", "boyfriend", "gf", "bf", "fiance", "fiancé", "fiancee", "fiancée"), "has_partner"
    ),
    **dict.fromkeys(("mom", "mum", "mother", "dad", "father", "parent"), "has_parent"),
    **dict.fromkeys(("son", "daughter", "child", "kid"), "has_child"),
    **dict.fromkeys(("brother", "sister", "sibling"), "has_sibling"),
    **dict.fromkeys(
        ("cousin", "aunt", "uncle", "grandmother", "grandma", "grandfather", "grandpa", "niece", "nephew"),
        "has_relative",
    ),
    **dict.fromkeys(("friend", "bestie"), "has_friend"),
    **dict.fromkeys(("roommate", "flatmate", "housemate"), "has_roommate"),
}
PET_NOUNS = frozenset(
    "dog cat puppy kitten hamster parrot rabbit bunny goldfish turtle tortoise horse pet bird lizard snake".split()
)


def singular(word: str) -> str:
    """A plural noun in the singular, by spelling ("guitars" -> "guitar", "puppies" -> "puppy"); the
    pipeline runs without the lemmatizer, and things are written down in the singular."""
    low = word.lower()
    if len(low) < 4 or not low.endswith("s") or low.endswith(("ss", "us", "is")):
        return word
    if low.endswith("ies"):
        return word[:-3] + "y"
    if low.endswith(("ches", "shes", "xes", "sses", "zes")):
        return word[:-2]
    return word[:-1]
