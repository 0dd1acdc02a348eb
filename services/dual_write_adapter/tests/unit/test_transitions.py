"""Sales state changes → lifecycle commands (CONTRACT.md §1, DOMAIN.md §2). Codes from
DUALWRITE-REFERENCE §1.1: statecode 0 Draft, 1 Active, 2 Won, 3 Closed; statuscode 5 Lost,
6 Canceled, 7 Revised."""

import pytest

from dual_write_adapter.transitions import lifecycle_command


@pytest.mark.parametrize(
    ("old_state", "new_state", "new_status", "command"),
    [
        pytest.param(0, 1, 2, "quote.send", id="activate-draft-to-active"),
        pytest.param(1, 2, 4, "quote.confirm", id="win-active-to-won"),
        pytest.param(1, 3, 5, "quote.lose", id="close-lost"),
        pytest.param(1, 3, 6, "quote.cancel", id="close-canceled"),
        pytest.param(1, 3, 7, "quote.revise", id="close-revised"),
        # steps Sales' own rules forbid are forwarded; the ownership service refuses them
        pytest.param(0, 2, 4, "quote.confirm", id="draft-to-won-forwarded"),
        pytest.param(0, 3, 5, "quote.lose", id="draft-to-lost-forwarded"),
        pytest.param(0, 3, 6, "quote.cancel", id="draft-to-canceled-forwarded"),
        # no change of state
        pytest.param(0, 0, 1, None, id="same-state-draft"),
        pytest.param(1, 1, 3, None, id="same-state-active-other-reason"),
        pytest.param(3, 3, 6, None, id="same-state-closed-other-reason"),
        pytest.param(1, None, None, None, id="no-new-state"),
        pytest.param(None, None, None, None, id="no-state-at-all"),
        # not lifecycle steps
        pytest.param(1, 0, 1, None, id="back-to-draft"),
        pytest.param(1, 3, 99, None, id="closed-unknown-reason"),
        pytest.param(1, 3, None, None, id="closed-without-reason"),
    ],
)
def test_lifecycle_command(old_state: int | None, new_state: int | None, new_status: int | None,
                           command: str | None) -> None:
    assert lifecycle_command(old_state, new_state, new_status) == command
