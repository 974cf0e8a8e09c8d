import json

import pytest

from bot import settings as s


def _env(**extra):
    env = {
        s.APP_ID_ENV: "12",
        s.PRIVATE_KEY_ENV: "-----BEGIN PRIVATE KEY-----\nx\n-----END-----\n",
        s.WEBHOOK_SECRET_ENV: "hook",
        s.CREDENTIALS_FILE_ENV: "/nonexistent/credentials.json",
    }
    env.update(extra)
    return env


@pytest.mark.parametrize(
    "missing", [s.APP_ID_ENV, s.PRIVATE_KEY_ENV, s.WEBHOOK_SECRET_ENV]
)
def test_a_missing_required_setting_is_named_in_one_line(missing):
    env = _env()
    del env[missing]
    with pytest.raises(s.SettingsError) as caught:
        s.Settings.from_env(env)
    message = str(caught.value)
    assert missing in message
    assert "\n" not in message


def test_private_key_may_be_a_path(tmp_path):
    pem = "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n"
    key_file = tmp_path / "app.pem"
    key_file.write_text(pem)
    settings = s.Settings.from_env(_env(**{s.PRIVATE_KEY_ENV: str(key_file)}))
    assert settings.private_key == pem


def test_unreadable_key_path_is_reported(tmp_path):
    with pytest.raises(s.SettingsError, match=s.PRIVATE_KEY_ENV):
        s.Settings.from_env(_env(**{s.PRIVATE_KEY_ENV: str(tmp_path / "nope.pem")}))


def test_defaults_and_overrides():
    settings = s.Settings.from_env(
        _env(
            **{
                s.GITHUB_API_URL_ENV: "https://ghe.example.com/api/v3/",
                s.AWS_REGION_ENV: "eu-west-1",
                s.PRICES_ENV: json.dumps({"m": [1, 2]}),
            }
        )
    )
    assert settings.github_api_url == "https://ghe.example.com/api/v3"
    assert settings.bedrock_region == "eu-west-1"
    assert settings.model_id == s.DEFAULT_MODEL_ID
    assert settings.price_of("m") == (1.0, 2.0)


def test_bad_prices_are_refused():
    with pytest.raises(s.SettingsError, match=s.PRICES_ENV):
        s.Settings.from_env(_env(**{s.PRICES_ENV: "[1, 2]"}))


def test_credentials_file_fills_in_what_the_environment_lacks(tmp_path):
    stored = tmp_path / "creds.json"
    stored.write_text(
        json.dumps({"id": 99, "pem": "-----BEGIN X-----\n", "webhook_secret": "w"})
    )
    env = {s.CREDENTIALS_FILE_ENV: str(stored)}
    settings = s.Settings.from_env(env)
    assert (settings.app_id, settings.webhook_secret) == ("99", "w")


def test_nothing_about_the_app_means_set_up_mode(tmp_path):
    settings = s.load_settings(
        {
            s.CREDENTIALS_FILE_ENV: str(tmp_path / "none.json"),
            s.PUBLIC_URL_ENV: "https://heal.example.com/",
        }
    )
    assert isinstance(settings, s.SetupSettings)
    assert settings.public_url == "https://heal.example.com"
    assert settings.github_api_url == s.DEFAULT_GITHUB_API_URL


@pytest.mark.parametrize(
    "missing", [s.APP_ID_ENV, s.PRIVATE_KEY_ENV, s.WEBHOOK_SECRET_ENV]
)
def test_part_of_the_app_given_is_a_mistake_not_set_up_mode(missing):
    """Regression: a typo in one variable must not silently open /setup."""
    env = _env()
    del env[missing]
    with pytest.raises(s.SettingsError, match=missing):
        s.load_settings(env)


def test_a_full_environment_loads_the_app():
    settings = s.load_settings(_env())
    assert isinstance(settings, s.Settings)
    assert settings.setup.credentials_file == "/nonexistent/credentials.json"


def test_a_credentials_file_that_is_no_object_is_named(tmp_path):
    stored = tmp_path / "creds.json"
    stored.write_text("[]")
    with pytest.raises(s.SettingsError, match=r"creds\.json"):
        s.load_settings({s.CREDENTIALS_FILE_ENV: str(stored)})


@pytest.mark.parametrize(
    ("given", "missing"),
    [
        (s.FORWARDER_KEY_ID_ENV, s.FORWARDER_SECRET_ENV),
        (s.FORWARDER_SECRET_ENV, s.FORWARDER_KEY_ID_ENV),
    ],
)
def test_a_forwarder_key_needs_its_secret(given, missing):
    """Regression: a key id without a secret crashed the intake on first use."""
    with pytest.raises(s.SettingsError, match=missing):
        s.Settings.from_env(_env(**{given: "x"}))


def test_an_openai_compatible_provider_needs_its_base_url():
    with pytest.raises(s.SettingsError, match=s.OPENAI_BASE_URL_ENV):
        s.Settings.from_env(_env(**{s.MODEL_PROVIDER_ENV: "openai"}))
    settings = s.Settings.from_env(
        _env(
            **{
                s.MODEL_PROVIDER_ENV: "OpenAI",
                s.OPENAI_BASE_URL_ENV: "http://127.0.0.1:8000/v1",
                s.OPENAI_API_KEY_ENV: "k",
            }
        )
    )
    assert (settings.model_provider, settings.openai_api_key) == ("openai", "k")


def test_an_unknown_provider_is_named():
    with pytest.raises(s.SettingsError, match="'vertex' is not one of bedrock, openai"):
        s.Settings.from_env(_env(**{s.MODEL_PROVIDER_ENV: "vertex"}))


def test_an_empty_app_setting_stops_start_up_instead_of_opening_set_up(tmp_path):
    """Regression: SELF_HEAL_APP_ID= (a failed secret injection) opened /setup."""
    env = {s.CREDENTIALS_FILE_ENV: str(tmp_path / "none.json"), s.APP_ID_ENV: ""}
    with pytest.raises(s.SettingsError) as caught:
        s.load_settings(env)
    # Every missing one is named at once, still on one line.
    for name in (s.APP_ID_ENV, s.PRIVATE_KEY_ENV, s.WEBHOOK_SECRET_ENV):
        assert name in str(caught.value)
    assert "\n" not in str(caught.value)


def test_the_app_id_must_be_a_number():
    with pytest.raises(s.SettingsError, match="'abc' is not a number"):
        s.Settings.from_env(_env(**{s.APP_ID_ENV: "abc"}))


def test_a_public_url_needs_its_scheme(tmp_path):
    env = {
        s.CREDENTIALS_FILE_ENV: str(tmp_path / "none.json"),
        s.PUBLIC_URL_ENV: "heal.example.com",
    }
    with pytest.raises(s.SettingsError, match=s.PUBLIC_URL_ENV):
        s.load_settings(env)
