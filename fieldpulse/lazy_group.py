"""A command group that imports a sub-command's module only when that command is needed.

`fieldpulse edge` runs on gateways: were every command imported at start, each
gateway command would load the cloud side (numpy, SQLAlchemy, OR-Tools ...)
and the benchmarks. A lazy command is named by a string, "module:attribute"
(a Typer app or a command function), and imported with importlib when it is run
or its help is shown; `fieldpulse --help` imports them all to show their help.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import ClassVar

import typer
from typer import _click  # Typer's own copy of Click: its groups are typed with it
from typer.core import MarkupMode, TyperGroup
from typer.main import get_command_from_info, get_group_from_info
from typer.models import CommandInfo, TyperInfo


@dataclass(frozen=True, slots=True)
class LazyCommand:
    target: str  # "package.module:attribute": a Typer app, or a command function
    help: str | None = None  # instead of the app's own, as `add_typer(help=...)` would
    requires: Iterable[str] = ()  # top-level modules it needs: left out where one is missing


def installed(modules: Iterable[str]) -> bool:
    """Whether every module is there to import: found on the path, not imported."""
    for name in modules:
        try:
            if importlib.util.find_spec(name) is None:
                return False
        except (ImportError, ValueError):
            return False
    return True


class LazyGroup(TyperGroup):
    """A Typer group (`typer.Typer(cls=...)`) whose `lazy` commands load on first use."""

    lazy: ClassVar[Mapping[str, LazyCommand]] = {}

    def before_import(self) -> None:
        """Called before lazy commands are imported: to run one, or to list them in help."""

    def format_help(self, ctx: _click.Context, formatter: _click.HelpFormatter) -> None:
        self.before_import()  # before any of the help is written
        super().format_help(ctx, formatter)

    def list_commands(self, ctx: _click.Context) -> list[str]:
        names = super().list_commands(ctx)
        return [*names, *(name for name, spec in self.lazy.items()
                          if name not in names and installed(spec.requires))]

    def get_command(self, ctx: _click.Context, cmd_name: str) -> _click.Command | None:
        command = super().get_command(ctx, cmd_name)
        spec = self.lazy.get(cmd_name)
        if command is not None or spec is None or not installed(spec.requires):
            return command
        self.before_import()
        module, _, attribute = spec.target.partition(":")
        command = _as_command(getattr(importlib.import_module(module), attribute), cmd_name,
                              spec.help, self.rich_markup_mode, self.suggest_commands)
        self.add_command(command, cmd_name)
        return command


def _as_command(target: object, name: str, help: str | None, markup: MarkupMode,
                suggest_commands: bool) -> _click.Command:
    """`target` as Typer would have made it from `add_typer` or `command`."""
    if isinstance(target, typer.Typer):
        info = TyperInfo(target, name=name) if help is None else TyperInfo(target, name=name,
                                                                           help=help)
        return get_group_from_info(info, pretty_exceptions_short=True,
                                   suggest_commands=suggest_commands, rich_markup_mode=markup)
    if callable(target):
        return get_command_from_info(CommandInfo(name=name, callback=target, help=help),
                                     pretty_exceptions_short=True, rich_markup_mode=markup)
    raise TypeError(f"lazy command {name!r}: {target!r} is neither a Typer app nor a function")
