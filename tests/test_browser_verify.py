"""verify.html (issue 20) in Debian's Chromium, driven by Playwright, from ``file://``.

The page's own functions run against the suite's vectors (NIST SHA-256 cross-checked with
hashlib and WebCrypto, RFC 6962 from test_merkle, C2SP from test_note, canonical JSON from
hashing/canonical.py); then the page verifies a burned and extracted disc, an access copy
and an export bundle, honest and tampered, through the folder input, with no network
request. Each tampering case is also checked against the Python verifiers, so both say
"not verified" for the same cause. Screenshots go to the test's tmp dir and
``artifacts/screenshots/``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from evidence_station.cli import main
from evidence_station.demo import make_demo_camera
from hashing.canonical import canonical_json
from hashing.checkpoint import Checkpoint, sign_checkpoint
from hashing.cosignature import Cosigner, add_signature_lines
from hashing.note import Signer
from hashing.verify import verify_bundle
from retention import browser_verifier
from retention.disc_verify import verify as verify_disc_in_python
from retention.sha256_js import blocks_function
from tests import test_merkle, test_note

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                 reason="Debian chromium not installed (make deps installs it)"),
              pytest.mark.skipif(shutil.which("xorriso") is None, reason="xorriso not installed")]


# --- the browser, the page ----------------------------------------------------------------

@pytest.fixture(scope="module")
def page_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("page")
    return browser_verifier.write_browser_verifier(folder).as_uri()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield instance
        instance.close()


class Page:
    """verify.html opened from file://, with every request after load logged."""

    def __init__(self, browser: Any, url: str) -> None:
        self.page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        self.page.goto(url)
        self.page.wait_for_selector("body[data-ready='1']")
        self.requests: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request.url))

    def evaluate(self, script: str, arg: object = None) -> Any:
        return self.page.evaluate(script, arg)

    def verify(self, folder: Path, pinned_key: str = "", witness_keys: str = "") -> dict[str, Any]:
        """Pick ``folder`` in the file input (as a user does) and read the page's verdicts."""
        self.page.fill("#pinned-key", pinned_key)
        self.page.fill("#witness-keys", witness_keys)
        self.page.evaluate("document.body.dataset.state = 'picking'")
        self.page.set_input_files("#folder", str(folder))
        self.page.wait_for_selector("body[data-state='done']", timeout=60000)
        rows = self.page.eval_on_selector_all("tr.clip", """rows => rows.map(r => ({
            clip: r.dataset.clip, file: r.dataset.file, verdict: r.querySelector('.verdict').textContent,
            ok: r.dataset.verdict === 'ok', reason: r.querySelector('.reason').textContent}))""")
        return {"ok": self.page.get_attribute("#summary", "data-verdict") == "ok",
                "summary": self.page.text_content("#summary"), "rows": rows,
                "findings": self.page.eval_on_selector_all("#findings li", "l => l.map(x => x.textContent)")}

    def close(self) -> None:
        assert self.requests == [], f"the page made network requests: {self.requests}"
        self.page.close()


@pytest.fixture
def page(browser: Any, page_url: str) -> Iterator[Page]:
    opened = Page(browser, page_url)
    yield opened
    opened.close()


# --- the page's functions against the suite's vectors ------------------------------------

def test_page_is_one_self_contained_file() -> None:
    html = browser_verifier.page().decode("utf-8")
    vendor = Path(browser_verifier.__file__).parent / "browser" / "vendor"
    vendored = (vendor / "noble-ed25519.js").read_text()
    assert vendored in html  # the exact npm source, inlined
    assert hashlib.sha256(vendored.encode()).hexdigest() == browser_verifier.NOBLE_ED25519_SHA256
    licence = (vendor / "noble-ed25519.LICENSE").read_text()
    assert licence in html  # its MIT licence travels with it
    ours = html.replace(vendored, "").replace(licence, "")
    assert "connect-src 'none'" in ours and "default-src 'none'" in ours
    for needle in ("<script src", "<link", "fetch(", "XMLHttpRequest", "WebSocket", "import(",
                   "http://", "https://"):
        assert needle not in ours, needle


