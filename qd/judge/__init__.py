"""LLM judge of programs: QDAIF-style measures rated on named axes and an Intelligent
Go-Explore-style "interestingly new?" filter before evaluation (see docs/judge.md).
"""

from qd.judge.config import JudgeAxis, JudgeSection
from qd.judge.judge import FALLBACK_RATING, REJECT_REASON, Judge, JudgeError
from qd.judge.prompts import novelty_prompt, parse_rating, parse_yes_no, rating_prompt
from qd.judge.records import JudgeRecords
from qd.store.judge_calls import JudgeCall

__all__ = ["FALLBACK_RATING", "REJECT_REASON", "Judge", "JudgeAxis", "JudgeCall", "JudgeError",
           "JudgeRecords", "JudgeSection", "novelty_prompt", "parse_rating", "parse_yes_no",
           "rating_prompt"]
