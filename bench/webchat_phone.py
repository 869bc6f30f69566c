"""Benchmark of the web chat socket and the phone transcripts route on a real server.

Starts the whole service on loopback (the bundled demo knowledge base, a fresh SQLite database,
in-process events) and measures, with the customer messages of `bench/data/demo-queries.jsonl`:

- web chat: connect-to-history time; one message's round trip (frame sent -> the bot's `reply`
  frame) one session at a time; throughput with many sessions at once;
- transcripts: parsing alone (JSON, text, WebVTT, SRT of a long call), and `POST /v1/transcripts`
  end to end for short calls built from the demo messages.

Run from the checkout: `python -m bench.webchat_phone [--messages 80] [--sessions 16] [--calls 40]
[--data-dir data/bench] [--out docs/benchmarks/channels-web.md]`. The data dir keeps the trained
NLU model and the search index between runs (the first run trains the NLU model, about a
minute); the database is new every run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
from websockets.asyncio.client import connect

from bot.nlu import load_or_train
from channels.phone.inbound import read_transcript
from core.settings import Settings
from intake_api.app import create_app
from intake_api.services import services
from tests.support.server import running_server

ROOT = Path(__file__).resolve().parents[1]
QUERIES = ROOT / "bench" / "data" / "demo-queries.jsonl"
ADMIN_KEY = "bench-admin-key-0123456789"
RETRIES: list[str] = []  # web chat messages the service was too busy to take at first


def load_queries() -> list[dict]:
    return [json.loads(line) for line in QUERIES.read_text(encoding="utf-8").splitlines() if line]


def spread(items: list[dict], count: int) -> list[dict]:
    """`count` items taken evenly across the file (answers, fallbacks, hand-overs, tickets)."""
    step = max(1, len(items) // max(1, count))
    return items[::step][:count]


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {
        "n": len(ordered),
        "p50": at(0.50) * 1000,
        "p95": at(0.95) * 1000,
        "max": ordered[-1] * 1000,
        "mean": statistics.fmean(ordered) * 1000,
    }


# --- web chat -------------------------------------------------------------------------------


async def _until(socket, *kinds: str) -> dict:  # noqa: ANN001 - websockets connection
    while True:
        frame = json.loads(await socket.recv())
        if frame["type"] in kinds:
            return frame


async def chat_session(url: str, texts: list[str]) -> tuple[float, list[float]]:
    """One visitor: connect (until the history), then each message's round trip."""
    started = time.perf_counter()
    async with connect(url, max_size=2**22) as socket:
        await _until(socket, "history")
        connected = time.perf_counter() - started
        trips = []
        for text in texts:
            sent = time.perf_counter()
            frame = json.dumps({"type": "message", "id": uuid.uuid4().hex, "text": text})
            await socket.send(frame)
            while (await _until(socket, "reply", "error"))["type"] == "error":
                RETRIES.append(text)  # busy: sent again with the same id, as the page does
                await asyncio.sleep(2)
                await socket.send(frame)
            trips.append(time.perf_counter() - sent)
    return connected, trips


