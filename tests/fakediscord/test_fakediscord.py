"""Tests of the fake Discord itself, driven by a tiny real discord.py bot."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import discord
import discord.gateway
import discord.http
import pytest
import yarl
from discord import app_commands
from discord.ext import commands

from . import FakeDiscord, Permission, RateLimits, RecordedRequest, Window

BUTTON_ID = "tiny:join"


class JoinView(discord.ui.View):
    """A persistent view: survives restarts because it has no timeout and a fixed id."""

    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.button(label="Join", custom_id=BUTTON_ID, style=discord.ButtonStyle.primary)
    async def join(self, interaction: discord.Interaction, button: discord.ui.Button[Any]) -> None:
        await interaction.response.send_message(f"joined {interaction.user.name}", ephemeral=True)


class TinyBot(commands.Bot):
    """The smallest bot exercising what Parley needs from Discord."""

    def __init__(self, guild_id: int) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=discord.Intents.default(),
            allowed_mentions=discord.AllowedMentions.none(),
            guild_ready_timeout=0.05,
        )
        self.guild_id = guild_id
        self.errors: list[BaseException] = []
        self.thread_events: list[discord.Thread] = []
        self.resumed = asyncio.Event()
        self.tree.on_error = self._on_tree_error
        self._add_commands()

    async def setup_hook(self) -> None:
        self.add_view(JoinView())
        guild = discord.Object(id=self.guild_id)
        self.tree.copy_global_to(guild=guild)
        await self.tree.sync(guild=guild)

    async def _on_tree_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        self.errors.append(getattr(error, "original", error))

    async def on_thread_create(self, thread: discord.Thread) -> None:
        self.thread_events.append(thread)

    async def on_resumed(self) -> None:
        self.resumed.set()

    def _add_commands(self) -> None:
        tree = self.tree

        @tree.command(description="Public answer")
        async def ping(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("pong")

        @tree.command(description="Ephemeral answer")
        async def secret(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("only you", ephemeral=True)

        @tree.command(description="Defer then follow up")
        async def slow(interaction: discord.Interaction) -> None:
            await interaction.response.defer(thinking=True)
            await interaction.followup.send("done thinking")
            await interaction.followup.send("second followup", ephemeral=True)

        @tree.command(description="Post the join panel")
        async def panel(interaction: discord.Interaction) -> None:
            assert isinstance(interaction.channel, discord.TextChannel)
            await interaction.channel.send("Join the session", view=JoinView())
            await interaction.response.send_message("posted", ephemeral=True)

        @tree.command(description="Open a private thread with a user")
        async def huddle(interaction: discord.Interaction, who: discord.Member) -> None:
            assert isinstance(interaction.channel, discord.TextChannel)
            thread = await interaction.channel.create_thread(
                name="huddle", type=discord.ChannelType.private_thread, invitable=False
            )
            await thread.add_user(who)
            await interaction.response.send_message(f"opened {thread.mention}", ephemeral=True)

        @tree.command(description="Try a message that is too long")
        async def shout(interaction: discord.Interaction) -> None:
            assert isinstance(interaction.channel, discord.TextChannel)
            try:
                await interaction.channel.send("x" * 2001)
            except discord.HTTPException as exc:
                await interaction.response.send_message(f"refused {exc.status} {exc.code}")

        @tree.command(description="Upload a file")
        async def report(interaction: discord.Interaction) -> None:
            assert isinstance(interaction.channel, discord.TextChannel)
            data = io.BytesIO(b"team,score\nblue,3\n")
            await interaction.channel.send("the report", file=discord.File(data, "report.csv"))
            await interaction.response.send_message("uploaded", ephemeral=True)

        session = app_commands.Group(name="session", description="Role-play sessions")

        @session.command(name="start", description="Start a session")
        @app_commands.describe(topic="What to negotiate", rounds="Number of rounds")
        async def start(interaction: discord.Interaction, topic: str, rounds: int = 3) -> None:
            await interaction.response.send_message(f"started {topic} x{rounds}")

        @session.command(name="join", description="Join a session")
        async def join(interaction: discord.Interaction, name: str) -> None:
            await interaction.response.send_message(f"joining {name}", ephemeral=True)

        @join.autocomplete("name")
        async def join_autocomplete(
            interaction: discord.Interaction, current: str
        ) -> list[app_commands.Choice[str]]:
            names = ["alpha", "beta", "alpine"]
            return [app_commands.Choice(name=n, value=n) for n in names if n.startswith(current)]

        tree.add_command(session)


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        # What the bot does itself from DISCORD_API_BASE / DISCORD_GATEWAY_URL:
        monkeypatch.setattr(discord.http.Route, "BASE", server.api_base)
        monkeypatch.setattr(
            discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(server.gateway_url)
        )
        yield server
        assert server.unhandled == []
        assert server.server_errors == []


async def run_bot(
    fake: FakeDiscord, *, min_identifies: int = 1
) -> tuple[TinyBot, asyncio.Task[None]]:
    bot = TinyBot(fake.guild.id)
    task = asyncio.create_task(bot.start(fake.token))
    await fake.wait_for_ready(min_identifies=min_identifies, commands=True)
    return bot, task


async def stop_bot(bot: TinyBot, task: asyncio.Task[None]) -> None:
    await bot.close()
    await asyncio.wait_for(task, 2)


@pytest.fixture
async def bot(fake: FakeDiscord) -> AsyncIterator[TinyBot]:
    tiny, task = await run_bot(fake)
    yield tiny
    await stop_bot(tiny, task)


async def until(condition: Callable[[], Any], seconds: float = 2.0) -> Any:
    """Poll bot-side state (the bot's cache has no event we could wait on)."""
    async with asyncio.timeout(seconds):
        while not (result := condition()):
            await asyncio.sleep(0.01)
        return result


async def test_login_and_guild_command_sync(fake: FakeDiscord, bot: TinyBot) -> None:
    """The bot logs in, caches the seeded guild and syncs its commands to it."""
    paths = [(r.method, r.path) for r in fake.requests[:2]]
    assert paths == [("GET", "/users/@me"), ("GET", "/oauth2/applications/@me")]
    synced = {c["name"] for c in fake.synced_commands[fake.guild.id]}
    assert {"ping", "secret", "slow", "panel", "huddle", "session"} <= synced
    assert all(
        c["id"] and c["guild_id"] == str(fake.guild.id) for c in fake.synced_commands[fake.guild.id]
    )
    guild = await until(lambda: bot.get_guild(fake.guild.id))
    assert guild.get_channel(fake.general.id).name == "general"
    assert guild.me.id == fake.bot.id


async def test_slash_public_and_ephemeral(fake: FakeDiscord, bot: TinyBot) -> None:
    """A slash command gets a public response, another an ephemeral one."""
    player = fake.add_player("pat")
    rec = await fake.slash(player, fake.general, "ping")
    assert rec.callback_type == 4 and rec.content == "pong" and not rec.ephemeral
    public = fake.message(rec.original_message_id)
    assert public in fake.channel_messages(fake.general) and public.type == 20

    rec = await fake.slash(player, fake.general, "secret")
    assert rec.callback_type == 4 and rec.ephemeral and rec.content == "only you"
    assert fake.message(rec.original_message_id) not in fake.channel_messages(fake.general)


async def test_subcommand_options(fake: FakeDiscord, bot: TinyBot) -> None:
    """Subcommand options are typed from the synced schema and reach the bot."""
    facilitator = fake.add_facilitator("fran")
    rec = await fake.slash(
        facilitator, fake.general, "session start", {"topic": "water", "rounds": 2}
    )
    assert rec.content == "started water x2"
    member = rec.payload["member"]
    assert int(member["permissions"]) & Permission.MANAGE_GUILD
    player = fake.add_player("pat")
    rec = await fake.slash(player, fake.general, "session start", {"topic": "land"})
    assert not int(rec.payload["member"]["permissions"]) & Permission.MANAGE_GUILD
    with pytest.raises(ValueError, match="required"):
        await fake.slash(player, fake.general, "session start", {})


async def test_defer_and_followup(fake: FakeDiscord, bot: TinyBot) -> None:
    """A deferred response is completed by the first follow-up; later ones are new messages."""
    rec = await fake.slash(fake.add_player(), fake.general, "slow")
    assert rec.callback_type == 5
    await until(lambda: len(rec.followups) == 2)
    original = fake.message(rec.original_message_id)
    assert original.content == "done thinking" and not original.loading
    assert rec.followups[0] is original
    assert rec.followups[1].ephemeral and rec.followups[1].content == "second followup"


async def test_button_on_persistent_view(fake: FakeDiscord, bot: TinyBot) -> None:
    """Buttons work on a freshly posted panel and on one posted before this process started."""
    user = fake.add_player("bo")
    await fake.slash(user, fake.general, "panel")
    panel = await fake.wait_for_message(fake.general, lambda m: m.content == "Join the session")
    assert panel.find_component(BUTTON_ID) is not None
    rec = await fake.click(user, panel, BUTTON_ID)
    assert rec.callback_type == 4 and rec.ephemeral and rec.content == "joined bo"

    # Only the persistent view registered in setup_hook() can answer this one.
    button = {"type": 2, "style": 1, "label": "Join", "custom_id": BUTTON_ID}
    old_panel = fake.add_message(
        fake.general, "Join", components=[{"type": 1, "components": [button]}]
    )
    rec = await fake.click(user, old_panel, BUTTON_ID)
    assert rec.content == "joined bo"
    with pytest.raises(ValueError, match="no component"):
        await fake.click(user, old_panel, "does-not-exist")


async def test_autocomplete(fake: FakeDiscord, bot: TinyBot) -> None:
    """Autocomplete on a subcommand option returns the bot's choices."""
    rec = await fake.autocomplete(
        fake.add_player(), fake.general, "session join", {"name": "al"}, "name"
    )
    assert rec.callback_type == 8
    assert [c["value"] for c in rec.choices] == ["alpha", "alpine"]


async def test_second_callback_is_refused_with_40060(fake: FakeDiscord, bot: TinyBot) -> None:
    """Delivering the same interaction twice makes the second callback fail with 40060."""
    first = await fake.slash(fake.add_player(), fake.general, "ping")
    again = await fake.interaction(first.payload)
    assert again is first
    assert first.attempts == [(4, 200), (4, 400)]
    await until(lambda: bot.errors)
    error = bot.errors[0]
    assert isinstance(error, discord.HTTPException) and error.code == 40060


async def test_private_thread_arrives_with_thread_create(fake: FakeDiscord, bot: TinyBot) -> None:
    """Creating a private thread records it and sends THREAD_CREATE so discord.py caches it."""
    player = fake.add_player("pia")
    rec = await fake.slash(fake.add_facilitator(), fake.general, "huddle", {"who": player})
    thread = fake.thread_named("huddle")
    assert thread.type == 12 and thread.parent_id == fake.general.id and not thread.invitable
    assert set(thread.thread_members) == {fake.bot.id, player.id}
    assert rec.content == f"opened <#{thread.id}>"
    cached = await until(lambda: bot.get_guild(fake.guild.id).get_thread(thread.id))
    assert cached.type is discord.ChannelType.private_thread
    assert [t.id for t in bot.thread_events] == [thread.id]


async def test_too_long_message_is_refused(fake: FakeDiscord, bot: TinyBot) -> None:
    """A 2001-character message is refused with 400 / 50035 like real Discord."""
    rec = await fake.slash(fake.add_player(), fake.general, "shout")
    assert rec.content == "refused 400 50035"
    refused = next(r for r in fake.requests if r.status == 400)
    assert refused.response["errors"]["content"]["_errors"][0]["code"] == "BASE_TYPE_MAX_LENGTH"


async def test_multipart_upload_is_recorded(fake: FakeDiscord, bot: TinyBot) -> None:
    """A file sent with a message is recorded with its name, content type and bytes."""
    await fake.slash(fake.add_player(), fake.general, "report")
    request = await fake.wait_for(lambda r: isinstance(r, RecordedRequest) and bool(r.files))
    assert isinstance(request, RecordedRequest) and request.json["content"] == "the report"
    msg = await fake.wait_for_message(fake.general, lambda m: m.content == "the report")
    (upload,) = msg.files
    assert upload.filename == "report.csv" and upload.data == b"team,score\nblue,3\n"
    assert upload.content_type == "application/octet-stream"  # what discord.py sends
    assert upload.guessed_content_type == "text/csv"
    assert msg.attachments[0]["filename"] == "report.csv"
    assert msg.attachments[0]["content_type"] == "text/csv"


async def test_reconnect_after_client_closes(fake: FakeDiscord) -> None:
    """A new client after a close gets READY + GUILD_CREATE with current state (threads too)."""
    first, task = await run_bot(fake)
    await fake.slash(fake.add_facilitator(), fake.general, "huddle", {"who": fake.add_player()})
    thread = fake.thread_named("huddle")
    await stop_bot(first, task)

    second, task = await run_bot(fake, min_identifies=2)
    try:
        assert fake.identify_count == 2
        guild = await until(lambda: second.get_guild(fake.guild.id))
        assert guild.get_thread(thread.id) is not None
        rec = await fake.slash(fake.add_player(), fake.general, "ping")
        assert rec.content == "pong"
    finally:
        await stop_bot(second, task)


async def test_resume_after_disconnect(fake: FakeDiscord, bot: TinyBot) -> None:
    """After the gateway drops the connection the client RESUMEs and gets missed events."""
    await fake.disconnect_bot(code=4000)
    await asyncio.wait_for(bot.resumed.wait(), 2)
    assert fake.identify_count == 1
    assert any(f["op"] == 6 for f in fake.gateway_received)
    rec = await fake.slash(fake.add_player(), fake.general, "ping")
    assert rec.content == "pong"


async def test_unknown_route_is_logged(fake: FakeDiscord, bot: TinyBot) -> None:
    """A route the fake does not know answers 404 and is listed in ``unhandled``."""
    with pytest.raises(discord.NotFound):
        await bot.http.request(discord.http.Route("GET", "/guilds/{guild_id}/bans", guild_id=1))
    assert fake.unhandled == ["GET /guilds/1/bans"]
    fake.unhandled.clear()


SUBPROCESS_BOT = """
import os, discord, yarl
from discord import app_commands

discord.http.Route.BASE = os.environ["DISCORD_API_BASE"]
discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(os.environ["DISCORD_GATEWAY_URL"])
client = discord.Client(
    intents=discord.Intents.default(),
    allowed_mentions=discord.AllowedMentions.none(),
    guild_ready_timeout=0.05,
)
tree = app_commands.CommandTree(client)

@tree.command(description="Which process answers")
async def pid(interaction: discord.Interaction) -> None:
    await interaction.response.send_message(str(os.getpid()))

async def setup_hook() -> None:
    await tree.sync()

client.setup_hook = setup_hook
client.run(os.environ["DISCORD_TOKEN"], log_handler=None)
"""


async def start_subprocess_bot(fake: FakeDiscord) -> asyncio.subprocess.Process:
    env = {**os.environ, **fake.env()}
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", SUBPROCESS_BOT, env=env, stdin=asyncio.subprocess.DEVNULL
    )


