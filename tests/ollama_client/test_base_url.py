import doctest

import pytest

import ollama_client.base_url
from ollama_client import OllamaConfigError, normalise_base_url


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("localhost:11434", "http://localhost:11434"),
        ("http://host:11434/", "http://host:11434"),
        ("http://host:11434///", "http://host:11434"),
        ("  http://Host.LAN:11434  ", "http://host.lan:11434"),
        ("http://host:11434/api", "http://host:11434"),
        ("http://host:11434/api/", "http://host:11434"),
        ("http://host:11434/v1", "http://host:11434"),
        ("https://ollama.com/api", "https://ollama.com"),
        ("http://host:11434/api/chat", "http://host:11434"),
        ("http://host:11434/v1/chat/completions", "http://host:11434"),
        ("http://gateway.example/ollama/api", "http://gateway.example/ollama"),
        ("http://gateway.example/ollama", "http://gateway.example/ollama"),
        ("HTTPS://ollama.com", "https://ollama.com"),
        ("192.168.1.100:11434", "http://192.168.1.100:11434"),
        ("http://[::1]:11434", "http://[::1]:11434"),
        ("[::1]:11434", "http://[::1]:11434"),
        ("[fe80::1]:11434/api", "http://[fe80::1]:11434"),
        ("::1", "http://[::1]:11434"),
        ("host.docker.internal:11434", "http://host.docker.internal:11434"),
    ],
)
def test_accepted_forms_normalise_to_the_server_root(typed, expected):
    assert normalise_base_url(typed) == expected


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        # Without a scheme: Ollama's defaults, as ollama-python's _parse_host.
        ("localhost", "http://localhost:11434"),
        ("192.168.1.20", "http://192.168.1.20:11434"),
        ("host.docker.internal", "http://host.docker.internal:11434"),
        ("ollama.lan/", "http://ollama.lan:11434"),
        ("ollama.lan/api/chat", "http://ollama.lan:11434"),
        ("gateway.lan/ollama", "http://gateway.lan:11434/ollama"),
        ("[fe80::1]", "http://[fe80::1]:11434"),
        ("localhost:8080", "http://localhost:8080"),
        # With a scheme and no port: that scheme's standard port, as any URL (a proxy on 80/443).
        ("http://192.168.1.20", "http://192.168.1.20"),
        ("http://gateway.lan/ollama", "http://gateway.lan/ollama"),
        ("https://ollama.com", "https://ollama.com"),
    ],
)
def test_an_address_without_scheme_means_ollamas_default_port(typed, expected):
    assert normalise_base_url(typed) == expected


def test_module_examples_hold():
    result = doctest.testmod(ollama_client.base_url)
    assert result.attempted >= 8 and result.failed == 0


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("", "empty"),
        ("   ", "empty"),
        (None, "empty"),
        ("ftp://host:11434", "scheme 'ftp'"),
        ("ws://host:11434", "scheme 'ws'"),
        ("file:///etc/passwd", "scheme 'file'"),
        ("http://host:11434/?api_key=sk-secret", "credential in its query string"),
        ("http://host:11434/api?token=abc", "credential in its query string"),
        ("http://host:11434/?x=1", "query string"),
        ("http://user:pw@host:11434", "user name or password"),
        ("http://host:99999", "cannot be parsed"),
        ("http://:11434", "no host"),
        # The resolver and httpx would fail later with a bare UnicodeError / IDNAError.
        ("http://a..b:11434", "'a..b' is not a valid domain name (label empty or too long)"),
        ("http://xn--zz.com", "'xn--zz.com' is not a valid domain name"),
        ("http://" + "a" * 64 + ".lan:11434", "is not a valid domain name"),
        ("http://exa mple.lan:11434", "contains a space"),
    ],
)
def test_rejected_forms_explain_and_show_a_correct_example(typed, problem):
    with pytest.raises(OllamaConfigError) as caught:
        normalise_base_url(typed)
    message = str(caught.value)
    assert problem in message
    assert "Example of a correct value: http://host.docker.internal:11434" in message


def test_rejection_never_echoes_a_secret_from_the_url():
    for typed in ("http://host:11434/?api_key=sk-very-secret", "http://me:sk-very-secret@host:11434"):
        with pytest.raises(OllamaConfigError) as caught:
            normalise_base_url(typed)
        assert "sk-very-secret" not in str(caught.value)
