"""The parts of `apps/admin_ops/backups.py` that need no server: tool choice, expected schema, restore list.

The commands themselves run end to end against PostgreSQL in tests/test_backups.py.
"""

from pathlib import Path

import pytest

from apps.admin_ops import backups


def _fake_tools(directory: Path, major: int) -> Path:
    directory.mkdir(parents=True)
    for tool in ("pg_dump", "pg_restore"):
        script = directory / tool
        script.write_text(f"#!/bin/sh\necho '{tool} (PostgreSQL) {major}.3'\n")
        script.chmod(0o755)
    return directory


@pytest.fixture
def installed(tmp_path, monkeypatch):
    """Client tools 13, 15 and 17 installed side by side (as /usr/lib/postgresql/*/bin would have them)."""
    dirs = {major: _fake_tools(tmp_path / str(major) / "bin", major) for major in (17, 13, 15)}
    monkeypatch.setattr(backups, "_candidate_bin_dirs", lambda server_major, bin_dir: [str(d) for d in dirs.values()])
    return dirs


def test_the_tools_of_the_servers_major_version_win(installed):
    tools = backups.find_pg_tools(server_major=15)

    assert tools == backups.PgTools(
        pg_dump=str(installed[15] / "pg_dump"), pg_restore=str(installed[15] / "pg_restore"), major_version=15
    )


def test_without_an_exact_match_the_oldest_newer_tools_are_used(installed):
    assert backups.find_pg_tools(server_major=14).major_version == 15
    assert backups.find_pg_tools(server_major=16).major_version == 17


def test_only_older_tools_is_a_clear_error(installed):
    with pytest.raises(backups.BackupError, match=r"pg_dump/pg_restore 18 or newer not found .*\(17\).*client-18"):
        backups.find_pg_tools(server_major=18)


def test_a_directory_without_pg_restore_does_not_count(tmp_path):
    half = _fake_tools(tmp_path / "bin", 15)
    (half / "pg_restore").unlink()

    with pytest.raises(backups.BackupError, match="found: none"):
        backups.find_pg_tools(server_major=15, bin_dir=str(half))


def test_candidates_start_with_the_servers_own_version():
    dirs = backups._candidate_bin_dirs(16, None)

    assert dirs[0] == "/usr/lib/postgresql/16/bin"
    assert len(dirs) == len(set(dirs))


def test_expected_schema_covers_the_spec_7_guarantees():
    names, unique_columns = backups.expected_schema_objects()

    assert {
        "bookings_one_active_per_slot",
        "packages_counters_consistent",
        "slots_end_after_start",
        "payments_amount_positive",
        "notifications_once_per_event_recipient",
        "availability_slots_no_overlap",
        "outbox_processed_idx",
    } <= names
    assert {("lessons", "booking_id"), ("users", "email"), ("payments", "external_reference")} <= unique_columns


def test_every_spec_7_rule_has_a_data_check():
    rules = [rule for rule, _ in backups.INVARIANT_CHECKS]

    assert rules[:3] == [
        "a slot has at most one booking in hold or confirmed",
        "0 <= lessons_reserved <= lessons_left <= lessons_total",
        "a booking has at most one lesson",
    ]
    assert {"a slot ends after it starts", "a payment amount is positive"} <= set(rules)
    assert "one notification per (outbox event, recipient)" in rules


def test_the_restore_list_leaves_out_comments_on_extensions_only():
    toc = (
        ";\n; Archive created at 2026-01-01\n"
        "2; 3079 16385 EXTENSION - btree_gist \n"
        "4025; 0 0 COMMENT - EXTENSION btree_gist \n"
        "215; 1259 16400 TABLE public bookings postgres\n"
    )

    kept = backups._restore_list(toc)

    assert "EXTENSION - btree_gist" in kept and "TABLE public bookings" in kept
    assert "COMMENT - EXTENSION" not in kept
