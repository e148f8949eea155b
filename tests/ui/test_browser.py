"""The memory browser in a real browser (headless Chromium through Playwright) on the real server and stores.

Two tenants share user ids (see conftest.planted): acme's ada has conversations, facts over time, entities,
goals, tools and a turn holding a <script>; globex's ada and bob carry a secret word that acme must never see.
"""

import re

from tests.ui.conftest import SCRIPT_TURN, sign_in


def _text(page, selector: str) -> str:
    return page.locator(selector).inner_text()


def test_signing_in_with_a_tenant_key_lists_that_tenants_users_with_their_counts(page, live_server, planted):
    sign_in(page, live_server.url, live_server.keys.acme)
    table = _text(page, "[data-testid=users]")
    assert "ada" in table and "grace" in table and "bob" not in table
    row = page.locator("[data-testid=users] tr", has_text="ada").first.inner_text()
    assert re.search(r"ada\s+2\s+4\s+3\s+3", row), row  # conversations, turns, facts, entities
    assert "tenant acme" in _text(page, "[data-testid=viewer]")


def test_a_key_that_is_not_valid_is_refused_at_sign_in(page, live_server, planted):
    page.goto(f"{live_server.url}/ui/login")
    page.fill("#key", "am_0000000000000000_" + "x" * 43)
    page.click("button[type=submit]")
    assert "not a valid" in _text(page, "[data-testid=login-error]")
    assert "/ui/login" in page.url


def test_a_page_without_a_session_asks_to_sign_in_and_then_opens(page, live_server, planted):
    page.goto(f"{live_server.url}/ui/users/ada/goals")
    assert "/ui/login" in page.url
    page.fill("#key", live_server.keys.acme)
    page.click("button[type=submit]")
    page.wait_for_url("**/ui/users/ada/goals")
    assert "Relocate the team to Porto" in _text(page, "main")


def test_the_session_cookie_is_httponly_and_samesite_strict(page, live_server, planted):
    sign_in(page, live_server.url, live_server.keys.acme)
    [cookie] = [c for c in page.context.cookies() if c["name"] == "am_session"]
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict" and cookie["path"] == "/ui"
    assert page.evaluate("document.cookie") == ""


def test_opening_a_user_shows_their_conversations_and_turns_in_order(page, live_server, planted):
    sign_in(page, live_server.url, live_server.keys.acme)
    page.click("[data-testid=users] a:text-is('ada')")
    page.wait_for_url("**/ui/users/ada")
    conversations = _text(page, "[data-testid=conversations]")
    assert "c1" in conversations and "c2" in conversations
    page.click("[data-testid=conversations] a:text-is('c1')")
    turns = page.locator("[data-testid=turns] li")
    assert turns.count() == 3
    assert "I live in Lisbon" in turns.nth(0).inner_text() and "2024-01-10 09:00:00 UTC" in turns.nth(0).inner_text()
    assert turns.nth(1).locator(".role").inner_text() == "assistant"


def test_a_fact_links_to_its_source_turn_highlighted_in_its_conversation(page, live_server, planted):
    sign_in(page, live_server.url, live_server.keys.acme)
    page.goto(f"{live_server.url}/ui/users/ada/facts")
    page.click("[data-testid=facts] a:text-is('Ada lives in Lisbon')")
    assert _text(page, "[data-testid=claim]") == "Ada lives in Lisbon"
    assert "no longer true from 2024-06-01" in _text(page, "[data-testid=fact-status]")
    assert planted.new_fact in _text(page, "[data-testid=superseded-by]")
    assert "rules-v1" in _text(page, "main")
    page.click("a.source-turn")
    page.wait_for_url(re.compile(r".*/conversation\?id=c1.*highlight=.*"))
    highlighted = page.locator("li.turn.highlighted")
    assert highlighted.count() == 1 and "I live in Lisbon" in highlighted.inner_text()


def test_moving_as_of_back_brings_an_invalidated_fact_back(page, live_server, planted):
    sign_in(page, live_server.url, live_server.keys.acme)
    page.goto(f"{live_server.url}/ui/users/ada/timeline")
    everything = _text(page, "[data-testid=facts]")
    assert "Ada lives in Lisbon" in everything and "Ada lives in Porto" in everything
    assert page.locator("svg.timeline rect.bar").count() == 3
    page.fill("#as_of", "2024-03-01T00:00")
    page.click("#as-of-form button[type=submit]")
    page.wait_for_url("**as_of=2024-03-01T00%3A00*")
    believed = _text(page, "[data-testid=facts]")
    assert "Ada lives in Lisbon" in believed and "Ada lives in Porto" not in believed
    assert "Facts valid at 2024-03-01 00:00:00 UTC" in _text(page, "[data-testid=as-of-caption]")
    page.fill("#as_of", "2024-07-01T00:00")
    page.click("#as-of-form button[type=submit]")
    page.wait_for_url("**as_of=2024-07-01T00%3A00*")
    later = _text(page, "[data-testid=facts]")
    assert "Ada lives in Porto" in later and "Ada lives in Lisbon" not in later


