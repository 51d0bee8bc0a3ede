"""A local stand-in for the Key Vault secrets REST API, served over HTTPS on 127.0.0.1.

It answers what `SecretClient.get_secret` asks: `GET /secrets/{name}` (latest version) and
`GET /secrets/{name}/{version}`, with `api-version` required, Key Vault's JSON shapes, the 404
`SecretNotFound` error body, and the authentication challenge: a request without a bearer token
gets 401 with `WWW-Authenticate: Bearer authorization=".../<tenant>", resource="..."`, a request
with the expected token succeeds, any other token gets 401.

The vault keeps a real Key Vault host name (`<name>.vault.azure.net`) so the SDK's check that the
challenge's resource matches the vault's domain runs as in production: `pinned_transport` resolves
that name to the stand-in's port, and the certificate, generated here with `cryptography` by a
throwaway CA, names it. Not covered: Entra ID token acquisition, managed identity, network rules,
RBAC, soft delete and recovery, throttling.
"""

from __future__ import annotations

import datetime as dt
import re
import socket
import ssl
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from azure.core.credentials import AccessToken
from azure.core.pipeline.transport import AioHttpTransport
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VAULT_RESOURCE = "https://vault.azure.net"
_NAME = re.compile(r"[0-9A-Za-z-]{1,127}")


@dataclass(frozen=True, slots=True)
class Seen:
    """One request as the stand-in saw it."""

    path: str
    authorization: str | None
    status: int


@dataclass(slots=True)
class KeyVaultStandIn:
    host: str
    ca_file: Path
    token: str = "standin-token"
    tenant: str = "00000000-0000-0000-0000-00000000beef"
    resource: str = VAULT_RESOURCE
    seen: list[Seen] = field(default_factory=list)
    port: int = 0
    _versions: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    _runner: web.AppRunner | None = None
    _ssl: ssl.SSLContext | None = None

    @property
    def url(self) -> str:
        return f"https://{self.host}"

    def set_secret(self, name: str, value: str) -> str:
        """Add a new version of ``name`` (as `az keyvault secret set` does); returns it."""
        version = uuid.uuid4().hex
        self._versions.setdefault(name.lower(), []).append((version, value))
        return version

    def fetches(self, name: str) -> int:
        """Successful reads of ``name``."""
        return sum(
            1 for s in self.seen if s.status == 200 and s.path.startswith(f"/secrets/{name}")
        )

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/secrets/{name}", self._get)
        app.router.add_get("/secrets/{name}/{version:.*}", self._get)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, ssl_context=self._ssl)
        await site.start()
        if not self.port:
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        """Stop answering: connections are refused until `start` again (on the same port)."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _get(self, request: web.Request) -> web.Response:
        response = self._answer(request)
        self.seen.append(Seen(request.path, request.headers.get("Authorization"), response.status))
        return response

    def _answer(self, request: web.Request) -> web.Response:
        authorization = request.headers.get("Authorization")
        if authorization != f"Bearer {self.token}":
            message = (
                "AKV10000: Request is missing a Bearer or PoP token."
                if authorization is None
                else "AKV10032: Invalid issuer."
            )
            return web.json_response(
                _error("Unauthorized", message),
                status=401,
                headers={
                    "WWW-Authenticate": (
                        f'Bearer authorization="https://login.microsoftonline.com/{self.tenant}", '
                        f'resource="{self.resource}"'
                    )
                },
            )
        if "api-version" not in request.query:
            return web.json_response(
                _error("BadParameter", "The 'api-version' query parameter is missing."), status=400
            )
        name = request.match_info["name"]
        wanted = request.match_info.get("version") or None
        if not _NAME.fullmatch(name):
            return web.json_response(_error("BadParameter", "Invalid secret name."), status=400)
        versions = self._versions.get(name.lower(), [])
        match = [v for v in versions if wanted is None or v[0] == wanted]
        if not match:
            label = f"{name}/{wanted}" if wanted else name
            return web.json_response(
                _error(
                    "SecretNotFound",
                    f"A secret with (name/id) {label} was not found in this key vault. If you "
                    "recently deleted this secret you may be able to recover it using the "
                    "correct recovery command.",
                ),
                status=404,
            )
        version, value = match[-1]
        now = int(time.time())
        return web.json_response(
            {
                "value": value,
                "id": f"{self.url}/secrets/{name}/{version}",
                "attributes": {
                    "enabled": True,
                    "created": now,
                    "updated": now,
                    "recoveryLevel": "Recoverable+Purgeable",
                    "recoverableDays": 90,
                },
                "tags": {},
            }
        )


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


async def start_standin(tmp_path: Path, **options: Any) -> KeyVaultStandIn:
    """A running stand-in with a vault name of its own (the SDK caches challenges per host)."""
    host = f"kv{uuid.uuid4().hex[:12]}.vault.azure.net"
    server_ssl, ca_file = _certificates(host, tmp_path)
    standin = KeyVaultStandIn(host=host, ca_file=ca_file, _ssl=server_ssl, **options)
    await standin.start()
    return standin


def pinned_transport(standin: KeyVaultStandIn) -> AioHttpTransport:
    """An SDK transport that resolves the vault's host name to the stand-in on 127.0.0.1 and
    trusts the stand-in's CA (``connection_verify``), as a client given a private CA would."""
    connector = aiohttp.TCPConnector(resolver=_PinnedResolver(standin))
    return AioHttpTransport(
        session=aiohttp.ClientSession(connector=connector),
        session_owner=True,
        connection_verify=str(standin.ca_file),
    )


def client_options(standin: KeyVaultStandIn) -> dict[str, Any]:
    """`SecretClient` keyword arguments for the stand-in: its transport, and no retries (the
    retry back-off would sleep)."""
    return {"transport": pinned_transport(standin), "retry_total": 0}


class FixedTokenCredential:
    """The azure-core async TokenCredential protocol: one fixed token, and the calls counted."""

    def __init__(self, token: str = "standin-token") -> None:
        self.token = token
        self.calls: list[tuple[tuple[str, ...], str | None]] = []
        self.closed = False

    async def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        self.calls.append((scopes, tenant_id))
        return AccessToken(self.token, int(time.time()) + 3600)

    async def close(self) -> None:
        self.closed = True

    async def __aenter__(self) -> FixedTokenCredential:
        return self

    async def __aexit__(self, *args: object) -> None:
        await self.close()


class _PinnedResolver(AbstractResolver):
    def __init__(self, standin: KeyVaultStandIn) -> None:
        self._standin = standin

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if host != self._standin.host:
            raise OSError(f"{host} is not the stand-in's host")
        return [
            ResolveResult(
                hostname=host,
                host="127.0.0.1",
                port=self._standin.port,
                family=socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
        ]

    async def close(self) -> None:
        return None


def _certificates(host: str, folder: Path) -> tuple[ssl.SSLContext, Path]:
    """A throwaway CA and a server certificate for ``host``: the server's TLS context and the
    CA file clients are told to trust."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "agentops test CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = folder / "standin-ca.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file = folder / "standin-cert.pem"
    cert_file.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_file)
    return server, ca_file
