"""Pure, integer milliseconds: the timeline, the compiler, the scheduler."""
