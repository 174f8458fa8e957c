"""`assentd --discord-check`: one harmless message, Discord's answer reported, exit code."""
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools" / "mock-discord"))
from mockctl import MockControl, MockDiscordProcess  # noqa: E402

ASSENTD = Path(os.environ.get("ASSENT_BUILD_DIR", REPO / "build")) / "assentd"
CHANNEL = "1100000000000000001"


def _check(mock, token):
    with tempfile.TemporaryDirectory() as d:
        tok = Path(d, "bot.token")
        tok.write_text(token)
        tok.chmod(0o600)
        return subprocess.run(
            [str(ASSENTD), "--data-dir", d + "/data", "--listen", "tcp://127.0.0.1:0",
             "--discord-api-base", mock.base_url, "--discord-public-key", mock.public_key,
             "--discord-bot-token-file", str(tok), "--discord-channel-id", CHANNEL,
             "--discord-allow-user", "1200000000000000001", "--discord-check"],
            capture_output=True, text=True, timeout=60)


def test_discord_check_posts_one_message_and_reports_success():
    mock = MockDiscordProcess().start()
    try:
        r = _check(mock, mock.bot_token)
        assert r.returncode == 0, r.stderr
        assert "Discord accepted" in r.stdout
        msgs = MockControl(mock.control_url).messages()
        assert len(msgs) == 1, msgs
        assert not msgs[0].get("components"), "a wiring check has no buttons"
    finally:
        mock.stop()


def test_discord_check_reports_a_wrong_token_without_echoing_it():
    mock = MockDiscordProcess().start()
    try:
        r = _check(mock, "not-the-token-0123456789")
        assert r.returncode == 1
        assert "401" in r.stderr and "token" in r.stderr
        assert "not-the-token-0123456789" not in r.stderr + r.stdout
    finally:
        mock.stop()
