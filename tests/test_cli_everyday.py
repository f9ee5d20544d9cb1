"""The command line as a new user meets it: bare ``antifake``, a mistyped command, a plain
install without pyarrow."""

from __future__ import annotations

import sys

import pytest

from antifake import cli


def test_bare_antifake_is_a_usage_error(capsys) -> None:
    assert cli.main([]) == 2
    err = capsys.readouterr().err
    assert "usage: antifake" in err and "record" in err and "qr" in err


@pytest.mark.parametrize(("argv", "hint"), [
    (["verfy", "x"], "did you mean 'verify'?"),
    (["recrod"], "did you mean 'record'?"),
    (["record", "shp"], "did you mean 'ship'?"),
    (["trace", "histroy", "x"], "did you mean 'history'?"),
])
def test_mistyped_commands_get_a_suggestion(capsys, argv: list[str], hint: str) -> None:
    assert cli.main(argv) == 2
    assert hint in capsys.readouterr().err


def test_unknown_command_without_a_near_one(capsys) -> None:
    assert cli.main(["zzzzzz"]) == 2
    err = capsys.readouterr().err
    assert "unknown command 'zzzzzz'" in err and "did you mean" not in err


def test_issue_without_pyarrow_writes_csv(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ANTIFAKE_PASSPHRASE", "pw")
    for mod in [m for m in sys.modules if m == "pyarrow" or m.startswith("pyarrow.")]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow -> ImportError
    assert cli.main(["keygen", "--issuer", "T", "-o", "k.key", "--kdf", "interactive",
                     "-q"]) == 0
    capsys.readouterr()
    assert cli.main(["issue", "--key", "k.key", "-n", "5", "--base", "https://v.example",
                     "--name", "b"]) == 0
    err = capsys.readouterr().err
    assert err.count("pip install 'antifake[cli]'") == 1
    assert (tmp_path / "b.csv").is_file() and not (tmp_path / "b.parquet").exists()
    assert len((tmp_path / "b.csv").read_text().splitlines()) == 6
    assert cli.main(["issue", "--key", "k.key", "-n", "5", "--base", "https://v.example",
                     "--format", "parquet"]) == 2
    assert capsys.readouterr().err.count("pip install") == 1


def test_json_dates_are_iso_8601(tmp_path, monkeypatch, capsys) -> None:
    import json

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ANTIFAKE_PASSPHRASE", "pw")
    assert cli.main(["keygen", "--issuer", "T", "-o", "k.key", "--kdf", "interactive",
                     "-q"]) == 0
    capsys.readouterr()
    assert cli.main(["--json", "issue", "--key", "k.key", "-n", "3", "--base",
                     "https://v.example", "--gtin", "09521234543213", "--expiry", "2027-12",
                     "--format", "csv", "--name", "b"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["product"]["expiry"] == "2027-12-31"
    url = (tmp_path / "b.csv").read_text().splitlines()[1].split(",")[1]
    assert "17=271200" in url  # the GS1 form only in the URL
    assert cli.main(["--json", "verify", "--pubkey", "k.pub.json", url]) == 0
    out = json.loads(capsys.readouterr().out)
    stamp = out["results"][0]["stamp"] if "results" in out else out["stamp"]
    assert stamp["expiry"] == "2027-12-31"
