"""`LLMError` and the mapping of provider exceptions to its kinds and to retry decisions."""

from __future__ import annotations

from qd.errors import QDError

#: Every `LLMError.kind`.
KINDS = ("timeout", "rate_limit", "server", "auth", "bad_request", "connection", "empty")

#: Kinds worth another attempt: transient on the provider's side.
RETRYABLE = frozenset({"timeout", "rate_limit", "server", "connection", "empty"})


class LLMError(QDError):
    """An LLM call failed for good (after its retries, if the failure was retryable).

    Attributes:
        kind: One of `KINDS`.
        model: The ledger key of the model that was called.
        attempts: How many requests were sent.
        status_code: The HTTP status of the last failure, when there was one.
    """

    def __init__(self, kind: str, message: str, *, model: str = "", attempts: int = 0,
                 status_code: int | None = None) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown LLMError kind {kind!r}")
        super().__init__(message)
        self.kind = kind
        self.model = model
        self.attempts = attempts
        self.status_code = status_code

    @property
    def retryable(self) -> bool:
        """Whether this kind of failure is transient."""
        return self.kind in RETRYABLE

    def __reduce__(self):  # keep kind & co. when pickled across processes
        return (_rebuild, (self.kind, str(self), self.model, self.attempts, self.status_code))


def _rebuild(kind: str, message: str, model: str, attempts: int,
             status_code: int | None) -> LLMError:
    return LLMError(kind, message, model=model, attempts=attempts, status_code=status_code)


def _kind_of_status(status: int) -> str:
    if status == 429:
        return "rate_limit"
    if status in (401, 403):
        return "auth"
    if status == 408:
        return "timeout"
    if status >= 500:
        return "server"
    return "bad_request"


_TIMEOUTS = frozenset({"TimeoutError", "Timeout", "APITimeoutError", "TimeoutException",
                       "ReadTimeout", "ConnectTimeout", "ServerTimeoutError"})
_CONNECTION = frozenset({"APIConnectionError", "ConnectError", "ConnectionError",
                         "RemoteProtocolError", "ClientConnectorError", "ServerDisconnectedError",
                         "ClientOSError"})
_RATE_LIMIT = frozenset({"RateLimitError"})
_AUTH = frozenset({"AuthenticationError", "PermissionDeniedError"})
_BAD_REQUEST = frozenset({"BadRequestError", "NotFoundError", "UnprocessableEntityError",
                          "UnsupportedParamsError", "ContextWindowExceededError"})


def _chain(exc: BaseException) -> list[BaseException]:
    """Return `exc` and the exceptions it was raised from (`__cause__`, else `__context__`)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def classify(exc: BaseException) -> tuple[str, int | None]:
    """Map an exception raised by litellm / openai / httpx to an `LLMError` kind and status.

    Transport failures anywhere in the exception's chain decide first (litellm reports a
    refused connection as an HTTP 500): timeouts → timeout, connection failures →
    connection. Then the HTTP status (429 → rate_limit, 401/403 → auth, 408 → timeout,
    5xx → server, other 4xx → bad_request), then the exception's class; anything
    unrecognised (e.g. a body that is not valid JSON) → server, since it comes from a
    misbehaving endpoint.

    Args:
        exc: The exception.

    Returns:
        (kind, HTTP status code or None).
    """
    chain = _chain(exc)
    if any(_names(e) & _TIMEOUTS for e in chain):
        return "timeout", None
    if any(_names(e) & _CONNECTION for e in chain):
        return "connection", None
    status = getattr(exc, "status_code", None)
    if isinstance(status, int) and 400 <= status < 600:
        return _kind_of_status(status), status
    names = _names(exc)
    for kind, group in (("rate_limit", _RATE_LIMIT), ("auth", _AUTH),
                        ("bad_request", _BAD_REQUEST)):
        if names & group:
            return kind, None
    return "server", None