def test_sha256_rounds_are_the_generators_output() -> None:
    """The unrolled rounds in verify.html are exactly what retention/sha256_js.py writes."""
    template = (Path(browser_verifier.__file__).parent / "browser" / "verify.html").read_text()
    assert blocks_function() in template


NIST = [  # FIPS 180-2 appendix B and the NIST example values
    (b"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    (b"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    (b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    (b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
     "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"),
    (b"a" * 1_000_000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"),
]


def test_sha256_matches_nist_hashlib_and_webcrypto(page: Page) -> None:
    for message, digest in NIST:
        assert page.evaluate("h => { const V = EvidenceVerifier; return V.toHex(V.sha256(V.fromHex(h))); }",
                             message.hex()) == digest
    rng = random.Random(20)
    sizes = sorted({*range(0, 130), *(64 * k + d for k in range(2, 40) for d in (-1, 0, 1)),
                    *(rng.randrange(1, 70000) for _ in range(40))})
    cases = [rng.randbytes(size).hex() for size in sizes]
    # each message three ways in the page: one update, random chunk splits, WebCrypto
    results = page.evaluate("""async cases => {
        const V = EvidenceVerifier, out = [];
        let seed = 7;
        const next = (n) => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;
        for (const hex of cases) {
            const bytes = V.fromHex(hex);
            const streamed = new V.Sha256();
            for (let at = 0; at < bytes.length;) {
                const n = 1 + next(200);
                streamed.update(bytes.subarray(at, at + n));
                at += n;
            }
            const subtle = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
            out.push([V.toHex(V.sha256(bytes)), V.toHex(streamed.digest()), V.toHex(subtle)]);
        }
        return out;
    }""", cases)
    for hex_message, (whole, streamed, subtle) in zip(cases, results, strict=True):
        expected = hashlib.sha256(bytes.fromhex(hex_message)).hexdigest()
        assert whole == streamed == subtle == expected, len(hex_message) // 2


def test_sha256_of_a_file_in_chunks(page: Page, tmp_path: Path) -> None:
    """A file past the 4 MiB read chunk, through the same file input a user picks with."""
    data = random.Random(1).randbytes((9 << 20) + 77)
    (tmp_path / "f").mkdir()
    (tmp_path / "f" / "clip.bin").write_bytes(data)
    page.page.set_input_files("#folder", str(tmp_path / "f"))
    digest = page.evaluate("""async () => EvidenceVerifier.toHex(await EvidenceVerifier.sha256File(
        document.querySelector('#folder').files[0]))""")
    assert digest == hashlib.sha256(data).hexdigest()


def test_rfc6962_vectors(page: Page) -> None:
    leaves = [leaf.hex() for leaf in test_merkle.LEAVES]
    roots = page.evaluate("""leaves => {
        const V = EvidenceVerifier, out = [];
        for (let size = 0; size <= leaves.length; size++) {
            const tree = new V.CompactRange();
            leaves.slice(0, size).forEach(l => tree.push(V.leafHash(V.fromHex(l))));
            out.push(V.toHex(tree.root()));
        }
        return out;
    }""", leaves)
    assert roots == [root.hex() for root in test_merkle.ROOTS]
    check = """([index, size, leaf, proof, root]) => {
        const V = EvidenceVerifier;
        try {
            const hashes = proof.map(V.fromHex);
            V.verifyInclusion(index, size, V.leafHash(V.fromHex(leaf)), hashes, V.fromHex(root));
            return 'ok';
        }
        catch (err) { return err.message; }
    }"""
    for index, size, proof in test_merkle.INCLUSION:
        args = [index, size, leaves[index], proof, test_merkle.ROOTS[size].hex()]
        assert page.evaluate(check, args) == "ok"
        assert "root mismatch" in page.evaluate(check, [*args[:4], test_merkle.ROOTS[size - 1].hex()])
        assert page.evaluate(check, [index, size, leaves[index], proof[:-1], args[4]]) != "ok"
        assert page.evaluate(check, [(index + 1) % size, *args[1:]]) != "ok"
    consistency = """([old, size, oldRoot, newRoot, proof]) => {
        const V = EvidenceVerifier;
        try {
            V.verifyConsistency(old, size, V.fromHex(oldRoot), V.fromHex(newRoot), proof.map(V.fromHex));
            return 'ok';
        }
        catch (err) { return err.message; }
    }"""
    for old, size, proof in test_merkle.CONSISTENCY:
        args = [old, size, test_merkle.ROOTS[old].hex(), test_merkle.ROOTS[size].hex(), proof]
        assert page.evaluate(consistency, args) == "ok"
        assert page.evaluate(consistency, [old, size, args[3], args[2], proof]) != "ok"


NOTE_CHECK = """async ([vkey, note]) => {
    const V = EvidenceVerifier;
    const result = await V.noteSignedBy(note, V.parseKey(vkey, 1));
    return [await V.ed25519Engine(), result.ok ? 'ok' : result.why];
}"""


@pytest.mark.parametrize("engine", ["webcrypto", "noble"])
def test_c2sp_signed_note_vectors_with_either_ed25519(browser: Any, page_url: str, engine: str) -> None:
    """The Go sumdb/note vector with the browser's WebCrypto and with the vendored
    noble-ed25519 (what an older browser core uses)."""
    opened = Page(browser, page_url + ("#engine=noble" if engine == "noble" else ""))
    vkey, note = test_note.GO_VKEY, test_note.GO_NOTE
    assert opened.evaluate(NOTE_CHECK, [vkey, note]) == [engine, "ok"]
    tampered = note.replace("cryptography", "cryptographY", 1)
    assert opened.evaluate(NOTE_CHECK, [vkey, tampered]) == [engine, "changed"]
    other = Signer.generate("PeterNeumann").sign(test_note.GO_TEXT)
    assert opened.evaluate(NOTE_CHECK, [vkey, other]) == [engine, "unsigned"]
    assert opened.evaluate("k => EvidenceVerifier.parseKey(k, 1).text", vkey) == vkey
    bad_id = vkey.replace("c74f20a3", "c74f20a4")
    assert "key id" in opened.evaluate(
        "k => { try { EvidenceVerifier.parseKey(k, 1); return 'ok'; } catch (e) { return e.message; } }",
        bad_id)
    # C2SP tlog-cosignature: a witness's line verifies; on another body it does not
    body = Checkpoint("example.org/log", 7, bytes(range(32))).body()
    witness = Cosigner.generate("example.org/witness")
    line = witness.cosign(body, 1795000000)
    cosign = """async ([vkey, note]) => {
        const V = EvidenceVerifier;
        return await V.verifyCosignatures(note, [V.parseKey(vkey, 4)]);
    }"""
    signer = Signer.generate("example.org/log")
    cosigned = add_signature_lines(signer.sign(body), [line])
    good = opened.evaluate(cosign, [witness.verifier.encode(), cosigned])
    assert good == {"good": [{"witness": witness.verifier.encode(), "timestamp": 1795000000}], "problems": []}
    forged = add_signature_lines(signer.sign(body.replace("\n7\n", "\n8\n")), [line])
    assert opened.evaluate(cosign, [witness.verifier.encode(), forged])["problems"]
    opened.close()


def test_canonical_json_matches_the_ledger(page: Page) -> None:
    events = [
        {"seq": 0, "type": "station.init", "station": "站点-01", "prev": "0" * 64},
        {"z": 1, "a": [True, False, None, -5], "é": "\u0001\b\f\n\r\t\"\\/\u007f\u2028", "ä": {"b": "案号"}},
        {"emoji": "\U0001f600", "\U0001f600": 1, "\uffff": 2, "big": 2**53 + 1,
         "mtime_ns": 1796272086000000001, "__proto__": {"n": -(2**64)}},
    ]
    roundtrip = """t => {
        try { return EvidenceVerifier.canonical(EvidenceVerifier.parseEvent(t)); }
        catch (e) { return 'refused'; }
    }"""
    for event in events:
        expected = canonical_json(event).decode("utf-8")
        assert page.evaluate(roundtrip, expected) == expected
    # what hashing/canonical.py refuses or rewrites, the page does not take as canonical
    for text in ('{"a":1.0}', '{"a":1e3}', '{"b":1,"a":2}', '{"a": 1}', '{"a":"\\u00e9"}', '[1,]'):
        assert page.evaluate(roundtrip, text) != text, text


# --- a real station: a burned disc, an access copy, an export bundle ----------------------

@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("world")
    data = base / "data"

    def run(*args: str) -> int:
        return main(["--data-dir", str(data), "--lang", "en", *args])

    camera = make_demo_camera(base / "cam", count=3, seconds=0.5)
    assert run("init", "--station", "court.example/station-01") == 0
    assert run("ingest", str(camera)) == 0
    ingests = [json.loads(line) for line in (data / "ledger" / "events.jsonl").read_text()
               .splitlines() if json.loads(line)["type"] == "ingest"]
    ids = [event["clip_id"] for event in ingests]
    assert run("label", *ids, "--case-number", "东罚决字〔2026〕20号", "--party", "张三",
               "--handler", "李四") == 0
    for clip in ids[:2]:
        assert run("evidence", clip, "--collector", "李四", "--collected-at", "2026-11-03T14:30",
                   "--location", "人民路", "--fact-to-prove", "当事人占道经营") == 0
    image = base / "disc.iso"
    assert run("disc", "burn", "--case-number", "东罚决字〔2026〕20号", "--drive", f"stdio:{image}",
               "--maker", "王五", "--extractor", "李四") == 0
    disc = base / "disc"
    subprocess.run(["xorriso", "-osirrox", "on", "-indev", f"stdio:{image}", "-extract", "/",
                    str(disc)], check=True, capture_output=True)
    assert run("access", "copy", ids[2], "--copier", "李四", "--approver", "王五", "--reason",
               "移送法院", "--out", str(base / "copy")) == 0
    assert run("ledger", "export", "--out", str(base / "bundle"), "--clip", ids[0]) == 0
    return {"disc": disc, "copy": base / "copy", "bundle": base / "bundle", "ids": ids,
            "vkey": (data / "keys" / "station.vkey").read_text().strip(),
            "signer": Signer.parse((data / "keys" / "station.key").read_text())}


def fresh(world: dict[str, Any], kind: str, tmp_path: Path) -> Path:
    """A writable copy of the pristine disc / copy / bundle (an extracted ISO is read-only)."""
    root = Path(shutil.copytree(world[kind], tmp_path / kind))
    for path in [root, *root.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o200)
    return root


def shot(page: Page, tmp_path: Path, name: str, keep: bool = False) -> Path:
    path = tmp_path / f"{name}.png"
    page.page.screenshot(path=str(path), full_page=True)
    if keep:
        SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, SHOTS / path.name)
    return path


def python_disc_verdict(root: Path, key: str | None = None) -> int:
    return verify_disc_in_python(root, key)


def test_honest_disc_all_match_and_no_network(page: Page, world: dict[str, Any], tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    root = fresh(world, "disc", tmp_path)
    assert (root / "verify.html").read_bytes() == browser_verifier.page()  # on the disc itself
    assert browser_verifier.page_sha256() in (root / "note.html").read_text()  # and on the paper
    result = page.verify(root)
    assert result["ok"], result
    assert [row["clip"] for row in result["rows"]] == world["ids"][:2]
    assert all(row["verdict"] == "一致" and row["ok"] for row in result["rows"])
    manifest = json.loads((root / "manifest.json").read_text())
    for row, item in zip(result["rows"], manifest["files"], strict=True):
        assert row["file"] == item["path"]
    assert "光盘上自带的公钥本身什么也证明不了" in page.page.text_content(".warn")
    assert world["vkey"] in page.page.text_content("#keyrows")
    assert "未固定公钥" in page.page.text_content("#keyrows")
    shot(page, tmp_path, "verify-html-honest-disc", keep=True)
    # pinned to the printed key: quietly matched
    pinned = page.verify(root, world["vkey"])
    assert pinned["ok"] and "与您填写的公钥一致" in page.page.text_content("#keyrows")
    page.page.click("#lang")  # the English switch
    assert page.page.text_content("tr.clip .verdict") == "MATCHES"
    assert "All files match" in page.page.text_content("#summary")
    shot(page, tmp_path, "verify-html-honest-disc-en", keep=True)
    assert python_disc_verdict(root, world["vkey"]) == 0
    capsys.readouterr()


def _flip(path: Path, at: int = 100) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def _clip_path(root: Path, index: int) -> Path:
    return root / json.loads((root / "manifest.json").read_text())["files"][index]["path"]


def _resign_disc(disc: Path, signer: Signer, **change: Any) -> None:
    origin, size, root_b64 = (disc / "checkpoint").read_text().split("\n")[:3]
    checkpoint = Checkpoint(origin, int(size), base64.b64decode(root_b64))
    checkpoint = Checkpoint(change.get("origin", checkpoint.origin), change.get("size", checkpoint.size),
                            change.get("root", checkpoint.root))
    (disc / "checkpoint").write_text(sign_checkpoint(checkpoint, signer))


def _disc_case(case: str, root: Path, world: dict[str, Any]) -> tuple[str | None, str]:
    """Tamper with ``root``; return the clip the page must name (None: every clip) and a
    word of the reason it must give."""
    ids = world["ids"]
    if case == "byte-flipped":
        _flip(_clip_path(root, 1))
        return ids[1], "SHA-256"
    if case == "clip-replaced":
        _clip_path(root, 0).write_bytes(_clip_path(root, 1).read_bytes())
        return ids[0], "SHA-256"
    if case == "proof-altered":
        path = root / "proofs" / f"{ids[1]}.json"
        proof = json.loads(path.read_text())
        proof["hashes"][0] = "00" * 32
        path.write_text(json.dumps(proof))
        return ids[1], "包含证明不成立"
    if case == "event-altered":
        path = root / "proofs" / f"{ids[0]}.json"
        proof = json.loads(path.read_text())
        proof["event"] = proof["event"].replace('"officer_id":', '"officer_id":"X",\"x\":', 1)
        path.write_text(json.dumps(proof, ensure_ascii=False))
        return ids[0], "包含证明不成立"
    if case == "checkpoint-size":
        text = (root / "checkpoint").read_text().split("\n")
        text[1] = str(int(text[1]) + 1)
        (root / "checkpoint").write_text("\n".join(text))
        return None, "检查点签名不成立"
    if case == "checkpoint-root-resigned-by-station":
        _resign_disc(root, world["signer"], root=bytes(32))
        return None, "manifest.json"
    if case == "key-replaced":  # a forger re-signs and burns their own key: only pinning tells
        thief = Signer.generate(world["signer"].name)
        _resign_disc(root, thief)
        (root / "station.vkey").write_text(thief.verifier.encode() + "\n")
        return None, "公钥不一致"
    if case == "extra-file":
        (root / "evidence" / "planted.mp4").write_bytes(b"not evidence")
        return "—", "清单中没有"
    raise AssertionError(case)


DISC_CASES = ["byte-flipped", "clip-replaced", "proof-altered", "event-altered", "checkpoint-size",
              "checkpoint-root-resigned-by-station", "key-replaced", "extra-file"]


@pytest.mark.parametrize("case", DISC_CASES)
def test_tampered_disc_names_the_clip(case: str, page: Page, world: dict[str, Any], tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    root = fresh(world, "disc", tmp_path)
    clip, reason = _disc_case(case, root, world)
    result = page.verify(root, world["vkey"])  # the key printed on the paper note
    assert not result["ok"], result
    assert "校验未通过" in result["summary"]
    bad = [row for row in result["rows"] if not row["ok"]]
    assert all(row["verdict"] == "不一致" for row in bad)
    if clip is None:  # the checkpoint or the key: no clip can be trusted
        assert len(bad) == len(result["rows"]) == 2
        assert any(reason in finding for finding in result["findings"]), result
    else:
        assert [row["clip"] for row in bad] == [clip], result
        assert reason in bad[0]["reason"], result
    if case == "byte-flipped":
        shot(page, tmp_path, "verify-html-tampered-disc", keep=True)
    # the disc's verify.py says the same
    assert python_disc_verdict(root, world["vkey"]) == 1
    capsys.readouterr()


def test_disc_with_witness_cosignatures(page: Page, world: dict[str, Any], tmp_path: Path) -> None:
    root = fresh(world, "disc", tmp_path)
    note = (root / "checkpoint").read_text()
    body = note[: note.rfind("\n\n") + 1]
    witness = Cosigner.generate("court.example/witness")
    (root / "checkpoint").write_text(add_signature_lines(note, [witness.cosign(body, 1795000000)]))
    (root / "witness.vkeys").write_text(witness.verifier.encode() + "\n")
    result = page.verify(root, world["vkey"])
    assert result["ok"], result
    assert "2026-11-18T" in page.page.text_content("#keyrows")  # 1795000000, the witness's time
    other = Cosigner.generate("court.example/witness")  # same name, another key: not cosigned
    (root / "witness.vkeys").write_text(other.verifier.encode() + "\n")
    result = page.verify(root, world["vkey"])
    assert not result["ok"] and any("证人联署不足" in f for f in result["findings"])


def test_access_copy_honest_and_tampered(page: Page, world: dict[str, Any], tmp_path: Path) -> None:
    root = fresh(world, "copy", tmp_path)
    assert (root / "verify.html").read_bytes() == browser_verifier.page()
    result = page.verify(root, world["vkey"])
    assert result["ok"] and [row["clip"] for row in result["rows"]] == [world["ids"][2]], result
    manifest = json.loads((root / "manifest.json").read_text())
    _flip(root / manifest["file"])
    result = page.verify(root, world["vkey"])
    assert not result["ok"] and result["rows"][0]["verdict"] == "不一致"
    assert "SHA-256" in result["rows"][0]["reason"]


def _lines(bundle: Path) -> list[bytes]:
    return (bundle / "events.jsonl").read_bytes().splitlines(keepends=True)


def _bundle_case(case: str, bundle: Path, world: dict[str, Any]) -> tuple[bool, str]:
    """Tamper like tests/test_verify.py; return (a file row is named, a word of the reason)."""
    body = _lines(bundle)
    if case == "event-byte-flipped":
        body[3] = body[3].replace(b'"type":"', b'"type":"X', 1)
        (bundle / "events.jsonl").write_bytes(b"".join(body))
        return False, "第 4 条事件"
    if case == "event-dropped":
        (bundle / "events.jsonl").write_bytes(b"".join(body[:2] + body[3:]))
        return False, "第 2 条事件"
    if case == "events-reordered":
        body[2], body[3] = body[3], body[2]
        (bundle / "events.jsonl").write_bytes(b"".join(body))
        return False, "第 2 条事件"
    if case == "event-inserted":
        (bundle / "events.jsonl").write_bytes(b"".join([*body[:2], body[1], *body[2:]]))
        return False, "第 2 条事件"
    if case == "checkpoint-size":
        note = (bundle / "checkpoint").read_text().split("\n")
        note[1] = str(int(note[1]) - 1)
        (bundle / "checkpoint").write_text("\n".join(note))
        return False, "检查点签名不成立"
    if case == "checkpoint-root":
        origin, size = (bundle / "checkpoint").read_text().split("\n")[:2]
        (bundle / "checkpoint").write_text(sign_checkpoint(Checkpoint(origin, int(size), bytes(32)),
                                                           world["signer"]))
        return False, "Merkle 根"
    if case == "checkpoint-key":
        origin, size, root = (bundle / "checkpoint").read_text().split("\n")[:3]
        thief = Signer.generate(origin)
        (bundle / "checkpoint").write_text(sign_checkpoint(
            Checkpoint(origin, int(size), base64.b64decode(root)), thief))
        (bundle / "station.vkey").write_text(thief.verifier.encode() + "\n")
        return False, "公钥不一致"
    if case == "clip-replaced":
        clip = next((bundle / "files").iterdir())
        clip.write_bytes(clip.read_bytes()[:-1] + b"\x00")
        return True, "文件被替换或损坏"
    raise AssertionError(case)


BUNDLE_CASES = ["event-byte-flipped", "event-dropped", "events-reordered", "event-inserted",
                "checkpoint-size", "checkpoint-root", "checkpoint-key", "clip-replaced"]


def test_honest_export_bundle(page: Page, world: dict[str, Any], tmp_path: Path) -> None:
    bundle = fresh(world, "bundle", tmp_path)
    assert (bundle / "verify.html").read_bytes() == browser_verifier.page()
    result = page.verify(bundle)
    assert result["ok"], result
    assert [row["clip"] for row in result["rows"]] == [world["ids"][0]]
    assert verify_bundle(bundle).ok


def test_export_bundle_witness_keys_entered(page: Page, world: dict[str, Any], tmp_path: Path) -> None:
    """A bundle carries no witness.vkeys: the keys typed in are required (--witness-key)."""
    bundle = fresh(world, "bundle", tmp_path)
    note = (bundle / "checkpoint").read_text()
    witness = Cosigner.generate("court.example/witness")
    line = witness.cosign(note[: note.rfind("\n\n") + 1], 1795000000)
    (bundle / "checkpoint").write_text(add_signature_lines(note, [line]))
    assert page.verify(bundle, world["vkey"], witness.verifier.encode())["ok"]
    other = Cosigner.generate("court.example/other-witness").verifier.encode()
    result = page.verify(bundle, world["vkey"], f"{witness.verifier.encode()}\n{other}")
    assert not result["ok"] and any("证人联署不足：1 / 2" in f for f in result["findings"]), result
    assert not verify_bundle(bundle, pinned_key=world["vkey"],
                             witness_keys=[witness.verifier.encode(), other]).ok


@pytest.mark.parametrize("case", BUNDLE_CASES)
def test_tampered_export_bundle(case: str, page: Page, world: dict[str, Any], tmp_path: Path) -> None:
    bundle = fresh(world, "bundle", tmp_path)
    file_named, reason = _bundle_case(case, bundle, world)
    pinned = world["vkey"] if case == "checkpoint-key" else ""
    result = page.verify(bundle, pinned)
    assert not result["ok"], result
    assert all(row["verdict"] == "不一致" for row in result["rows"])
    if file_named:
        row = result["rows"][0]
        assert row["file"] == f"files/{next((bundle / 'files').iterdir()).name}" and reason in row["reason"]
    else:
        assert any(reason in finding for finding in result["findings"]), result
    assert not verify_bundle(bundle, pinned_key=pinned or None).ok  # evidence-station-verify agrees


def test_unreadable_folder_is_said(page: Page, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("nothing here")
    result = page.verify(tmp_path / "empty")
    assert not result["ok"] and "无法读取" in result["summary"]

