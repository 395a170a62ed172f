"""Tasks: problems plus graders, loaded from a spec (see ``ponder.tasks.base``)."""

from .base import TASK_FORMS, Task, TaskSpecError, load_task, register_task

__all__ = ["Task", "TaskSpecError", "load_task", "register_task", "TASK_FORMS"]
