"""Agents as people: accounts with an Argon2 password hash and a role, sign-in sessions held in
an HttpOnly cookie, and the CSRF token a signed-in page sends back on every change.

Roles, each including the one before:
- `agent` works the inbox: conversations, replies, notes, ticket moves, hand-back;
- `supervisor` also reads the dashboard and the KPIs;
- `manager` also manages agent accounts.
API keys stay for machines: a key with the `agents` scope acts with every role.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.profiles import CHEAPEST, RFC_9106_LOW_MEMORY
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection

from core.columns import utcnow
from core.errors import Conflict, Forbidden, Unauthorized
from intake_api.agents.models import Agent, AgentCreate, AgentProfile, AgentSession
from intake_api.audit import service as audit
from intake_api.auth.models import Principal
from intake_api.pagination import PageRequest
from intake_api.services import services

ROLES = ("agent", "supervisor", "manager")
# What a signed-in agent may call besides the agent routes: the ticket API the page uses.
SESSION_SCOPES = frozenset({"agents", "tickets:read", "tickets:write"})
SESSION_COOKIE = "aftersales_agent"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
AGENT_ACTOR = "agent:"  # a signed-in agent's actor: `agent:<username>`

HASH_PROFILES = {"rfc9106-low-memory": RFC_9106_LOW_MEMORY, "cheapest": CHEAPEST}


@cache
def hasher(profile: str = "rfc9106-low-memory") -> PasswordHasher:
    """The Argon2id hasher of a profile (`AFTERSALES_AGENT_PASSWORD_HASH`). A hash names its
    parameters, so any hasher verifies passwords hashed under another profile."""
    return PasswordHasher.from_parameters(HASH_PROFILES[profile])


def actor_of(username: str) -> str:
    """The actor a signed-in agent's changes are recorded under (tickets, audit, claims)."""
    return f"{AGENT_ACTOR}{username}"


def role_allows(principal: Principal, role: str) -> bool:
    """Whether the caller holds `role` or a higher one; API keys (no role) hold every role."""
    if principal.role is None:
        return True
    return ROLES.index(principal.role) >= ROLES.index(role)


def check_role(principal: Principal, role: str) -> None:
    """403 naming the role the caller lacks."""
    if not role_allows(principal, role):
        raise Forbidden(
            f"this needs the role {role}; you are signed in as {principal.role}",
            needs_role=role,
            role=principal.role,
        )


def _token_hash(token: str) -> str:
    # Session tokens carry 256 random bits: a plain SHA-256 cannot be brute-forced.
    return hashlib.sha256(token.encode()).hexdigest()


async def create_agent(
    session: AsyncSession, *, data: AgentCreate, actor: str, hashing: PasswordHasher | None = None
) -> Agent:
    """A new account (409 when the username is taken); the password is kept only as a hash."""
    agent = Agent(
        username=data.username,
        display_name=data.display_name,
        role=data.role,
        skill_groups=sorted(set(data.skill_groups)),
        languages=list(dict.fromkeys(data.languages)),
        password_hash=(hashing or hasher()).hash(data.password),
        active=True,
        created_at=utcnow(),
    )
    try:
        async with session.begin_nested():
            session.add(agent)
    except IntegrityError:
        raise Conflict(f"the username {data.username} is taken", username=data.username) from None
    await audit.record(
        session,
        actor=actor,
        action="agent.created",
        entity="agent",
        entity_id=str(agent.id),
        changes=AgentProfile.model_validate(agent).model_dump(mode="json"),
    )
    return agent


async def get_all(session: AsyncSession) -> list[Agent]:
    return list(await session.scalars(select(Agent).order_by(Agent.id)))


async def get_page(
    session: AsyncSession, *, page: PageRequest, role: str | None, active: bool | None
) -> tuple[list[Agent], int]:
    """A page of agents with the role and state asked for (all without)."""
    query = select(Agent)
    if role is not None:
        query = query.where(Agent.role == role)
    if active is not None:
        query = query.where(Agent.active.is_(active))
    return await page.fetch(session, query, tiebreak=Agent.id)


async def display_names(session: AsyncSession) -> dict[str, str]:
    """Each agent's actor and display name (to show assignees by name)."""
    rows = await session.execute(select(Agent.username, Agent.display_name))
    return {actor_of(username): name for username, name in rows}


def _password_matches(agent: Agent | None, password: str, hashing: PasswordHasher) -> bool:
    if agent is None:
        hashing.hash(password)  # as slow as a real check: usernames cannot be probed by timing
        return False
    try:
        return hashing.verify(agent.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def sign_in(
    session: AsyncSession,
    *,
    username: str,
    password: str,
    hours: float,
    hashing: PasswordHasher | None = None,
) -> tuple[Agent, str, str]:
    """Check the password and open a session: the agent, the cookie's token and the CSRF token
    (401 on a wrong username or password, without saying which)."""
    agent = await session.scalar(select(Agent).where(Agent.username == username))
    matches = _password_matches(agent, password, hashing or hasher())
    if not matches or agent is None or not agent.active:
        raise Unauthorized("wrong username or password")
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        AgentSession(
            token_hash=_token_hash(token),
            agent_id=agent.id,
            csrf_token=csrf,
            created_at=now,
            expires_at=now + timedelta(hours=hours),
        )
    )
    await session.execute(delete(AgentSession).where(AgentSession.expires_at < now))
    await audit.record(
        session,
        actor=actor_of(agent.username),
        action="agent.signed_in",
        entity="agent",
        entity_id=str(agent.id),
    )
    return agent, token, csrf


async def sign_out(session: AsyncSession, *, token: str, actor: str) -> None:
    await session.execute(delete(AgentSession).where(AgentSession.token_hash == _token_hash(token)))
    await audit.record(
        session, actor=actor, action="agent.signed_out", entity="agent", entity_id=actor
    )


async def session_of(session: AsyncSession, token: str) -> tuple[Agent, AgentSession] | None:
    """The live session of a cookie's token and its agent, or None."""
    row = await session.execute(
        select(Agent, AgentSession)
        .join(AgentSession, AgentSession.agent_id == Agent.id)
        .where(AgentSession.token_hash == _token_hash(token), AgentSession.expires_at > utcnow())
    )
    found = row.first()
    if found is None or not found[0].active:
        return None
    return found[0], found[1]


def principal_of(agent: Agent) -> Principal:
    return Principal(
        actor=actor_of(agent.username),
        scopes=SESSION_SCOPES,
        agent_id=agent.id,
        name=agent.display_name,
        role=agent.role,
    )


async def principal_of_cookie(connection: HTTPConnection) -> Principal | None:
    """The signed-in agent of the request's session cookie (None without one; 401 when it is
    expired or unknown); a changing request must carry the session's CSRF token (403)."""
    token = connection.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    async with services(connection.app).sessions() as session:
        found = await session_of(session, token)
    if found is None:
        raise Unauthorized("your sign-in has expired: sign in again")
    agent, live = found
    method = connection.scope.get("method", "GET")
    if method not in SAFE_METHODS:
        sent = connection.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), live.csrf_token.encode()):
            raise Forbidden(f"missing or wrong {CSRF_HEADER} header (reload the page)")
    return principal_of(agent)
