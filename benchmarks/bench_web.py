"""Web board speed: first paint of a 1,000-task board, and how fast a move reaches a second page.

Baselines run in the same script, interleaved: first paint of a 10-task board, and the
board API's own commit time for the same move. Prints medians and ratios.
Goals (issue 13): first paint < 1 s with 1,000 tasks; a move visible to another page < 300 ms.
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import uvicorn

from sprintboard.board.local import LocalBoard
from sprintboard.web_app import build_app
from sprintboard.workspace import init_workspace, open_board

ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def make_board(root: Path, n: int) -> LocalBoard:
    init_workspace(root, git=False)
    board = open_board(root)
    board.create_tasks(
        [
            {"id": f"T{i:05d}", "title": f"task {i}", "status": "ready", "priority": i % 5}
            for i in range(n)
        ]
    )
    return board


def start(board: LocalBoard) -> tuple[uvicorn.Server, str]:
    server = uvicorn.Server(
        uvicorn.Config(build_app(board), host="127.0.0.1", port=0, log_level="warning")
    )
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    return server, f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"


def main() -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        print("bench_web: skipped (no chromium; apt-get install chromium)")
        return
    from playwright.sync_api import sync_playwright

    repeats = 5
    tmp = Path(tempfile.mkdtemp(prefix="bench-web-"))
    big, small = make_board(tmp / "big", 1000), make_board(tmp / "small", 10)
    (big_srv, big_url), (small_srv, small_url) = start(big), start(small)
    paint = {"1000 tasks": [], "10 tasks": []}
    move_seen, commit = [], []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=ARGS)
        for r in range(repeats):
            for label, url, last in (
                ("1000 tasks", big_url, "T00999"),
                ("10 tasks", small_url, "T00009"),
            ):
                page = browser.new_page()
                t0 = time.perf_counter()
                page.goto(url)
                page.wait_for_selector(f"#card-{last}")
                paint[label].append(time.perf_counter() - t0)
                page.close()
            watcher = browser.new_page()
            watcher.goto(small_url)
            watcher.wait_for_selector("#card-T00009")
            task = f"T{r:05d}"
            t0 = time.perf_counter()
            small.move(task, "blocked", "human:bench", reason="bench")
            commit.append(time.perf_counter() - t0)
            watcher.wait_for_selector(f'[data-column="Blocked"] #card-{task}', timeout=5000)
            move_seen.append(time.perf_counter() - t0)
            watcher.close()
        browser.close()
    big_srv.should_exit = small_srv.should_exit = True
    med = {k: statistics.median(v) for k, v in paint.items()}
    print(
        f"first paint, 1000 tasks: median {med['1000 tasks'] * 1000:.0f} ms "
        f"({med['1000 tasks'] / med['10 tasks']:.2f}x the 10-task board at {med['10 tasks'] * 1000:.0f} ms); goal < 1000 ms"
    )
    m_seen, m_commit = statistics.median(move_seen), statistics.median(commit)
    print(
        f"move visible on a second page: median {m_seen * 1000:.0f} ms, max {max(move_seen) * 1000:.0f} ms "
        f"({m_seen / m_commit:.1f}x the {m_commit * 1000:.1f} ms journal commit); goal < 300 ms"
    )
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
