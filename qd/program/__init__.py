"""Program evolution: LLM-proposed programs, sandboxed evaluation, MAP-Elites over programs."""