async def test_subprocess_bot_survives_sigkill_restart(fake: FakeDiscord) -> None:
    """A bot subprocess is SIGKILLed and restarted against the same fake."""
    proc = await start_subprocess_bot(fake)
    try:
        await fake.wait_for_ready(commands=True)
        assert fake.synced_commands[None][0]["name"] == "pid"
        rec = await fake.slash(fake.add_player(), fake.general, "pid")
        assert rec.content == str(proc.pid)
    finally:
        proc.send_signal(signal.SIGKILL)
        await proc.wait()

    before = fake.identify_count
    proc = await start_subprocess_bot(fake)
    try:
        await fake.wait_for_ready(min_identifies=before + 1, commands=True)
        rec = await fake.slash(fake.add_player(), fake.general, "pid")
        assert rec.content == str(proc.pid)
    finally:
        proc.send_signal(signal.SIGKILL)
        await proc.wait()


# -- shards -------------------------------------------------------------------------------


class ShardBot(commands.AutoShardedBot):
    """A sharded bot that says which client answered (two run side by side in one test)."""

    def __init__(self, label: str, **shards: Any) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=discord.Intents.default(),
            allowed_mentions=discord.AllowedMentions.none(),
            guild_ready_timeout=0.05,
            **shards,
        )
        self.label = label
        self.channels_created: list[int] = []
        self.direct_messages: list[str] = []

        @self.tree.command(description="Which client answers")
        async def who(interaction: discord.Interaction) -> None:
            await interaction.response.send_message(self.label)

    async def setup_hook(self) -> None:
        await self.tree.sync()

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """No 5 s pause between shards: the fake does not rate-limit identifies."""

    async def on_guild_channel_create(self, channel: discord.abc.GuildChannel) -> None:
        self.channels_created.append(channel.id)

    async def on_message(self, message: discord.Message) -> None:
        if message.guild is None:
            self.direct_messages.append(message.content)


