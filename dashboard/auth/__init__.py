"""Dashboard accounts and roles, server-side sessions, the sign-in limit and CSRF.

The names most pages and tests need are re-exported here.
"""

from innspill.dashboard.auth.accounts import (
    MIN_PASSWORD_LENGTH,
    USERNAME,
    AccountError,
    authenticate,
    check_password,
    create_user,
    default_role,
    find_user,
    hash_password,
    list_users,
    remove_user,
    set_password,
    set_role,
)
from innspill.dashboard.auth.sessions import (
    SESSION_CSRF,
    SESSION_ID,
    active_sessions,
    csrf_ok,
    csrf_token,
    end_session,
    end_sessions,
    secret_key,
    signed_in,
    start_session,
)
from innspill.dashboard.auth.signin_limit import SignInLimit, client_addresses

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "SESSION_CSRF",
    "SESSION_ID",
    "USERNAME",
    "AccountError",
    "SignInLimit",
    "active_sessions",
    "authenticate",
    "check_password",
    "client_addresses",
    "create_user",
    "csrf_ok",
    "csrf_token",
    "default_role",
    "end_session",
    "end_sessions",
    "find_user",
    "hash_password",
    "list_users",
    "remove_user",
    "secret_key",
    "set_password",
    "set_role",
    "signed_in",
    "start_session",
]
