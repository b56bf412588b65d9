"""A SAML 2.0 identity provider for the integration suite, built on pysaml2.

It stands in for Suomi.fi (and Virtu): HTTP-Redirect SSO whose AuthnRequests must be signed,
responses over HTTP-POST with a signed assertion encrypted to the service provider, and single
logout in both directions over HTTP-Redirect. Its metadata lists two signing certificates, as
during a key rotation.

The test drives it through /admin/...: who logs in next, which key signs, and which flaw the
next answer has (so the service provider's checks can be shown to refuse each one).

Environment: PORT, WORKDIR (keys are written there).
"""

import base64
import datetime
import json
import os
import secrets
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.saml import NAMEID_FORMAT_TRANSIENT, NameID
from saml2.server import Server
from saml2.sigver import RSA_OAEP_MGF1P, get_pem_wrapped_unwrapped, make_temp, pre_encryption_part

PORT = int(os.environ["PORT"])
WORKDIR = os.environ["WORKDIR"]
BASE = f"http://127.0.0.1:{PORT}"
ENTITY_ID = f"{BASE}/idp"
LOA_SUBSTANTIAL = "http://ftn.ficora.fi/2017/loa2"
OTHER_SP = "https://elsewhere.invalid/sp"
AES128_GCM = "http://www.w3.org/2009/xmlenc11#aes128-gcm"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
SHA1 = "http://www.w3.org/2000/09/xmldsig#sha1"

# Suomi.fi's public test identities and test Virtu users, with attributes named as the real
# providers name them (OIDs; well-known ones by their friendly names, which pysaml2 maps).
USERS = {
    "tessa": {
        "urn:oid:1.2.246.21": ["010280-952L"],
        "givenName": ["Tessa"],
        "sn": ["Testilä"],
        "mail": ["tessa@example.invalid"],
    },
    "nordea": {"urn:oid:1.2.246.21": ["010675-9981"], "givenName": ["Tuomas"], "sn": ["Testinen"]},
    "bad-code": {"urn:oid:1.2.246.21": ["010280-952M"], "givenName": ["Väärä"], "sn": ["Tunnus"]},
    "maija": {
        "urn:oid:1.3.6.1.4.1.31350.1.5": ["demo.ohjaus.invalid"],
        "urn:oid:1.3.6.1.4.1.31350.1.8": ["maija.paakayttaja"],
        "givenName": ["Maija"],
        "sn": ["Pääkäyttäjä"],
        "mail": ["maija@demo.ohjaus.invalid"],
    },
}