async def bench_webchat(base: str, texts: list[str], sessions: int) -> dict:
    url = base.replace("http://", "ws://") + "/chat/ws"
    sequential = [await chat_session(url, [text]) for text in texts]
    per_session = max(1, len(texts) // sessions)
    groups = [texts[i * per_session : (i + 1) * per_session] for i in range(sessions)]
    started = time.perf_counter()
    parallel = await asyncio.gather(*(chat_session(url, group) for group in groups))
    elapsed = time.perf_counter() - started
    return {
        "connect": percentiles([c for c, _ in sequential]),
        "round_trip": percentiles([t for _, trips in sequential for t in trips]),
        "parallel_round_trip": percentiles([t for _, trips in parallel for t in trips]),
        "parallel_messages": sum(len(g) for g in groups),
        "parallel_seconds": elapsed,
        "sessions": sessions,
    }


def bench_messages(base: str, texts: list[str]) -> dict[str, float]:
    """The same messages through `POST /v1/messages`: the bot without the socket."""
    trips = []
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as client:
        for text in texts:
            body = {
                "channel": "bench",
                "sender_id": uuid.uuid4().hex,
                "message_id": uuid.uuid4().hex,
            }
            started = time.perf_counter()
            response = client.post("/v1/messages", json={**body, "text": text}, timeout=60)
            response.raise_for_status()
            assert not response.json()["duplicate"], "each message must run the bot"
            trips.append(time.perf_counter() - started)
    return percentiles(trips)


# --- transcripts ----------------------------------------------------------------------------


def long_call(turns: int) -> list[tuple[str, str]]:
    lines = []
    for n in range(turns):
        speaker = "Customer" if n % 2 else "Agent"
        lines.append((speaker, f"turn {n}: the HX-37 compressor shows A112 again after lunch"))
    return lines


def _stamp(seconds: float, comma: bool = False) -> str:
    whole, millis = int(seconds), int(seconds * 1000) % 1000
    text = f"{whole // 3600:02d}:{whole // 60 % 60:02d}:{whole % 60:02d}.{millis:03d}"
    return text.replace(".", ",") if comma else text


def renderings(turns: list[tuple[str, str]]) -> dict[str, tuple[bytes, str]]:
    """The same call in every accepted format."""
    segments = [
        {"speaker": s.lower(), "text": t, "start": n * 3.0, "end": n * 3.0 + 2.5}
        for n, (s, t) in enumerate(turns)
    ]
    text = "\n".join(f"{s}: {t}" for s, t in turns)
    vtt = "WEBVTT\n\n" + "\n\n".join(
        f"{_stamp(n * 3.0)} --> {_stamp(n * 3.0 + 2.5)}\n<v {s}>{t}"
        for n, (s, t) in enumerate(turns)
    )
    srt = "\n\n".join(
        f"{n + 1}\n{_stamp(n * 3.0, True)} --> {_stamp(n * 3.0 + 2.5, True)}\n{s}: {t}"
        for n, (s, t) in enumerate(turns)
    )
    return {
        "JSON": (json.dumps({"call_id": "c", "segments": segments}).encode(), "application/json"),
        "text": (text.encode(), "text/plain"),
        "WebVTT": (vtt.encode(), "text/vtt"),
        "SRT": (srt.encode(), "application/x-subrip"),
    }


def bench_parsing(turns: int, repeat: int) -> dict[str, float]:
    """Segments parsed per second, per format."""
    results = {}
    for name, (body, content_type) in renderings(long_call(turns)).items():
        started = time.perf_counter()
        for _ in range(repeat):
            read_transcript(body, content_type, "c", None)
        results[name] = turns * repeat / (time.perf_counter() - started)
    return results


def bench_transcripts(base: str, queries: list[dict]) -> dict:
    latencies: dict[str, list[float]] = {}
    actions: dict[str, int] = {}
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as client:
        for n, query in enumerate(queries):
            agent = "您好，请讲。" if query["lang"] == "zh" else "Hello, how can I help?"
            body = {
                "call_id": f"bench-{uuid.uuid4().hex}",
                "segments": [
                    {"speaker": "agent", "text": agent},
                    {"speaker": "customer", "text": query["text"]},
                    {"speaker": "agent", "text": "OK." if query["lang"] == "en" else "好的。"},
                    {"speaker": "customer", "text": "13800000000" if n % 2 else "thanks"},
                ],
            }
            started = time.perf_counter()
            response = client.post("/v1/transcripts", json=body, timeout=60)
            latencies.setdefault("all", []).append(time.perf_counter() - started)
            response.raise_for_status()
            action = response.json()["action"]
            actions[action] = actions.get(action, 0) + 1
    return {"latency": percentiles(latencies["all"]), "actions": actions}


# --- report ---------------------------------------------------------------------------------


def _row(name: str, stats: dict[str, float]) -> str:
    return (
        f"| {name} | {stats['n']} | {stats['p50']:.0f} | {stats['p95']:.0f} | {stats['max']:.0f} |"
    )


def report(chat: dict, parsing: dict[str, float], calls: dict, command: str) -> str:
    rate = chat["parallel_messages"] / chat["parallel_seconds"]
    lines = [
        "## Web chat and phone transcripts",
        "",
        f"`{command}` on {platform.machine()} ({os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f} at the end), Python {platform.python_version()}; the whole "
        "service on loopback: bundled demo KB, fresh SQLite, in-process events, the bundled NLU "
        "model.",
        "",
        "| measure (ms) | n | p50 | p95 | max |",
        "| --- | --- | --- | --- | --- |",
        _row("web chat: connect until history", chat["connect"]),
        _row("web chat: message -> bot reply, one session at a time", chat["round_trip"]),
        _row("same messages by POST /v1/messages (no socket), one at a time", chat["http"]),
        _row(
            f"web chat: message -> bot reply, {chat['sessions']} sessions at once",
            chat["parallel_round_trip"],
        ),
        _row("POST /v1/transcripts (4-turn call) end to end", calls["latency"]),
        "",
        f"- Web chat throughput with {chat['sessions']} concurrent sessions: "
        f"{rate:.1f} messages/s ({chat['parallel_messages']} messages in "
        f"{chat['parallel_seconds']:.1f} s). The bot (NLU, hybrid search, dialogue, one SQLite "
        "transaction) is the time; compare the socket's round trip with `POST /v1/messages`.",
        f"- Web chat messages the service was too busy to take at first (sent again by the "
        f"client with the same id, as the page does): {len(RETRIES)}.",
        "- Transcript parsing alone (segments/s, a 400-turn call): "
        + ", ".join(f"{name} {value:,.0f}" for name, value in parsing.items())
        + ".",
        "- What the benchmark calls made: "
        + ", ".join(f"{action} {count}" for action, count in sorted(calls["actions"].items()))
        + ".",
        "",
    ]
    return "\n".join(lines)


def timed(label: str, step: Callable[[], object]) -> object:
    started = time.perf_counter()
    result = step()
    print(f"{label}: {time.perf_counter() - started:.1f} s")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=80)
    parser.add_argument("--sessions", type=int, default=16)
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--data-dir", type=Path, default=ROOT / "data" / "bench-webchat")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "docs" / "benchmarks" / "channels-web.md"
    )
    args = parser.parse_args()
    queries = load_queries()
    texts = [q["text"] for q in spread(queries, args.messages)]
    with tempfile.TemporaryDirectory() as scratch:
        settings = Settings(
            _env_file=None,
            data_dir=args.data_dir,
            database_url=f"sqlite+aiosqlite:///{scratch}/bench.db",
            admin_key=ADMIN_KEY,
            rate_limit_per_key_per_minute=1_000_000,
            rate_limit_per_sender_per_minute=1_000_000,
        )
        app = create_app(settings)
        services(app).nlu = timed("NLU model", lambda: load_or_train(args.data_dir / "nlu-model"))
        with running_server(app) as base:
            chat = timed("web chat", lambda: asyncio.run(bench_webchat(base, texts, args.sessions)))
            chat["http"] = timed("messages", lambda: bench_messages(base, texts))
            calls = timed(
                "transcripts", lambda: bench_transcripts(base, spread(queries, args.calls))
            )
    parsing = timed("parsing", lambda: bench_parsing(400, 20))
    command = (
        f"python -m bench.webchat_phone --messages {args.messages} --sessions {args.sessions} "
        f"--calls {args.calls}"
    )
    text = report(chat, parsing, calls, command)  # type: ignore[arg-type]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
