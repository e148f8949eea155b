"""Screenshots of the memory browser's main pages. `make screenshots` writes them to docs/screenshots/ (the README
links them); in the normal test run they go to a temporary directory and only their existence is checked."""

import pytest

from tests.ui.conftest import sign_in

PAGES = [
    ("users", "/ui/users"),
    ("user", "/ui/users/ada"),
    ("conversation", "/ui/users/ada/conversation?id=c1"),
    ("facts", "/ui/users/ada/facts"),
    ("timeline", "/ui/users/ada/timeline?as_of=2024-03-01T00:00"),
    ("entity", None),
    ("goals", "/ui/users/ada/goals"),
    ("procedural", "/ui/users/ada/procedural"),
    ("search", "/ui/users/ada/search?q=where+does+Ada+live"),
    ("forget", "/ui/users/ada/forget"),
]


@pytest.mark.parametrize(("name", "path"), PAGES, ids=[p[0] for p in PAGES])
def test_screenshot_of_each_main_page(page, live_server, planted, screenshot_dir, name, path):
    sign_in(page, live_server.url, live_server.keys.acme_admin)
    path = path or f"/ui/users/ada/entities/{planted.ada_entity}?depth=2"
    assert page.goto(live_server.url + path).status == 200
    screenshot_dir.mkdir(parents=True, exist_ok=True)
    target = screenshot_dir / f"{name}.png"
    page.screenshot(path=str(target), full_page=True)
    assert target.stat().st_size > 5_000
