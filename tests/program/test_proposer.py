"""The proposer runs operators' work (syntax checks: a compiler in the sandbox) off the loop."""

import asyncio
import threading

import numpy as np

from mutators.program.types import MutationContext, Proposal
from qd.program.proposer import Proposer
from qd.program.types import Program


class WaitingOperator:
    """A local operator whose propose blocks until the event loop runs another task."""

    name = "waiting"
    needs_llm = False

    def __init__(self) -> None:
        self.released = threading.Event()

    def propose(self, ctx, rng) -> Proposal:
        if not self.released.wait(timeout=10):
            return Proposal.reject(self.name, "the event loop was blocked")
        return Proposal(code=ctx.parent.code + "\n", reason="waited", operator=self.name,
                        changed=True)


def test_an_operator_that_blocks_does_not_block_the_other_proposals():
    operator = WaitingOperator()
    ctx = MutationContext(parent=Program(id=0, code="x = 1\n"))

    async def release() -> None:
        operator.released.set()  # runs only while propose waits in its thread

    async def both():
        result, _ = await asyncio.gather(
            Proposer(client=None).propose(operator, None, ctx, np.random.default_rng(0)),
            release())
        return result

    result = asyncio.run(both())
    assert result.proposal.ok and result.proposal.reason == "waited"
