"""The web board in a real headless Chromium: load, move a card, a second page sees it live."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sprintboard.board.local import LocalBoard

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parents[2] / "build" / "test-artifacts"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="no Chromium installed (Debian package `chromium`; `make test` installs it where it can)",
    ),
]

LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def test_move_a_card_in_the_browser_and_see_it_everywhere(
    web_board: LocalBoard, live_url: str
) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    kanban_before = (web_board.root / "KANBAN.md").read_text(encoding="utf-8")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            page, watcher = browser.new_page(), browser.new_page()
            for p in (page, watcher):
                p.goto(live_url)
                p.wait_for_selector('[data-column="Ready"] #card-T1')
            page.click("#card-T1")
            page.select_option("#ed-status", "blocked")
            page.fill("#ed-reason", "waiting on data")
            page.click("#ed-move")
            watcher.wait_for_selector('[data-column="Blocked"] #card-T1', timeout=5000)
            assert "waiting on data" in watcher.inner_text("#card-T1")
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.wait_for_selector('[data-column="Blocked"] #card-T1', timeout=5000)
            page.screenshot(path=str(ARTIFACTS / "web-board.png"), full_page=True)
        finally:
            browser.close()
    moves = [e for e in web_board.events() if e.op == "task.move" and e.actor == "human:web"]
    assert len(moves) == 1 and moves[0].fields["reason"] == "waiting on data"
    if web_board.observers:  # KANBAN.md is rendered from the journal when KanbanSync is attached
        kanban_after = (web_board.root / "KANBAN.md").read_text(encoding="utf-8")
        assert kanban_after != kanban_before and "waiting on data" in kanban_after


def test_a_second_page_patches_changed_cards_and_refetches_after_a_gap(
    web_board: LocalBoard, live_url: str
) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            page = browser.new_page()
            fetches: list[str] = []
            page.on("request", lambda r: fetches.append(r.url) if "/api/board" in r.url else None)
            page.goto(live_url)
            page.wait_for_selector("body[data-live]")  # the stream is connected and caught up
            assert len(fetches) == 1

            web_board.move("T1", "blocked", "human:ana", reason="waiting on data")
            page.wait_for_selector('[data-column="Blocked"] #card-T1', timeout=5000)
            assert len(fetches) == 1, "a delta is patched in, not refetched"
            assert page.inner_text('[data-column="Blocked"] h2') == "Blocked (1)"
            assert page.inner_text('[data-column="Ready"] h2') == "Ready (0)"

            # the patched card carries what the stale-page check needs: acting on it works
            page.click("#card-T1")
            page.select_option("#ed-status", "ready")
            page.click("#ed-move")
            page.wait_for_selector('[data-column="Ready"] #card-T1', timeout=5000)
            assert not page.inner_text("#banner") and len(fetches) == 1

            page.evaluate("seq -= 1")  # as if an event had been missed
            with page.expect_request("**/api/board"):
                web_board.add_decision("Refetch on a gap", "human:ana")
            page.wait_for_selector("#decisions li", timeout=5000)
            assert "Refetch on a gap" in page.inner_text("#decisions")
        finally:
            browser.close()


def test_the_burndown_loads_and_a_card_opens_its_details(
    web_board: LocalBoard, live_url: str
) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    web_board.note("T1", "rows counted", "human:ana")
    memory = web_board.root / "memory"
    memory.mkdir(exist_ok=True)
    (memory / "2026-12-07.md").write_text("# Standup\n\n- **T1** ready\n", encoding="utf-8")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(live_url)
            page.wait_for_selector('[data-column="Ready"] #card-T1')
            page.wait_for_function(
                "document.getElementById('burndown').complete"
                " && document.getElementById('burndown').naturalWidth > 0",
                timeout=30000,
            )
            assert page.is_visible("#burndown")
            assert page.inner_html("#standup").count("<strong>T1</strong>") == 1
            assert "critical path" in page.inner_text("#legend")
            page.click("#card-T1")
            page.wait_for_selector("#details:not([hidden]) h4")
            details = page.inner_text("#details")
            assert "T1 Audit sources" in details and "human:ana: rows counted" in details
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "web-board-details.png"), full_page=True)
        finally:
            browser.close()
