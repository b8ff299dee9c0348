"""A per-partition timer index: users ordered by their earliest deadline; O(due) ticks."""

from __future__ import annotations

import heapq


class TimerIndex:
    """Min-heap of (due_ms, user_id) with lazy deletion; the user's state holds the timers themselves."""

    def __init__(self) -> None:
        self._heap: list[tuple[int, str]] = []
        self._due: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._due)

    def set(self, user_id: str, due_ms: int | None) -> None:
        """Record the user's earliest deadline (None cancels); older heap entries go stale."""
        if due_ms is None:
            self._due.pop(user_id, None)
            return
        if self._due.get(user_id) == due_ms:
            return
        self._due[user_id] = due_ms
        heapq.heappush(self._heap, (due_ms, user_id))
        if len(self._heap) > 2 * len(self._due) + 1024:
            self._compact()

    def next_due(self) -> int | None:
        """Earliest live deadline, or None."""
        while self._heap and self._due.get(self._heap[0][1]) != self._heap[0][0]:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now_ms: int) -> list[str]:
        """Remove and return users with a deadline at or before `now_ms`, earliest first."""
        users = []
        while self._heap and self._heap[0][0] <= now_ms:
            due, user = heapq.heappop(self._heap)
            if self._due.get(user) == due:
                del self._due[user]
                users.append(user)
        return users

    def _compact(self) -> None:
        self._heap = [(d, u) for u, d in self._due.items()]
        heapq.heapify(self._heap)
