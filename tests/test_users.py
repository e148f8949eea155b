"""The user model: preferences, expertise and interests in the graph, mirrored to Postgres user_profiles."""

import math

import pytest

from memory_runtime.domain import ids
from memory_runtime.domain.errors import ValidationError
from memory_runtime.memory.users import UserModel

USER = "alice"
OTHER = "bob"


def profile_row(stores, user_id: str = USER) -> dict | None:
    rows = stores.pg.fetch("SELECT * FROM user_profiles WHERE user_id = %s", (user_id,))
    return rows[0] if rows else None


def test_user_context_of_an_unknown_user_is_empty(stores):
    assert UserModel(stores, "nobody").get_user_context() == {
        "preferences": {},
        "expertise": {},
        "interests": [],
        "summary": None,
        "updated_at": None,
    }


def test_user_context_mirrors_graph_preferences_to_postgres(backend_stores):
    model = UserModel(backend_stores, USER)
    model.set_preference("language", "Python", confidence=0.9)
    model.set_preference("answer style", {"length": "short", "code": True})
    rows = backend_stores.graph.read(
        "MATCH (u:User)-[:HAS_PREFERENCE]->(p:Preference) "
        "RETURN u.id AS user, p.key AS key, p.confidence AS confidence, p.user_id AS owner ORDER BY key"
    )
    assert rows == [
        {"user": ids.user_node_id(USER), "key": "answer style", "confidence": 0.8, "owner": USER},
        {"user": ids.user_node_id(USER), "key": "language", "confidence": 0.9, "owner": USER},
    ]
    context = model.get_user_context()
    assert context["preferences"] == {"language": "Python", "answer style": {"length": "short", "code": True}}
    assert profile_row(backend_stores)["preferences"] == context["preferences"]
    assert context["updated_at"] is not None


def test_setting_a_preference_again_replaces_its_value(backend_stores):
    model = UserModel(backend_stores, USER)
    model.set_preference("Editor", "vim")
    model.set_preference("  editor ", "emacs", confidence=0.6)
    assert model.get_user_context()["preferences"] == {"Editor": "emacs"}
    [row] = backend_stores.graph.read("MATCH (p:Preference) RETURN p.confidence AS c, count(*) AS n")
    assert row == {"c": 0.6, "n": 1}


@pytest.mark.parametrize("value", [None, 3, 2.5, False, ["a", "b"], {"nested": {"list": [1]}}])
def test_a_preference_value_may_be_any_json_value(stores, value):
    model = UserModel(stores, USER)
    model.set_preference("setting", value)
    assert model.get_user_context()["preferences"] == {"setting": value}


@pytest.mark.parametrize("confidence", [-0.1, 1.5, math.nan, True, "high"])
def test_set_preference_rejects_a_confidence_outside_the_unit_interval(stores, confidence):
    with pytest.raises(ValidationError):
        UserModel(stores, USER).set_preference("language", "Python", confidence=confidence)
    assert profile_row(stores) is None


@pytest.mark.parametrize("value", [object(), {"x": math.inf}, "nul\x00"], ids=["object", "inf", "nul"])
def test_set_preference_rejects_a_value_that_is_not_json(stores, value):
    with pytest.raises(ValidationError):
        UserModel(stores, USER).set_preference("weird", value)
    assert stores.graph.read("MATCH (p:Preference) RETURN count(p) AS n")[0]["n"] == 0


def test_add_expertise_is_mirrored_with_its_level(backend_stores):
    model = UserModel(backend_stores, USER)
    model.add_expertise("Python", "Expert")
    model.add_expertise("Rust", "novice")
    model.add_expertise("python", "advanced")  # same topic, new level
    assert model.get_user_context()["expertise"] == {"Python": "advanced", "Rust": "novice"}
    assert model.get_user_context()["interests"] == []  # knowing a topic is not being interested in it


@pytest.mark.parametrize("level", ["guru", 0.7, "", None])
def test_add_expertise_rejects_an_unknown_level(stores, level):
    with pytest.raises(ValidationError):
        UserModel(stores, USER).add_expertise("Python", level)
    assert stores.graph.read("MATCH (t:Topic) RETURN count(t) AS n")[0]["n"] == 0


def test_add_interest_is_idempotent_and_keeps_the_order_of_addition(backend_stores):
    model = UserModel(backend_stores, USER)
    model.add_interest("Sailing")
    model.add_interest("astronomy")
    model.add_interest("sailing ")
    assert model.get_user_context()["interests"] == ["Sailing", "astronomy"]
    rows = backend_stores.graph.read("MATCH (:User)-[r:INTERESTED_IN]->(t:Topic) RETURN count(r) AS n")
    assert rows == [{"n": 2}]


def test_interest_and_expertise_share_one_topic_node(backend_stores):
    model = UserModel(backend_stores, USER)
    model.add_interest("Chess")
    model.add_expertise("chess", "intermediate")
    context = model.get_user_context()
    assert (context["interests"], context["expertise"]) == (["Chess"], {"Chess": "intermediate"})
    assert backend_stores.graph.read("MATCH (t:Topic) RETURN count(t) AS n")[0]["n"] == 1


def test_user_context_is_scoped_to_the_user(backend_stores):
    UserModel(backend_stores, OTHER).set_preference("language", "Go")
    UserModel(backend_stores, OTHER).add_interest("Kubernetes")
    alice = UserModel(backend_stores, USER)
    alice.add_interest("Poetry")
    context = alice.get_user_context()
    assert (context["preferences"], context["interests"]) == ({}, ["Poetry"])
    assert UserModel(backend_stores, OTHER).get_user_context()["preferences"] == {"language": "Go"}


def test_the_mirror_keeps_the_summary_written_by_the_profile_asset(stores):
    model = UserModel(stores, USER)
    model.set_preference("language", "Python")
    stores.pg.fetch("UPDATE user_profiles SET summary = 'Pythonista' WHERE user_id = %s", (USER,))
    model.add_interest("Typing")
    context = model.get_user_context()
    assert (context["summary"], context["interests"]) == ("Pythonista", ["Typing"])


def test_the_mirror_never_replaces_a_newer_profile_with_an_older_one(stores):
    model = UserModel(stores, USER)
    model.set_preference("language", "Python")
    newer = profile_row(stores)["updated_at"].replace(year=2999)
    stores.pg.fetch(
        "UPDATE user_profiles SET preferences = %s::jsonb, updated_at = %s WHERE user_id = %s",
        ('{"language": "newer"}', newer, USER),
    )
    model.mirror_to_postgres()
    assert model.get_user_context()["preferences"] == {"language": "newer"}


def test_the_mirror_heals_a_lost_postgres_row(stores):
    model = UserModel(stores, USER)
    model.set_preference("language", "Python")
    stores.pg.fetch("DELETE FROM user_profiles WHERE user_id = %s", (USER,))
    model.add_interest("Jazz")
    context = model.get_user_context()
    assert (context["preferences"], context["interests"]) == ({"language": "Python"}, ["Jazz"])
