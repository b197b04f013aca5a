"""Writing names and values into SQL text, for the statements that cannot take them as parameters
(DDL, ATTACH, LOAD, COPY, COMMENT, names read from the catalog): the project's one quoting rule."""

from __future__ import annotations


def literal(text) -> str:
    """A SQL string literal holding ``text`` (a str or a path): single quotes doubled."""
    return "'" + str(text).replace("'", "''") + "'"


def identifier(name: str) -> str:
    """A quoted SQL identifier (a table, view or column name): double quotes doubled."""
    return '"' + name.replace('"', '""') + '"'
