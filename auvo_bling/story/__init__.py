"""'Por que não integrou?': a record's story, from the history the pollers, handlers and runner keep
in the store (infra/store/history.py). The CLI (`auvo-bling why`) and the console show the same
`Story` (`for_app.story_of(app, query)` wires one tenant's App in); nothing here renders HTML."""

from auvo_bling.story.assemble import Link, assemble
from auvo_bling.story.lookup import record_story
from auvo_bling.story.model import Story, StoryStep, Verdict, VerdictKind, WebLink, WrittenRecord
from auvo_bling.story.render import story_lines

__all__ = [
    "Link",
    "Story",
    "StoryStep",
    "Verdict",
    "VerdictKind",
    "WebLink",
    "WrittenRecord",
    "assemble",
    "record_story",
    "story_lines",
]