async def start_shard_bot(
    fake: FakeDiscord, label: str, **shards: Any
) -> tuple[ShardBot, asyncio.Task[None]]:
    bot = ShardBot(label, **shards)
    return bot, asyncio.create_task(bot.start(fake.token))


async def test_gateway_bot_recommends_shards_and_limits_sessions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """GET /gateway/bot gives the url, the recommended shards and the session start limit;
    a sharded client without a count connects that many shards."""
    async with FakeDiscord(recommended_shards=2, max_concurrency=4) as fake:
        # Only REST points at the fake: the gateway's url comes from GET /gateway/bot.
        monkeypatch.setattr(discord.http.Route, "BASE", fake.api_base)
        nowhere = yarl.URL("ws://127.0.0.1:9/nowhere")
        monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", nowhere)
        bot, task = await start_shard_bot(fake, "auto")
        try:
            await fake.wait_for_shards(2, commands=True)
            assert fake.live_shards == [(0, 2), (1, 2)]
            assert bot.shard_count == 2
            shards, url, limit = await bot.http.get_bot_gateway()
            assert (shards, url) == (2, fake.gateway_url)
            assert limit["max_concurrency"] == 4
            assert limit["remaining"] == limit["total"] - 2 and limit["reset_after"] > 0
            await until(lambda: bot.get_guild(fake.guild.id))
        finally:
            await stop_bot(bot, task)  # type: ignore[arg-type]
        assert fake.unhandled == [] and fake.server_errors == []


