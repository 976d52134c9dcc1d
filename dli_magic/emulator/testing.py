"""Distinctive credentials for tests: grep any output, log or DataFrame for them to prove no leak."""

SENTINEL_TOKEN = "SENTINEL-TOKEN-5f1c9e"
SENTINEL_AK = "SENTINELAK7Q2W9E4R"
SENTINEL_SK = "SENTINEL-SK-b83d27"
SENTINEL_PASSWORD = "SENTINEL-PASSWORD-e61a04"
TEST_USER = "emu_tester"
TEST_DOMAIN = "emu_domain"

SENTINELS = (SENTINEL_TOKEN, SENTINEL_SK, SENTINEL_PASSWORD)
