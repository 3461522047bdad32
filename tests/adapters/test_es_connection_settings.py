"""Connection settings without a server: host URLs, credentials, and secrets kept out of messages."""

import base64
import logging
import socket

import pytest

from samplerr.adapters.es_connection import EsConnection, EsRequestError
from samplerr.adapters.es_hosts import auth_header, display_url, split_hosts
from samplerr.core.config import ElasticsearchSettings
from samplerr.core.errors import SinkError

PASSWORD = "pa55-w0rd-s3cret"
API_KEY = "a2V5LWlkOmtleS1zZWNyZXQtdmFsdWU="  # base64 of "key-id:key-secret-value"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("given", "url"),
    [
        ("http://127.0.0.1:9200", "http://127.0.0.1:9200"),
        ("es1", "http://es1:9200"),
        ("es1:9201", "http://es1:9201"),
        ("https://es.example.org", "https://es.example.org:443"),
        ("https://es.example.org/prefix/", "https://es.example.org:443/prefix"),
        ("http://[::1]:9200", "http://[::1]:9200"),
        (f"https://elastic:{PASSWORD}@es:9200", "https://es:9200"),
    ],
)
def test_host_urls_are_normalised_without_credentials(given, url):
    assert split_hosts((given,)).urls == (url,)


def test_credentials_in_a_host_url_become_basic_auth():
    hosts = split_hosts(("https://elastic:p%40ss@es:9200", "https://es2:9200"))
    assert hosts.userinfo == ("elastic", "p@ss")
    header = auth_header(ElasticsearchSettings(), hosts.userinfo)
    assert header == "Basic " + base64.b64encode(b"elastic:p@ss").decode()


def test_no_host_is_an_error():
    with pytest.raises(ValueError, match="no Elasticsearch host"):
        split_hosts(())


def test_display_url_drops_userinfo():
    assert display_url(f"https://elastic:{PASSWORD}@es:9200/x") == "https://es:9200/x"
    assert display_url("http://es:9200") == "http://es:9200"


class TestAuthHeader:
    def test_basic(self):
        header = auth_header(ElasticsearchSettings(username="elastic", password=PASSWORD))
        assert header == "Basic " + base64.b64encode(f"elastic:{PASSWORD}".encode()).decode()

    def test_encoded_api_key_is_sent_as_is_and_wins_over_basic(self):
        settings = ElasticsearchSettings(username="elastic", password=PASSWORD, api_key=API_KEY)
        assert auth_header(settings) == f"ApiKey {API_KEY}"

    def test_id_colon_key_is_encoded(self):
        header = auth_header(ElasticsearchSettings(api_key="key-id:key-secret-value"))
        assert header == f"ApiKey {API_KEY}"

    def test_none(self):
        assert auth_header(ElasticsearchSettings()) is None


class TestSecretsStayOut:
    def settings(self, **kw):
        return ElasticsearchSettings(hosts=(f"http://127.0.0.1:{closed_port()}",), request_timeout=2.0, **kw)

    def test_repr_of_settings_and_connection(self):
        settings = self.settings(username="elastic", password=PASSWORD, api_key=API_KEY)
        connection = EsConnection(settings)
        for text in (repr(settings), str(settings), repr(connection), str(connection)):
            assert PASSWORD not in text
            assert API_KEY not in text
        assert "auth=api-key" in repr(connection)

    def test_redact_replaces_every_form_of_the_secrets(self):
        connection = EsConnection(self.settings(api_key="key-id:key-secret-value"))
        encoded = base64.b64encode(b"key-id:key-secret-value").decode()
        text = connection.redact(f"a key-id:key-secret-value b {encoded} c key-secret-value")
        assert "key-secret-value" not in text
        assert encoded not in text

    @pytest.mark.parametrize(
        "kw",
        [
            {"username": "elastic", "password": PASSWORD},
            {"api_key": API_KEY},
        ],
    )
    def test_unreachable_host_message_names_the_host_not_the_secret(self, kw, caplog):
        settings = self.settings(**kw)
        connection = EsConnection(settings)
        caplog.set_level(logging.DEBUG)
        with pytest.raises(EsRequestError) as caught:
            connection.server_info()
        message = str(caught.value)
        assert settings.hosts[0] in message
        assert "Connection refused" in message
        assert caught.value.retryable
        assert caught.value.status is None
        assert isinstance(caught.value, SinkError)
        assert caught.value.__cause__ is not None
        for secret in (PASSWORD, API_KEY):
            assert secret not in message
            assert secret not in caplog.text

    def test_password_in_the_host_url_never_shows(self, caplog):
        port = closed_port()
        caplog.set_level(logging.DEBUG)
        connection = EsConnection(
            ElasticsearchSettings(hosts=(f"http://elastic:{PASSWORD}@127.0.0.1:{port}",))
        )
        with pytest.raises(EsRequestError) as caught:
            connection.server_info()
        assert f"http://127.0.0.1:{port}" in str(caught.value)
        for text in (str(caught.value), repr(connection), caplog.text):
            assert PASSWORD not in text
