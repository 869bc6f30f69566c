"""`aftersales agents add|list`: the people who sign in to the agent workspace."""

from __future__ import annotations

import json

import typer
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from intake_api.agents import accounts
from intake_api.agents.models import AgentCreate, AgentProfile
from intake_api.cli.runtime import run_in_transaction

agents_app = typer.Typer(help="Create and list agent accounts.", no_args_is_help=True)

CLI_ACTOR = "cli"


@agents_app.command("add")
def add(
    username: str = typer.Argument(..., help="Sign-in name: lower-case letters, digits, . _ -"),
    name: str = typer.Option(..., "--name", help="Display name customers see on replies."),
    role: str = typer.Option("agent", "--role", help="agent, supervisor or manager."),
    skills: list[str] = typer.Option([], "--skill", help="A skill group; repeat for several."),
    langs: list[str] = typer.Option(["zh"], "--lang", help="A language; repeat for several."),
    password: str = typer.Option(
        ...,
        "--password",
        prompt=True,
        hide_input=True,
        confirmation_prompt=True,
        envvar="AFTERSALES_NEW_AGENT_PASSWORD",
        help="At least 8 characters (prompted if absent).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the account as JSON."),
) -> None:
    """Create an agent account (the password is kept only as an Argon2 hash)."""
    try:
        data = AgentCreate(
            username=username,
            display_name=name,
            role=role,
            skill_groups=skills,
            languages=langs,
            password=password,
        )
    except ValidationError as exc:
        for error in exc.errors():
            typer.echo(f"{'.'.join(map(str, error['loc']))}: {error['msg']}", err=True)
        raise typer.Exit(1) from None

    async def work(session: AsyncSession) -> AgentProfile:
        return AgentProfile.model_validate(
            await accounts.create_agent(session, data=data, actor=CLI_ACTOR)
        )

    profile = run_in_transaction(work)
    if as_json:
        typer.echo(json.dumps(profile.model_dump(mode="json")))
        return
    typer.echo(f"agent {profile.id}: {profile.username} ({profile.display_name}, {profile.role})")


@agents_app.command("list")
def list_agents(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Every agent account: id, username, display name, role, skill groups, languages."""

    async def work(session: AsyncSession) -> list[AgentProfile]:
        return [AgentProfile.model_validate(row) for row in await accounts.get_all(session)]

    profiles = run_in_transaction(work)
    if as_json:
        typer.echo(json.dumps([p.model_dump(mode="json") for p in profiles]))
        return
    for p in profiles:
        typer.echo(
            f"{p.id}\t{p.username}\t{p.display_name}\t{p.role}\t"
            f"{','.join(p.skill_groups)}\t{','.join(p.languages)}"
        )
