"""The board in PostgreSQL (DESIGN.md contract 13): any host writes it directly."""
