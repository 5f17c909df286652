"""What customers asked and what they got: conversations from the tracker store, unanswered
questions grouped (misses), and the 分类统计 report."""
