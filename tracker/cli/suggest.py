"""A mistyped command gets the closest one suggested (`tracker improt` -> `tracker import`),
for the top level and every group alike (`tracker lesion splt`)."""

from __future__ import annotations

import difflib

import click


class SuggestingGroup(click.Group):
    """click's group, but "No such command" names the nearest commands (difflib)."""

    def resolve_command(self, ctx: click.Context, args: list[str]
                        ) -> tuple[str | None, click.Command | None, list[str]]:
        name = click.utils.make_str(args[0]) if args else ""
        if args and self.get_command(ctx, name) is None and not name.startswith("-"):
            close = difflib.get_close_matches(name, self.list_commands(ctx), n=3, cutoff=0.5)
            if close:
                hint = " or ".join(f"'{c}'" for c in close)
                ctx.fail(f"No such command '{name}'. Did you mean {hint}?")
        return super().resolve_command(ctx, args)

