"""Small helpers for what commands print: aligned tables and JSON."""
import json

import click


def echo_json(obj):
    click.echo(json.dumps(obj, indent=2, sort_keys=False))


def echo_table(headers, rows):
    """Print ``rows`` (lists of values) under ``headers`` with columns aligned."""
    cells = [[str(h) for h in headers]] + [[str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())
