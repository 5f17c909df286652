"""The `rasa run` command lines we build are read by Rasa's own argument parser as meant."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.runner import server_commands
from bot.scaleout import rasa_command
from bot.settings import Settings


@pytest.fixture(scope="module")
def rasa_parser():
    from rasa.__main__ import create_argument_parser

    return create_argument_parser()


def test_an_api_token_that_begins_with_a_dash_still_starts_rasa(rasa_parser, tmp_path: Path) -> None:
    # token_urlsafe gives one token in 64 a leading "-": `--auth-token -x…` made argparse stop
    # `rasa run` with "expected one argument" (seen on a fresh var/ in make bench).
    token = "-Xq3_token-from-token_urlsafe"
    _actions, rasa = server_commands(Settings(rasa_api_token=token, var_dir=tmp_path), "m.tar.gz", "e.yml")
    assert rasa_parser.parse_args(rasa[3:]).auth_token == token
    scaled = rasa_command("m.tar.gz", "e.yml", 5005, "127.0.0.1", api_token=token)
    assert rasa_parser.parse_args(scaled[3:]).auth_token == token
