"""``elyune users``: the staff flag (create --staff, set-staff [--off]), deactivate and
activate; what they change is what logging in and the operator API see."""

from __future__ import annotations

import asyncio

from elyune_adapters.container import create_container, resolve
from elyune_adapters.settings import load_settings
from elyune_core import AuthenticationError
from elyune_core.use_cases import LoginInput

PASSWORD = "correct horse\n"


def _user(cli, name: str):
    async def read():
        container = create_container(load_settings({"ELYUNE_DATA_DIR": str(cli.data_dir)}))
        await resolve(container.init_resources())
        try:
            async with (await resolve(container.uow()))() as uow:
                return await uow.users.get_by_username(name)
        finally:
            await resolve(container.shutdown_resources())

    return asyncio.run(read())


def _can_log_in(cli, name: str) -> bool:
    async def login():
        container = create_container(load_settings({"ELYUNE_DATA_DIR": str(cli.data_dir)}))
        await resolve(container.init_resources())
        try:
            await (await resolve(container.login())).execute(LoginInput(name, PASSWORD.strip()))
            return True
        except AuthenticationError:
            return False
        finally:
            await resolve(container.shutdown_resources())

    return asyncio.run(login())


def test_create_a_staff_user_and_change_the_flag(cli):
    created = cli("users", "create", "olga", "--staff", "--password-stdin", input=PASSWORD)
    assert created.exit_code == 0, created.output
    assert "Created staff user olga" in created.stdout
    assert _user(cli, "olga").is_staff
    regular = cli("users", "create", "bob", "--password-stdin", input=PASSWORD)
    assert regular.exit_code == 0 and not _user(cli, "bob").is_staff
    listed = cli("users", "list").stdout
    assert "olga" in listed and "(staff)" in listed.split("olga", 1)[1].splitlines()[0]

    made = cli("users", "set-staff", "bob")
    assert made.exit_code == 0 and "bob is staff" in made.stdout
    assert _user(cli, "bob").is_staff
    taken = cli("users", "set-staff", "bob", "--off")
    assert taken.exit_code == 0 and "no longer staff" in taken.stdout
    assert not _user(cli, "bob").is_staff


def test_deactivate_and_activate_a_user(cli):
    cli("users", "create", "alice", "--password-stdin", input=PASSWORD)
    assert _can_log_in(cli, "alice")
    off = cli("users", "deactivate", "alice")
    assert off.exit_code == 0 and "deactivated" in off.stdout
    assert not _user(cli, "alice").is_active
    assert not _can_log_in(cli, "alice")
    assert "(inactive)" in cli("users", "list").stdout
    on = cli("users", "activate", "alice")
    assert on.exit_code == 0
    assert _can_log_in(cli, "alice")


def test_flags_of_an_unknown_user_fail_with_a_message(cli):
    for args in (("set-staff", "zed"), ("deactivate", "zed"), ("activate", "zed")):
        result = cli("users", *args)
        assert result.exit_code != 0
        assert "zed" in result.output
        assert "Traceback" not in result.output