async def test_each_shard_gets_only_its_guilds(fake: FakeDiscord) -> None:
    """Sharded sessions get READY, GUILD_CREATE, guild events and interactions only for the
    guilds of their shard (shard = (guild_id >> 22) % count); DMs go to shard 0."""
    other = fake.add_guild("Annex", shard=(1 - fake.shard_of(fake.guild, 2), 2))
    annex = fake.add_channel("annex", guild=other)
    # by shard: the guild, a channel in it and a member of it
    on = {fake.shard_of(g, 2): g for g in (fake.guild, other)}
    assert set(on) == {0, 1}
    room = {fake.shard_of(g, 2): c for g, c in ((fake.guild, fake.general), (other, annex))}
    member = {
        fake.shard_of(fake.guild, 2): fake.add_player("pat"),
        fake.shard_of(other, 2): fake.add_user("ann", guild=other),
    }
    first, first_task = await start_shard_bot(fake, "first", shard_count=2, shard_ids=[0])
    second, second_task = await start_shard_bot(fake, "second", shard_count=2, shard_ids=[1])
    try:
        await fake.wait_for_shards(2, commands=True)
        await until(lambda: first.guilds and second.guilds)
        assert [g.id for g in first.guilds] == [on[0].id]
        assert [g.id for g in second.guilds] == [on[1].id]
        readies = [f["d"] for f in fake.gateway_received if f["op"] == 2]
        assert sorted(tuple(d["shard"]) for d in readies) == [(0, 2), (1, 2)]
        for shard, label in ((0, "first"), (1, "second")):
            rec = await fake.slash(member[shard], room[shard], "who")
            assert rec.content == label and rec.shard == (shard, 2)

        # a channel created in a guild reaches that guild's shard only; a DM reaches shard 0
        made = await first.get_guild(on[0].id).create_text_channel("made-here")  # type: ignore[union-attr]
        dm = await second.create_dm(discord.Object(id=member[1].id))
        await fake.post_user_message(member[1], fake.channel(dm.id), "hello")
        await until(lambda: made.id in first.channels_created and first.direct_messages)
        # a barrier: second answers after reading every frame sent to it before
        rec = await fake.slash(member[1], room[1], "who")
        assert rec.content == "second"
        assert made.id not in second.channels_created and second.direct_messages == []
        assert first.get_channel(made.id) is not None and second.get_channel(made.id) is None
        assert first.direct_messages == ["hello"]
    finally:
        await stop_bot(second, second_task)  # type: ignore[arg-type]
        await stop_bot(first, first_task)  # type: ignore[arg-type]


