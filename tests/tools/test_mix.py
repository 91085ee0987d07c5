"""mix: ratios, largest size without replacement, shortfalls reported, provenance per row."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from sprintboard.cli import main
from sprintboard.tools.mix import MixConfig, MixSource, mix, quotas

Chat = Callable[..., dict[str, Any]]
Write = Callable[..., Path]


@pytest.fixture
def ds_sources(tmp_path: Path, ds_chat: Chat, ds_write: Write) -> list[MixSource]:
    sizes = {"web": 400, "books": 250, "code": 200, "math": 100, "chat": 30}
    ratios = {"web": 40, "books": 25, "code": 20, "math": 10, "chat": 5}
    out = []
    for k, (name, n) in enumerate(sizes.items()):
        rows: list[dict[str, Any] | bytes] = [ds_chat(1000 * k + i, 8) for i in range(n)]
        if name == "math":
            rows.append(b"broken")
        out.append(
            MixSource(
                name=name, path=ds_write(tmp_path / f"{name}.jsonl", rows), ratio=ratios[name]
            )
        )
    return out


def test_quotas_round_to_the_size_and_find_the_largest_mix() -> None:
    assert quotas([40, 25, 20, 10, 5], [400, 250, 200, 100, 30], 100) == [40, 25, 20, 10, 5]
    assert sum(quotas([1, 1, 1], [10, 10, 10], 10)) == 10
    assert quotas([40, 25, 20, 10, 5], [400, 250, 200, 100, 30], None) == [240, 150, 120, 60, 30]
    assert quotas([1, 1], [10, 3], None) == [3, 3]


def test_mix_hits_ratios_and_names_every_rows_provenance(
    tmp_path: Path, ds_sources: list[MixSource]
) -> None:
    out = tmp_path / "mix.jsonl"
    report = mix(MixConfig(sources=ds_sources, output=out, size=500, seed=7))
    assert report.size == 500 and not report.short
    assert {s.name: s.taken for s in report.sources} == {
        "web": 200,
        "books": 125,
        "code": 100,
        "math": 50,
        "chat": 25,
    }
    assert next(s for s in report.sources if s.name == "math").rejected == 1
    manifest = orjson.loads((tmp_path / "mix.jsonl.manifest.json").read_bytes())
    provenance = manifest["extra"]["provenance"]
    assert Counter(p[0] for p in provenance) == {
        "web": 200,
        "books": 125,
        "code": 100,
        "math": 50,
        "chat": 25,
    }
    sources = {s.name: s.path.read_bytes().splitlines() for s in ds_sources}
    rebuilt = [sources[name][line - 1] for name, line in provenance]
    assert rebuilt == out.read_bytes().splitlines()  # the manifest rebuilds the mix exactly
    assert len(set(rebuilt)) == 500  # no row twice without upsampling


def test_shortfall_is_reported_not_filled_unless_upsampling(
    tmp_path: Path, ds_sources: list[MixSource]
) -> None:
    report = mix(MixConfig(sources=ds_sources, output=tmp_path / "m.jsonl", size=1000))
    chat = next(s for s in report.sources if s.name == "chat")
    assert (chat.target, chat.taken, chat.shortfall, chat.upsampled) == (50, 30, 20, 0)
    assert report.short and report.size == 980
    up = mix(MixConfig(sources=ds_sources, output=tmp_path / "u.jsonl", size=1000, upsample=True))
    chat = next(s for s in up.sources if s.name == "chat")
    assert (chat.taken, chat.upsampled, chat.shortfall) == (30, 20, 0) and up.size == 1000
    largest = mix(MixConfig(sources=ds_sources, output=tmp_path / "l.jsonl"))
    assert largest.size == 600 and not largest.short  # chat (30 rows at 5%) limits the mix


def test_same_seed_same_bytes_other_seed_other_order(
    tmp_path: Path, ds_sources: list[MixSource], capsys: pytest.CaptureFixture[str]
) -> None:
    a = mix(MixConfig(sources=ds_sources, output=tmp_path / "a.jsonl", size=300, seed=1))
    b = mix(MixConfig(sources=ds_sources, output=tmp_path / "b.jsonl", size=300, seed=1))
    c = mix(MixConfig(sources=ds_sources, output=tmp_path / "c.jsonl", size=300, seed=2))
    assert Path(a.output).read_bytes() == Path(b.output).read_bytes() != Path(c.output).read_bytes()
    args = [f"--source={s.name}={s.path}:{s.ratio}" for s in ds_sources]
    main(
        [
            "tools",
            "mix",
            str(tmp_path / "cli.jsonl"),
            *args,
            "--size",
            "300",
            "--seed",
            "1",
            "--json",
        ]
    )
    assert orjson.loads(capsys.readouterr().out)["size"] == 300
    assert (tmp_path / "cli.jsonl").read_bytes() == Path(a.output).read_bytes()
