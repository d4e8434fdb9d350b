#!/usr/bin/env python3
"""Writes the hand-made and wire-vector seeds into fuzz/corpus/<target>/ (idempotent).

Run from the repository root: python3 fuzz/seeds/make_seeds.py
Seeds are named seed-<what>; files that libFuzzer adds are named by their SHA-1.
"""
import base64
import hashlib
import pathlib
import random
import re

ROOT = pathlib.Path(__file__).resolve().parents[2]
CORPUS = ROOT / "fuzz" / "corpus"
WSMAN = ROOT / "crates" / "amt-wsman" / "tests" / "data"
DIGEST = ROOT / "crates" / "amt-digest" / "tests" / "data"
TRUST = ROOT / "crates" / "amt-trust" / "tests" / "data"

# amt_wsman::fuzzing::FUZZ_MESSAGE_ID.
FUZZ_MESSAGE_ID = b"uuid:00000000-0000-4000-8000-000000000000"

# amt_digest::fuzzing constants.
USERNAME, PASSWORD = "admin", "Fuzz-P4ssw0rd!"
METHOD, URI, BODY = "POST", "/wsman", b"<s:Envelope/>"
CNONCE = "0a4f113b"
REALM = "Digest:A4070000000000000000000000000000"
NONCE = "QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJC"


def write(target, name, data):
    if isinstance(data, str):
        data = data.encode()
    directory = CORPUS / target
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"seed-{name}").write_bytes(data)


def data_lines(path):
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            yield line


def slug(text, n):
    return f"{n:02d}-" + re.sub(r"[^a-z0-9]+", "-", text.lower())[:40].strip("-")


def relating_to_fuzz_id(data):
    """The reply with every RelatesTo naming the fuzzer's request (vectors relate to several ids:
    a reply relating to another one stops every parser at the RelatesTo check)."""
    return re.sub(rb"(<(?:[A-Za-z_][\w.-]*:)?RelatesTo\b[^>]*>)[^<]*", rb"\g<1>" + FUZZ_MESSAGE_ID, data)


def wsman():
    for path in sorted(WSMAN.glob("*.xml")) + sorted((WSMAN / "hostile").glob("*.xml")):
        data = path.read_bytes()
        if path.name.startswith("response_") or path.name.startswith("fault_"):
            write("wsman_response", path.stem, relating_to_fuzz_id(data))
        if path.name.startswith("request_") or path.parent.name == "hostile":
            write("wsman_request", path.stem, data)
        if path.parent.name == "hostile":
            write("wsman_response", path.stem, data)


def md5(text):
    return hashlib.md5(text.encode() if isinstance(text, str) else text).hexdigest()


def digest():
    for n, line in enumerate(data_lines(DIGEST / "amt-challenges.txt")):
        value = line.split("\t", 1)[1]
        write("digest_challenge", "amt-" + slug(value, n), value)
    for n, line in enumerate(data_lines(DIGEST / "hostile-www-authenticate.txt")):
        write("digest_challenge", "hostile-" + slug(line, n), line)
    # The documented differences from http-auth, one seed each, and the other algorithms.
    base = f'Digest realm="{REALM}", nonce="{NONCE}"'
    for name, extra in [
        ("lower-case-algorithm", ', algorithm=md5, qop="auth"'),
        ("sess-without-qop", ", algorithm=MD5-sess"),
        ("empty-opaque", ', opaque="", qop="auth"'),
        ("repeated-stale", ', stale=false, stale=true, qop="auth"'),
        ("space-separated-qop", ', qop="auth-int auth"'),
        ("sha256-auth-int", ', algorithm=SHA-256, qop="auth-int"'),
        ("sha512-256-sess-userhash", ', algorithm=SHA-512-256-sess, qop="auth", userhash=true'),
        ("escaped-opaque", r', opaque="a\"b\\c", qop="auth"'),
    ]:
        write("digest_challenge", name, base + extra)

    for n, line in enumerate(data_lines(DIGEST / "hostile-authorization.txt")):
        write("digest_authorization", "hostile-" + slug(line, n), line)
    # Answers the fixed verifier accepts, for qop auth and auth-int.
    ha1 = md5(f"{USERNAME}:{REALM}:{PASSWORD}")
    for qop, a2 in [("auth", f"{METHOD}:{URI}"), ("auth-int", f"{METHOD}:{URI}:{md5(BODY)}")]:
        response = md5(f"{ha1}:{NONCE}:00000001:{CNONCE}:{qop}:{md5(a2)}")
        write(
            "digest_authorization",
            f"valid-{qop}",
            f'Digest username="{USERNAME}", realm="{REALM}", uri="{URI}", nonce="{NONCE}", '
            f'algorithm=MD5, nc=00000001, cnonce="{CNONCE}", qop={qop}, response="{response}"',
        )


def pem_blocks(text):
    return re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----\n?", text, re.S)


def trust():
    certificates = []
    for path in sorted(TRUST.glob("*.pem")):
        if "KEY" in path.name:
            continue
        text = path.read_text()
        write("trust_pem", path.stem, text)
        for block in pem_blocks(text):
            body = "".join(block.splitlines()[1:-1])
            der = base64.b64decode(body)
            certificates.append(block)
            write("trust_der_leaf", path.stem, der)
    write("trust_pem", "two-certificates", "".join(certificates[:2]))
    write("trust_pem", "empty-armour", "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")
    write("trust_pem", "private-key-only", "-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n")


def power():
    texts = [
        "power-on", "Graceful Restart", "graceful_shutdown", "restart", "STOP", " off ",
        "sleep", "hibernate", "power-cycle", "reboot",
        "16.1.25", "16.1.25.1917", "11.8", "9.5.30\nGraceful Shutdown", "1.2.3.4.5", "4294967296.0",
        "Intel(R) Active Management Technology 16.1.25.1917",
        "Intel(R) Active Management Technology",
        "Intel(R) Active Management Technology12.0",
    ]
    for n, text in enumerate(texts):
        write("power_parse", slug(text, n), text)
    # Binary seeds: PowerState code, then AvailableRequestedPowerStates (little-endian u16s),
    # then a version line.
    def codes(state, offered, version=b""):
        return state.to_bytes(2, "little") + b"".join(v.to_bytes(2, "little") for v in offered) + version

    write("power_parse", "on-amt16", codes(2, [10, 8, 5, 11, 12, 14, 4, 7], b"\n16.1.25"))
    write("power_parse", "off-amt9", codes(8, [2], b"\n9.5.30"))
    write("power_parse", "hibernate-no-version", codes(7, [2]))
    write("power_parse", "return-job-started", (4096).to_bytes(4, "little"))
    write("power_parse", "return-busy", (4099).to_bytes(4, "little"))


def cooldown():
    rng = random.Random(20261128)
    for n in range(8):
        write("cooldown_ops", f"random-{n}", bytes(rng.randrange(256) for _ in range(16 * (n + 1))))


if __name__ == "__main__":
    wsman()
    digest()
    trust()
    power()
    cooldown()
