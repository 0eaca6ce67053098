"""The ``LEADFLOW_SECRET_KEY`` of test processes (a fixed Fernet key: tests only)."""

TEST_SECRET_KEY = "9uHQjXrC0g9Ij_88cPJmZ_ReJKwk59BOovH_W7nJP1M="
# What a leadflow process under test needs besides its database: the key that seals webhook
# secrets, and the receivers on 127.0.0.1 the tests deliver to.
PROCESS_ENV = {"LEADFLOW_SECRET_KEY": TEST_SECRET_KEY, "LEADFLOW_WEBHOOK_ALLOW_HOSTS": "127.0.0.1"}