def make_key_pair(name):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"saml-idp-peer {name}")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_file = os.path.join(WORKDIR, f"{name}.key")
    cert_file = os.path.join(WORKDIR, f"{name}.crt")
    with open(key_file, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    with open(cert_file, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    body = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
    return {"key_file": key_file, "cert_file": cert_file, "cert_body": body}


# "old" and "new" are both in the metadata (a rotation); "foreign" is not.
KEYS = {name: make_key_pair(name) for name in ("old", "new", "foreign")}


def metadata():
    signing = "".join(
        f'<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{KEYS[n]["cert_body"]}'
        f"</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
        for n in ("old", "new")
    )
    redirect = BINDING_HTTP_REDIRECT
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
        f'xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{ENTITY_ID}">'
        '<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" '
        'WantAuthnRequestsSigned="true">'
        f"{signing}"
        f'<md:SingleLogoutService Binding="{redirect}" Location="{BASE}/slo"/>'
        f"<md:NameIDFormat>{NAMEID_FORMAT_TRANSIENT}</md:NameIDFormat>"
        f'<md:SingleSignOnService Binding="{redirect}" Location="{BASE}/sso"/>'
        "</md:IDPSSODescriptor></md:EntityDescriptor>"
    )


class State:
    """What the test has set up; one test drives one peer at a time."""

    def __init__(self):
        self.lock = threading.Lock()
        self.sp_metadata = None
        self.user = "tessa"
        self.flaw = "none"
        self.signer = "new"
        # NameIDs of logins, for IdP-initiated logout.
        self.sessions = []
        self.last_logout_response = None

    def other_sp_metadata(self):
        start = self.sp_metadata.index('entityID="') + len('entityID="')
        end = self.sp_metadata.index('"', start)
        return self.sp_metadata[:start] + OTHER_SP + self.sp_metadata[end:]

    def server(self, signer=None):
        signer = KEYS[signer or self.signer]
        config = IdPConfig()
        config.load(
            {
                "entityid": ENTITY_ID,
                "service": {
                    "idp": {
                        "endpoints": {
                            "single_sign_on_service": [(f"{BASE}/sso", BINDING_HTTP_REDIRECT)],
                            "single_logout_service": [(f"{BASE}/slo", BINDING_HTTP_REDIRECT)],
                        },
                        "want_authn_requests_signed": True,
                        "name_id_format": [NAMEID_FORMAT_TRANSIENT],
                        "policy": {"default": {"lifetime": {"minutes": 5}, "name_form": "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"}},
                    }
                },
                "key_file": signer["key_file"],
                "cert_file": signer["cert_file"],
                # Ours, and the same under another entity id (answers meant for someone else).
                "metadata": {"inline": [self.sp_metadata, self.other_sp_metadata()]},
                "xmlsec_binary": "/usr/bin/xmlsec1",
                "signing_algorithm": RSA_SHA256,
                "digest_algorithm": SHA256,
                "delete_tmpfiles": True,
            }
        )
        return Server(config=config)


STATE = State()


def encrypt_with_gcm(server, tamper=False):
    """Encrypts assertions with AES-128-GCM under RSA-OAEP (pysaml2's default is 3DES-CBC).
    With `tamper`, the signed assertion is changed after signing and before encryption."""

    def encrypt(encrypt_cert, sp_entity_id, response, node_xpath=None):
        if tamper:
            response = str(response).replace("Tessa", "Teppo")
        wrapped, unwrapped = get_pem_wrapped_unwrapped(encrypt_cert)
        cert_file = make_temp(wrapped.encode("ascii"), decode=False, delete_tmpfiles=True)
        template = pre_encryption_part(msg_enc=AES128_GCM, key_enc=RSA_OAEP_MGF1P, encrypt_cert=unwrapped)
        return server.sec.encrypt_assertion(response, cert_file.name, template, key_type="aes-128", node_xpath=node_xpath)

    server._encrypt_assertion = encrypt


def sp_info(server):
    (sp_entity_id,) = [e for e in server.metadata.service_providers() if e != OTHER_SP]
    acs = server.metadata.assertion_consumer_service(sp_entity_id, BINDING_HTTP_POST)[0]["location"]
    (cert,) = [c for _, c in server.metadata.certs(sp_entity_id, "spsso", "encryption")][:1]
    return sp_entity_id, acs, cert


def single(query, name):
    values = query.get(name)
    return values[0] if values else None


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, status, body, content_type="text/plain; charset=utf-8", location=None):
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        if location:
            self.send_header("Location", location)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8")
        path = urlparse(self.path).path
        with STATE.lock:
            if path == "/admin/sp-metadata":
                STATE.sp_metadata = body
                return self.answer(204, "")
            if path == "/admin/next":
                settings = json.loads(body)
                STATE.user = settings.get("user", "tessa")
                STATE.flaw = settings.get("flaw", "none")
                STATE.signer = settings.get("signer", "new")
                return self.answer(204, "")
        self.answer(404, "not found")

    def do_GET(self):
        url = urlparse(self.path)
        query = parse_qs(url.query)
        try:
            with STATE.lock:
                if url.path == "/metadata":
                    return self.answer(200, metadata(), "application/samlmetadata+xml")
                if url.path == "/sso":
                    return self.sso(query)
                if url.path == "/slo":
                    return self.slo(query)
                if url.path == "/admin/logout":
                    return self.idp_initiated_logout()
                if url.path == "/admin/last-logout-response":
                    return self.answer(200, json.dumps(STATE.last_logout_response), "application/json")
        except Exception as error:  # the test reads the reason
            return self.answer(400, f"refused: {type(error).__name__}: {error}")
        self.answer(404, "not found")

    def sso(self, query):
        server = STATE.server()
        request = server.parse_authn_request(
            single(query, "SAMLRequest"),
            BINDING_HTTP_REDIRECT,
            relay_state=single(query, "RelayState"),
            sigalg=single(query, "SigAlg"),
            signature=single(query, "Signature"),
        )
        if request is None:
            raise ValueError("the AuthnRequest did not verify")
        sp_entity_id, acs, sp_cert = sp_info(server)
        flaw = STATE.flaw
        class_ref = "http://ftn.ficora.fi/2017/loa1" if flaw == "low-assurance" else LOA_SUBSTANTIAL
        name_id = NameID(format=NAMEID_FORMAT_TRANSIENT, text="_" + secrets.token_hex(16))
        if flaw == "foreign-key":
            server = STATE.server("foreign")
        encrypt_with_gcm(server, tamper=flaw == "tampered")
        response = server.create_authn_response(
            dict(USERS[STATE.user]),
            in_response_to="_" + secrets.token_hex(16) if flaw == "wrong-in-response-to" else request.message.id,
            destination="https://elsewhere.invalid/acs" if flaw == "wrong-recipient" else acs,
            sp_entity_id=OTHER_SP if flaw == "wrong-audience" else sp_entity_id,
            name_id=name_id,
            authn={"class_ref": class_ref, "authn_auth": ENTITY_ID},
            sign_response=False,
            sign_assertion=flaw != "unsigned",
            encrypt_assertion=flaw != "unencrypted",
            encrypt_cert_assertion=sp_cert,
            session_not_on_or_after=None,
            sign_alg=RSA_SHA1 if flaw == "sha1" else RSA_SHA256,
            digest_alg=SHA1 if flaw == "sha1" else SHA256,
        )
        STATE.sessions.append(name_id.text)
        form = server.apply_binding(BINDING_HTTP_POST, str(response), acs, single(query, "RelayState") or "", response=True)
        return self.answer(200, form["data"], "text/html; charset=utf-8")

    def slo(self, query):
        server = STATE.server()
        if single(query, "SAMLResponse"):
            # The answer to a logout we started (IdP-initiated): keep it for the test to read.
            response = server.parse_logout_request_response(single(query, "SAMLResponse"), BINDING_HTTP_REDIRECT)
            STATE.last_logout_response = {
                "status": response.response.status.status_code.value,
                "in_response_to": response.response.in_response_to,
            }
            return self.answer(200, "logged out at the service provider")
        request = server.parse_logout_request(
            single(query, "SAMLRequest"),
            BINDING_HTTP_REDIRECT,
            relay_state=single(query, "RelayState"),
            sigalg=single(query, "SigAlg"),
            signature=single(query, "Signature"),
        )
        if request is None:
            raise ValueError("the LogoutRequest did not verify")
        response = server.create_logout_response(request.message, [BINDING_HTTP_REDIRECT], sign=False)
        sp_entity_id, _, _ = sp_info(server)
        destination = server.metadata.single_logout_service(sp_entity_id, BINDING_HTTP_REDIRECT, "spsso")[0]["location"]
        http = server.apply_binding(
            BINDING_HTTP_REDIRECT, str(response), destination, single(query, "RelayState") or "", response=True, sign=True, sigalg=RSA_SHA256
        )
        location = dict(http["headers"])["Location"]
        return self.answer(303, "", location=location)

    def idp_initiated_logout(self):
        """Logs the last user out at the service provider: a signed LogoutRequest, redirected."""
        server = STATE.server()
        sp_entity_id, _, _ = sp_info(server)
        destination = server.metadata.single_logout_service(sp_entity_id, BINDING_HTTP_REDIRECT, "spsso")[0]["location"]
        request_id, request = server.create_logout_request(
            destination,
            ENTITY_ID,
            name_id=NameID(format=NAMEID_FORMAT_TRANSIENT, text=STATE.sessions[-1]),
            sign=False,
        )
        http = server.apply_binding(BINDING_HTTP_REDIRECT, str(request), destination, "idp-initiated", sign=True, sigalg=RSA_SHA256
        )
        location = dict(http["headers"])["Location"]
        return self.answer(303, "", location=location)


if __name__ == "__main__":
    print(f"saml-idp peer on {BASE}", file=sys.stderr)
    ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
