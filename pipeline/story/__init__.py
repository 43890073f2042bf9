"""Story: is an article about the story, and how sure are we.

Takes in: articles (text, title, dates) and a story's definition and reference set (from
``config``). Gives out: a ``Score`` per article and story (value, decision, evidence),
saved as ``story_scores``; evaluation figures on labelled sets.

- ``scorer``: pure: TF-IDF nearness to the seeds plus the story's term rule;
  ``background``: the general-news vocabulary behind the IDF.
- ``decisions``: every article of the warehouse scored against every story, resumably.
- ``evaluate``: precision / recall / F1 of the scorer and of a keyword rule.
- ``unresolved``: aggregator items merged into the publisher's article once it turns up.

Imports: ``errors``, ``models``, ``config``, ``store``, ``content``. Imported by
``jobs`` and ``cli``; never by acquire, content or deliver.
"""
