"""The ``antifake`` command: every command in a temporary directory, in-process through
``cli.main`` and as a real subprocess; JSON output, exit codes, and no secret on any output."""

from __future__ import annotations

import csv
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import antifake as af
from antifake import cli

PASS = "correct horse battery staple 42"
BASE = "https://xacthuc.example.vn/abc"
# subprocesses import the very antifake under test (installed, or the source tree built in place)
PKG_PARENT = str(Path(af.__file__).resolve().parents[1])

pytest.importorskip("segno")
pytest.importorskip("zxingcpp")
pytest.importorskip("PIL")
pytest.importorskip("pyarrow")

OUTPUTS: list[str] = []  # every stdout/stderr seen, checked for secrets at the end


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    OUTPUTS.extend([out, err])
    return code, out, err


def run_json(capsys, *argv: str) -> tuple[int, dict]:
    code, out, err = run(capsys, "--json", *argv)
    return code, json.loads(out)


def sub(*argv: str, cwd: Path, env: dict | None = None, stdin: int | None = None
        ) -> subprocess.CompletedProcess[str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = PKG_PARENT + os.pathsep + e.get("PYTHONPATH", "")
    e.update(env or {})
    p = subprocess.run([sys.executable, "-m", "antifake.cli", *argv], cwd=cwd, env=e,
                       capture_output=True, text=True, timeout=120,
                       stdin=stdin if stdin is not None else subprocess.DEVNULL)
    OUTPUTS.extend([p.stdout, p.stderr])
    return p


@pytest.fixture(scope="module")
def issued(tmp_path_factory):
    """keygen + issue (plain, with PNG QR images) + issue (GS1, SVG) once for the module."""
    d = tmp_path_factory.mktemp("cli")
    old = os.getcwd()
    os.chdir(d)
    os.environ["ANTIFAKE_PASSPHRASE"] = PASS
    try:
        assert cli.main(["keygen", "--issuer", "VN-QLTT-01", "-o", "issuer.key",
                         "--kdf", "interactive", "--key-id", "4242"]) == 0
        assert cli.main(["issue", "--key", "issuer.key", "-n", "40", "--base", BASE,
                         "--out-dir", "out", "--qr-dir", "qr", "--jobs", "1",
                         "--chunk-size", "16"]) == 0
        assert cli.main(["issue", "--key", "issuer.key", "-n", "6", "--base", BASE,
                         "--gtin", "09521234543213", "--lot", "L23", "--expiry", "2027-12-31",
                         "--out-dir", "out", "--qr-dir", "qr-gs1", "--qr-format", "svg",
                         "--jobs", "1"]) == 0
    finally:
        os.environ.pop("ANTIFAKE_PASSPHRASE", None)
        os.chdir(old)
    return d, read_csv(d / "out" / "batch-4242-0.csv"), read_csv(d / "out" / "batch-4242-1.csv")


@pytest.fixture
def env(issued, monkeypatch):
    d, rows, gs1 = issued
    monkeypatch.chdir(d)
    monkeypatch.setenv("ANTIFAKE_PASSPHRASE", PASS)
    return d, rows, gs1


RING = ["--pubkey", "issuer.pub.json", "--manifest", "out/batch-4242-0.manifest",
        "--manifest", "out/batch-4242-1.manifest"]


# ---------------------------------------------------------------------------------------
def test_help_lists_commands_and_exit_codes(capsys) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for c in ("keygen", "pubkey", "issue", "verify", "register", "import-epcis", "export-epcis",
              "trace", "detect", "check-listing", "bench", "demo", "exit codes"):
        assert c in out
    assert run(capsys, "--version")[0] == 0
    code, _, err = run(capsys)  # bare antifake: the usage, as a usage error
    assert code == 2 and "usage" in err
    for c in ("keygen", "issue", "verify", "trace", "bench"):
        assert run(capsys, c, "--help")[0] == 0


def test_keygen_files(env, capsys) -> None:
    d, _, _ = env
    key = d / "issuer.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    info = json.loads(key.read_text())
    assert "sealed" in info and "secret" not in info and info["key_id"] == 4242
    pub = af.IssuerPublicKey.from_json((d / "issuer.pub.json").read_text())
    assert pub.issuer == "VN-QLTT-01" and pub.key_id == 4242
    # never overwrite a key silently
    code, _, err = run(capsys, "keygen", "--issuer", "X", "-o", "issuer.key")
    assert code == 3 and "exists" in err
    # JSON output
    code, res = run_json(capsys, "keygen", "--issuer", "ACME", "-o", "acme.key",
                         "--kdf", "interactive", "--valid-until", "2099-01-01T00:00:00Z")
    assert code == 0 and res["sealed"] and res["issuer"] == "ACME"
    assert Path(res["public_file"]).name == "acme.pub.json"
    assert res["valid_until"].startswith("2099-01-01")
    assert af.IssuerKey.load("acme.key", passphrase=PASS.encode()).issuer == "ACME"
    # bad issuer name: a key error
    code, _, err = run(capsys, "keygen", "--issuer", "bad issuer!", "-o", "b.key")
    assert code == 3 and "issuer must be" in err


def test_keygen_passphrase_sources(env, capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("ANTIFAKE_PASSPHRASE")
    pf = tmp_path / "pw.txt"
    pf.write_text("from a file\n")
    assert run(capsys, "keygen", "--issuer", "F", "-o", str(tmp_path / "f.key"),
               "--passphrase-file", str(pf), "--kdf", "interactive")[0] == 0
    af.IssuerKey.load(tmp_path / "f.key", passphrase=b"from a file")
    assert run(capsys, "pubkey", str(tmp_path / "f.key"), "--passphrase-file", str(pf))[0] == 0
    # no passphrase anywhere and no terminal: usage error with what to do
    p = sub("keygen", "--issuer", "G", "-o", str(tmp_path / "g.key"), cwd=tmp_path,
            env={"ANTIFAKE_PASSPHRASE": ""})
    assert p.returncode == 2
    assert "--passphrase-file" in p.stderr and "Traceback" not in p.stderr
    assert not (tmp_path / "g.key").exists()
    # explicitly unsealed
    assert run(capsys, "keygen", "--issuer", "U", "-o", str(tmp_path / "u.key"),
               "--no-passphrase")[0] == 0
    assert "secret" in json.loads((tmp_path / "u.key").read_text())
    # the passphrase is never an argument
    code, _, err = run(capsys, "keygen", "--issuer", "H", "--passphrase", "x")
    assert code == 2


def test_pubkey(env, capsys) -> None:
    d, _, _ = env
    code, out, _ = run(capsys, "pubkey", "issuer.key")
    assert code == 0
    assert json.loads(out) == json.loads((d / "issuer.pub.json").read_text())
    code, res = run_json(capsys, "pubkey", "issuer.pub.json")
    assert code == 0 and res["key_id"] == 4242


def test_issue_outputs(env) -> None:
    import pyarrow.parquet as pq

    d, rows, gs1 = env
    out = d / "out"
    for name in ("batch-4242-0.parquet", "batch-4242-0.csv"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o600  # PINs inside
    t = pq.read_table(out / "batch-4242-0.parquet")
    assert t.column_names == ["index", "url", "number", "pin"]
    assert t.num_rows == 40 and t.column("index").to_pylist() == list(range(40))
    assert [r["url"] for r in rows] == t.column("url").to_pylist()
    assert [r["pin"] for r in rows] == t.column("pin").to_pylist()
    assert len({r["url"] for r in rows}) == 40
    first = (out / "batch-4242-0.csv").read_text().splitlines()[:2]
    assert first == ["index,url,number,pin", ",".join(["0", *list(rows[0].values())[1:]])]
    # the batch file and manifest agree with the print file, across the 3 chunks
    key = af.IssuerKey.load(d / "issuer.key", passphrase=PASS.encode())
    b = af.Batch.load(out / "batch-4242-0.npz", key=key)
    assert b.urls(BASE).tolist() == [r["url"] for r in rows]
    assert b.pins().tolist() == [r["pin"] for r in rows]
    assert b.numbers().tolist() == [r["number"] for r in rows]
    m = af.Manifest.load(out / "batch-4242-0.manifest")
    assert m.count == 40 and m.batch_id == 0
    # the key file remembers the batch ids it gave out
    assert key.next_batch == 2
    assert len(list((d / "qr").glob("*.png"))) == 40
    assert len(list((d / "qr-gs1").glob("*.svg"))) == 6
    assert "/01/09521234543213/10/L23/21/" in gs1[0]["url"] and "17=271231" in gs1[0]["url"]


def test_issue_json_and_refusals(env, capsys, tmp_path) -> None:
    code, res = run_json(capsys, "issue", "--key", "issuer.key", "-n", "3", "--base", BASE,
                         "--out-dir", str(tmp_path), "--format", "csv", "--name", "small")
    assert code == 0 and res["count"] == 3 and res["batch_id"] >= 2
    assert set(res["files"]) == {"csv", "manifest", "batch"}
    # the same name again: refused, nothing overwritten
    code, _, err = run(capsys, "issue", "--key", "issuer.key", "-n", "3", "--base", BASE,
                       "--out-dir", str(tmp_path), "--format", "csv", "--name", "small")
    assert code == 3 and "exists" in err
    bad = [
        (["--lot", "L1"], "--gtin"),
        (["--gtin", "123"], "GTIN"),
        (["--format", "xlsx"], "--format"),
        (["-n", "0"], "at least 1"),
    ]
    for extra, msg in bad:
        code, _, err = run(capsys, "issue", "--key", "issuer.key", "-n", "3", "--base", BASE,
                           "--out-dir", str(tmp_path), *extra)
        assert code == 2 and msg in err, (extra, err)
    code, _, err = run(capsys, "issue", "--key", "issuer.key", "-n", "3", "--base",
                       "xacthuc.example.vn", "--out-dir", str(tmp_path))
    assert code == 2 and "scheme" in err
    code, _, err = run(capsys, "issue", "--key", "issuer.pub.json", "-n", "3", "--base", BASE)
    assert code == 3 and "public key" in err


def test_csv_print_file_without_pyarrow(env, capsys, tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow -> ImportError
    code, _, err = run(capsys, "issue", "--key", "issuer.key", "-n", "5", "--base", BASE,
                       "--out-dir", str(tmp_path / "default"))
    assert code == 0 and "CSV print file only" in err  # the default works on a plain install
    assert [p.suffix for p in (tmp_path / "default").glob("*.csv")] == [".csv"]
    code, _, err = run(capsys, "issue", "--key", "issuer.key", "-n", "5", "--base", BASE,
                       "--out-dir", str(tmp_path), "--format", "parquet")
    assert code == 2 and "--format csv" in err  # Parquet needs pyarrow: says what to do
    code, res = run_json(capsys, "issue", "--key", "issuer.key", "-n", "5", "--base", BASE,
                         "--out-dir", str(tmp_path), "--format", "csv")
    assert code == 0
    path = Path(res["files"]["csv"])
    lines = path.read_text().splitlines()
    assert lines[0] == "index,url,number,pin" and len(lines) == 6
    key = af.IssuerKey.load("issuer.key", passphrase=PASS.encode())
    b = af.Batch.load(res["files"]["batch"], key=key)
    assert lines[1:] == [f"{i},{u},{n},{p}" for i, (u, n, p) in
                         enumerate(zip(b.urls(BASE), b.numbers(), b.pins()))]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_verify_codes_file_and_csv(env, capsys, tmp_path) -> None:
    d, rows, gs1 = env
    f = tmp_path / "codes.txt"
    f.write_text("\n".join(r["url"] for r in rows + gs1) + "\n\n")
    code, out, _ = run(capsys, "verify", *RING, "--file", str(f))
    assert code == 0 and "46 codes: AUTHENTIC 46" in out
    code, res = run_json(capsys, "verify", *RING, "--file", str(f))
    assert code == 0 and res["ok"] and res["counts"] == {"AUTHENTIC": 46}
    assert res["results"][0]["source"] == "codes.txt:1"
    # a CSV: the print file itself (column picked by name), or an explicit column
    code, res = run_json(capsys, "verify", *RING, "--file", "out/batch-4242-0.csv")
    assert code == 0 and res["total"] == 40
    listings = tmp_path / "listings.csv"
    with open(listings, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["seller", "stamp code"])
        w.writerow(["SHOP-1", rows[0]["url"].upper().replace("HTTPS://", "")])
        w.writerow(["SHOP-2", "not a code"])
    code, res = run_json(capsys, "verify", *RING, "--file", str(listings),
                         "--column", "stamp code", "--out", str(tmp_path / "res.csv"))
    assert code == 1 and res["counts"] == {"AUTHENTIC": 1, "MALFORMED": 1}
    assert res["results"][1]["reason"]  # reasons for rows that failed
    back = read_csv(tmp_path / "res.csv")
    assert [r["status"] for r in back] == ["AUTHENTIC", "MALFORMED"]
    code, _, err = run(capsys, "verify", *RING, "--file", str(listings), "--column", "nope")
    assert code == 2 and "no column" in err


def test_verify_images(env, capsys, tmp_path) -> None:
    d, rows, _ = env
    imgs = sorted((d / "qr").glob("*.png"))[:3]
    code, res = run_json(capsys, "verify", *RING, *sum((["--image", str(p)] for p in imgs), []))
    assert code == 0 and res["counts"] == {"AUTHENTIC": 3}
    assert res["results"][0]["input"] == rows[0]["url"].upper()
    assert res["results"][0]["stamp"]["index"] == 0
    # a photo with no QR code: input error with a hint; nothing else wrong -> 2
    from PIL import Image

    blank = tmp_path / "blank.png"
    Image.new("L", (200, 200), 255).save(blank)
    code, out, err = run(capsys, "verify", *RING, "--image", str(imgs[0]), "--image", str(blank))
    assert code == 2 and "no QR code" in err and "AUTHENTIC" in out
    # a QR code of a forged stamp wins over the unreadable one -> 1
    from antifake import qr

    url = rows[1]["url"]
    forged = tmp_path / "forged.png"
    qr.render(url[:-10] + ("0" if url[-10] != "0" else "1") + url[-9:], path=forged)
    code, res = run_json(capsys, "verify", *RING, "--image", str(forged), "--image", str(blank))
    assert code == 1 and res["counts"] == {"BAD_SIGNATURE": 1} and res["errors"]


def test_verify_exit_codes(env, capsys, tmp_path) -> None:
    d, rows, _ = env
    url = rows[2]["url"]
    code, out, _ = run(capsys, "verify", *RING, url)
    assert code == 0 and out.startswith("AUTHENTIC")
    forged = url[:-30] + ("0" if url[-30] != "0" else "1") + url[-29:]
    code, res = run_json(capsys, "verify", *RING, url, forged)
    assert code == 1
    assert [r["status"] for r in res["results"]] == ["AUTHENTIC", "BAD_SIGNATURE"]
    assert res["exit_code"] == 1 and not res["ok"]
    # usage errors -> 2
    assert run(capsys, "verify", *RING)[0] == 2
    assert run(capsys, "verify", url)[0] == 2  # no trusted key
    assert run(capsys, "frobnicate")[0] == 2
    assert run(capsys, "verify", *RING, url, "--no-such-option")[0] == 2
    code, res = run_json(capsys, "verify", *RING)
    assert code == 2 and res["exit_code"] == 2 and "nothing to verify" in res["error"]
    # key / file errors -> 3
    bad = tmp_path / "bad.key"
    bad.write_text('{"format": "antifake-issuer-key", "version": 1}')
    code, _, err = run(capsys, "verify", "--key", str(bad), url)
    assert code == 3 and "bad.key" in err and "Traceback" not in err
    code, _, err = run(capsys, "verify", "--key", str(tmp_path / "missing.key"), url)
    assert code == 3 and "not found" in err
    (tmp_path / "junk.json").write_text("{}")
    assert run(capsys, "verify", "--pubkey", str(tmp_path / "junk.json"), url)[0] == 3
    (tmp_path / "junk.manifest").write_bytes(b"AFMANIF1 nonsense")
    assert run(capsys, "verify", "--pubkey", "issuer.pub.json", "--manifest",
               str(tmp_path / "junk.manifest"), url)[0] == 3


def test_wrong_passphrase_is_a_key_error(env, capsys, monkeypatch) -> None:
    monkeypatch.setenv("ANTIFAKE_PASSPHRASE", "not it")
    code, _, err = run(capsys, "verify", "--key", "issuer.key", "x")
    assert code == 3 and "passphrase" in err
    assert "not it" not in err


def test_numbers_and_pins_need_the_secret(env, capsys) -> None:
    _, rows, _ = env
    n, pin = rows[5]["number"], rows[5]["pin"]
    code, res = run_json(capsys, "verify", *RING, n)
    assert code == 1 and res["results"][0]["status"] == "UNVERIFIABLE"
    code, res = run_json(capsys, "verify", "--key", "issuer.key", n.lower().replace("-", " "))
    assert code == 0 and res["results"][0]["stamp"]["index"] == 5
    pin_file, wrong_file = Path("pin.txt"), Path("wrong.txt")
    pin_file.write_text(pin + "\n")
    wrong_file.write_text(rows[6]["pin"] + "\n")
    code, out, _ = run(capsys, "verify", "--key", "issuer.key", n, "--pin-file", str(pin_file))
    assert code == 0 and "PIN matches" in out
    code, res = run_json(capsys, "verify", "--key", "issuer.key", n, "--pin-file",
                         str(wrong_file))
    assert code == 1 and res["results"][0]["status"] == "BAD_TAG"
    assert run(capsys, "verify", "--key", "issuer.key", n, n, "--pin-file", str(pin_file)
               )[0] == 2
    # the PIN from stdin: --pin-file - and --ask-pin (no terminal: the first line of stdin)
    for how in (["--pin-file", "-"], ["--ask-pin"]):
        p = sub("verify", "--key", "issuer.key", n, *how, cwd=Path.cwd(),
                env={"ANTIFAKE_PASSPHRASE": PASS}, stdin=os.open(pin_file, os.O_RDONLY))
        assert p.returncode == 0 and "PIN matches" in p.stdout, p.stderr
        assert pin not in p.stderr
    # the deprecated --pin VALUE still works, with a warning
    code, out, err = run(capsys, "verify", "--key", "issuer.key", n, "--pin", pin)
    assert code == 0 and "PIN matches" in out and "--pin-file" in err
    assert run(capsys, "verify", "--key", "issuer.key", n, "--pin", pin, "--ask-pin")[0] == 2


def test_outputs_are_not_overwritten_without_force(env, capsys, tmp_path) -> None:
    d, rows, _ = env
    url = rows[0]["url"]
    precious = "issuer print file with PINs\n"
    af.Registry(tmp_path / "r.db").close()
    targets = {"verdicts.csv": ["verify", *RING, url, "--out"],
               "pub.json": ["pubkey", "issuer.key", "-o"],
               "events.jsonld": ["export-epcis", "--db", str(tmp_path / "r.db")]}
    for name, argv in targets.items():
        f = tmp_path / name
        f.write_text(precious)
        code, _, err = run(capsys, *argv, str(f))
        assert code == 3 and "--force" in err, (name, err)
        assert f.read_text() == precious
        assert run(capsys, *argv, str(f), "--force")[0] in (0, 1)
        assert f.read_text() != precious
    # keygen refuses an existing public key file too
    pub = tmp_path / "k2.pub.json"
    pub.write_text(precious)
    code, _, err = run(capsys, "keygen", "--issuer", "K2", "-o", str(tmp_path / "k2.key"),
                       "--kdf", "interactive")
    assert code == 3 and pub.read_text() == precious and not (tmp_path / "k2.key").exists()
    # a symbolic link planted at the output name is not followed, even with --force
    victim = tmp_path / "victim.txt"
    victim.write_text(precious)
    link = tmp_path / "link.csv"
    link.symlink_to(victim)
    code, _, _ = run(capsys, "verify", *RING, url, "--out", str(link), "--force")
    assert code == 3 and victim.read_text() == precious


def test_debug_shows_the_traceback(env, capsys) -> None:
    with pytest.raises(af.FormatError):
        cli.main(["--debug", "issue", "--key", "issuer.key", "-n", "1", "--base", "nope"])
    with pytest.raises(cli.CLIError):
        cli.main(["verify", "--debug"])


def test_subprocess_end_to_end(env, tmp_path) -> None:
    d, rows, _ = env
    url = rows[0]["url"]
    forged = url[:-1] + ("Z" if url[-1] != "Z" else "Y")
    p = sub("--json", "verify", *RING, url, forged, cwd=d)
    assert p.returncode == 1, p.stderr
    res = json.loads(p.stdout)
    assert [r["status"] for r in res["results"]][0] == "AUTHENTIC"
    p = sub("verify", "--key", "nowhere.key", "x", cwd=d)
    assert p.returncode == 3 and p.stderr.startswith("antifake: error:")
    assert "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1
    p = sub("verify", "--pubkey", "issuer.pub.json", "--file", "-", cwd=d,
            stdin=None)  # stdin is /dev/null: no codes
    assert p.returncode == 2
    p = sub("pubkey", "issuer.key", cwd=d, env={"ANTIFAKE_PASSPHRASE": PASS})
    assert p.returncode == 0 and json.loads(p.stdout)["key_id"] == 4242


def test_bench_and_demo(env, capsys, tmp_path) -> None:
    code, res = run_json(capsys, "bench", "-n", "500")
    assert code == 0
    ops = [r["operation"] for r in res["rows"]]
    assert any("sign" in o for o in ops) and any("parse" in o for o in ops)
    assert all(r["per_s_1t"] > 0 for r in res["rows"])
    code, out, _ = run(capsys, "bench", "-n", "300", "--threads", "1")
    assert code == 0 and "operation" in out and "verify" in out
    code, res = run_json(capsys, "demo", "-n", "50", "--out", str(tmp_path / "demo"))
    assert code == 0 and res["counts"] == {"AUTHENTIC": 50}
    code, out, _ = run(capsys, "demo", "-n", "20", "--out", str(tmp_path / "demo2"))
    assert code == 0 and "rejected" in out


# ---------------------------------------------------------------------------------------
# registry, trace, detection
# ---------------------------------------------------------------------------------------
def test_registry_commands(env, capsys, tmp_path) -> None:
    d, rows, gs1 = env
    db = str(tmp_path / "stamps.db")
    reg_args = ["register", "--db", db, "--batch", "out/batch-4242-0.npz", "--owner", "MFR-01",
                "--role", "manufacturer", "--at", "2026-11-01T08:00:00+07:00",
                "--pubkey", "issuer.pub.json"]
    code, res = run_json(capsys, *reg_args)
    assert code == 0 and res["stamps"] == 40
    code, out, _ = run(capsys, *reg_args)
    assert code == 0 and "registered already" in out  # registering again changes nothing
    ring = ["--pubkey", "issuer.pub.json", "--db", db]
    code, res = run_json(capsys, "trace", "history", rows[3]["url"], *ring)
    assert code == 0 and res["events"] and res["custodian"] == "MFR-01"
    assert res["code"].endswith(":4242:0:3")
    code, out, _ = run(capsys, "trace", "history", rows[3]["url"], *ring)
    assert code == 0 and "commission" in out
    code, res = run_json(capsys, "trace", "contents", rows[3]["url"], *ring)
    assert code == 0 and res["contents"] == []
    code, res = run_json(capsys, "trace", "recall", "--batch-id", "0", "--key-id", "4242",
                         *ring, "--out", str(tmp_path / "recall.csv"))
    assert code == 0 and res["count"] == 40 and res["by_custodian"] == {"MFR-01": 40}
    assert len(read_csv(tmp_path / "recall.csv")) == 40
    assert run(capsys, "trace", "recall", *ring)[0] == 2  # recall what?
    code, _, err = run(capsys, "trace", "history", "nonsense", *ring)
    assert code == 2 and "Traceback" not in err
    # registry-aware verification
    code, res = run_json(capsys, "verify", *RING, "--db", db, rows[3]["url"])
    assert code == 0 and res["counts"] == {"AUTHENTIC": 1}
    # EPCIS round trip into a second registry
    out = tmp_path / "events.jsonld"
    code, res = run_json(capsys, "export-epcis", "--db", db, str(out))
    assert code == 0 and out.exists()
    db2 = str(tmp_path / "other.db")
    code, res = run_json(capsys, "import-epcis", "--db", db2, str(out))
    assert code == 0 and res["new"] >= 1
    code, res = run_json(capsys, "import-epcis", "--db", db2, str(out))
    assert code == 0 and res["new"] == 0  # re-submitting is a no-op
    bad = tmp_path / "bad.jsonld"
    bad.write_text('{"type": "EPCISDocument"')
    code, _, err = run(capsys, "import-epcis", "--db", db2, str(bad))
    assert code == 2 and "Traceback" not in err
    # a database that does not exist is a file error for queries
    assert run(capsys, "trace", "recall", "--batch-id", "0", "--db",
               str(tmp_path / "none.db"))[0] == 3
    # marketplace listing check
    code, res = run_json(capsys, "check-listing", rows[3]["url"], "--seller", "MFR-01", *ring)
    assert code == 0 and res["ok"]
    code, res = run_json(capsys, "check-listing", rows[3]["url"], "--seller", "SHOP-42", *ring)
    assert code == 1 and not res["ok"] and res["reasons"]
    code, out, _ = run(capsys, "check-listing", rows[3]["url"], "--seller", "SHOP-42", *ring)
    assert code == 1 and out.startswith("REFUSED") and "SHOP-42" in out


def test_detect_command(env, capsys, tmp_path) -> None:
    d, rows, _ = env
    db = str(tmp_path / "stamps.db")
    assert run(capsys, "register", "--db", db, "--batch", "out/batch-4242-0.npz",
               "--owner", "MFR-01", "--at", "2026-11-01T08:00:00Z",
               "--pubkey", "issuer.pub.json")[0] == 0
    code, res = run_json(capsys, "detect", "--db", db)
    assert code == 0 and res["alerts"] == []
    code, out, _ = run(capsys, "detect", "--db", db)
    assert code == 0 and "no alerts" in out
    # a shop that never held stamp 7 sells it: an unauthorised seller, act on it
    b = af.Batch.load(d / "out" / "batch-4242-0.npz")
    reg = af.Registry(db)
    try:
        reg.record(af.Event.sell([b.epcs()[7]], by="SHOP-X", at="2026-11-20T10:00:00Z"))
    finally:
        reg.close()
    code, res = run_json(capsys, "detect", "--db", db)
    assert code == 1 and res["exit_code"] == 1
    [alert] = res["alerts"]
    assert alert["kind"] == "unauthorized_seller" and alert["score"] >= 0.5
    assert alert["codes"] == [b.epcs()[7]] and alert["evidence"]
    code, out, _ = run(capsys, "detect", "--db", db)
    assert code == 1 and "unauthorized_seller" in out
    # --since after the evidence, or a score bar above it: nothing to report
    assert run(capsys, "detect", "--db", db, "--since", "2026-11-21T00:00:00Z")[0] == 0
    assert run(capsys, "detect", "--db", db, "--min-score", "0.99")[0] == 0
    # a copied code: scanned in Hanoi and, 20 minutes later, in Ho Chi Minh City
    reg = af.Registry(db)
    try:
        reg.record(af.Event.scan(b.epcs()[3], by="app:1", at="2026-11-22T10:00:00Z",
                                 lat=21.03, lon=105.85))
        reg.record(af.Event.scan(b.epcs()[3], by="app:2", at="2026-11-22T10:20:00Z",
                                 lat=10.77, lon=106.70))
    finally:
        reg.close()
    code, res = run_json(capsys, "detect", "--db", db, "--flag")
    assert code == 1 and res["flagged"] == 1  # the seller alert is not about copies
    code, out, _ = run(capsys, "detect", "--db", db, "--flag")
    assert "1 stamps flagged as copied" in out
    reg = af.Registry(db)
    try:
        assert reg.status(b.epcs()[3]).suspected == "impossible_travel"
        assert reg.status(b.epcs()[7]).suspected is None
    finally:
        reg.close()


# ---------------------------------------------------------------------------------------
def test_no_secret_was_ever_printed(env) -> None:
    """Runs last in this module: PINs, the passphrase and the key file's sealed box appear
    in no output of any command above."""
    d, rows, gs1 = env
    assert OUTPUTS, "run the whole module"
    text = "\n".join(OUTPUTS)
    assert PASS not in text
    for r in rows + gs1:
        assert r["pin"] not in text
        assert r["pin"].replace("-", "") not in text
    box = json.loads((d / "issuer.key").read_text())["sealed"]["box"]
    assert box[:40] not in text


def test_keyring_file_keeps_keys_manifests_and_revocations(env, capsys, tmp_path) -> None:
    d, rows, _ = env
    ring = str(tmp_path / "verifier.keyring")
    code, res = run_json(capsys, "keyring", "add", ring, "--pubkey", "issuer.pub.json",
                         "--manifest", "out/batch-4242-0.manifest")
    assert code == 0 and [k["key_id"] for k in res["keys"]] == [4242]
    assert res["keys"][0]["manifests"] == [0] and res["keys"][0]["revoked_at"] is None
    assert stat.S_IMODE(os.stat(ring).st_mode) == 0o600
    # the file is a keyring for every command that takes --keyring
    code, res = run_json(capsys, "verify", "--keyring", ring, rows[0]["url"])
    assert code == 0 and res["counts"] == {"AUTHENTIC": 1}
    # adding the other manifest later: kept with the first
    code, res = run_json(capsys, "keyring", "add", ring, "--manifest",
                         "out/batch-4242-1.manifest")
    assert code == 0 and res["keys"][0]["manifests"] == [0, 1]
    # revoked from a time before the manifests were first seen: the stamps no longer verify
    code, res = run_json(capsys, "keyring", "revoke", ring, "4242", "--at", "2001-01-01T00:00Z")
    assert code == 0 and res["keys"][0]["revoked_at"].startswith("2001-01-01")
    code, res = run_json(capsys, "verify", "--keyring", ring, rows[0]["url"])
    assert code == 1 and res["counts"] == {"KEY_REVOKED": 1}
    code, out, _ = run(capsys, "keyring", "show", ring)
    assert code == 0 and "REVOKED from 2001-01-01" in out and "2 manifests" in out
    # a revocation is never weakened by a later, later-dated one
    code, res = run_json(capsys, "keyring", "revoke", ring, "4242", "--at", "2030-01-01T00:00Z")
    assert code == 0 and res["keys"][0]["revoked_at"].startswith("2001-01-01")
    # clear errors: an unknown key, a missing file, a file that is no keyring
    code, _, err = run(capsys, "keyring", "revoke", ring, "7")
    assert code == 3 and "no key with key_id 7" in err
    code, _, err = run(capsys, "keyring", "show", str(tmp_path / "missing.keyring"))
    assert code == 3 and "not found" in err
    code, _, err = run(capsys, "verify", "--keyring", "issuer.pub.json", rows[0]["url"])
    assert code != 0 and "keyring" in err
