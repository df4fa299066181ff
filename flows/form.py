"""What the Prefect UI's run form of ``send-campaign`` offers: drop-downs of the project's
campaigns and their message kinds.

Prefect builds a deployment's form from the flow's parameter schema when ``prefect deploy``
runs. :class:`Choices` adds an ``enum`` to a string parameter's schema, listed at that moment
from the project's ``campaigns/`` folder (deploy again after adding a campaign). It changes the
schema only: a run from the form is checked against the list by the Prefect server, while
Python callers (the CLI, tests) may still pass any campaign file in campaigns/, which the flow
checks itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Annotated, Any

from pydantic import GetJsonSchemaHandler, ValidationError
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from listonosz.campaign import Campaign
from listonosz.config import Settings
from listonosz.errors import ListonoszError
from listonosz.lifecycle import CampaignBook


def project_campaigns() -> list[tuple[str, Campaign]]:
    """Every valid campaign of the project, with its file as the form names it
    (``campaigns/<file>``, relative to the project directory); none when the settings do not
    load (the flow itself reports that when it runs)."""
    try:
        book = CampaignBook(Settings())
    except (ListonoszError, ValidationError, OSError):
        return []
    found = []
    for campaign in book.all():
        path = book.path_of(campaign.id)
        if path is not None:
            found.append((str(PurePosixPath("campaigns", path.name)), campaign))
    return found


def campaign_files() -> list[str]:
    """The campaign files of the project, as the form's ``campaign_path`` offers them."""
    return [name for name, _ in project_campaigns()]


def message_kinds() -> list[str]:
    """Every message kind the project's campaigns declare, in their files' order."""
    kinds: dict[str, None] = {}
    for _, campaign in project_campaigns():
        kinds.update(dict.fromkeys(campaign.messages))
    return list(kinds)


@dataclass(frozen=True)
class Choices:
    """``Annotated`` metadata: the values a string parameter's form offers (an ``enum`` in its
    JSON schema), listed by ``values`` when the schema is built. No values, no ``enum``."""

    values: Callable[[], list[str]]

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema: dict[str, Any] = handler(core_schema)
        if choices := self.values():
            schema["enum"] = choices
        return schema


#: A campaign file, a drop-down in the form.
CampaignFile = Annotated[str, Choices(campaign_files)]
#: A message kind, a drop-down in the form.
MessageKind = Annotated[str, Choices(message_kinds)]
