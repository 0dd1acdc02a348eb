"""Loading versioned SQL migrations (`NNNN_name.sql`) from a directory."""

from pathlib import Path

import pytest

from q2c_persistence.migrations import Migration, load_migrations

REPO_ROOT = Path(__file__).resolve().parents[2]
REAL_SETS = [
    pytest.param("messaging", "libs/messaging/src/q2c_messaging/migrations", id="messaging"),
    pytest.param(
        "feature_state",
        "services/feature_state/src/feature_state_service/migrations",
        id="feature_state",
    ),
]


def _write(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, sql in files.items():
        (directory / name).write_text(sql)
    return directory


def test_files_load_in_version_order(tmp_path: Path) -> None:
    # Given files created out of order, one with a version past 9 and a non-SQL neighbour
    directory = _write(
        tmp_path,
        {
            "0010_ten.sql": "SELECT 10;",
            "0002_two.sql": "SELECT 2;",
            "0001_one.sql": "SELECT 1;",
            "README.md": "not a migration",
        },
    )

    loaded = load_migrations("things", directory)

    assert loaded.namespace == "things"
    assert loaded.migrations == (
        Migration(1, "one", "SELECT 1;"),
        Migration(2, "two", "SELECT 2;"),
        Migration(10, "ten", "SELECT 10;"),
    )


def test_an_empty_directory_gives_an_empty_set(tmp_path: Path) -> None:
    assert load_migrations("things", tmp_path).migrations == ()


@pytest.mark.parametrize(
    "bad_name",
    [
        "1_short.sql",
        "00001_long.sql",
        "0001-dash.sql",
        "0001_Upper.sql",
        "0001_.sql",
        "0001_with space.sql",
        "init.sql",
    ],
)
def test_a_badly_named_file_is_refused(tmp_path: Path, bad_name: str) -> None:
    _write(tmp_path, {"0001_fine.sql": "SELECT 1;", bad_name: "SELECT 2;"})

    with pytest.raises(ValueError, match="NNNN_name.sql"):
        load_migrations("things", tmp_path)


def test_duplicate_versions_are_refused(tmp_path: Path) -> None:
    _write(tmp_path, {"0001_first.sql": "SELECT 1;", "0001_second.sql": "SELECT 2;"})

    with pytest.raises(ValueError, match="duplicate"):
        load_migrations("things", tmp_path)


@pytest.mark.parametrize(("namespace", "relative"), REAL_SETS)
def test_the_real_sets_load_and_start_at_version_one(namespace: str, relative: str) -> None:
    loaded = load_migrations(namespace, REPO_ROOT / relative)

    versions = [m.version for m in loaded.migrations]
    assert versions, f"{relative} holds no migration"
    assert versions[0] == 1
    assert versions == list(range(1, len(versions) + 1)), f"{relative} has gaps: {versions}"
    assert all(m.sql.strip() for m in loaded.migrations)


def test_the_checksum_follows_the_sql_but_not_its_line_endings() -> None:
    one = Migration(1, "one", "CREATE TABLE t (a int);\nCREATE INDEX ON t (a);\n")

    assert one.checksum == Migration(1, "renamed", one.sql).checksum
    assert one.checksum == Migration(1, "one", one.sql.replace("\n", "\r\n")).checksum
    assert one.checksum != Migration(1, "one", one.sql.replace("(a)", "(a DESC)")).checksum
    assert len(one.checksum) == 64
