"""What the run log says never carries a secret, even one pasted into the history path."""

from __future__ import annotations

import pytest

from dli_magic.redaction import register_secrets


def test_a_secret_in_the_history_path_never_reaches_a_warning(tmp_path, record):
    secret = "HISTORY-PATH-SECRET-5f1e"
    register_secrets(secret)
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.warns(RuntimeWarning) as caught:
        record(blocker / secret / "h.sqlite", [1])
    text = " ".join(str(w.message) for w in caught)
    assert "could not write the run history" in text and secret not in text and "***" in text