async def test_an_interaction_goes_to_the_newest_session_of_its_shard(fake: FakeDiscord) -> None:
    """With an unsharded session and a newer session of another shard connected, a guild's
    interaction goes to the newest session that gets that guild, never to the other shard."""
    plain, plain_task = await run_bot(fake)
    own = fake.shard_of(fake.guild, 2)
    elsewhere, task = await start_shard_bot(fake, "elsewhere", shard_count=2, shard_ids=[1 - own])
    try:
        await fake.wait_for_shards(2, [1 - own])
        rec = await fake.slash(fake.add_player(), fake.general, "ping")
        assert rec.content == "pong"  # the plain bot answered: the newer one is not its shard
        mine, mine_task = await start_shard_bot(fake, "mine", shard_count=2, shard_ids=[own])
        try:
            await fake.wait_for_shards(2, [own])
            rec = await fake.slash(fake.add_player(), fake.general, "who")
            assert rec.content == "mine"
        finally:
            await stop_bot(mine, mine_task)  # type: ignore[arg-type]
    finally:
        await stop_bot(elsewhere, task)  # type: ignore[arg-type]
        await stop_bot(plain, plain_task)


async def test_a_shard_out_of_range_is_refused(fake: FakeDiscord) -> None:
    """IDENTIFY with ``shard: [2, 2]`` is closed with 4010 (invalid shard), as on Discord."""
    from aiohttp import ClientSession

    async with ClientSession() as http, http.ws_connect(fake.gateway_url) as ws:
        hello = await ws.receive_json()
        assert hello["op"] == 10
        identify = {"token": fake.token, "intents": 1, "properties": {}, "shard": [2, 2]}
        await ws.send_json({"op": 2, "d": identify})
        closing = await ws.receive()
        assert closing.type.name in ("CLOSE", "CLOSED") and ws.close_code == 4010
    assert fake.identify_count == 0


