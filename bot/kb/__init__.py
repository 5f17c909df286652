"""Knowledge base: loading and validation (loader), the answer engine (engine), hot reload (live)."""
from bot.kb.model import Answer, Candidate, Entry, KnowledgeBase, KnowledgeError

__all__ = ["Answer", "Candidate", "Entry", "KnowledgeBase", "KnowledgeError"]
