"""A2A across hosts: signed A2A v1 messages through a watched Maildir (DESIGN.md contract 10).

Modules, in the order a message meets them: `messages` (A2A v1 payloads via the official
`a2a-sdk`), `envelope` (HMAC-SHA256 per host pair), `keys`, `transport` (the seam, with
`MemoryTransport`), `transport_dir`, `transport_git`, `maildir`, `postbox` (verify, dedup,
quarantine, ledger), `owner` (messages -> fenced `LocalBoard` calls), `remote`
(`RemoteBoard`), `daemon` (`a2a serve`), `node` (wiring from `sprintboard.toml`).

Nothing is imported here, so `import sprintboard.a2a` costs nothing until used.
"""

__all__: list[str] = []