# -- rate limits ---------------------------------------------------------------------------

MESSAGES = ("POST", "/channels/{channel_id}/messages")


async def test_a_burst_over_a_channel_limit_gets_429_with_what_discord_sends(
    fake: FakeDiscord,
) -> None:
    """Past a channel's window the fake answers 429 (retry_after, Via, scope) and posts
    nothing; the answers before it carry the bucket's headers."""
    fake.rate_limits = RateLimits(routes={MESSAGES: Window(3, 60.0)}, global_=None)
    url = f"{fake.api_base}/channels/{fake.general.id}/messages"
    headers = {"Authorization": f"Bot {fake.token}"}
    async with aiohttp.ClientSession() as http:
        answers = []
        for n in range(5):
            async with http.post(url, json={"content": f"m{n}"}, headers=headers) as answer:
                answers.append((answer.status, dict(answer.headers), await answer.json()))
    assert [status for status, _, _ in answers] == [200, 200, 200, 429, 429]
    assert [h["X-RateLimit-Remaining"] for _, h, _ in answers[:3]] == ["2", "1", "0"]
    assert {h["X-RateLimit-Limit"] for _, h, _ in answers[:3]} == {"3"}
    _, refused, body = answers[3]
    assert body["global"] is False and 0 < body["retry_after"] <= 60
    assert refused["Via"] and refused["X-RateLimit-Scope"] == "user"
    assert [m.content for m in fake.messages[fake.general.id]] == ["m0", "m1", "m2"]
    assert len(fake.rate_limited) == 2