def test_the_as_of_slider_moves_the_date_and_shows_that_moment(page, live_server, planted):
    sign_in(page, live_server.url, live_server.keys.acme)
    page.goto(f"{live_server.url}/ui/users/ada/timeline")
    slider = page.locator("#as_of_slider")
    minimum = int(slider.get_attribute("min"))
    slider.evaluate("(s, v) => { s.value = v; s.dispatchEvent(new Event('change')); }", str(minimum + 60 * 24 * 30))
    page.wait_for_url("**as_of=*")
    assert "Ada lives in Lisbon" in _text(page, "[data-testid=facts]")
    assert "Ada lives in Porto" not in _text(page, "[data-testid=facts]")


def test_search_runs_remember_and_shows_scores_and_strategies_that_found_each_item(page, live_server, planted):
    sign_in(page, live_server.url, live_server.keys.acme)
    page.goto(f"{live_server.url}/ui/users/ada/search")
    page.fill("#q", "where does Ada live now, Porto?")
    page.click("form[role=search] button")
    facts = page.locator("[data-testid=hits-facts] tbody tr")
    assert facts.count() >= 1
    first = facts.filter(has_text="Ada lives in Porto").first.inner_text()
    score, found_by = first.split("\t")[:2]
    assert float(score) > 0 and found_by.strip()
    assert page.locator("[data-testid=hits-turns] tbody tr").count() >= 1


def test_a_stored_script_renders_as_text_and_never_runs(page, live_server, planted):
    sign_in(page, live_server.url, live_server.keys.acme)
    page.goto(f"{live_server.url}/ui/users/ada/conversation?id=c1")
    turn = page.locator(f"#turn-{planted.script_turn_id} .content")
    assert turn.inner_text() == SCRIPT_TURN
    assert page.locator("main script").count() == 0 and page.locator("main img").count() == 0
    assert page.evaluate("window.__pwned") is None
    assert page.title() != "pwned"
    page.goto(f"{live_server.url}/ui/users/ada/search?q=script")
    assert page.evaluate("window.__pwned") is None and page.locator("main img").count() == 0


def test_an_entity_shows_aliases_salience_and_its_neighbourhood_drawn_from_the_graph(page, live_server, planted):
    sign_in(page, live_server.url, live_server.keys.acme)
    page.goto(f"{live_server.url}/ui/users/ada/entities")
    page.click("[data-testid=entities] a:text-is('Acme')")
    assert "Acme Corp" in _text(page, "dl.props")
    assert page.locator("svg.graph circle").count() == 3  # Acme, Ada and Lisbon at depth 1
    page.click("a:text-is('2')")
    page.wait_for_url("**depth=2")
    page.goto(f"{live_server.url}/ui/users/ada/entities/{planted.ada_entity}?depth=2")
    rows = _text(page, "[data-testid=neighbours]")
    assert re.search(r"Acme\s+Organization\s+1\s+WORKS_FOR", rows), rows
    assert re.search(r"Lisbon\s+Location\s+2\s+WORKS_FOR → LOCATED_IN", rows), rows
    assert page.locator("svg.graph line.edge").count() == 2
    assert "Ada lives in Porto" in _text(page, "[data-testid=facts]")


def test_goals_show_sub_goals_and_blockers_and_procedural_memory_its_rates(page, live_server, planted):
    sign_in(page, live_server.url, live_server.keys.acme)
    page.goto(f"{live_server.url}/ui/users/ada/goals")
    parent = page.locator(f"#goal-{planted.goal}")
    assert "Find an office" in parent.inner_text()  # the sub-goal is drawn inside its parent
    assert "blocked by: Sort out the visas" in page.locator(f"#goal-{planted.subgoal}").inner_text()
    page.goto(f"{live_server.url}/ui/users/ada/procedural")
    assert re.search(r"web_search\s+3\s+2\s+1\s+67%", _text(page, "[data-testid=tools]"))
    # the success rate is Laplace-smoothed: (1 + 1) / (1 + 2)
    assert re.search(r"find_office\s+search listings then call the agent\s+web_search → phone\s+1\s+0\s+67%",
                     _text(page, "[data-testid=strategies]"))  # fmt: skip


