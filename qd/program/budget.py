"""The run's LLM budget (`run.max_llm_calls`, `max_tokens`, `max_cost_usd`) as seen by the
proposals in flight: a model call starts only when the budget has room for it, counting the
calls already running.

- Calls are reserved before they start (the engine reserves a proposal's first call with its
  arm, the proposer each retry), so `max_llm_calls` is never exceeded by proposal calls.
- Tokens and cost are only known when a call returns, so each call in flight is assumed to be
  as large as the largest one so far: a call starts only while
  `spent + (calls in flight + 1) × largest ≤ limit`. Until one call has returned its size is
  unknown: the engine then starts no further proposal until it has.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from qd.llm.client import LLMResponse
from qd.llm.ledger import UsageLedger

if TYPE_CHECKING:
    from qd.spec import RunOptions


class CallBudget:
    """LLM calls in flight against the run's limits.

    Args:
        limits: The `[run]` options (`max_llm_calls`, `max_tokens`, `max_cost_usd`; 0 = off).
        ledger: The client's usage ledger: what was spent (judge calls included).
        on_change: Called whenever the number of calls in flight changes.
    """

    def __init__(self, limits: RunOptions, ledger: UsageLedger,
                 on_change: Callable[[], None] = lambda: None) -> None:
        self.limits = limits
        self.ledger = ledger
        self.on_change = on_change
        self.in_flight = 0  # reserved or running proposal calls
        self.largest_tokens = 0  # of one returned call
        self.largest_cost = 0.0
        self.sized = False  # a call has returned, so the largest call is known

    def exhausted(self) -> str | None:
        """The limit that leaves no room for one more call (None: there is room)."""
        lim, usage = self.limits, self.ledger.totals()
        if lim.max_llm_calls and usage.calls + self.in_flight >= lim.max_llm_calls:
            return "max_llm_calls"
        n = self.in_flight + 1
        tokens = usage.prompt_tokens + usage.completion_tokens
        if lim.max_tokens and (tokens >= lim.max_tokens
                               or tokens + n * self.largest_tokens > lim.max_tokens):
            return "max_tokens"
        if lim.max_cost_usd and (usage.cost_usd >= lim.max_cost_usd
                                 or usage.cost_usd + n * self.largest_cost > lim.max_cost_usd):
            return "max_cost_usd"
        return None

    def waiting(self) -> bool:
        """Whether a new proposal should wait: a token or cost limit is set and the calls in
        flight are of unknown size (none has returned yet).
        """
        lim = self.limits
        return bool(lim.max_tokens or lim.max_cost_usd) and not self.sized and self.in_flight > 0

    def reserve(self) -> bool:
        """Reserve one call if the budget has room for it."""
        if self.exhausted() is not None:
            return False
        self.in_flight += 1
        self.on_change()
        return True

    def finished(self, response: LLMResponse | None) -> None:
        """A reserved call ended: with `response`, or None when it failed."""
        self.in_flight -= 1
        if response is not None:
            self.sized = True
            self.largest_tokens = max(self.largest_tokens,
                                      response.prompt_tokens + response.completion_tokens)
            self.largest_cost = max(self.largest_cost, response.cost_usd)
        self.on_change()

    def unreserve(self, n: int) -> None:
        """Give back `n` reserved calls that were never made."""
        if n:
            self.in_flight -= n
            self.on_change()

    def ticket(self, reserve: bool) -> CallTicket:
        """The calls of one proposal; `reserve`: reserve its first call now (the caller has
        checked `exhausted()` under the same lock, so there is room).
        """
        if reserve:
            self.in_flight += 1
            self.on_change()
        return CallTicket(self, int(reserve))


class CallTicket:
    """One proposal's share of the `CallBudget`: `acquire()` before each model call (the
    reserved first call, then a new reservation), `release()` after it, `close()` at the end.
    """

    def __init__(self, budget: CallBudget, reserved: int) -> None:
        self._budget = budget
        self._unused = reserved

    def acquire(self) -> bool:
        """Whether one more call may start (False: the budget has no room left)."""
        if self._unused:
            self._unused -= 1
            return True
        return self._budget.reserve()

    def release(self, response: LLMResponse | None) -> None:
        """The call started by the last `acquire()` ended (None: it failed)."""
        self._budget.finished(response)

    def close(self) -> None:
        """Give back a reservation that no call used."""
        self._budget.unreserve(self._unused)
        self._unused = 0