async def test_discord_py_waits_out_a_channel_limit_from_its_headers(
    fake: FakeDiscord, bot: TinyBot
) -> None:
    """discord.py reads the bucket's headers and waits, so a burst of sends is never refused
    and every message arrives."""
    fake.rate_limits = RateLimits(routes={MESSAGES: Window(3, 0.2)}, global_=None)
    channel = await until(lambda: bot.get_channel(fake.general.id))
    await asyncio.gather(*(channel.send(f"m{n}") for n in range(8)))
    assert sorted(m.content for m in fake.messages[fake.general.id]) == [f"m{n}" for n in range(8)]
    assert fake.rate_limited == []


async def test_the_global_limit_is_learned_from_429_and_spares_interactions(
    fake: FakeDiscord, bot: TinyBot
) -> None:
    """Over the global limit discord.py gets 429 "global", waits and retries, losing no
    message; an interaction's answer is outside that limit and goes through meanwhile."""
    fake.rate_limits = RateLimits(routes={}, global_=Window(2, 0.3))
    channel = await until(lambda: bot.get_channel(fake.general.id))
    sends = asyncio.gather(*(channel.send(f"m{n}") for n in range(6)))
    await fake.wait_for(lambda r: isinstance(r, RecordedRequest) and r.status == 429)
    rec = await fake.slash(fake.add_player(), fake.general, "ping")
    assert rec.content == "pong"
    await sends
    assert sorted(m.content for m in fake.messages[fake.general.id] if m.content != "pong") == [
        f"m{n}" for n in range(6)
    ]
    assert fake.rate_limited and all(line.endswith("(global)") for line in fake.rate_limited)
    assert not any("/interactions/" in line for line in fake.rate_limited)


# -- failures asked for ----------------------------------------------------------------------


async def test_a_failure_asked_for_answers_one_request_of_its_route_and_does_nothing(
    fake: FakeDiscord, bot: TinyBot
) -> None:
    """fail_next: the request of the route `when` picks gets the status in Discord's format
    (discord.py raises it, no retry) and changes nothing; the next one goes through."""
    other = fake.add_channel("other")
    fake.fail_next(*MESSAGES, when=lambda params: params["channel_id"] == str(fake.general.id))
    channel = await until(lambda: bot.get_channel(fake.general.id))
    await bot.get_partial_messageable(other.id).send("not picked")
    with pytest.raises(discord.DiscordServerError) as refused:
        await channel.send("lost")
    assert refused.value.status == 503 and "Service Unavailable" in refused.value.text
    await channel.send("kept")
    assert [m.content for m in fake.messages[fake.general.id]] == ["kept"]
    assert fake.failed == [f"POST /channels/{fake.general.id}/messages"]
    fake.fail_next(*MESSAGES, status=403, code=50013)
    with pytest.raises(discord.Forbidden) as forbidden:
        await channel.send("refused")
    assert forbidden.value.code == 50013
    with pytest.raises(ValueError, match="no route"):
        fake.fail_next("POST", "/channels/{channel_id}/mesages")
