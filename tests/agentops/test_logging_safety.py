from agentops.logging_safety import redact


def test_redact_masks_emails_and_long_numbers_and_shortens() -> None:
    text = "mail ada@example.com about card 4111 1111 1111 1111 " + "x" * 100
    shown = redact(text)
    assert "ada@example.com" not in shown and "4111" not in shown
    assert "[email]" in shown and "[number]" in shown
    assert len(shown) == 60 and shown.endswith("…")
    assert redact("short") == "short"