def test_unknown_users_and_ids_are_404_pages_not_stack_traces(page, live_server, planted):
    sign_in(page, live_server.url, live_server.keys.acme)
    for path in ("/ui/users/nobody", "/ui/users/ada/facts/no-such-fact", "/ui/users/ada/entities/nope",
                 "/ui/users/ada/turns/nope", "/ui/users/ada/conversation?id=nope", "/ui/no/such/page"):  # fmt: skip
        response = page.goto(live_server.url + path)
        assert response.status == 404, path
        assert _text(page, "[data-testid=error-title]") == "Not found"
        assert "Traceback" not in page.content()
    response = page.goto(f"{live_server.url}/ui/users/ada/timeline?as_of=yesterday")
    assert response.status == 422 and "not a date" in _text(page, "[data-testid=error-message]")


def test_empty_states_are_explained(page, live_server, planted):
    sign_in(page, live_server.url, live_server.keys.acme)
    page.goto(f"{live_server.url}/ui/users/grace/entities")
    assert "No entities" in _text(page, "[data-testid=empty]")
    page.goto(f"{live_server.url}/ui/users/grace/procedural")
    assert "No tool calls" in _text(page, "[data-testid=empty-tools]")
    page.goto(f"{live_server.url}/ui/users?q=zzz")
    assert "No user id contains" in _text(page, "[data-testid=empty]")


def test_a_key_of_one_tenant_never_shows_another_tenants_users_even_by_guessed_urls(page, live_server, planted):
    with live_server.client(live_server.keys.globex) as c:
        bob_fact = c.get("/v1/users/bob/facts").json()["facts"][0]["id"]
        globex_turn = c.get("/v1/users/ada/turns").json()["turns"][0]["id"]
    sign_in(page, live_server.url, live_server.keys.acme)
    assert "bob" not in _text(page, "[data-testid=users]")
    page.goto(f"{live_server.url}/ui/users?q=bob")
    assert "bob" not in _text(page, "main").replace("“bob”", "")
    for path in ("/ui/users/bob", f"/ui/users/bob/facts/{bob_fact}", f"/ui/users/ada/facts/{bob_fact}",
                 f"/ui/users/ada/turns/{globex_turn}", "/ui/users/globex:bob", "/ui/users/bob/timeline"):  # fmt: skip
        assert page.goto(live_server.url + path).status == 404, path
    for path in ("/ui/users/ada/conversation?id=c1", "/ui/users/ada/timeline", "/ui/users/ada/facts",
                 f"/ui/users/ada/search?q={planted.globex_word}"):  # fmt: skip
        page.goto(live_server.url + path)
        assert planted.globex_word not in page.content().replace(f'value="{planted.globex_word}"', ""), path


def test_a_form_posted_without_the_sessions_csrf_token_is_refused(page, live_server, planted):
    sign_in(page, live_server.url, live_server.keys.acme_admin)
    response = page.request.post(f"{live_server.url}/ui/users/grace/forget", form={"confirm": "grace", "csrf": "x"})
    assert response.status == 403
    assert page.goto(f"{live_server.url}/ui/users/grace").status == 200


def test_forgetting_a_user_with_a_non_admin_key_is_refused(page, live_server, planted):
    sign_in(page, live_server.url, live_server.keys.acme)
    page.goto(f"{live_server.url}/ui/users/grace/forget")
    assert "Only an admin key" in _text(page, "[data-testid=needs-admin]")
    assert page.locator("#forget-button").is_disabled()
    page.fill("#confirm", "grace")
    with page.expect_navigation():
        page.click("#forget-button")
    assert "admin key" in _text(page, "[data-testid=error-message]")
    page.goto(f"{live_server.url}/ui/users")
    assert "grace" in _text(page, "[data-testid=users]")


def test_forgetting_a_user_with_an_admin_key_needs_the_typed_id_and_shows_what_was_removed(page, live_server, planted):
    sign_in(page, live_server.url, live_server.keys.acme_admin)
    page.goto(f"{live_server.url}/ui/users/grace/forget")
    page.fill("#confirm", "grac")
    assert page.locator("#forget-button").is_disabled()
    page.fill("#confirm", "grace")
    page.click("#forget-button")
    assert _text(page, "[data-testid=forgotten]") == "Forgot grace"
    removed = _text(page, "[data-testid=removed]")
    assert re.search(r"postgres.conversation_logs\s+1", removed) and re.search(r"graph.Turn\s+1", removed), removed
    page.goto(f"{live_server.url}/ui/users")
    assert "grace" not in _text(page, "[data-testid=users]")
    assert page.goto(f"{live_server.url}/ui/users/grace").status == 404
